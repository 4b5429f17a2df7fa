"""The traces pipeline: windows of a listing, walked concurrently, handed over in order.

A :class:`TracesProducer` drives a :class:`~.walks.WalkSet` (the adaptive walks of every
window asked for, one result group each) on the pipeline's workers, and hands what the
walks hold to the consumer in result order (:class:`_Emitter`): the built batches of the
walk at the head of the order as they are built, and a finished walk's last pages joined
with its neighbours' into batches of about :data:`~.batch.BATCH_BYTES`. Each group ends
with a batch marked ``last``, so an export can close a day the moment it is complete.

With a budget the walks next in result order are the only ones that send while the
buffer is full (:attr:`~.walks.WalkSet.frontier`); eager drains have none.

The loop sends through :class:`Requests`, the engine's seam: production binds it to the
drain's threads and transport (:class:`PooledRequests`), the replay of the benchmarks
(``benchmarks/replay.py``) to a model of the API on a virtual clock.

:func:`traces_pipeline` builds the pipeline; :func:`drain_traces` collects it into one
frame per window (a listing not in time order split over several sub-windows is merged
by its sort there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from .._cancel import WAIT_SLICE
from .._progress import Progress
from .._wire.checks import Mismatch, SeenIds
from .._wire.convert import to_backend
from .._wire.decode import DecodedPage, decode_traces_page
from ..config import Backend
from ..query import TraceQuery
from ..schema import TRACES, Column
from .batch import (
    BATCH_BYTES,
    Batcher,
    Sink,
    gather,
    part_bytes,
    polars_sink,
    refetch,
    sink_for,
    untrusted,
)
from .pipeline import Batch, Outlet, Pipeline, Producer
from .pool import Workers
from .shards import merge_by_sort
from .walks import WalkSet

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._limiter import RateLimiter
    from .._wire.request import Request
    from ..transport import Transport

__all__ = ["PooledRequests", "Requests", "TracesProducer", "capacity", "drain_traces",
           "traces_pipeline"]  # fmt: skip

Done = tuple[int, bool, Any]  # an answer: the walk's index, whether it came, its page


def capacity(limiter: RateLimiter, workers: int) -> int:
    """Requests that can be in flight now: ``workers``, or fewer in a slow start.

    A traces drain starts, hands out and splits only as much work as can go at once: a
    walk bound to a worker that waits for the limiter is one nobody else can take or
    split, and a range started late should be shorter than one started early.
    """
    window = limiter.window()
    return workers if window is None else max(1, min(workers, window))


class Requests(Protocol):
    """Where the loop sends page requests: ``submit(key, request)`` for walk ``key``;
    ``poll()``, an answer in already (or ``None``); ``next_done()`` waits for one;
    ``pending``, those not taken yet; ``limiter`` sizes the work (:func:`capacity`);
    ``idle`` waits for the consumer while nothing is in flight and nothing may go."""

    limiter: RateLimiter

    @property
    def pending(self) -> int: ...
    def submit(self, key: int, request: Request) -> None: ...
    def poll(self) -> Done | None: ...
    def next_done(self) -> Done: ...
    def idle(self, outlet: Outlet) -> None: ...


class PooledRequests:
    """:class:`Requests` on a drain's worker threads, through the client's transport."""

    def __init__(self, pool: Workers[int], transport: Transport) -> None:
        self.pool, self.send, self.limiter = pool, transport.send, transport.limiter

    @property
    def pending(self) -> int:
        return self.pool.pending

    def submit(self, key: int, request: Request) -> None:
        send, scope = self.send, self.pool.scope

        def fetch() -> DecodedPage:
            page = send(request, decode_traces_page, scope=scope)
            page.request = request
            return page

        self.pool.submit(key, fetch)

    def poll(self) -> Done | None:
        return self.pool.poll(0.0)

    def next_done(self) -> Done:
        return self.pool.next_done()

    def idle(self, outlet: Outlet) -> None:
        outlet.wait(WAIT_SLICE)
        self.pool.scope.check()


class _Emitter:
    """What a traces drain can hand over now, in result order.

    It goes through the groups in order and, in each, the walks in result order: the
    batches a walk has built go at once; a finished walk's pages not built yet join a
    *run* with those of the finished walks after it, built into one batch once it weighs
    :data:`~.batch.BATCH_BYTES` or the group ends; it stops at the first walk not
    finished (its later rows may not come before the pages it holds).
    """

    def __init__(self, walks: WalkSet, *, eager: bool = False) -> None:
        self.walks = walks
        self.eager = eager
        """Hand over the pages of the walk at the head of the order as they come."""
        self.group = 0
        """The first group not handed over whole."""
        self.run: list[DecodedPage] = []
        self.run_weight = 0
        self.seen = SeenIds()
        """The ids handed over: an id twice in a drain is a page not trusted."""

    def copy(self, walks: WalkSet) -> _Emitter:
        twin = _Emitter(walks, eager=self.eager)
        twin.group, twin.run, twin.run_weight = self.group, list(self.run), self.run_weight
        twin.seen = self.seen.copy()
        return twin

    def step(self, outlet: Outlet, builds: int | None = 1) -> bool:
        """Hand over what can go, building at most ``builds`` batches (``None``: any);
        return whether anything was handed over."""
        did = False
        sink = self.walks.sink
        while self.group < len(self.walks.windows):
            for walk in self.walks.ordered(self.group):
                if walk.emitted:
                    continue
                if self.eager and not walk.done and walk.batcher.loose and not self.run:
                    walk.batcher.flush()  # the head walk's pages, as they come
                if walk.batcher.parts:
                    if self.run:
                        if builds is not None and builds <= 0:
                            return did
                        builds = None if builds is None else builds - 1
                        self._flush(outlet, sink, last=False)
                    for part in walk.batcher.take_built():
                        self._emit(outlet, part, last=False)
                    did = True
                if not walk.done:
                    return did
                self.run.extend(walk.batcher.loose)
                self.run_weight += walk.batcher.weight
                walk.batcher.hold([])
                walk.emitted = True
                if self.run_weight >= BATCH_BYTES:
                    if builds is not None and builds <= 0:
                        return did
                    builds = None if builds is None else builds - 1
                    self._flush(outlet, sink, last=False)
                    did = True
            if self.run and builds is not None and builds <= 0:
                return did
            self._flush(outlet, sink, last=True)
            self.group += 1
            did = True
        return did

    def _flush(self, outlet: Outlet, sink: Sink[Any], *, last: bool) -> None:
        if self.run:
            part = sink.convert(self.run)
            self.run, self.run_weight = [], 0
            self._emit(outlet, part, last=last)
        elif last:
            outlet.emit(Batch(self.group, None, 0, last=True), 0)

    def _emit(self, outlet: Outlet, part: Any, *, last: bool) -> None:
        ids = part["trace_id"]
        try:
            self.seen.add(ids if isinstance(ids, pl.Series) else pl.Series(ids))
        except Mismatch as exc:
            raise untrusted(exc, [], again=False) from None
        outlet.emit(Batch(self.group, part, _rows(part), last=last), part_bytes(part))


def _rows(part: Any) -> int:
    return int(part.height if hasattr(part, "height") else part.num_rows)


class TracesProducer(Producer):
    """Every page of one or more windows of a traces listing (see :mod:`.walks`).

    While it waits for answers, the producer hands over what it can and builds the
    pages of finished walks into batches (:meth:`~.walks.WalkSet.build_finished`): a
    drain bound by the server's latency then has little left to build after its last
    page.
    """

    noun = "traces drain"

    def __init__(
        self,
        connect: Callable[[Workers[int]], Requests],
        walks: WalkSet,
        *,
        workers: int,
        max_rows: int | None,
        budget: int | None = None,
        one_at_a_time: bool = False,
    ) -> None:
        self.connect = connect  # the drain's workers to where its requests go
        self.walks = walks
        self.workers = workers
        self.max_rows = max_rows
        self.budget = budget
        self.one_at_a_time = one_at_a_time
        """Walk the windows one after the other, handing over each page as it comes, and
        ask for a page only while the consumer waits for one: a consumer that stops when
        it has enough wastes no request."""
        self.emitter = _Emitter(walks, eager=one_at_a_time)
        self.peak_held = 0
        """The most bytes held at once, queued or not handed over yet (with a budget)."""

    def run(self, pool: Workers[int], outlet: Outlet) -> None:
        requests = self.connect(pool)
        walks = self.walks
        taken = False  # a page came in: maybe build a batch, after the next requests go
        while True:
            if self.one_at_a_time:
                self.emitter.step(outlet)  # hand the page over before asking for more
            self._gate(outlet)
            room = capacity(requests.limiter, self.workers)
            while requests.pending < room:
                index = walks.next_walk()
                if index is None:
                    break
                walk = walks.walks[index]
                walk.busy = True
                requests.submit(index, walk.pages.next_request())
            if taken:  # parse while the requests just sent are in flight
                walks.build_one(BATCH_BYTES)
                taken = False
            self.emitter.step(outlet)
            if requests.pending == 0:
                if walks.done:
                    break
                requests.idle(outlet)  # the buffer is full: wait for the consumer
                continue
            done = requests.poll()
            while done is None and (self.emitter.step(outlet) or walks.build_finished()):
                done = requests.poll()  # build and hand over while answers are due
            index, ok, page = requests.next_done() if done is None else done
            walk = walks.walks[index]
            walk.busy = False
            if not ok:
                raise page
            try:
                outlet.rows(walks.take(index, page, self.workers))
            except Mismatch as exc:
                if walk.retried:
                    raise untrusted(exc, [page], again=True) from None
                walk.retried, walk.busy = True, True  # not trusted: asked once more
                requests.submit(index, walk.pages.next_request())  # the same request
                continue
            walk.retried = False
            walks.rebalance(capacity(requests.limiter, self.workers), self.workers)
            taken = True
            self._estimate(outlet)
        self.emitter.step(outlet, None)

    def _gate(self, outlet: Outlet) -> None:
        """Narrow the walks that may send while the buffer is full (see module docstring)."""
        if self.one_at_a_time:
            self.walks.frontier = 1 if outlet.wanted and outlet.queued == 0 else 0
            return
        if self.budget is None:
            return
        queued = outlet.queued
        held = queued + self.walks.held + self.emitter.run_weight
        self.peak_held = max(self.peak_held, held)
        if queued >= self.budget:
            self.walks.frontier = 0
        elif held >= self.budget:
            self.walks.frontier = self.workers
        else:
            self.walks.frontier = None

    def _estimate(self, outlet: Outlet) -> None:
        if self.max_rows is not None:
            return
        covered = self.walks.covered()
        if covered > 0.02:
            outlet.total(max(self.walks.rows, math.ceil(self.walks.rows / covered)))

    def progress_made(self) -> bool:
        return self.walks.rows > 0

    def snapshot(self) -> TracesProducer:
        twin = TracesProducer(
            self.connect,
            self.walks.copy(),
            workers=self.workers,
            max_rows=self.max_rows,
            budget=self.budget,
            one_at_a_time=self.one_at_a_time,
        )
        twin.emitter = self.emitter.copy(twin.walks)
        return twin

    def rest(self) -> list[Batch]:
        walks, sink = self.walks, self.walks.sink
        out: list[Batch] = []
        for group in range(self.emitter.group, len(walks.windows)):
            upto = walks.query.is_time_ordered
            batchers = [
                w.batcher for w in walks.ordered(group, upto_unfinished=upto) if not w.emitted
            ]
            if group == self.emitter.group and self.emitter.run:
                run = Batcher(sink)
                run.add(self.emitter.run, build=False)
                batchers.insert(0, run)
            out += [Batch(group, p, _rows(p)) for p in gather(batchers, partial=True)]
        return out

    def missing(self) -> str:
        left = sum(not w.done for w in self.walks.walks)
        return f"{left} of {len(self.walks.walks)} time ranges"


def traces_pipeline(
    transport: Transport,
    query: TraceQuery,
    windows: list[tuple[datetime, datetime]],
    *,
    backend: Backend,
    workers: int,
    shards: int = 1,
    adaptive: bool = True,
    max_rows: int | None = None,
    bar: Progress | None = None,
    budget: int | None = None,
    heartbeat: bool = False,
    watch: bool = False,
    one_at_a_time: bool = False,
    columns: Sequence[Column] = TRACES,
) -> Pipeline:
    """The pipeline of ``windows`` of ``query``, one result group per window, in order.

    ``shards`` sub-windows start each window (split further as workers go idle when
    ``adaptive`` and the listing is in time order); ``max_rows`` walks each window once,
    stopping after that many rows. Batches are Polars frames (``backend="polars"``) or the
    Arrow tables a pandas frame takes over, of ``columns``. ``budget``: bytes of built data
    waiting beyond which the workers pause (see :mod:`.pipeline`). ``one_at_a_time``: the
    windows are walked one after the other, each page handed over as it comes and asked
    for only while the consumer waits (a consumer that stops when it has enough, such as
    the cache with ``max_rows``, wastes no request).

    Examples
    --------
    >>> pipe = traces_pipeline(client.transport, query, [(query.start, query.end)],
    ...                        backend="polars", workers=4)
    >>> sum(b.rows for b in pipe if b is not None) > 0  # doctest: +SKIP
    True
    """
    merge = not query.is_time_ordered and shards > 1 and max_rows is None
    sink = polars_sink(columns) if merge else sink_for(backend, columns)
    sink = sink.repairing(lambda page: refetch(transport, page, decode_traces_page))
    if adaptive and query.is_time_ordered and max_rows is None:
        shards = min(shards, capacity(transport.limiter, workers))  # split as it opens
    walks = WalkSet(query, windows, sink, shards=shards, adaptive=adaptive, max_rows=max_rows)
    producer = TracesProducer(
        lambda pool: PooledRequests(pool, transport), walks, workers=workers,
        max_rows=max_rows, budget=budget, one_at_a_time=one_at_a_time,
    )  # fmt: skip
    return Pipeline(producer, bar=bar, heartbeat=heartbeat, watch=watch, groups=len(windows))


def drain_traces(
    transport: Transport,
    query: TraceQuery,
    windows: list[tuple[datetime, datetime]],
    *,
    backend: Backend,
    shards: int,
    adaptive: bool,
    workers: int,
    max_rows: int | None,
    bar: Progress,
    present: Callable[[list[Any]], Any] = lambda frames: frames,
) -> Any:
    """Collect the traces pipeline of ``windows`` into one frame each.

    The result (and a failure's ``partial`` and ``resume()``) is ``present(frames)``. A
    listing in time order is put together by ranges, in the backend's batch form; one in
    another order over several sub-windows is merged in Polars by that order first.
    """
    pipe = traces_pipeline(
        transport, query, windows, backend=backend, shards=shards, adaptive=adaptive,
        workers=workers, max_rows=max_rows, bar=bar,
    )  # fmt: skip
    producer = pipe.producer
    assert isinstance(producer, TracesProducer)
    sink = producer.walks.sink
    merge = not query.is_time_ordered and shards > 1 and max_rows is None

    def frames(groups: list[list[Any]]) -> Any:
        built = []
        for parts in groups:
            frame = sink.build([p for p in parts if p is not None])
            if merge:
                order = str(query.sort_order or "desc")
                frame = to_backend(merge_by_sort(frame, str(query.sort_field), order), backend)
            built.append(frame)
        return present(built)

    return pipe.collect(frames)
