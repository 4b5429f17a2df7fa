"""Cache settings, durations, key fingerprints and the cache's warnings.

Whether a call uses the cache, in order: its ``cache=`` argument, else
:func:`set_default_cache` (``nf.configure(cache=...)``), else ``NETRA_FRAMES_CACHE``,
else off. *Where* is one rule for every function and command (:func:`cache_dir`): the
first directory named by the argument, :func:`set_default_cache` or
``NETRA_FRAMES_CACHE``, else the platform's user cache directory; ``True`` (``--cache``)
turns the cache on and names no directory. ``settle`` likewise: argument,
:func:`set_default_cache`, ``NETRA_FRAMES_SETTLE``, then :data:`DEFAULT_SETTLE`.
Nothing reads the environment at import time.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import platformdirs

from ..errors import InvalidParameterError

__all__ = [
    "GRACE_SECONDS",
    "APP_NAME",
    "CacheLike",
    "CacheSettings",
    "DEFAULT_SETTLE",
    "ENV_CACHE",
    "ENV_SETTLE",
    "SettleLike",
    "cache_dir",
    "default_cache_dir",
    "key_fingerprint",
    "parse_duration",
    "public_url",
    "resolve_cache",
    "resolve_root",
    "set_default_cache",
]

ENV_CACHE = "NETRA_FRAMES_CACHE"
"""Environment variable: a cache directory (or ``1``/``true`` for the default one)."""
ENV_SETTLE = "NETRA_FRAMES_SETTLE"
"""Environment variable: the settle time, a duration such as ``3600``, ``90m`` or ``2h``."""
GRACE_SECONDS = 600.0
"""Age after which a data file no marker names is removed (a writer may not have committed)."""
DEFAULT_SETTLE = timedelta(hours=1)
"""Time after which data is taken as final: what ended longer ago is read from the cache."""
APP_NAME = "netra-frames"

CacheLike = bool | str | os.PathLike[str] | None
"""``True`` (the default directory), a directory, ``False`` (off) or ``None`` (default)."""
SettleLike = timedelta | int | float | str | None
"""A ``timedelta``, seconds, or a duration string (see :func:`parse_duration`)."""

_FINGERPRINT_LABEL = b"netra_frames/cache/key-fingerprint/v1"
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_TERM = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d|w)?", re.IGNORECASE)
_OFF = {"0", "false", "off", "no"}
_ON = {"1", "true", "on", "yes"}

_lock = threading.Lock()
_default_cache: CacheLike = None
_default_settle: timedelta | None = None


@dataclass(frozen=True)
class CacheSettings:
    """The cache of one call: where it lives, when data is final, whether to refetch."""

    root: Path
    settle: timedelta = DEFAULT_SETTLE
    refresh: bool = False


def parse_duration(value: object, name: str = "duration") -> timedelta:
    """Return ``value`` as a non-negative ``timedelta``.

    Accepted: a ``timedelta``; a number of seconds; a string of seconds (``"3600"``) or of
    numbers with units ``ms``, ``s``, ``m``, ``h``, ``d``, ``w`` (``"90m"``, ``"1h30m"``,
    ``"2d"``, ``"1.5h"``).

    Raises
    ------
    InvalidParameterError
        For anything else, or a negative duration.

    Examples
    --------
    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration(60)
    datetime.timedelta(seconds=60)
    """
    hint = "use seconds (3600) or numbers with units s, m, h, d, w (90m, 1h30m, 2d)"
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value, name, hint)
    else:
        raise InvalidParameterError(
            f"{name} must be a timedelta, a number of seconds or a duration string; "
            f"got {type(value).__name__} ({hint})."
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidParameterError(f"{name}={value!r} must be a finite duration >= 0; {hint}.")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise InvalidParameterError(f"{name}={value!r} is too long; {hint}.") from None


def _parse_text(text: str, name: str, hint: str) -> float:
    rest = text.strip()
    if not rest:
        raise InvalidParameterError(f"{name} is an empty string; {hint}.")
    total, pos = 0.0, 0
    while pos < len(rest):
        match = _TERM.match(rest, pos)
        bare = match is not None and match.group(2) is None
        if match is None or (bare and (pos != 0 or match.end() != len(rest))):
            raise InvalidParameterError(f"{name}={text!r} is not a duration; {hint}.")
        total += float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
        pos = match.end()
    return total


def default_cache_dir() -> Path:
    """Return the platform's user cache directory for netra_frames.

    Examples
    --------
    >>> default_cache_dir().name  # doctest: +SKIP
    'netra-frames'
    """
    return platformdirs.user_cache_path(APP_NAME, appauthor=False)


def _root_of(value: object, name: str) -> Path | None:
    """Map a ``cache=`` value to its directory, or ``None`` when off."""
    if value is True:
        return default_cache_dir()
    if value is False or value is None:
        return None
    if isinstance(value, str | os.PathLike):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return Path(text).expanduser()
    raise InvalidParameterError(
        f"{name} must be True (the default directory), a directory path or False, got {value!r}."
    )


def _env_cache() -> CacheLike:
    raw = os.environ.get(ENV_CACHE, "").strip()
    if not raw or raw.lower() in _OFF:
        return None
    return True if raw.lower() in _ON else raw


def set_default_cache(cache: CacheLike = None, settle: SettleLike = None) -> None:
    """Set the cache and settle time of every call that does not pass its own.

    ``nf.configure(cache=..., settle=...)`` calls this. ``None`` unsets a default (the
    environment then applies).

    Parameters
    ----------
    cache:
        ``True`` (the platform's user cache directory), a directory, ``False`` (off even
        when ``NETRA_FRAMES_CACHE`` is set) or ``None``.
    settle:
        How long after its end a slice of data is final (see :func:`parse_duration`).

    Raises
    ------
    InvalidParameterError
        For a value of the wrong kind.

    Examples
    --------
    >>> set_default_cache(tmp, settle="2h")
    >>> set_default_cache(None)
    """
    global _default_cache, _default_settle
    if cache is not None:
        _root_of(cache, "cache")
    chosen = None if settle is None else parse_duration(settle, "settle")
    with _lock:
        _default_cache, _default_settle = cache, chosen


def cache_dir(cache: CacheLike = None) -> Path:
    """The one rule for where the cache is, on or off: what every function and command uses.

    The first directory named by ``cache``, then :func:`set_default_cache`
    (``nf.configure(cache=...)``), then ``NETRA_FRAMES_CACHE``; else the platform's user
    cache directory (:func:`default_cache_dir`). ``True`` and ``False`` name no directory:
    ``cache=True`` (``--cache``) writes where ``cache_info()`` (``cache info``) looks.

    Raises
    ------
    InvalidParameterError
        For a ``cache`` of the wrong kind.

    Examples
    --------
    >>> cache_dir("/tmp/nf-cache")
    PosixPath('/tmp/nf-cache')
    >>> cache_dir(True) == cache_dir() == default_cache_dir()  # nothing configured
    True
    """
    _root_of(cache, "cache")  # checks its kind
    for value in (cache, _default_cache, _env_cache()):
        if value is not None and not isinstance(value, bool):
            root = _root_of(value, "cache")
            assert root is not None  # a directory named: never off
            return root
    return default_cache_dir()


def resolve_root(cache: CacheLike = None) -> Path | None:
    """The directory a call with ``cache=`` uses (``None``: caching is off)."""
    chosen = cache
    if chosen is None:
        chosen = _default_cache
    if chosen is None:
        chosen = _env_cache()
    return None if _root_of(chosen, "cache") is None else cache_dir(cache)


def resolve_cache(cache: CacheLike, settle: SettleLike, refresh: object) -> CacheSettings | None:
    """Return the cache settings of one call, or ``None`` when the cache is off.

    Raises
    ------
    InvalidParameterError
        For a bad ``cache``, ``settle`` or ``refresh`` (checked even when off).
    """
    if not isinstance(refresh, bool):
        raise InvalidParameterError(f"refresh must be True or False, got {refresh!r}.")
    if settle is not None:
        chosen = parse_duration(settle, "settle")
    elif _default_settle is not None:
        chosen = _default_settle
    elif os.environ.get(ENV_SETTLE, "").strip():
        chosen = parse_duration(os.environ[ENV_SETTLE], ENV_SETTLE)
    else:
        chosen = DEFAULT_SETTLE
    root = resolve_root(cache)
    return None if root is None else CacheSettings(root, chosen, refresh)


def key_fingerprint(api_key: str, headers: Mapping[str, str] | None = None) -> str:
    """Return a fingerprint of an API key (and extra headers): never the key itself.

    A BLAKE2b-128 keyed with a fixed label, so the fingerprint of a netra_frames cache
    is not the plain hash of the key any other tool might publish.

    Examples
    --------
    >>> fp = key_fingerprint("nk_secret")
    >>> len(fp), "secret" in fp
    (32, False)
    """
    h = hashlib.blake2b(key=_FINGERPRINT_LABEL, digest_size=16)
    h.update(api_key.encode("utf-8", "surrogatepass"))
    for name, value in sorted((headers or {}).items()):
        h.update(b"\0" + name.lower().encode("utf-8", "surrogatepass"))
        h.update(b"\0" + value.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def public_url(base_url: str) -> str:
    """``base_url`` without user name or password (safe to write down)."""
    parts = urlsplit(base_url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
