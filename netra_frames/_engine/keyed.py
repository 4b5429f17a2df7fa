"""Keyed pipelines: one fetch per key (a trace's spans, a usage id), handed over in key order.

A :class:`KeyedProducer` maps ``fetch(key, scope)`` over the keys on the pipeline's
workers (:func:`~.pool.ordered`: the workers take the keys themselves, a bounded number
ahead) and puts each key's result, in key order, into a :class:`Collector`: the spans'
pages go into one batcher whose batches are handed over as they are built (whole traces
each), usage rows are kept and handed over at the end.

:func:`spans_pipeline` and :func:`keyed_pipeline` build the pipelines; :func:`drain_spans`
collects the spans of many traces into one frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._cancel import NEVER, WAIT_SLICE, CancelScope
from .._progress import Progress
from .._wire.checks import Expect, Mismatch
from .._wire.decode import DecodedPage, decode_spans_page, last_trace_id
from .._wire.pages import PageWalk
from ..config import Backend
from ..query import SpanQuery
from ..schema import SPANS, Column
from .batch import Batcher, gather, part_bytes, refetch, sink_for, untrusted
from .pipeline import Batch, Outlet, Pipeline, Producer
from .pool import Workers, ordered

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = [
    "KEYS_AHEAD",
    "KeyedProducer",
    "drain_spans",
    "keyed_pipeline",
    "spans_of",
    "spans_pipeline",
]

R = TypeVar("R")

KEYS_AHEAD = 256
"""Keys a keyed drain lets its workers finish ahead of the one it waits for: while it
builds a batch (tens of milliseconds) the workers go on; a few hundred small results."""


class Collector(Generic[R]):
    """Where a keyed drain puts each key's result, in key order."""

    def add(self, result: R, *, build: bool = True) -> None:  # pragma: no cover - interface
        """Take the next key's result (``build=False``: take it, build nothing yet)."""
        raise NotImplementedError

    def take_built(self) -> list[Any]:  # pragma: no cover - interface
        """The parts ready to hand over now."""
        raise NotImplementedError

    def finish(self) -> list[Any]:  # pragma: no cover - interface
        """Every part not handed over yet (after the last key)."""
        raise NotImplementedError

    def rest(self) -> list[Any]:  # pragma: no cover - interface
        """Like :meth:`finish` for a partial result: stops before what does not build."""
        raise NotImplementedError

    def copy(self) -> Collector[R]:  # pragma: no cover - interface
        raise NotImplementedError


class PageCollector(Collector[list[DecodedPage]]):
    """Pages of each key into one batcher (spans of many traces); batches of whole keys."""

    def __init__(self, batcher: Batcher[Any]) -> None:
        self.batcher = batcher

    def add(self, result: list[DecodedPage], *, build: bool = True) -> None:
        self.batcher.add(result, build=build)

    def take_built(self) -> list[Any]:
        return self.batcher.take_built()

    def finish(self) -> list[Any]:
        return self.batcher.take()

    def rest(self) -> list[Any]:
        return gather([self.batcher], partial=True)

    def copy(self) -> PageCollector:
        return PageCollector(self.batcher.copy())


class RowCollector(Collector[R]):
    """One result per key, handed over as one list at the end (usage rows)."""

    def __init__(self) -> None:
        self.rows: list[R] = []

    def add(self, result: R, *, build: bool = True) -> None:
        self.rows.append(result)

    def take_built(self) -> list[Any]:
        return []

    def finish(self) -> list[Any]:
        return [self.rows]

    def rest(self) -> list[Any]:
        return [list(self.rows)]

    def copy(self) -> RowCollector[R]:
        twin: RowCollector[R] = RowCollector()
        twin.rows = list(self.rows)
        return twin


def _rows(part: Any) -> int:
    if isinstance(part, list):
        return len(part)
    return int(part.height if hasattr(part, "height") else part.num_rows)


class KeyedProducer(Producer, Generic[R]):
    """``fetch(key, scope)`` for every key, concurrently, collected in key order."""

    def __init__(
        self,
        fetch: Callable[[str, CancelScope], R],
        keys: Sequence[str],
        collector: Collector[R],
        *,
        workers: int,
        noun: str,
        budget: int | None = None,
        max_rows: int | None = None,
        rows_of: Callable[[R], int] = lambda result: 1,
    ) -> None:
        self.fetch = fetch
        self.keys = keys
        self.collector = collector
        self.workers = max(1, min(workers, len(keys)))
        self.noun = noun
        self.budget = budget
        self.max_rows = max_rows
        """Stop taking keys once their results hold this many rows (``rows_of`` counts)."""
        self.rows_of = rows_of
        self.rows = 0
        self.next = 0
        """Keys before it are in the collector."""
        self.ready: dict[int, R] = {}
        """Results finished out of order."""

    def run(self, pool: Workers[int], outlet: Outlet) -> None:
        fetch = self.fetch
        # with max_rows, one round of keys ahead at most: what a stop can waste
        ahead = self.workers if self.max_rows is not None else max(2 * self.workers, KEYS_AHEAD)
        for item in ordered(
            pool,
            lambda key: fetch(key, pool.scope),
            self.keys,
            range(self.next, len(self.keys)),
            ahead=ahead,
            ready=self.ready,
        ):
            assert item is not None  # no heartbeat asked
            index, result = item
            self.collector.add(result)
            self.next = index + 1
            outlet.rows(1)
            self._hand_over(outlet, self.collector.take_built())
            if self.max_rows is not None:
                self.rows += self.rows_of(result)
                if self.rows >= self.max_rows:
                    pool.scope.cancel()  # enough: cut the keys still in flight
                    break
            while self.budget is not None and outlet.queued >= self.budget:
                outlet.wait(WAIT_SLICE)  # the consumer is behind: let the workers rest
                pool.scope.check()
        self._hand_over(outlet, self.collector.finish())
        outlet.emit(Batch(0, None, 0, last=True), 0)

    @staticmethod
    def _hand_over(outlet: Outlet, parts: list[Any]) -> None:
        for part in parts:
            outlet.emit(Batch(0, part, _rows(part)), part_bytes(part))

    def progress_made(self) -> bool:
        return self.next > 0 or bool(self.ready)

    def snapshot(self) -> KeyedProducer[R]:
        twin = KeyedProducer(
            self.fetch,
            self.keys,
            self.collector.copy(),
            workers=self.workers,
            noun=self.noun,
            budget=self.budget,
            max_rows=self.max_rows,
            rows_of=self.rows_of,
        )
        twin.next, twin.ready, twin.rows = self.next, dict(self.ready), self.rows
        return twin

    def rest(self) -> list[Batch]:
        collector = self.collector.copy()
        for index in sorted(self.ready):
            collector.add(self.ready[index], build=False)
        return [Batch(0, part, _rows(part)) for part in collector.rest()]

    def missing(self) -> str:
        return f"{len(self.keys) - self.next - len(self.ready)} of {len(self.keys)} {self.noun}"


# -- spans --------------------------------------------------------------------------------


def spans_of(
    transport: Transport, query: SpanQuery, trace_id: str, scope: CancelScope = NEVER
) -> list[DecodedPage]:
    """Every span page of one trace, in the API's order, each marked with what it answers.

    A page whose last span (where its cursor leads) is of another trace is not trusted:
    it is asked for once more, and a second such answer raises
    :class:`~netra_frames.PageMismatchError`. The other rows are checked when built.

    Examples
    --------
    >>> pages = spans_of(client.transport, SpanQuery.build("t", page_size=100), trace_id)
    """
    walk = PageWalk(query.for_trace(trace_id), counts_rows=False)
    expect = Expect(trace_id=trace_id)
    pages: list[DecodedPage] = []
    while not walk.done:
        request = walk.next_request()
        for attempt in (1, 2):
            page = transport.send(request, decode_spans_page, scope=scope)
            page.expect, page.request = expect, request
            last = last_trace_id(page)
            if last is None or last == trace_id:
                break
            if attempt == 2:
                wrong = Mismatch("trace_id", last, "is not the trace asked for")
                raise untrusted(wrong, [page], again=True)
        walk.advance(page)
        pages.append(page)
    return pages


def spans_pipeline(
    transport: Transport,
    template: SpanQuery,
    trace_ids: Sequence[str],
    *,
    backend: Backend,
    workers: int,
    bar: Progress | None = None,
    budget: int | None = None,
    heartbeat: bool = False,
    max_rows: int | None = None,
    columns: Sequence[Column] = SPANS,
) -> Pipeline:
    """The pipeline of the spans of ``trace_ids``: input trace order, then the API's.

    At most ``workers`` traces at once (no more than there are traces); batches of whole
    traces: Polars frames (``backend="polars"``) or the Arrow tables pandas takes over.
    ``max_rows``: stop taking traces once that many spans are in (one round of traces
    ahead at most).

    Examples
    --------
    >>> template = SpanQuery.template(span_name=None, page_size=100)
    >>> pipe = spans_pipeline(client.transport, template, [], backend="polars", workers=4)
    >>> [b for b in pipe if b is not None and b.part is not None]
    []
    """
    sink = sink_for(backend, columns).repairing(
        lambda page: refetch(transport, page, decode_spans_page)
    )

    def fetch(trace_id: str, scope: CancelScope) -> list[DecodedPage]:
        return spans_of(transport, template, trace_id, scope)

    producer: KeyedProducer[list[DecodedPage]] = KeyedProducer(
        fetch,
        list(trace_ids),
        PageCollector(Batcher(sink)),
        workers=workers,
        noun="traces",
        budget=budget,
        max_rows=max_rows,
        rows_of=lambda pages: sum(page.num_rows for page in pages),
    )
    return Pipeline(producer, bar=bar, heartbeat=heartbeat)


def drain_spans(
    transport: Transport,
    template: SpanQuery,
    trace_ids: Sequence[str],
    *,
    backend: Backend,
    workers: int,
    bar: Progress | None = None,
) -> Any:
    """Collect every span of ``trace_ids`` into one frame of ``backend`` (see
    :func:`spans_pipeline`). A failure after progress is a
    :class:`~netra_frames.DrainError` (``.partial``, ``.resume()``).

    Examples
    --------
    >>> template = SpanQuery.template(span_name=None, page_size=100)
    >>> drain_spans(client.transport, template, [], backend="polars", workers=4).height
    0
    """
    pipe = spans_pipeline(transport, template, trace_ids, backend=backend, workers=workers, bar=bar)
    sink = sink_for(backend, SPANS)
    return pipe.collect(lambda groups: sink.build([p for p in groups[0] if p is not None]))


def keyed_pipeline(
    fetch: Callable[[str, CancelScope], R],
    keys: Sequence[str],
    *,
    workers: int,
    noun: str,
    bar: Progress | None = None,
) -> Pipeline:
    """The pipeline of one result per key (usage rows), in key order: one list at the end.

    Examples
    --------
    >>> pipe = keyed_pipeline(lambda key, scope: key.upper(), ["a", "b"], workers=2, noun="ids")
    >>> pipe.collect(lambda groups: [row for part in groups[0] if part for row in part])
    ['A', 'B']
    """
    producer: KeyedProducer[R] = KeyedProducer(
        fetch, keys, RowCollector(), workers=workers, noun=noun
    )
    return Pipeline(producer, bar=bar)
