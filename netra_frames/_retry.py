"""Retry policy: urllib3's ``Retry`` with full jitter, cancellable sleeps, fast refusals.

Retried by urllib3: connection errors, read errors and timeouts (a body cut short too),
and the statuses in ``RETRY_STATUSES``, on every method (our only POST, ``/sdk/traces``,
is a read). Never retried: 400, 401, 403, 404 and other 4xx. 429 is not urllib3's: the
transport waits it out through the client's shared rate limiter, without using up this
budget (see :mod:`netra_frames._limiter`).

A refused connection to a loopback address fails at once: nothing is listening there,
and five retries would only delay the message. Every backoff sleep is one of the
drain's :class:`~netra_frames._cancel.CancelScope` waits, so a cancelled drain stops
retrying at once.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime
from typing import Any

from urllib3.exceptions import NewConnectionError
from urllib3.util.retry import Retry

from ._cancel import NEVER, CancelScope
from .config import is_loopback_host

__all__ = [
    "RETRY_STATUSES",
    "NetraRetry",
    "backoff_delay",
    "is_refused",
    "make_retry",
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


def backoff_delay(attempt: int, factor: float, cap: float) -> float:
    """Full-jitter backoff: uniform in ``[0, min(cap, factor * 2**attempt)]``.

    Examples
    --------
    >>> 0 <= backoff_delay(3, 0.25, 20.0) <= 2.0
    True
    """
    if attempt < 0 or factor <= 0:
        return 0.0
    return random.uniform(0.0, min(cap, factor * (2.0 ** min(attempt, 60))))


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


class NetraRetry(Retry):
    """``urllib3.Retry`` with full-jitter backoff, a capped Retry-After and a cancel scope."""

    RETRY_AFTER_STATUS_CODES = frozenset({503})  # a 429 is the rate limiter's, not a failure

    def __init__(self, *args: Any, scope: CancelScope = NEVER, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope = scope

    def new(self, **kw: Any) -> NetraRetry:
        """Copy this policy (urllib3 calls it per attempt), keeping the cancel scope."""
        retry = super().new(**kw)
        assert isinstance(retry, NetraRetry)
        retry.scope = self.scope
        return retry

    def increment(self, *args: Any, **kwargs: Any) -> NetraRetry:
        """Count one failure; stop at once when cancelled or refused on loopback."""
        self.scope.check()
        error = kwargs.get("error")
        if error is None and len(args) >= 4:
            error = args[3]
        pool = kwargs.get("_pool")
        host = getattr(pool, "host", None) or ""
        if isinstance(error, NewConnectionError) and is_refused(error) and is_loopback_host(host):
            raise error
        retry = super().increment(*args, **kwargs)
        assert isinstance(retry, NetraRetry)
        return retry

    def get_backoff_time(self) -> float:
        """Return a full-jitter sleep for the number of consecutive errors so far."""
        consecutive = 0
        for entry in reversed(self.history):
            if entry.redirect_location:
                break
            consecutive += 1
        if consecutive <= 1:
            return (
                0.0 if consecutive == 0 else backoff_delay(0, self.backoff_factor, self.backoff_max)
            )
        return backoff_delay(consecutive - 1, self.backoff_factor, self.backoff_max)

    def parse_retry_after(self, retry_after: str) -> float:
        """Parse ``Retry-After`` leniently (no crash on junk) and cap it at ``backoff_max``."""
        seconds = parse_retry_after(retry_after)
        return min(self.backoff_max, 0.0 if seconds is None else seconds)

    def sleep(self, response: Any = None) -> None:
        """Sleep before the next attempt in cancellable slices."""
        if response is not None:
            slept = self.get_retry_after(response)
            if slept is not None:
                self.scope.sleep(min(self.backoff_max, slept))
                return
        self.scope.sleep(self.get_backoff_time())


def make_retry(
    max_retries: int, backoff_factor: float, max_backoff: float, scope: CancelScope = NEVER
) -> NetraRetry:
    """Build the retry policy of one request.

    Examples
    --------
    >>> make_retry(5, 0.25, 20.0).total
    5
    """
    kwargs: dict[str, Any] = dict(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=max_retries,
        redirect=0,
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=max_backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        scope=scope,
    )
    return NetraRetry(**kwargs)
