"""The client's one request-rate limiter, shared by every thread of every drain.

A client starts unlimited (or at ``max_requests_per_second`` when given). Each 429 the
server sends is a congestion signal for the whole client, not for one worker:

* **Multiplicative decrease.** The allowed rate drops to ``BETA`` times the rate the
  server really granted (successful responses over the last second, or what the client
  sent, whichever is lower), once per signal: 429s of requests sent before the last
  decrease, or within two intervals after it, are the same signal. A 429 with
  ``Retry-After: 0`` ("retry now") asks for no slowing down and gets none, and neither does
  a 429 when the client sent fewer than :data:`MIN_SAMPLES` requests in the last second:
  there is no burst to tame, and the throttled request's own wait paces it.
* **Recovery, then probing.** After a decrease the rate climbs back to the rate that was
  throttled over :data:`RECOVERY` seconds (concave: fast, then slowing as it nears it), as
  TCP CUBIC does, then probes above it, doubling every :data:`DOUBLING` seconds, until the
  next 429 starts a new cycle. So the client settles just under the server's limit, sends
  few 429s, and finds a limit that was raised.
* **Spacing.** While limited, sends are spaced ``1 / rate`` apart (a burst of two at
  most), across all threads.
* The throttled request itself waits the server's ``Retry-After`` (the transport does it)
  before it is sent again; that wait does not use up the retry budget meant for failures.

An explicit ``max_requests_per_second`` is a ceiling the rate never exceeds. Every wait
is a :class:`~netra_frames._cancel.CancelScope` wait, so Ctrl-C and errors stop it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from ._cancel import CancelScope

__all__ = ["LimiterStats", "RateLimiter"]

BETA = 0.75
"""Share of the granted rate kept after a 429."""
RECOVERY = 1.0
"""Seconds to climb back to the throttled rate after a decrease."""
DOUBLING = 3.0
"""Seconds per doubling while probing above the throttled rate."""
MIN_SAMPLES = 4
"""Requests sent in the last second below which a 429 does not slow the client down."""
MIN_RATE = 0.2
"""Requests per second the limiter never goes below (12 a minute); below that, the
server's own ``Retry-After`` answers pace the requests."""
MEASURE_SECONDS = 1.0
"""Window over which the real send rate is measured when a 429 arrives."""


@dataclass(frozen=True)
class LimiterStats:
    """What the limiter has seen: 429s, decreases, and the rate it allows now.

    Examples
    --------
    >>> RateLimiter(None).stats().throttled
    0
    """

    throttled: int
    decreases: int
    rate: float | None


class RateLimiter:
    """Client-wide AIMD/CUBIC rate control fed by 429s (see the module docstring).

    Parameters
    ----------
    cap:
        Requests per second never to exceed (``max_requests_per_second``), or ``None``.

    Examples
    --------
    >>> limiter = RateLimiter(cap=None)
    >>> sent = limiter.acquire(CancelScope())   # unlimited: returns at once
    >>> limiter.throttled(sent)                 # a 429: now limited
    >>> limiter.stats().rate is not None
    True
    """

    def __init__(self, cap: float | None) -> None:
        self.cap = cap
        self._limited = cap is not None
        self._lock = threading.Lock()
        self._next = 0.0  # the earliest time the next request may go (spacing)
        self._epoch = 0.0  # when the rate last decreased (0: never)
        self._w_max = 0.0  # the rate that was throttled
        self._floor = 0.0  # the rate right after the decrease
        self._sent: deque[float] = deque(maxlen=16384)
        self._granted: deque[float] = deque(maxlen=16384)  # successful responses
        self._hold = 0.0  # after a decrease, 429s of requests sent this soon are the same
        self._throttled = 0
        self._decreases = 0

    def rate(self, now: float | None = None) -> float | None:
        """Requests per second allowed now, or ``None`` when not limited."""
        if not self._limited:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._rate(now)

    def _rate(self, now: float) -> float:
        if self._epoch == 0.0:
            assert self.cap is not None
            return self.cap
        t = now - self._epoch
        if t < RECOVERY:
            rate = self._w_max - (self._w_max - self._floor) * (1 - t / RECOVERY) ** 3
        else:
            rate = self._w_max * 2.0 ** min((t - RECOVERY) / DOUBLING, 60.0)
        if self.cap is not None:
            rate = min(rate, self.cap)
        return max(rate, MIN_RATE)

    def acquire(self, scope: CancelScope) -> float:
        """Wait until one more request may go; return the time it went (monotonic)."""
        if not self._limited:
            now = time.monotonic()
            self._sent.append(now)
            return now
        while True:
            with self._lock:
                now = time.monotonic()
                interval = 1.0 / self._rate(now)
                wait = self._next - interval - now  # a burst of two at most
                if wait <= 0:
                    self._next = max(self._next, now) + interval
                    self._sent.append(now)
                    return now
            scope.sleep(wait)

    def granted(self) -> None:
        """Count one successful response (the rate the server grants, for decreases)."""
        self._granted.append(time.monotonic())

    def throttled(self, sent_at: float, retry_after: float | None = None) -> None:
        """Take a 429 into account for a request sent at ``sent_at`` (see module doc).

        A 429 that says ``Retry-After: 0`` ("retry now") is counted, and slows nothing.
        """
        with self._lock:
            self._throttled += 1
            if retry_after == 0 or sent_at <= self._epoch + self._hold:
                return  # "retry now", or a signal the last decrease already reacted to
            now = time.monotonic()
            sent = _per_second(self._sent, now)
            if sent is None:
                return  # no burst: this request's own wait paces it
            granted = _per_second(self._granted, now, minimum=2)
            if not self._limited:  # start from what was really granted (or sent, if less)
                base = sent if granted is None else min(sent, granted)
            else:  # what the server granted, if the client used its allowance; idle spells
                current = self._rate(now)  # (Retry-After waits) say nothing of the server
                busy = granted is not None and sent >= current / 2
                base = min(current, granted) if busy and granted is not None else current
            base = max(MIN_RATE, base)
            self._w_max = base
            self._floor = max(MIN_RATE, base * BETA)
            self._hold = 2.0 / self._floor
            self._epoch = now
            self._limited = True
            self._decreases += 1
            self._next = now + 1.0 / self._floor

    def stats(self) -> LimiterStats:
        """A snapshot: 429s seen, decreases made, the rate allowed now."""
        return LimiterStats(self._throttled, self._decreases, self.rate())


def _per_second(times: deque[float], now: float, minimum: int = MIN_SAMPLES) -> float | None:
    """Events per second over the last :data:`MEASURE_SECONDS` (``None``: fewer than
    ``minimum`` of them). A window the events do not fill yet is measured from its first."""
    recent = [t for t in tuple(times) if t > now - MEASURE_SECONDS]
    if len(recent) < minimum:
        return None
    return len(recent) / max(now - recent[0], 1e-3)
