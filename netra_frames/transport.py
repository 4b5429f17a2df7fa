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
timed-out bodies, 5xx and bodies that do not decode, with one budget (``max_retries``), on
both paths (urllib3 and ``requests`` retry nothing themselves); the first retry of each kind
of failure in a drain is a warning, the others are DEBUG lines
(:class:`~netra_frames._retry.RetryLog`). A 429 is waited out here (its ``Retry-After``,
capped at ``max_backoff``) without using up that budget, for at most
``rate_limit_patience`` seconds.

**An attempt has a deadline**: ``timeout`` bounds the whole of it, connecting, the headers
and the body. The body is read a chunk at a time (:func:`~netra_frames._http.read_body`),
each socket read bounded by the time left, so a server that drips its answer a byte a
second fails the attempt when its time is up instead of holding it for as long as it drips.

An error reply becomes its exception through :func:`~netra_frames._wire.reply.error_from_reply`
(re-exported here, with :class:`~netra_frames._wire.reply.Reply`). Whatever text of the
server's reaches a message, an attribute or a log line goes through the client's
:class:`~netra_frames._wire.reply.Redactor` first, so an API key echoed back never shows.
An error of ours raised here carries what failed underneath as ``.cause``, not as a chained
exception: a traceback shows one clear error, not urllib3's internals.

Cancellation: the socket a request is waiting on is registered
(:func:`~netra_frames._cancel.track_socket`: by the transport's own pool while the headers
are awaited, then by :func:`~netra_frames._http.read_body` on both paths while the body is read), so
cancelling a drain cuts its in-flight requests at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from urllib3 import HTTPConnectionPool
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
from ._cancel import NEVER, CancelScope, current_scope
from ._http import Adapter, read_body
from ._limiter import RateLimiter
from ._retry import RetryLog, RetryPolicy, is_refused, parse_retry_after
from ._wire.reply import Redactor, Reply, error_from_reply, short
from ._wire.request import Request
from .config import API_KEY_HEADER, ENV_BASE_URL, ENV_TIMEOUT, Settings, is_loopback_host
from .errors import NetraError, RateLimitError, TransportError

__all__ = ["Reply", "Transport", "error_from_reply"]

logger = logging.getLogger("netra_frames")

T = TypeVar("T")


_BROKEN = (HTTPError, OSError, requests.exceptions.RequestException)
"""What a failed exchange raises: urllib3's and ``requests``' errors, and socket errors."""

_SECRET_HEADERS = (API_KEY_HEADER, "authorization", "proxy-authorization")
"""Headers whose values are secrets: the key's, and those a caller may add (``headers=``,
``NETRA_HEADERS``, a session's own headers)."""


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
            adapter = Adapter(
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
        # connect, then the headers, within the attempt's time (the body: read_body)
        self._timeout = Timeout(total=settings.timeout)
        self.redact = Redactor(
            part
            for name, value in self._headers.items()
            if name.lower() in _SECRET_HEADERS
            for part in (value, *value.split()[1:])  # "Bearer <token>": the token too
        )
        """Removes the key (and secret headers) from the server's text: see the module doc."""
        self.retry_log = RetryLog(logger)
        env = session.merge_environment_settings(settings.base_url, {}, None, None, None)
        self._proxies: dict[str, str] = dict(env.get("proxies") or {})
        self._verify: Any = env.get("verify", True)
        self._cert: Any = env.get("cert")
        self._pool = self._fast_pool(session)

    def _fast_pool(self, session: requests.Session) -> HTTPConnectionPool | None:
        """The urllib3 pool to send on directly, or ``None`` when ``Session.send`` must."""
        adapter = session.get_adapter(self.settings.base_url)
        if type(adapter) is not Adapter or session.auth or session.hooks.get("response"):
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
        said: set[str] = set()  # the failures told in this call (a drain's: its scope's)
        throttled_since: float | None = None
        throttles = 0
        attempt = 0
        while True:
            scope.check()
            # errors are raised outside the ``except`` blocks: nothing of urllib3 is chained
            try:
                reply, sent_at = self._exchange(request, scope)
            except _BROKEN as exc:
                broken: BaseException | None = exc
            else:
                broken = None
            if broken is not None:
                scope.check()  # a cancelled drain cut this request: unwind quietly
                url = self._origin + self._prefix + request.target
                failure = self._retry(request.method, url, attempt, scope, said, broken,
                                      error=broken)  # fmt: skip
                if failure is not None:
                    raise failure from None
                attempt += 1
                continue
            if reply.status == 429:
                throttled_since = throttled_since or time.monotonic()
                self._wait_out_429(request, reply, sent_at, throttled_since, throttles, scope)
                throttles += 1
                continue
            self.limiter.granted(reply.headers, sent_at)
            if reply.status >= 300:
                error = error_from_reply(request.method, reply, self.redact)
                retry_after = reply.headers.get("Retry-After")
                failure = self._retry(request.method, reply.url, attempt, scope, said, error,
                                      status=reply.status, retry_after=retry_after)  # fmt: skip
                if failure is not None:
                    raise failure from None
                attempt += 1
                continue
            try:
                return decode(reply.body)
            except ValueError as exc:
                undecodable = exc
            unusable = TransportError(
                f"{request.method} {reply.url} returned an unusable body after "
                f"{attempt + 1} attempt(s): {self.redact(short(undecodable))}.",
                url=reply.url,
                cause=self.redact.error(undecodable),
            )
            failure = self._retry(request.method, reply.url, attempt, scope, said, unusable,
                                  error=undecodable)  # fmt: skip
            if failure is not None:
                raise failure from None
            attempt += 1

    def _retry(
        self,
        method: str,
        url: str,
        attempt: int,
        scope: CancelScope,
        said: set[str],
        failure: BaseException,
        **outcome: Any,
    ) -> NetraError | None:
        """Wait before the next attempt as the policy says; or return the error to raise.

        The wait is logged through :attr:`retry_log`: a warning for the first failure of
        its kind in the drain (its ``scope``'s; outside a drain, ``said``: this call's),
        DEBUG for the others.
        """
        delay = self.policy.delay(attempt, loopback=self._loopback, **outcome)
        if delay is None:
            if isinstance(failure, NetraError):
                return failure
            return self._transport_error(method, url, failure)
        if scope is not NEVER:
            said = self.retry_log.said_in(scope)
        if isinstance(failure, NetraError):
            status = getattr(failure, "status", None)
            kind, why = (f"HTTP {status}" if status else "unusable body"), str(failure)
        else:
            kind, why = self._failed(method, url, failure)
        self.retry_log.retrying(
            said, kind, "netra_frames: retrying in %.2f s (retry %d of %d): %s",
            delay, attempt + 1, self.policy.max_retries, why,
        )  # fmt: skip
        scope.sleep(delay)
        return None

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
        delay = self.policy.throttled_wait(hint, before)
        if time.monotonic() + delay - since > s.rate_limit_patience:
            error = error_from_reply(request.method, reply, self.redact)
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
        """One attempt: wait for the limiter, send, read the whole answer by the deadline."""
        path = self._prefix + request.target
        headers = self._headers if request.body is None else self._post_headers
        sent_at = self.limiter.acquire(scope)
        started = time.monotonic()
        deadline = started + self.settings.timeout
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
                    preload_content=False,
                )
                body = read_body(response, deadline, registered=True)
                reply = Reply(response.status, response.headers, body, self._origin + path)
            else:
                reply = self._send_with_session(request, path, headers, deadline)
        finally:
            self.limiter.answered(sent_at)
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.monotonic() - started) * 1000
            logger.debug(
                "netra_frames: %s %s -> %s in %.1f ms", request.method, reply.url, reply.status,
                elapsed,
            )  # fmt: skip
        return reply, sent_at

    def _send_with_session(
        self, request: Request, path: str, headers: Mapping[str, str], deadline: float
    ) -> Reply:
        """The path for a caller's session or a proxy: ``Session.send``, settings read once."""
        url = self._origin + path
        prepared = self.session.prepare_request(
            requests.Request(request.method, url, headers=dict(headers), data=request.body)
        )
        response = self.session.send(
            prepared,
            timeout=self._timeout,  # type: ignore[arg-type]  # requests takes urllib3's Timeout
            allow_redirects=False,
            proxies=self._proxies,
            verify=self._verify,
            cert=self._cert,
            stream=True,
        )
        raw = response.raw
        if getattr(response, "_content_consumed", False) or not hasattr(raw, "read1"):
            body = response.content  # a hook read it, or an adapter that is not urllib3's
        else:
            body = read_body(raw, deadline, registered=False)
        return Reply(response.status_code, response.headers, body, url)

    def _failed(self, method: str, url: str, exc: BaseException) -> tuple[str, str]:
        """Say what went wrong, as ``(kind, sentence)``: refused, unknown host, timeout, ..."""
        reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason else exc
        if isinstance(exc, requests.exceptions.RequestException) and exc.args:
            inner = exc.args[0]
            reason = inner.reason if isinstance(inner, MaxRetryError) and inner.reason else inner
        where = f"{self._host}:{self._port}"
        check = f"check base_url= / {ENV_BASE_URL}"
        timeout = self.settings.timeout
        if isinstance(reason, NameResolutionError) or "Name or service not known" in str(reason):
            return "dns", f"the host name {self._host!r} did not resolve (DNS); {check}."
        if isinstance(reason, NewConnectionError) or is_refused(reason):
            cause = "connection refused" if is_refused(reason) else self.redact(short(reason))
            return "connect", (
                f"could not connect to {where} ({cause}); is the server running, and is "
                f"{ENV_BASE_URL} (base_url=) right?"
            )
        if isinstance(reason, ConnectTimeoutError):
            return "connect timeout", (
                f"timed out connecting to {where} after {timeout:g}s; {check}, or raise "
                f"timeout= / {ENV_TIMEOUT} on a slow network."
            )
        if isinstance(reason, ReadTimeoutError | TimeoutError):
            return "timeout", (
                f"{method} {url} timed out: no complete answer within timeout={timeout:g}s; "
                f"raise timeout= or {ENV_TIMEOUT} if the server is slow."
            )
        if isinstance(reason, SSLError):
            return "tls", f"the TLS handshake with {where} failed ({self.redact(short(reason))})."
        return "broken", (
            f"{method} {url} failed: the connection broke ({self.redact(short(reason))})."
        )

    def _transport_error(self, method: str, url: str, exc: BaseException) -> TransportError:
        """The error of an exchange that failed for the last time (see :meth:`_failed`)."""
        _, text = self._failed(method, url, exc)
        attempts = self.policy.max_retries + 1
        if not (self._loopback and is_refused(exc)) and attempts > 1:
            text = f"after {attempts} attempts, {text}"
        return TransportError(text, url=url, cause=self.redact.error(exc))
