"""The engine's traces loop on a virtual clock: a discrete-event :class:`Simulation`.

:class:`Simulation` is the replay's binding of the engine's seam
(:class:`netra_frames._engine.traces.Requests`): the real
:class:`~netra_frames._engine.traces.TracesProducer` loop, its
:class:`~netra_frames._engine.walks.WalkSet` and the real
:class:`~netra_frames._limiter.RateLimiter` (on the simulation's clock) run unchanged;
only where requests go differs. A request submitted at ``now`` goes once the limiter lets
it (:meth:`~netra_frames._limiter.RateLimiter.try_acquire`, retried after the wait it
says), is answered by the :class:`~benchmarks.replay_model.ModelApi` at that moment, and
comes back one latency later; a 429 is waited out as the transport does
(:meth:`~netra_frames._retry.RetryPolicy.throttled_wait`, the limiter told first). No
thread, no socket, no sleep: time moves only when the loop waits for an answer, so the
drain's CPU costs nothing and the figures are exact and repeatable.

:func:`drain` runs one traces drain and returns its :class:`Figures`.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from benchmarks.replay_model import Latency, ModelApi
from netra_frames._cancel import CancelScope
from netra_frames._engine.batch import Sink
from netra_frames._engine.pipeline import Outlet
from netra_frames._engine.pool import Workers
from netra_frames._engine.shards import choose_shards
from netra_frames._engine.traces import Done, TracesProducer, capacity
from netra_frames._engine.walks import Rules, WalkSet
from netra_frames._limiter import RateLimiter
from netra_frames._retry import RetryPolicy, parse_retry_after
from netra_frames._wire.decode import (
    DecodedPage,
    decode_traces_page,
    first_start_time,
    last_start_time,
)
from netra_frames._wire.request import Request
from netra_frames.config import DEFAULT_BACKOFF_FACTOR, DEFAULT_MAX_BACKOFF, DEFAULT_MAX_RETRIES
from netra_frames.query import SortOrder, TraceQuery
from netra_frames.schema import TRACES

__all__ = ["Figures", "Simulation", "drain"]

Limiter = Callable[[Callable[[], float]], RateLimiter]
"""Makes the client's limiter on a clock."""
START = 1000.0
"""The virtual clock's first reading (the limiter takes 0.0 as "never")."""
WORKERS = 16
EMPTY = pl.DataFrame(schema={"trace_id": pl.String})


class Simulation:
    """:class:`~netra_frames._engine.traces.Requests` on a virtual clock (module docstring)."""

    def __init__(self, api: ModelApi, latency: Latency, limiter: Limiter, seed: int = 0) -> None:
        self.now = START
        self.api = api
        self.latency = latency
        self.limiter = limiter(lambda: self.now)
        self.policy = RetryPolicy(
            DEFAULT_MAX_RETRIES, DEFAULT_BACKOFF_FACTOR, DEFAULT_MAX_BACKOFF,
            uniform=random.Random(f"jitter:{seed}").uniform,
        )  # fmt: skip
        self.pending = 0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._done: deque[Done] = deque()
        self.first_answer: float | None = None
        self.sent: list[tuple[float, float]] = []
        """``(sent, answered)`` of every request sent, 429s included."""
        self.throttled_at: list[float] = []
        """When each request answered 429 was sent."""
        self.retry_sends = 0

    # -- the seam ---------------------------------------------------------------------

    def submit(self, key: int, request: Request) -> None:
        self.pending += 1
        self._acquire(key, request, 0)

    def poll(self) -> Done | None:
        while self._events and self._events[0][0] <= self.now:
            heapq.heappop(self._events)[2]()
        return self._take()

    def next_done(self) -> Done:
        while not self._done:  # what happens at the next instant, all of it (the limiter
            if not self._events:  # hears of every 429 of it, as the workers' threads would)
                raise RuntimeError("the replay waits for an answer that never comes")
            self.now = max(self.now, self._events[0][0])
            while self._events and self._events[0][0] <= self.now:
                heapq.heappop(self._events)[2]()
        done = self._take()
        assert done is not None
        return done

    def idle(self, outlet: Outlet) -> None:
        raise RuntimeError("the replay's drains have no budget: nothing waits for a consumer")

    # -- the model ------------------------------------------------------------------------

    def _take(self) -> Done | None:
        if not self._done:
            return None
        self.pending -= 1
        return self._done.popleft()

    def _at(self, when: float, event: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._events, (when, self._seq, event))

    def _acquire(self, key: int, request: Request, before: int) -> None:
        wait = self.limiter.try_acquire(self.now)
        if wait > 0:  # at least a tick later: a wait of 1e-14 s is lost in 1000.0 + it
            when = max(self.now + wait, math.nextafter(self.now, math.inf))
            self._at(when, lambda: self._acquire(key, request, before))
            return
        sent, answer = self.now, self.api.answer(request, self.now)
        self.retry_sends += before > 0
        took = self.latency.draw()
        self.sent.append((sent, sent + took))
        self._at(sent + took, lambda: self._answered(key, request, before, sent, answer))

    def _answered(self, key: int, request: Request, before: int, sent: float, answer: Any) -> None:
        if self.first_answer is None:
            self.first_answer = self.now
        self.limiter.answered(sent)
        if answer.status == 429:
            self.throttled_at.append(sent)
            hint = parse_retry_after(answer.headers.get("Retry-After"))
            capped = None if hint is None else min(hint, self.policy.max_backoff)
            self.limiter.throttled(sent, capped, answer.headers)
            wait = self.policy.throttled_wait(hint, before)
            self._at(self.now + wait, lambda: self._acquire(key, request, before + 1))
            return
        self.limiter.granted(answer.headers, sent)
        page = decode_traces_page(answer.body)
        page.request = request
        self._done.append((key, True, page))


class _Tally(Sink[pl.DataFrame]):
    """A sink that builds no columns (the replay measures scheduling), only a batch's first
    and last ``start_time``: the drain checks its batches come in result order."""

    made = 0
    """Batches built so far (their ids: unique in the drain, which checks them)."""

    def convert(self, pages: Sequence[DecodedPage], *, repair: bool = True) -> pl.DataFrame:
        full = [p for p in pages if p.num_rows]
        if not full:
            return EMPTY
        self.made += 1
        ids = [f"{self.made}a", f"{self.made}b"]
        edges = [first_start_time(full[0]), last_start_time(full[-1])]
        return pl.DataFrame({"trace_id": ids, "start_time": edges})


@dataclass
class Figures:
    """What one replayed drain did."""

    seconds: float
    rows: int
    pages: int
    """The oracle's pages: ``ceil(rows / 100)``."""
    requests: int
    """Requests sent, 429s and their retries included."""
    answered: int
    """Pages answered (200)."""
    throttled: int
    throttled_after_first_round: int
    walks: int
    first_round: int
    page_times: list[float] = field(repr=False, default_factory=list)


def drain(
    times: list[int],
    window: tuple[datetime, datetime],
    *,
    latency: Latency,
    limiter: Limiter,
    rules: Rules,
    api: ModelApi | None = None,
    seed: int = 0,
    sort_order: SortOrder = "desc",
) -> Figures:
    """Replay one ``traces_frame`` over ``window`` of rows at ``times`` (see module docstring)."""
    api = api or ModelApi(times)
    sim = Simulation(api, latency, limiter, seed)
    query = TraceQuery.for_frames(*window, {}, page_size=100, sort_order=sort_order)
    shards = choose_shards("auto", query.start, query.end, sort_field="start_time",
                           max_rows=None, max_workers=WORKERS)  # fmt: skip
    shards = min(shards, capacity(sim.limiter, WORKERS))  # as traces_pipeline does
    sink = _Tally(lambda frame: frame, lambda parts: EMPTY, TRACES)
    walks = WalkSet(query, [window], sink, shards=shards, adaptive=True, rules=rules)
    producer = TracesProducer(lambda pool: sim, walks, workers=WORKERS, max_rows=None)
    outlet = Outlet()
    producer.run(Workers(WORKERS, CancelScope()), outlet)
    rows, edges = 0, []
    while not outlet._queue.empty():
        kind, value, _ = outlet._queue.get()
        rows += value if kind == "rows" else 0
        if kind == "batch" and value.part is not None and value.part.height:
            edges.extend(value.part["start_time"])
    if edges != sorted(edges, reverse=walks.backward):  # newest first, or oldest first
        at = next(i for i in range(1, len(edges)) if (edges[i] < edges[i - 1]) != walks.backward)
        raise AssertionError(f"the replayed drain handed over {edges[at]} after {edges[at - 1]}")
    lo, hi = (int(t.timestamp() * 1000) for t in window)
    expected = bisect.bisect_left(times, hi) - bisect.bisect_left(times, lo)
    if rows != expected:
        raise AssertionError(f"the replayed drain kept {rows} rows of {expected}")
    first = sim.first_answer or START
    return Figures(
        seconds=sim.now - START,
        rows=rows,
        pages=math.ceil(rows / 100),
        requests=len(sim.sent),
        answered=len(sim.sent) - len(sim.throttled_at),
        throttled=len(sim.throttled_at),
        throttled_after_first_round=sum(1 for t in sim.throttled_at if t >= first),
        walks=len(walks.walks),
        first_round=sum(1 for s, _ in sim.sent if s < first),
        page_times=[b - a for a, b in sim.sent],
    )
