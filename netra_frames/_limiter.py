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
  most, and none below 20 requests a second), across all threads.
* The throttled request itself waits the server's ``Retry-After`` (the transport does it)
  before it is sent again; that wait does not use up the retry budget meant for failures.

* **A slow start.** Until the first 429 or rate-limit header, at most
  :data:`INITIAL_WINDOW` requests are in flight; the window doubles each time a whole
  window's worth of requests has succeeded (once a round trip, as TCP's slow start),
  until it reaches :data:`OPEN_WINDOW`: a drain that meets no limit loses less than one
  round trip, and one that meets a small bucket wastes a few requests, not a burst of
  16. It grows by whole windows, not by one per success, so that successes answered
  before a 429 of the same round cannot let a second round go into an empty bucket.
* **A long ``Retry-After``.** A 429 whose ``Retry-After`` is :data:`SLOW_HINT` seconds or
  more says the server gives back less than a request a second (a slow bucket), or that a
  fixed window is spent: the rate drops at once to ``BETA`` requests per ``Retry-After``
  (or ``BETA`` times what was granted over it, when that was :data:`WINDOW_QUOTA` or more:
  a window's quota); every thread holds until it is over, and the rate probes upward only
  after :data:`PROBE_REQUESTS` requests' worth of time.

**Rate-limit headers** (every answer, 429 or not): ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` (IETF draft), or their ``X-RateLimit-*``
forms (``Reset`` in seconds, or a Unix time). When an answer carries ``Remaining`` and
``Reset``, the client keeps a copy of the server's budget: ``Remaining`` requests less
those sent after the answered one (the server counted the others), refilled at ``(Limit -
Remaining) / Reset`` per second from the middle of its exchange, and sends only while it
holds a token, so it paces itself before a 429 comes.

An explicit ``max_requests_per_second`` is a ceiling the rate never exceeds. Every wait
is a :class:`~netra_frames._cancel.CancelScope` wait, so Ctrl-C and errors stop it. The
clock is injectable (``clock=``) so the rules can be tested without sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._cancel import CancelScope

__all__ = ["LimiterStats", "RateLimiter", "read_rate_limit_headers"]

BETA = 0.75
"""Share of the granted rate kept after a 429."""
RECOVERY = 1.0
"""Seconds to climb back to the throttled rate after a decrease."""
DOUBLING = 3.0
"""Seconds per doubling while probing above the throttled rate."""
MIN_SAMPLES = 4
"""Requests sent in the last second below which a 429 does not slow the client down."""
BURST_INTERVAL = 0.05
"""Spacing below which two requests may go at once (20 requests a second and more)."""
MIN_RATE = 0.2
"""Requests per second the limiter never goes below (12 a minute); below that, the
server's own ``Retry-After`` answers pace the requests."""
MEASURE_SECONDS = 1.0
"""Window over which the real send rate is measured when a 429 arrives."""
INITIAL_WINDOW = 8
"""Requests in flight at first (slow start): with 16 workers, the window opens in one
round trip; a bucket with a burst of 5 refuses 3 of them, once (see docs/reliability.md)."""
OPEN_WINDOW = 64
"""Slow start ends when the window reaches this many requests in flight."""
SLOW_HINT = 2.0
"""A 429's ``Retry-After`` (seconds) from which the server is taken to give back less
than one request per second (a bucket of such a rate says ``ceil(1 / rate)``)."""
WINDOW_QUOTA = 10
"""Successes within a long ``Retry-After`` from which they are a spent window's quota to
keep (a few are only a bucket's burst)."""
TRIP_WEIGHT = 0.2
"""Weight of the latest round trip in the running mean (see :meth:`RateLimiter.window`)."""
PROBE_REQUESTS = 64
"""Requests' worth of time (at the throttled rate) per doubling while the rate probes above
it: at 30 requests a minute, a minute's drain does not probe past the rate it found."""
_EPOCH_SECONDS = 1e9
"""A ``Reset`` above this is a Unix time, not a number of seconds."""


def read_rate_limit_headers(
    headers: Mapping[str, str], now_wall: float | None = None
) -> tuple[float | None, float, float] | None:
    """``(limit, remaining, reset_seconds)`` of an answer's rate-limit headers, or ``None``.

    Reads ``RateLimit-*`` first, then ``X-RateLimit-*``; a list value (``"30, 30;w=60"``)
    gives its first number; a ``Reset`` above 10^9 is a Unix time. ``None`` when
    ``Remaining`` or ``Reset`` is missing or does not parse.

    Examples
    --------
    >>> read_rate_limit_headers({"RateLimit-Limit": "30", "RateLimit-Remaining": "4",
    ...                          "RateLimit-Reset": "12"})
    (30.0, 4.0, 12.0)
    >>> read_rate_limit_headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"})
    (None, 0.0, 5.0)
    >>> read_rate_limit_headers({"Retry-After": "1"}) is None
    True
    """
    for prefix in ("RateLimit-", "X-RateLimit-"):
        remaining = _number(headers.get(prefix + "Remaining"))
        reset = _number(headers.get(prefix + "Reset"))
        if remaining is None or reset is None:
            continue
        if reset > _EPOCH_SECONDS:
            reset -= time.time() if now_wall is None else now_wall
        return _number(headers.get(prefix + "Limit")), max(0.0, remaining), max(0.0, reset)
    return None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    text = value.split(",", 1)[0].split(";", 1)[0].strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and number >= 0 else None  # not NaN, not negative


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
    """Client-wide rate control fed by 429s and rate-limit headers (see the module docstring).

    Parameters
    ----------
    cap:
        Requests per second never to exceed (``max_requests_per_second``), or ``None``.
    clock:
        Monotonic seconds (injectable: ``benchmarks/replay.py`` passes a virtual one).
    window:
        Requests in flight at first (``None``: no slow start).
    probing:
        Probe above the rate that was throttled once it is back to it.
    sized:
        Under a rate, size a drain's work by it (see :meth:`window`).

    Examples
    --------
    >>> clock = [100.0]                         # a fake clock, moved by hand
    >>> limiter = RateLimiter(cap=None, clock=lambda: clock[0])
    >>> sent = limiter.acquire(CancelScope())   # unlimited: returns at once
    >>> limiter.answered()
    >>> limiter.throttled(sent)                 # a 429 after one request: no burst to tame
    >>> limiter.stats()
    LimiterStats(throttled=1, decreases=0, rate=None)
    >>> clock[0] += 2.0
    >>> for _ in range(8):                      # 8 requests granted over half a second
    ...     clock[0] += 0.0625
    ...     sent = limiter.acquire(CancelScope())
    ...     limiter.answered()
    ...     limiter.granted(sent_at=sent)
    >>> clock[0] += 0.0625
    >>> sent = limiter.acquire(CancelScope())
    >>> limiter.answered()
    >>> limiter.throttled(sent)                 # a 429 in a burst: BETA times 16 granted/s
    >>> limiter.stats()
    LimiterStats(throttled=2, decreases=1, rate=12.0)
    >>> clock[0] += 1.0                         # RECOVERY later: back to the throttled rate
    >>> limiter.rate()
    16.0
    """

    def __init__(
        self,
        cap: float | None,
        clock: Callable[[], float] = time.monotonic,
        *,
        window: int | None = INITIAL_WINDOW,
        probing: bool = True,
        sized: bool = True,
    ) -> None:
        self.cap = cap
        self.probing = probing
        self.sized = sized
        self.clock = clock
        self._limited = cap is not None
        self._lock = threading.Lock()
        self._next = 0.0  # the earliest time the next request may go (spacing)
        self._epoch = 0.0  # when the rate last decreased (0: never)
        self._w_max = 0.0  # the rate that was throttled
        self._floor = 0.0  # the rate right after the decrease
        self._doubling = DOUBLING
        self._sent: deque[float] = deque(maxlen=16384)
        self._granted: deque[float] = deque(maxlen=16384)  # successful responses
        self._hold = 0.0  # after a decrease, 429s of requests sent this soon are the same
        self._throttled = 0
        self._decreases = 0
        self._in_flight = 0
        self._until = 0.0  # no request goes before this (a long Retry-After)
        self._observed = 0.0  # when the request whose headers were read last went
        self._window = None if window is None else float(window)  # slow start; None: over
        self._answered_ok = 0  # successes since the window last doubled
        self._trip: float | None = None  # a request's round trip (running mean)
        self._budget: tuple[float, float, float | None, float] | None = None
        # the server's budget as its headers said: (tokens, at, limit, refill per second)

    def rate(self, now: float | None = None) -> float | None:
        """Requests per second allowed now, or ``None`` when not limited."""
        if not self._limited:
            return None
        now = self.clock() if now is None else now
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
            rate = self._w_max * 2.0 ** min((t - RECOVERY) / self._doubling, 60.0 * self.probing)
        if self.cap is not None:
            rate = min(rate, self.cap)
        return max(rate, MIN_RATE)

    def window(self) -> int | None:
        """Requests worth having in flight now, or ``None`` for as many as there are workers.

        In the slow start, its window. Under a rate (a 429's, or the server's budget from
        its headers), what that rate sends in two round trips, and one more (some wait for
        a slot, or out a 429): a drain starts and splits only as much work as this lets go
        at once (see :meth:`netra_frames._engine.walks.WalkSet.rebalance`), for every range
        it adds ends in a partial page, a request the rate must pay for.

        Examples
        --------
        >>> RateLimiter(None).window() == INITIAL_WINDOW
        True
        """
        if self._window is not None:
            return int(self._window)
        if self._budget is not None:
            rate: float | None = self._budget[3]
        else:
            rate = self.rate()
        if rate is None or self._trip is None or not self.sized:
            return None
        return math.ceil(2 * rate * self._trip) + 1

    def acquire(self, scope: CancelScope) -> float:
        """Wait until one more request may go; return the time it went (monotonic).

        Every call is followed by one :meth:`answered` when the exchange ends.
        """
        while True:
            with self._lock:
                now = self.clock()
                wait = self.try_acquire(now)
                if wait <= 0:
                    return now
            scope.sleep(wait)

    def try_acquire(self, now: float) -> float:
        """Take a send slot at ``now`` and return 0, or return the seconds to wait first.

        Called under the limiter's lock by :meth:`acquire` (tests call it directly).
        """
        if now < self._until:
            return self._until - now
        if self._window is not None and self._in_flight >= self._window:
            return 0.005  # an answer frees a slot within a round trip
        if self._budget is not None:
            tokens, at, limit, refill = self._budget
            tokens += refill * (now - at)
            if limit is not None:
                tokens = min(tokens, limit)
            if tokens < 1:
                return (1 - tokens) / refill if refill > 0 else 0.05
        if self._limited:
            interval = 1.0 / self._rate(now)
            slack = interval if interval <= BURST_INTERVAL else 0.0  # a burst of two at most
            wait = self._next - slack - now
            if wait > 0:
                return wait
            self._next = max(self._next, now) + interval
        if self._budget is not None:
            self._budget = (tokens - 1, now, limit, refill)
        self._in_flight += 1
        self._sent.append(now)
        return 0.0

    def answered(self, sent_at: float | None = None) -> None:
        """An exchange :meth:`acquire` let go (at ``sent_at``) has ended, answered or not."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if sent_at is not None:
                trip = self.clock() - sent_at
                mean = trip if self._trip is None else self._trip
                self._trip = mean + TRIP_WEIGHT * (trip - mean)

    def granted(
        self, headers: Mapping[str, str] | None = None, sent_at: float | None = None
    ) -> None:
        """Count one successful response and read its rate-limit headers, if any.

        ``sent_at`` is when its request went (:meth:`acquire`'s answer): the headers of an
        answer overtaken by that of a later request are older news, and ignored.
        """
        now = self.clock()
        self._granted.append(now)
        with self._lock:
            self._observe(headers, now, now if sent_at is None else sent_at)
            if self._window is not None:
                self._answered_ok += 1
                if self._answered_ok >= self._window:  # a whole window went through
                    self._answered_ok = 0
                    self._window *= 2
                    if self._window >= OPEN_WINDOW:
                        self._window = None

    def _observe(self, headers: Mapping[str, str] | None, now: float, sent_at: float) -> bool:
        """Take the server's budget from rate-limit headers; return whether there were any."""
        found = read_rate_limit_headers(headers) if headers else None
        if found is None:
            return False
        if sent_at < self._observed:
            return True  # a later request's answer came first: it knows more
        self._observed = sent_at
        limit, remaining, reset = found
        if reset > 0 and limit is not None and limit > remaining:
            refill = (limit - remaining) / reset
        elif reset > 0:
            refill = max(remaining, 1.0) / reset
        else:
            refill = float("inf") if remaining > 0 else 1.0
        if refill == float("inf"):
            self._budget = None  # a fresh window, nothing to pace
        else:  # the server counted it somewhere in the exchange, and none sent since
            later = 0
            for went in reversed(self._sent):
                if went <= sent_at:
                    break
                later += 1
            tokens = remaining - later + refill * (now - sent_at) / 2
            self._budget = (tokens if limit is None else min(tokens, limit), now, limit, refill)
        self._window = None  # the server says what it allows: no need to probe
        return True

    def throttled(
        self,
        sent_at: float,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Take a 429 into account for a request sent at ``sent_at`` (see module doc).

        A 429 that says ``Retry-After: 0`` ("retry now") is counted, and slows nothing.
        """
        with self._lock:
            self._throttled += 1
            now = self.clock()
            if self._observe(headers, now, sent_at):
                return  # the server's own budget paces the client from now on
            self._window = None  # slow start is over: the rate takes over
            if retry_after == 0 or sent_at <= self._epoch + self._hold:
                return  # "retry now", or a signal the last decrease already reacted to
            if retry_after is not None and retry_after >= SLOW_HINT:
                # a bucket refilling slower than 1/s, or a spent fixed window: what was
                # granted over the last Retry-After (times BETA), one request per it at least
                recent = sum(1 for t in tuple(self._granted) if t > now - retry_after)
                rate = BETA * max(1, recent if recent >= WINDOW_QUOTA else 1) / retry_after
                self._decrease(now, rate, rate)
                self._until = now + retry_after  # every thread holds until it is over
                self._next = self._until
                return
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
            self._decrease(now, base, max(MIN_RATE, base * BETA))
            self._next = now + 1.0 / self._floor

    def _decrease(self, now: float, w_max: float, floor: float) -> None:
        self._w_max = w_max
        self._floor = floor
        self._hold = 2.0 / floor
        self._doubling = max(DOUBLING, PROBE_REQUESTS / w_max)
        self._epoch = now
        self._limited = True
        self._decreases += 1

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
