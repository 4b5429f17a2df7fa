"""The drains the front doors call: traces, spans, usage, and streams of pages.

Each eager drain is a :class:`~.policy.Drain` (one failure policy) running on one
:class:`~.pool.Workers` pool; pages flow through one :class:`~.batch.Batcher`; traces go
through :class:`~.walks.WalkSet` (adaptive sharding). The streams (:func:`trace_pages`,
:func:`span_pages`) feed the lazy scans and the exports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._cancel import NEVER, CancelScope
from .._progress import Progress
from .._wire.convert import to_backend
from .._wire.decode import DecodedPage, decode_spans_page, decode_traces_page
from .._wire.pages import PageWalk, iter_pages
from ..config import Backend
from ..query import SpanQuery, TraceQuery
from ..schema import TRACES
from .batch import BATCH_BYTES, Batcher, Sink, gather, pandas_sink, polars_sink
from .policy import Drain
from .pool import Workers, ordered
from .shards import merge_by_sort
from .walks import WalkSet

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = [
    "Collector",
    "KeyedDrain",
    "PageCollector",
    "RowCollector",
    "TracesDrain",
    "drain_traces",
    "sink_for",
    "span_pages",
    "spans_of",
    "trace_pages",
]

R = TypeVar("R")
F = TypeVar("F")


KEYS_AHEAD = 256
"""Keys a keyed drain lets its workers finish ahead of the one it waits for: while it
builds a batch (tens of milliseconds) the workers go on; a few hundred small results."""


def sink_for(backend: Backend, columns: Any) -> Sink[Any]:
    """The batch form of a backend: Arrow tables for pandas, frames for Polars."""
    return pandas_sink(columns) if backend == "pandas" else polars_sink(columns)


# -- traces ----------------------------------------------------------------------------


def capacity(transport: Transport, workers: int) -> int:
    """Requests that can be in flight now: ``workers``, or fewer in a slow start.

    A traces drain starts, hands out and splits only as much work as can go at once: a
    walk bound to a worker that waits for the limiter is one nobody else can take or
    split, and a range started late should be shorter than one started early.
    """
    window = transport.limiter.window()
    return workers if window is None else max(1, min(workers, window))


@dataclass(eq=False, repr=False)
class TracesDrain(Drain[int, Any]):
    """Every page of one or more windows of a traces listing (see :mod:`.walks`).

    While it waits for answers, the drain builds the pages of finished walks into batches
    (:meth:`~.walks.WalkSet.build_finished`): a drain bound by the server's latency then
    has little left to build after its last page.

    :meth:`run` returns ``present(frames)``, one frame per window (by default the list).
    """

    noun = "traces drain"

    transport: Transport
    walks: WalkSet
    _: KW_ONLY
    workers: int = field()  # required: Drain's class default is not one
    bar: Progress
    max_rows: int | None
    finalize: Callable[[Any], Any] = lambda frame: frame
    present: Callable[[list[Any]], Any] = lambda frames: frames

    def _run(self, pool: Workers[int]) -> Any:
        walks = self.walks
        taken = False  # a page came in: maybe build a batch, after the next requests go
        while True:
            room = self._capacity()
            while pool.pending < room:
                index = walks.next_walk()
                if index is None:
                    break
                walk = walks.walks[index]
                walk.busy = True
                request = walk.pages.next_request()
                pool.submit(index, lambda r=request: self._fetch(r, pool.scope))  # type: ignore[misc]
            if taken:  # parse while the requests just sent are in flight
                walks.build_one(BATCH_BYTES)
                taken = False
            if pool.pending == 0:
                break
            done = pool.poll(0.0)
            while done is None and walks.build_finished():  # build while answers are due
                done = pool.poll(0.0)
            index, ok, page = pool.next_done() if done is None else done
            walk = walks.walks[index]
            walk.busy = False
            if not ok:
                raise page
            self.bar.update(walks.take(index, page, self.workers))
            walks.rebalance(self._capacity(), self.workers)
            taken = True
            self._estimate()
        self.bar.set_total(walks.rows)
        return self.present([self._group(group) for group in range(len(walks.windows))])

    def _capacity(self) -> int:
        return capacity(self.transport, self.workers)

    def _fetch(self, request: Any, scope: CancelScope) -> DecodedPage:
        return self.transport.send(request, decode_traces_page, scope=scope)

    def _estimate(self) -> None:
        if self.max_rows is not None:
            return
        covered = self.walks.covered()
        if covered > 0.02:
            self.bar.set_total(max(self.walks.rows, math.ceil(self.walks.rows / covered)))

    def _group(self, group: int, partial: bool = False) -> Any:
        walks = self.walks
        ordered_walks = walks.ordered(
            group, upto_unfinished=partial and walks.query.is_time_ordered
        )
        parts = gather([w.batcher for w in ordered_walks], partial=partial)
        return self.finalize(walks.sink.build(parts))

    def _progress_made(self) -> bool:
        return self.walks.rows > 0

    def _snapshot(self) -> TracesDrain:
        return TracesDrain(
            self.transport,
            self.walks.copy(),
            workers=self.workers,
            bar=Progress(False, "traces", "rows"),
            max_rows=self.max_rows,
            finalize=self.finalize,
            present=self.present,
        )

    def quiet(self) -> None:
        self.bar = Progress(False, "traces", "rows")

    def _partial(self) -> Any:
        return self.present([self._group(g, partial=True) for g in range(len(self.walks.windows))])

    def _missing(self) -> str:
        left = sum(not w.done for w in self.walks.walks)
        return f"{left} of {len(self.walks.walks)} time ranges"


# -- keyed drains (spans of many traces, usage of many ids) ----------------------------


class Collector(Generic[R]):
    """Where a keyed drain puts each key's result, in key order."""

    def add(self, result: R, *, build: bool = True) -> None:  # pragma: no cover - interface
        """Take the next key's result (``build=False``: take it, build nothing yet)."""
        raise NotImplementedError

    def copy(self) -> Collector[R]:  # pragma: no cover - interface
        raise NotImplementedError

    def build(self, *, partial: bool = False) -> Any:  # pragma: no cover - interface
        """The result; ``partial`` stops before anything that does not build."""
        raise NotImplementedError


class PageCollector(Collector[list[DecodedPage]]):
    """Pages of each key into one batcher (spans of many traces)."""

    def __init__(self, batcher: Batcher[Any]) -> None:
        self.batcher = batcher

    def add(self, result: list[DecodedPage], *, build: bool = True) -> None:
        self.batcher.add(result, build=build)

    def copy(self) -> PageCollector:
        return PageCollector(self.batcher.copy())

    def build(self, *, partial: bool = False) -> Any:
        return self.batcher.sink.build(gather([self.batcher], partial=partial))


class RowCollector(Collector[R]):
    """One result per key, built into a frame at the end (usage rows)."""

    def __init__(self, build: Callable[[list[R]], Any]) -> None:
        self.rows: list[R] = []
        self._build = build

    def add(self, result: R, *, build: bool = True) -> None:
        self.rows.append(result)

    def copy(self) -> RowCollector[R]:
        twin = RowCollector(self._build)
        twin.rows = list(self.rows)
        return twin

    def build(self, *, partial: bool = False) -> Any:
        return self._build(self.rows)


@dataclass(eq=False, repr=False)
class KeyedDrain(Drain[int, Any], Generic[R]):
    """``fetch(key, scope)`` for every key, concurrently, collected in key order."""

    fetch: Callable[[str, CancelScope], R]
    keys: Sequence[str]
    collector: Collector[R]
    _: KW_ONLY
    workers: int = field()  # required: Drain's class default is not one
    bar: Progress
    noun: str = field()  # required, as workers
    next: int = field(default=0, init=False)
    """Keys before it are in the collector."""
    ready: dict[int, R] = field(default_factory=dict, init=False)
    """Results finished out of order."""

    def _run(self, pool: Workers[int]) -> Any:
        todo = range(self.next, len(self.keys))
        fetch = self.fetch
        for item in ordered(
            pool,
            lambda key: fetch(key, pool.scope),
            self.keys,
            todo,
            ahead=max(2 * self.workers, KEYS_AHEAD),
            ready=self.ready,
        ):
            assert item is not None  # no heartbeat asked
            index, result = item
            self.collector.add(result)
            self.next = index + 1
            self.bar.update(1)
        return self.collector.build()

    def _progress_made(self) -> bool:
        return self.next > 0 or bool(self.ready)

    def _snapshot(self) -> KeyedDrain[R]:
        twin = KeyedDrain(
            self.fetch,
            self.keys,
            self.collector.copy(),
            workers=self.workers,
            bar=Progress(False, self.noun, "ids"),
            noun=self.noun,
        )
        twin.next, twin.ready = self.next, dict(self.ready)
        return twin

    def quiet(self) -> None:
        self.bar = Progress(False, self.noun, "ids")

    def _partial(self) -> Any:
        collector = self.collector.copy()
        for index in sorted(self.ready):
            collector.add(self.ready[index], build=False)
        return collector.build(partial=True)

    def _missing(self) -> str:
        return f"{len(self.keys) - self.next - len(self.ready)} of {len(self.keys)} {self.noun}"


# -- one trace's spans, and streams ------------------------------------------------------


def spans_of(
    transport: Transport, query: SpanQuery, trace_id: str, scope: CancelScope = NEVER
) -> list[DecodedPage]:
    """Every span page of one trace, in the API's order.

    Examples
    --------
    >>> pages = spans_of(client.transport, SpanQuery.build("t", page_size=100), trace_id)
    """
    walk = PageWalk(query.for_trace(trace_id), counts_rows=False)
    send = lambda request: transport.send(request, decode_spans_page, scope=scope)  # noqa: E731
    return list(iter_pages(send, walk))


def trace_pages(
    transport: Transport,
    query: TraceQuery,
    *,
    max_rows: int | None = None,
    heartbeat: bool = False,
) -> Iterator[DecodedPage | None]:
    """The pages of one traces listing, in order, the next one fetched while this one is used.

    Nothing else is kept: a consumer that drops each page holds two pages at a time. With
    ``heartbeat``, ``None`` is yielded every slice of waiting, so a consumer run by another
    library (a Polars scan) can notice Ctrl-C; closing the iterator cancels the request in
    flight.
    """
    walk = PageWalk(query, max_rows=max_rows)
    scope = CancelScope()

    def fetch(request: Any) -> DecodedPage:
        return transport.send(request, decode_traces_page, scope=scope)

    def submit(pool: Workers[int]) -> None:
        request = walk.next_request()
        pool.submit(0, lambda: fetch(request))

    if walk.done:
        return
    with Workers[int](1, scope) as pool:
        submit(pool)
        while True:
            _, ok, page = yield from pool.beat(heartbeat)
            if not ok:
                raise page
            walk.advance(page)
            if not walk.done:
                submit(pool)  # the next page comes while this one is used
            yield page
            if walk.done:
                return


def span_pages(
    transport: Transport,
    query: SpanQuery,
    trace_ids: Sequence[str],
    *,
    workers: int,
    heartbeat: bool = False,
) -> Iterator[list[DecodedPage] | None]:
    """Each trace's span pages, in input order, ``workers`` traces fetched ahead.

    Closing the iterator early (a ``head(n)`` that is satisfied) cancels what is in flight;
    ``heartbeat`` is as for :func:`trace_pages`.
    """
    if not trace_ids:
        return
    scope = CancelScope()
    with Workers[int](min(workers, len(trace_ids)), scope) as pool:
        for item in ordered(
            pool,
            lambda trace_id: spans_of(transport, query, trace_id, scope),
            trace_ids,
            range(len(trace_ids)),
            ahead=workers,
            heartbeat=heartbeat,
        ):
            yield None if item is None else item[1]


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
    """Drain ``windows`` of ``query`` into one frame each (see :class:`TracesDrain`).

    The result (and a failure's ``partial`` and ``resume()``) is ``present(frames)``.

    A listing in time order is put together by ranges, in the backend's batch form; one
    in another order over several sub-windows is merged in Polars by that order first.
    """
    merge = not query.is_time_ordered and shards > 1 and max_rows is None
    sink = polars_sink(TRACES) if merge else sink_for(backend, TRACES)

    def finalize(frame: Any) -> Any:
        if not merge:
            return frame
        merged = merge_by_sort(frame, str(query.sort_field), str(query.sort_order or "desc"))
        return to_backend(merged, backend)

    if adaptive and query.is_time_ordered and max_rows is None:
        shards = min(shards, capacity(transport, workers))  # split further as it opens
    walks = WalkSet(query, windows, sink, shards=shards, adaptive=adaptive, max_rows=max_rows)
    drain = TracesDrain(
        transport,
        walks,
        workers=workers,
        bar=bar,
        max_rows=max_rows,
        finalize=finalize,
        present=present,
    )
    return drain.run()
