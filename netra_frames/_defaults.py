"""The module-level default client and frame backend behind ``nf.traces_frame(...)``.

Nothing happens at import time: the default client is built from the environment on
first use (``NETRA_API_KEY``, ``NETRA_OTLP_ENDPOINT``, ...) and replaced by
:func:`configure`. The backend is, in order: the ``backend=`` argument, else
:func:`set_backend`, else ``NETRA_FRAMES_BACKEND`` (read at each call), else ``"pandas"``.
"""

from __future__ import annotations

import atexit
import inspect
import os
import threading
from typing import Any

from ._engine import plan_workers
from ._validate import check_keywords
from .cache.settings import CacheLike, SettleLike, set_default_cache
from .client import NetraClient
from .config import DEFAULT_BACKEND, ENV_BACKEND, Backend
from .errors import InvalidParameterError

__all__ = [
    "configure",
    "client_and_workers",
    "get_client",
    "resolve_backend",
    "set_backend",
]

_lock = threading.Lock()
_client: NetraClient | None = None
_backend: Backend | None = None


def configure(
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    cache: CacheLike = None,
    settle: SettleLike = None,
    **client_kwargs: Any,
) -> NetraClient:
    """Replace the default client used by module-level calls such as ``nf.traces_frame()``.

    Arguments are those of :class:`~netra_frames.NetraClient`; missing ones come from the
    environment. The previous default client is closed.

    Parameters
    ----------
    api_key, base_url:
        As for :class:`~netra_frames.NetraClient`.
    cache, settle:
        The local cache of every call that does not say otherwise (see
        ``docs/caching.md``): ``True`` (on, in ``NETRA_FRAMES_CACHE``'s directory, else
        the user cache directory), a directory, or ``False``; ``settle`` as a number of
        seconds, a ``timedelta`` or ``"90m"``.
        ``None``: from the environment (``NETRA_FRAMES_CACHE``, ``NETRA_FRAMES_SETTLE``).
    **client_kwargs:
        Any other :class:`~netra_frames.NetraClient` keyword (``timeout=``, ...).

    Returns
    -------
    NetraClient
        The new default client.

    Raises
    ------
    ConfigurationError
        When the key or base URL is missing or invalid.
    InvalidParameterError
        For a keyword neither this nor :class:`~netra_frames.NetraClient` takes, naming
        the closest one (``configure(timeuot=3)``: "did you mean 'timeout'?").

    Examples
    --------
    >>> import netra_frames as nf
    >>> client = nf.configure(api_key=srv.api_key, base_url=srv.base_url)
    >>> nf.traces_frame(tenant_id="AceTech").shape[1] > 20
    True
    """
    global _client
    known = dict.fromkeys([*inspect.signature(configure).parameters,
                           *inspect.signature(NetraClient).parameters])  # fmt: skip
    check_keywords("configure", client_kwargs, [k for k in known if k != "client_kwargs"])
    new = NetraClient(api_key, base_url, **client_kwargs)
    set_default_cache(cache, settle)
    with _lock:
        old, _client = _client, new
    if old is not None:
        old.close()
    return new


def get_client() -> NetraClient:
    """Return the default client, building it from the environment on first use.

    Examples
    --------
    >>> import netra_frames as nf
    >>> nf.get_client()  # doctest: +SKIP
    NetraClient(base_url='https://api.getnetra.ai', api_key='[secure]')
    """
    global _client
    with _lock:
        if _client is None:
            _client = NetraClient()
        return _client


def client_and_workers(client: NetraClient | None, max_workers: object) -> tuple[NetraClient, int]:
    """Return the client of a call (``client``, else the default one) and its workers.

    The workers are ``max_workers``, checked, then capped at the client's pool size
    (see :func:`netra_frames._engine.plan_workers`).

    Examples
    --------
    >>> chosen, workers = client_and_workers(client, 4)
    >>> workers
    4
    """
    chosen = client or get_client()
    return chosen, plan_workers(chosen.pool_size, max_workers)


def reset() -> None:
    """Close and forget the default client, backend and cache (the next call rebuilds them)."""
    global _client, _backend
    set_default_cache(None, None)
    with _lock:
        old, _client, _backend = _client, None, None
    if old is not None:
        old.close()


atexit.register(reset)


def _check_backend(value: object, name: str) -> Backend:
    if value == "pandas":
        return "pandas"
    if value == "polars":
        return "polars"
    raise InvalidParameterError(f"{name} must be 'pandas' or 'polars', got {value!r}.")


def set_backend(backend: Backend | None) -> None:
    """Set the default frame backend of every call without ``backend=`` (``None`` unsets).

    Examples
    --------
    >>> import netra_frames as nf
    >>> nf.set_backend("polars")
    >>> nf.set_backend(None)
    """
    global _backend
    _backend = None if backend is None else _check_backend(backend, "backend")


def resolve_backend(backend: object) -> Backend:
    """Return the backend of one call: argument, :func:`set_backend`, env, ``"pandas"``."""
    if backend is not None:
        return _check_backend(backend, "backend")
    if _backend is not None:
        return _backend
    env = os.environ.get(ENV_BACKEND, "").strip()
    if env:
        return _check_backend(env.lower(), ENV_BACKEND)
    return DEFAULT_BACKEND
