"""The API the replay drains (``benchmarks/replay.py``): rows, pages, a bucket, latencies.

* **Rows** (:func:`row_times`): start times drawn as the local server draws them
  (``netra_frames/server/synth.py``: runs of 1 to 6 traces of one session, 2 s to 10 min
  apart, wrapping inside their range, 2% ties), on the server's shapes -- ``uniform`` over
  30 days, ``skewed`` (a 120-day window, every row in its last quarter), ``bursty`` (half
  of the rows in the day from day 15) -- and two more: ``daily`` (a daily rhythm, ten
  times busier at 15:00 than at 03:00) and ``spike`` (30% of the rows in one hour).
* **Pages** (:class:`ModelApi`): ``POST /sdk/traces`` answered as the server answers it,
  in cursor order (``start_time``, then id; newest first by default), at most ``limit``
  rows (100), a partial last page, ``hasNextPage`` exact. The body has the server's
  exact form, so the engine's own decoder and page checks read it.
* **A token bucket** per client (:class:`Bucket`, as ``server/injector.py``): a request
  that finds it empty gets a 429 whose ``Retry-After`` is the whole seconds until the next
  token; with ``headers``, every answer carries ``RateLimit-*`` (and ``X-RateLimit-*``).
* **Latency** (:class:`Latency`): fixed, or log-normal (median 200 ms, p99 1 s), one
  draw per request sent, in the order they are sent (seeded).
"""

from __future__ import annotations

import bisect
import copy
import json
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

__all__ = ["ANCHOR", "SHAPES", "Answer", "Bucket", "Latency", "ModelApi", "row_times", "window"]

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SHAPES = ("uniform", "skewed", "bursty", "daily", "spike")
TIE_RATE = 0.02
SPIKE_SHARE = 0.3


def window(shape: str) -> tuple[datetime, datetime]:
    """The window a drain of ``shape`` asks for (120 days for ``skewed``, else 30)."""
    days = 120 if shape == "skewed" else 30
    return ANCHOR - timedelta(days=days), ANCHOR


def _rhythm(t_ms: np.ndarray) -> np.ndarray:
    """The daily rhythm's weight: ten times busier at 15:00 than at 03:00 (1.0 at the peak)."""
    hour = (t_ms % DAY_MS) / HOUR_MS
    return (1.0 + 0.818 * np.cos(2 * np.pi * (hour - 15) / 24)) / 1.818


def row_times(shape: str, rows: int, seed: int) -> list[int]:
    """``rows`` start times (ms since the epoch, sorted) of ``shape`` (see module docstring).

    Examples
    --------
    >>> len(row_times("bursty", 500, 1))
    500
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    rng = np.random.default_rng([seed, SHAPES.index(shape), rows])
    lo, hi = (int(t.timestamp() * 1000) for t in window(shape))
    span = hi - lo
    start, width = np.full(rows, lo), np.full(rows, span)  # of each run (room for all)
    if shape == "skewed":
        start, width = start + span - span // 4, width // 4
    runs = rng.integers(1, 7, rows)  # a run of 1 to 6 traces of one session
    first = np.cumsum(runs) - runs
    share = {"bursty": 0.5, "spike": SPIKE_SHARE}.get(shape, 0.0)
    if share:  # runs go to the burst while it holds no more than its share of the rows
        where = (span // 2) // DAY_MS * DAY_MS if shape == "bursty" else 20 * DAY_MS + 10 * HOUR_MS
        burst = np.zeros(rows, dtype=bool)
        held = 0
        for i in range(rows):
            if first[i] >= rows:
                break
            burst[i] = held <= share * first[i]
            held += runs[i] if burst[i] else 0
        start = np.where(burst, lo + where, start)
        width = np.where(burst, DAY_MS if shape == "bursty" else HOUR_MS, width)
    offset = rng.integers(0, width)
    if shape == "daily":  # drawn again until the rhythm accepts it
        again = np.ones(rows, dtype=bool)
        while again.any():
            offset = np.where(again, rng.integers(0, width), offset)
            again &= rng.random(rows) > _rhythm(start + offset)
    run = np.repeat(np.arange(rows), runs)[:rows]  # the run of each row
    steps = rng.integers(2_000, 600_001, rows)  # 2 s to 10 min after the one before
    steps[first[first < rows]] = 0
    within = (
        np.cumsum(steps)
        - np.repeat(np.cumsum(steps)[first[first < rows]], runs[first < rows])[:rows]
    )
    times = start[run] + (offset[run] + within) % width[run]
    ties = np.flatnonzero(rng.random(rows) < TIE_RATE)
    for i in ties[ties > 0]:  # a trace now and then copies an earlier one's start time
        times[i] = times[rng.integers(0, i)]
    return sorted(times.tolist())


@dataclass
class Answer:
    """One answer of the model: status, headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes


class Bucket:
    """A token bucket of ``rate`` tokens a second holding ``burst`` (full at first)."""

    def __init__(self, rate: float, burst: int, headers: bool) -> None:
        self.rate, self.burst, self.headers = rate, burst, headers
        self.tokens, self.stamp = float(burst), None

    def take(self, now: float) -> tuple[bool, dict[str, str]]:
        """Take a token at ``now``: whether one was there, and the headers to send."""
        if self.stamp is not None:
            self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        granted = self.tokens >= 1
        headers: dict[str, str] = {}
        if granted:
            self.tokens -= 1
        else:
            headers["Retry-After"] = str(math.ceil((1 - self.tokens) / self.rate))
        if self.headers:
            left = math.floor(self.tokens)
            reset = f"{(self.burst - left) / self.rate:.3f}".rstrip("0").rstrip(".")
            for prefix in ("RateLimit-", "X-RateLimit-"):
                headers |= {f"{prefix}Limit": str(self.burst), f"{prefix}Remaining": str(left),
                            f"{prefix}Reset": reset}  # fmt: skip
        return granted, headers


class Latency:
    """Seconds each request takes: ``fixed``, or log-normal (median ``fixed``, p99 ``p99``)."""

    def __init__(self, fixed: float, p99: float | None = None, seed: int = 0) -> None:
        self.median, self.p99 = fixed, p99
        self.rng = random.Random(f"latency:{seed}")
        self.sigma = 0.0 if p99 is None else math.log(p99 / fixed) / 2.3263478740408408
        self.drawn: list[float] = []

    def draw(self) -> float:
        """The next request's time."""
        seconds = self.median
        if self.sigma:
            seconds = self.rng.lognormvariate(math.log(self.median), self.sigma)
        self.drawn.append(seconds)
        return seconds


_EMPTY = b'{"data":{"data":[],"pageInfo":{"hasNextPage":false}}}'


class ModelApi:
    """``POST /sdk/traces`` over fixed rows (see the module docstring).

    Examples
    --------
    >>> from netra_frames.query import TraceQuery
    >>> api = ModelApi([1_767_225_600_000 - 1000 * i for i in range(150)][::-1])
    >>> answer = api.answer(TraceQuery.build("2025-12-01", "2026-01-01", page_size=100).request())
    >>> answer.status, answer.body.count(b'"cursor"')
    (200, 100)
    """

    def __init__(self, times: list[int], bucket: Bucket | None = None) -> None:
        self.times = times
        self.bucket = bucket
        iso = np.datetime_as_string(np.array(times, dtype="datetime64[ms]"), unit="ms")
        self.items = [
            f'{{"id":"t{i:07d}","start_time":"{t}Z","cursor":"{i}"}}' for i, t in enumerate(iso)
        ]
        self.sent = 0
        self.throttled = 0

    def fresh(self, bucket: Bucket | None) -> ModelApi:
        """The same rows (rendered once) behind ``bucket``, no request answered yet."""
        twin = copy.copy(self)
        twin.bucket, twin.sent, twin.throttled = bucket, 0, 0
        return twin

    def answer(self, request: object, now: float = 0.0) -> Answer:
        """Answer ``request`` (a :class:`~netra_frames._wire.request.Request`) at ``now``."""
        self.sent += 1
        headers: dict[str, str] = {}
        if self.bucket is not None:
            granted, headers = self.bucket.take(now)
            if not granted:
                self.throttled += 1
                return Answer(429, headers, b'{"error":"rate limited"}')
        body = json.loads(request.body)  # type: ignore[attr-defined]
        lo = bisect.bisect_left(self.times, _ms(body["startTime"]))
        hi = bisect.bisect_left(self.times, _ms(body["endTime"]))
        pagination = body.get("pagination", {})
        limit = int(pagination.get("limit", 100))
        cursor = pagination.get("cursor")
        backward = body.get("sortOrder", "desc") == "desc"
        if backward:
            top = hi if cursor is None else min(hi, int(cursor))
            first, last = max(lo, top - limit), top
            rows = self.items[first:last][::-1]
            more = first > lo
        else:
            bottom = lo if cursor is None else max(lo, int(cursor) + 1)
            first, last = bottom, min(hi, bottom + limit)
            rows = self.items[first:last]
            more = last < hi
        if not rows:
            return Answer(200, headers, _EMPTY)
        flag = b"true" if more else b"false"
        text = b'{"data":{"data":[' + ",".join(rows).encode()
        return Answer(200, headers, text + b'],"pageInfo":{"hasNextPage":' + flag + b"}}}")


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
