"""The rate limiter's rules, one by one, on an injected clock (no server, no sleeping)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netra_frames import _limiter
from netra_frames._limiter import (
    INITIAL_WINDOW,
    OPEN_WINDOW,
    RateLimiter,
    read_rate_limit_headers,
)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_slow_start_doubles_the_window_once_a_whole_window_succeeded() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    for _ in range(INITIAL_WINDOW):
        assert limiter.try_acquire(clock.now) == 0
    assert limiter.try_acquire(clock.now) > 0  # the window is full
    for _ in range(INITIAL_WINDOW - 1):
        limiter.answered()
        limiter.granted()  # a slot back, and no more: the round is not over
        assert limiter.window() == INITIAL_WINDOW
        assert limiter.try_acquire(clock.now) == 0
        assert limiter.try_acquire(clock.now) > 0
    limiter.answered()
    limiter.granted()  # the whole window went through: it doubles
    assert limiter.window() == 2 * INITIAL_WINDOW
    for _ in range(INITIAL_WINDOW + 1):
        assert limiter.try_acquire(clock.now) == 0
    assert limiter.try_acquire(clock.now) > 0


def test_a_429_among_a_rounds_answers_stops_the_next_round() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    sent = clock.now
    for _ in range(INITIAL_WINDOW):
        limiter.try_acquire(clock.now)
    for _ in range(INITIAL_WINDOW - 3):  # a bucket's burst answered first ...
        limiter.answered()
        limiter.granted(sent_at=sent)
    assert limiter.window() == INITIAL_WINDOW  # ... has not opened the window
    limiter.answered()
    limiter.throttled(sent, retry_after=2.0)  # then the refusals of the same round
    assert limiter.window() is None
    assert limiter.try_acquire(clock.now) > 1.0  # and every thread holds


def test_slow_start_ends_at_the_open_window() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    for _ in range(2 * OPEN_WINDOW):
        limiter.granted()
    for _ in range(10 * OPEN_WINDOW):  # no window any more: nothing waits
        assert limiter.try_acquire(clock.now) == 0
    assert limiter.rate() is None


def test_a_429_ends_slow_start() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    sent = clock.now
    for _ in range(INITIAL_WINDOW):
        limiter.try_acquire(clock.now)
    limiter.throttled(sent, retry_after=0)  # "retry now": counted, slows nothing
    assert limiter.try_acquire(clock.now) == 0  # the rate, not the window, decides now
    assert limiter.stats().throttled == 1 and limiter.stats().rate is None


def test_a_long_retry_after_sets_the_rate_and_holds_every_thread() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    sent = clock.now
    limiter.try_acquire(sent)
    limiter.answered()
    limiter.throttled(sent, retry_after=2.0)  # a bucket giving back one request per 2 s
    assert limiter.stats().decreases == 1
    assert limiter.rate() == pytest.approx(_limiter.BETA * 0.5)
    assert limiter.try_acquire(clock.now) > 1.0  # held until the Retry-After is over
    clock.now += 2.0
    assert limiter.try_acquire(clock.now) == 0
    assert limiter.try_acquire(clock.now) > 2.0  # then one request per 2 s / BETA, no burst
    clock.now += 20.0  # probing doubles every PROBE_REQUESTS requests' worth of time
    rate = limiter.rate(clock.now)
    slow = _limiter.BETA * 0.5
    assert rate is not None and slow < rate < slow * 2 ** (22 / _limiter.PROBE_REQUESTS * slow)


def test_decreases_once_per_signal_and_recovers() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    limiter._window = None  # past slow start
    sent = []
    for _ in range(20):  # 20 requests over 0.5 s: a burst
        clock.now += 0.025
        limiter.try_acquire(clock.now)
        limiter.granted()
        sent.append(clock.now)
    limiter.throttled(sent[-1], retry_after=1.0)
    first = limiter.rate()
    assert first is not None and limiter.stats().decreases == 1
    for at in sent:  # 429s of requests sent before the decrease: the same signal
        limiter.throttled(at, retry_after=1.0)
    assert limiter.stats().decreases == 1 and limiter.stats().throttled == 21
    assert first == pytest.approx(_limiter.BETA * 40, rel=0.1)  # 0.75 x the granted rate
    later = limiter.rate(clock.now + _limiter.RECOVERY + 10 * _limiter.DOUBLING)
    assert later is not None and later > first  # climbs back, then probes above


def test_the_cap_is_a_ceiling_and_spaces_sends() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, clock=clock)
    limiter._window = None
    assert limiter.try_acquire(clock.now) == 0
    assert limiter.try_acquire(clock.now) == pytest.approx(0.1)  # no burst below 20/s
    fast = RateLimiter(40.0, clock=clock)
    assert fast.try_acquire(clock.now) == 0
    assert fast.try_acquire(clock.now) == 0  # a burst of two at most
    assert fast.try_acquire(clock.now) == pytest.approx(0.025)


def test_headers_pace_by_the_servers_budget() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    limiter.try_acquire(clock.now)
    limiter.answered()
    # 1 request left; 4 more come back over 8 s: a refill of 0.5 per second
    limiter.granted({"RateLimit-Limit": "5", "RateLimit-Remaining": "1", "RateLimit-Reset": "8"})
    assert limiter.try_acquire(clock.now) == 0  # the one left
    wait = limiter.try_acquire(clock.now)
    assert wait == pytest.approx(2.0)  # then one per 2 s, before any 429
    clock.now += wait
    assert limiter.try_acquire(clock.now) == 0


@pytest.mark.parametrize("after", [0, 2])
def test_headers_count_the_requests_sent_after_the_answered_one(after: int) -> None:
    """The server's ``Remaining`` counted every request that reached it before the one it
    answers (one still in flight then is not taken off again); those sent after it are."""
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    limiter.try_acquire(clock.now)  # sent before: counted by the server, still in flight
    clock.now += 0.01
    sent_at = clock.now
    limiter.try_acquire(sent_at)
    clock.now += 0.01
    for _ in range(after):
        limiter.try_acquire(clock.now)
    limiter.answered(sent_at)
    limiter.granted({"X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "10"}, sent_at=sent_at)
    waits = limiter.try_acquire(clock.now) > 0
    assert waits == (after == 2)  # two left: the two sent after it took them


def test_headers_on_a_429_pace_instead_of_decreasing() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    limiter.try_acquire(clock.now)
    limiter.answered()
    headers = {"RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "1"}
    limiter.throttled(clock.now, retry_after=1.0, headers=headers)
    assert limiter.stats().decreases == 0 and limiter.stats().throttled == 1
    assert limiter.try_acquire(clock.now) == pytest.approx(0.1)  # 10 per second


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"RateLimit-Limit": "30", "RateLimit-Remaining": "4", "RateLimit-Reset": "12"},
         (30.0, 4.0, 12.0)),
        ({"ratelimit-remaining": "4", "ratelimit-reset": "12"}, None),  # a plain dict: exact
        ({"X-RateLimit-Limit": "60, 60;w=60", "X-RateLimit-Remaining": "7",
          "X-RateLimit-Reset": "30"}, (60.0, 7.0, 30.0)),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(2_000_000_030)},
         (None, 0.0, 30.0)),  # a Unix time
        ({"RateLimit-Remaining": "x", "RateLimit-Reset": "1"}, None),
        ({"RateLimit-Remaining": "-1", "RateLimit-Reset": "1"}, None),
        ({"RateLimit-Remaining": "nan", "RateLimit-Reset": "1"}, None),
        ({"Retry-After": "3"}, None),
    ],
)  # fmt: skip
def test_read_rate_limit_headers(headers: dict[str, str], expected: object) -> None:
    assert read_rate_limit_headers(headers, now_wall=2_000_000_000) == expected


def test_headers_of_an_overtaken_answer_are_ignored() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    early = clock.now
    limiter.try_acquire(early)
    clock.now += 0.01
    late = clock.now
    limiter.try_acquire(late)
    limiter.answered()
    limiter.answered()
    spent = {"RateLimit-Limit": "5", "RateLimit-Remaining": "0", "RateLimit-Reset": "5"}
    stale = {"RateLimit-Limit": "5", "RateLimit-Remaining": "3", "RateLimit-Reset": "2"}
    limiter.granted(spent, sent_at=late)  # the later request's answer arrives first
    limiter.granted(stale, sent_at=early)  # then the earlier one's: older news
    assert limiter.try_acquire(clock.now) == pytest.approx(1.0)  # 5 back over 5 s


def test_a_spent_fixed_window_keeps_the_rate_it_granted() -> None:
    """30 a minute, all granted in 3 s, then "Retry-After: 57": ~0.5/s, not 1 a minute."""
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    for _ in range(30):
        clock.now += 0.1
        limiter.try_acquire(clock.now)
        limiter.answered()
        limiter.granted()
    limiter.throttled(clock.now, retry_after=57.0)
    assert limiter.rate() == pytest.approx(_limiter.BETA * 30 / 57)
    assert limiter.try_acquire(clock.now) == pytest.approx(57.0)  # everyone waits it out


def test_the_documented_first_window_is_the_limiters() -> None:
    text = (Path(__file__).parents[2] / "docs" / "reliability.md").read_text()
    assert f"at most {INITIAL_WINDOW} requests at once" in " ".join(text.split())
    assert RateLimiter(None).window() == INITIAL_WINDOW
