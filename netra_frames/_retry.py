"""The one retry policy: what is retried, and how long to wait before the next attempt.

One :class:`RetryPolicy` decides; the transport's one loop
(:meth:`netra_frames.transport.Transport.send`) applies it, with one budget
(``max_retries``) and one set of log lines, on the pooled path and on a caller's own
``requests.Session`` alike (urllib3 and ``requests`` retry nothing themselves).

Retried, on every method (our only POST, ``/sdk/traces``, is a read):

* a connection that failed or broke: refused, reset, timed out, a body cut short or
  undecodable by ``requests`` (``ChunkedEncodingError``);
* the statuses in :data:`RETRY_STATUSES`, after their ``Retry-After`` (capped at
  ``max_backoff``) or a full-jitter backoff;
* a 2xx body that cannot be used (not JSON, no envelope: the decoder raises ``ValueError``).

Never retried: 400, 401, 403, 404 and other 4xx, redirects, and a refused connection to a
loopback address (nothing is listening there: five retries would only delay the message).
429 is not a failure: the transport waits it out through the client's shared rate limiter
(:mod:`netra_frames._limiter`), without using up this budget.

:class:`RetryLog` says each kind of failure once per drain (a warning), and its later
retries at DEBUG: sixteen workers retrying an unknown host five times print one line.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

__all__ = [
    "RETRY_STATUSES",
    "RetryLog",
    "RetryPolicy",
    "backoff_delay",
    "is_refused",
    "parse_retry_after",
]

RETRY_STATUSES = frozenset({500, 502, 503, 504})


def parse_retry_after(value: str | None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for, or ``None`` if unusable.

    Examples
    --------
    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(
    attempt: int,
    factor: float,
    cap: float,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Full-jitter backoff: uniform in ``[0, min(cap, factor * 2**attempt)]``.

    ``uniform`` draws the jitter (a seeded ``random.Random().uniform`` replays it).

    Examples
    --------
    >>> 0 <= backoff_delay(3, 0.25, 20.0) <= 2.0
    True
    """
    if attempt < 0 or factor <= 0:
        return 0.0
    return uniform(0.0, min(cap, factor * (2.0 ** min(attempt, 60))))


def is_refused(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it wraps) is a refused TCP connection.

    Examples
    --------
    >>> is_refused(ConnectionRefusedError())
    True
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ConnectionRefusedError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a request again, and after how long (see the module docstring).

    Parameters
    ----------
    max_retries:
        Retries of a failure after the first attempt (0: none).
    backoff_factor:
        The n-th retry (from 0) waits a random time in ``[0, backoff_factor * 2**n]``.
    max_backoff:
        Cap on one wait, a server's ``Retry-After`` included.

    Examples
    --------
    >>> policy = RetryPolicy(max_retries=2, backoff_factor=0.0, max_backoff=1.0)
    >>> policy.delay(0, status=503, retry_after="30")   # capped at max_backoff
    1.0
    >>> policy.delay(0, status=404) is None              # never retried
    True
    >>> policy.delay(2, error=ConnectionResetError()) is None   # budget used up
    True
    """

    max_retries: int
    backoff_factor: float
    max_backoff: float
    uniform: Callable[[float, float], float] = field(
        default=random.uniform, repr=False, compare=False
    )
    """Draws the jitter (seeded in ``benchmarks/replay.py``)."""

    def throttled_wait(self, retry_after: float | None, before: int) -> float:
        """Seconds a request answered 429 waits before it goes again.

        The server's ``Retry-After`` (capped at ``max_backoff``); a request told so again
        and again (``before``: the 429s it got already) backs off (full jitter) so it never
        spins, and so does one told nothing.

        Examples
        --------
        >>> RetryPolicy(5, 0.25, 20.0).throttled_wait(1.0, 0)
        1.0
        """
        backoff = self._backoff(before) if before or retry_after is None else 0.0
        return backoff if retry_after is None else min(self.max_backoff, max(retry_after, backoff))

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.backoff_factor, self.max_backoff, self.uniform)

    def delay(
        self,
        attempt: int,
        *,
        status: int | None = None,
        retry_after: str | None = None,
        error: BaseException | None = None,
        loopback: bool = False,
    ) -> float | None:
        """Seconds to wait before retrying failed attempt ``attempt`` (0-based), or ``None``.

        ``status`` is the reply's status, ``retry_after`` its ``Retry-After`` header;
        ``error`` is what broke the exchange or the body (a connection error, or the
        ``ValueError`` of a body that did not decode); ``loopback`` says the host is
        this machine (a refused connection there is final).
        """
        if attempt >= self.max_retries:
            return None
        if error is not None:
            if loopback and is_refused(error):
                return None
        elif status not in RETRY_STATUSES:
            return None
        else:
            hint = parse_retry_after(retry_after)
            if hint is not None:
                return min(self.max_backoff, hint)
        return self._backoff(attempt)


class RetryLog:
    """Log a retry: the first of its kind in a drain as a warning, the others at DEBUG.

    A drain is what its workers share, their :class:`~netra_frames._cancel.CancelScope`
    (:meth:`said_in`); a plain client call, outside any drain, is a drain of its own (it
    passes a fresh set).

    Examples
    --------
    >>> log, said = RetryLog(logging.getLogger("x")), set()
    >>> log.first(said, "HTTP 503"), log.first(said, "HTTP 503"), log.first(said, "HTTP 502")
    (True, False, True)
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._drains: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()

    def said_in(self, drain: object) -> set[str]:
        """The kinds already said in ``drain`` (a scope; kept only as long as it lives)."""
        with self._lock:
            said = self._drains.get(drain)
            if said is None:
                said = self._drains[drain] = set()
            return said

    def first(self, said: set[str], kind: str) -> bool:
        """Whether ``kind`` is new to ``said`` (and remember it)."""
        with self._lock:
            if kind in said:
                return False
            said.add(kind)
            return True

    def retrying(self, said: set[str], kind: str, text: str, *args: object) -> None:
        """Log ``text % args``: a warning the first time ``kind`` fails in the drain."""
        first = self.first(said, kind)
        level = logging.WARNING if first else logging.DEBUG
        if self._logger.isEnabledFor(level):
            more = " (later retries for the same reason are logged at DEBUG)" if first else ""
            self._logger.log(level, text + more, *args)
