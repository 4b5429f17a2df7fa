"""The transport: one pooled HTTP session per client, status to error, retries, rate limit.

``requests`` stays the public session layer: a caller may pass a ``requests.Session``,
and proxy and CA settings from the environment keep working. Both are read **once**, when
the client is built (``requests`` would walk ``os.environ`` on every request). On the hot
path the transport goes one layer down, to the urllib3 connection pool of the client's
own ``HTTPAdapter``, skipping the per-call work of ``requests`` (environment merge, request
preparation, hooks, cookies): about 0.3 ms less client CPU per request (see
``benchmarks/``). A session passed in by the caller, or a base URL reached through a
proxy, goes through ``Session.send`` with the settings read at build time instead.

Every request waits its turn at the client's :class:`~netra_frames._limiter.RateLimiter`,
which also reads the rate-limit headers of every answer. One loop (:meth:`Transport.send`)
applies the one :class:`~netra_frames._retry.RetryPolicy` to connection errors, broken or
timed-out bodies, 5xx and bodies that do not decode, with one budget (``max_retries``) and
one log line per retry, on both paths (urllib3 and ``requests`` retry nothing themselves);
a 429 is waited out here (its ``Retry-After``, capped at ``max_backoff``) without using up
that budget, for at most ``rate_limit_patience`` seconds.

An error reply becomes its exception through :func:`~netra_frames._wire.reply.error_from_reply`
(re-exported here, with :class:`~netra_frames._wire.reply.Reply`).

Cancellation: the sockets of the transport's own pool are registered while a response is
awaited (:func:`~netra_frames._cancel.track_socket`), so cancelling a drain cuts its
in-flight requests at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import Timeout

from .__about__ import __version__
from ._cancel import CancelScope, current_scope, track_socket, untrack_socket
from ._limiter import RateLimiter
from ._retry import RetryPolicy, backoff_delay, is_refused, parse_retry_after
from ._wire.reply import Reply, error_from_reply, short
from ._wire.request import Request
from .config import API_KEY_HEADER, ENV_BASE_URL, ENV_TIMEOUT, Settings, is_loopback_host
from .errors import NetraError, RateLimitError, TransportError

__all__ = ["Reply", "Transport", "error_from_reply"]

logger = logging.getLogger("netra_frames")

T = TypeVar("T")


_BROKEN = (HTTPError, OSError, requests.exceptions.RequestException)
"""What a failed exchange raises: urllib3's and ``requests``' errors, and socket errors."""


class _Tracked:
    """A connection mixin that registers its socket while its response is awaited."""

    sock: Any

    def getresponse(self) -> Any:  # noqa: D102 - see the class docstring
        track_socket(self.sock)
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            untrack_socket()


class _TrackedHTTPConnection(_Tracked, HTTPConnection):
    """:class:`_Tracked` over plain TCP."""


class _TrackedHTTPSConnection(_Tracked, HTTPSConnection):
    """:class:`_Tracked` over TLS."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _Adapter(HTTPAdapter):
    """The client's own adapter: pools whose connections can be cut by a cancel."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class Transport:
    """Send API requests for one client; see the module docstring.

    Parameters
    ----------
    settings:
        Resolved settings (key, base URL, timeout, retries, rate cap).
    session:
        A caller's ``requests.Session`` (used as is, not closed), or ``None`` for our own.
    pool_size:
        Connections kept alive to the API host (our own session only).

    Examples
    --------
    >>> from netra_frames.config import resolve_settings
    >>> t = Transport(resolve_settings(api_key="k", base_url="http://127.0.0.1:9"))
    >>> t.close()
    """

    def __init__(
        self, settings: Settings, session: requests.Session | None = None, pool_size: int = 16
    ) -> None:
        self.settings = settings
        self.limiter = RateLimiter(settings.max_requests_per_second)
        self.policy = RetryPolicy(
            settings.max_retries, settings.backoff_factor, settings.max_backoff
        )
        self.owns_session = session is None
        self.pool_size: int | None = max(1, pool_size) if session is None else None
        if session is None:
            session = requests.Session()
            adapter = _Adapter(
                pool_connections=4,
                pool_maxsize=self.pool_size or 1,
                max_retries=0,  # retries are the transport's (one loop, one budget)
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        parts = urlsplit(settings.base_url)
        self._prefix = parts.path
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.hostname or "?"
        self._loopback = is_loopback_host(self._host)
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._headers = {
            **{
                k: v
                for k, v in session.headers.items()
                if isinstance(v, str)
                and k.lower() != "connection"  # keep-alive: HTTP/1.1's default
            },
            "Accept": "application/json",
            "User-Agent": f"netra-frames/{__version__}",
            **settings.headers,
            API_KEY_HEADER: settings.api_key,
        }
        self._post_headers = {**self._headers, "Content-Type": "application/json"}
        self._timeout = Timeout(connect=settings.timeout, read=settings.timeout)
        env = session.merge_environment_settings(settings.base_url, {}, None, None, None)
        self._proxies: dict[str, str] = dict(env.get("proxies") or {})
        self._verify: Any = env.get("verify", True)
        self._cert: Any = env.get("cert")
        self._pool = self._fast_pool(session)

    def _fast_pool(self, session: requests.Session) -> HTTPConnectionPool | None:
        """The urllib3 pool to send on directly, or ``None`` when ``Session.send`` must."""
        adapter = session.get_adapter(self.settings.base_url)
        if type(adapter) is not _Adapter or session.auth or session.hooks.get("response"):
            return None
        if requests.utils.select_proxy(self.settings.base_url, self._proxies):
            return None
        prepared = requests.Request("GET", self.settings.base_url).prepare()
        pool = adapter.get_connection_with_tls_context(prepared, self._verify, None, self._cert)
        return pool if isinstance(pool, HTTPConnectionPool) else None

    def close(self) -> None:
        """Close the pooled connections (only of a session this transport created)."""
        if self.owns_session:
            self.session.close()

    # -- one request -----------------------------------------------------------------

    def send(
        self,
        request: Request,
        decode: Callable[[bytes], T],
        *,
        scope: CancelScope | None = None,
    ) -> T:
        """Send ``request`` and return ``decode(body)`` of its 2xx response.

        ``scope`` defaults to the scope of the drain the calling thread works for (see
        :func:`~netra_frames._cancel.current_scope`).

        Raises
        ------
        APIError
            (or a subclass) for an error status, after the retries it deserves.
        TransportError
            When no usable response came: connection, timeout, a body that never decoded.
        """
        scope = scope or current_scope()
        throttled_since: float | None = None
        throttles = 0
        attempt = 0
        while True:
            scope.check()
            try:
                reply, sent_at = self._exchange(request, scope)
            except _BROKEN as exc:
                scope.check()  # a cancelled drain cut this request: unwind quietly
                url = self._origin + self._prefix + request.target
                self._retry(request.method, url, attempt, scope, exc, error=exc)
                attempt += 1
                continue
            if reply.status == 429:
                throttled_since = throttled_since or time.monotonic()
                self._wait_out_429(request, reply, sent_at, throttled_since, throttles, scope)
                throttles += 1
                continue
            self.limiter.granted(reply.headers, sent_at)
            if reply.status >= 300:
                error = error_from_reply(request.method, reply)
                retry_after = reply.headers.get("Retry-After")
                self._retry(request.method, reply.url, attempt, scope, error,
                            status=reply.status, retry_after=retry_after)  # fmt: skip
                attempt += 1
                continue
            try:
                return decode(reply.body)
            except ValueError as exc:
                unusable = TransportError(
                    f"{request.method} {reply.url} returned an unusable body after "
                    f"{attempt + 1} attempt(s): {exc}.",
                    url=reply.url,
                )
                self._retry(request.method, reply.url, attempt, scope, unusable, error=exc)
                attempt += 1

    def _retry(
        self,
        method: str,
        url: str,
        attempt: int,
        scope: CancelScope,
        failure: BaseException,
        **outcome: Any,
    ) -> None:
        """Wait before the next attempt as the policy says, or raise what failed."""
        delay = self.policy.delay(attempt, loopback=self._loopback, **outcome)
        if delay is None:
            if isinstance(failure, NetraError):
                raise failure
            raise self._transport_error(method, url, failure) from failure
        logger.warning(
            "netra_frames: retrying %s %s in %.2f s (retry %d of %d): %s",
            method, url, delay, attempt + 1, self.policy.max_retries, short(failure),
        )  # fmt: skip
        scope.sleep(delay)

    def _wait_out_429(
        self,
        request: Request,
        reply: Reply,
        sent_at: float,
        since: float,
        before: int,
        scope: CancelScope,
    ) -> None:
        """Slow the whole client down, then wait this request's ``Retry-After``.

        ``Retry-After: 0`` says "retry now": it is no reason to slow the client down, but a
        request told so again and again backs off (full jitter) so it never spins.
        ``before`` is how many 429s this request got already.
        """
        s = self.settings
        hint = parse_retry_after(reply.headers.get("Retry-After"))
        backoff = backoff_delay(before, s.backoff_factor, s.max_backoff) if before else 0.0
        delay = min(s.max_backoff, max(hint, backoff)) if hint is not None else backoff
        if hint is None and not before:
            delay = backoff_delay(0, s.backoff_factor, s.max_backoff)
        if time.monotonic() + delay - since > s.rate_limit_patience:
            error = error_from_reply(request.method, reply)
            raise RateLimitError(
                f"{error} The server kept answering 429 for {s.rate_limit_patience:g} s "
                "(rate_limit_patience); lower max_requests_per_second= or raise "
                "rate_limit_patience=.",
                url=reply.url,
                server_message=error.server_message,
                retry_after=hint,
            ) from None
        capped = None if hint is None else min(hint, s.max_backoff)
        self.limiter.throttled(sent_at, capped, reply.headers)
        logger.debug("netra_frames: 429 on %s; waiting %.2f s", reply.url, delay)
        scope.sleep(delay)

    def _exchange(self, request: Request, scope: CancelScope) -> tuple[Reply, float]:
        """One attempt: wait for the limiter, send, read the whole answer (no retry)."""
        path = self._prefix + request.target
        headers = self._headers if request.body is None else self._post_headers
        sent_at = self.limiter.acquire(scope)
        started = time.perf_counter()
        try:
            if self._pool is not None:
                response = self._pool.urlopen(
                    request.method,
                    path,
                    body=request.body,
                    headers=headers,
                    retries=False,
                    redirect=False,
                    assert_same_host=False,
                    timeout=self._timeout,
                    preload_content=True,
                )
                reply = Reply(response.status, response.headers, response.data, self._origin + path)
            else:
                reply = self._send_with_session(request, path, headers)
        finally:
            self.limiter.answered()
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug(
                "netra_frames: %s %s -> %s in %.1f ms", request.method, reply.url, reply.status,
                elapsed,
            )  # fmt: skip
        return reply, sent_at

    def _send_with_session(self, request: Request, path: str, headers: Mapping[str, str]) -> Reply:
        """The path for a caller's session or a proxy: ``Session.send``, settings read once."""
        url = self._origin + path
        prepared = self.session.prepare_request(
            requests.Request(request.method, url, headers=dict(headers), data=request.body)
        )
        response = self.session.send(
            prepared,
            timeout=self.settings.timeout,
            allow_redirects=False,
            proxies=self._proxies,
            verify=self._verify,
            cert=self._cert,
        )
        return Reply(response.status_code, response.headers, response.content, url)

    def _transport_error(self, method: str, url: str, exc: BaseException) -> TransportError:
        """Say what went wrong: refused, unknown host, timeout, TLS, a broken connection."""
        reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason else exc
        if isinstance(exc, requests.exceptions.RequestException) and exc.args:
            inner = exc.args[0]
            reason = inner.reason if isinstance(inner, MaxRetryError) and inner.reason else inner
        where = f"{self._host}:{self._port}"
        check = f"check base_url= / {ENV_BASE_URL}"
        if isinstance(reason, NameResolutionError) or "Name or service not known" in str(reason):
            text = f"the host name {self._host!r} did not resolve (DNS); {check}."
        elif isinstance(reason, NewConnectionError) or is_refused(reason):
            cause = "connection refused" if is_refused(reason) else short(reason)
            text = (
                f"could not connect to {where} ({cause}); is the server running, and is "
                f"{ENV_BASE_URL} (base_url=) right?"
            )
        elif isinstance(reason, ConnectTimeoutError):
            text = (
                f"timed out connecting to {where} after {self.settings.timeout:g}s (and "
                f"retries); {check}, or raise timeout= / {ENV_TIMEOUT} on a slow network."
            )
        elif isinstance(reason, ReadTimeoutError | TimeoutError):
            text = (
                f"{method} {url} timed out after {self.settings.timeout:g}s waiting for the "
                f"server (and retries); raise timeout= or {ENV_TIMEOUT} if the server is slow."
            )
        elif isinstance(reason, SSLError):
            text = f"the TLS handshake with {where} failed ({short(reason)})."
        else:
            text = (
                f"{method} {url} failed: the connection broke ({short(reason)}), after "
                f"{self.settings.max_retries} retries."
            )
        return TransportError(text, url=url)
