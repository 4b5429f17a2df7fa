"""Retry policy: urllib3's ``Retry`` with full jitter and a capped ``Retry-After``.

Retried: connection errors, read timeouts, and the statuses in ``RETRY_STATUSES``, on
every method (our only POST, ``/sdk/traces``, is a read). Never retried: 400, 401, 403,
404 and other 4xx. A ``Retry-After`` (seconds or HTTP-date) is honoured up to
``max_backoff``.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime
from typing import Any

from urllib3.util.retry import Retry

__all__ = ["RETRY_STATUSES", "NetraRetry", "backoff_delay", "make_retry", "parse_retry_after"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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
    return random.uniform(0.0, min(cap, factor * (2.0**attempt)))


class NetraRetry(Retry):
    """``urllib3.Retry`` whose backoff has full jitter and whose Retry-After is capped."""

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


def make_retry(max_retries: int, backoff_factor: float, max_backoff: float) -> NetraRetry:
    """Build the retry policy mounted on every client session.

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
    )
    return NetraRetry(**kwargs)
