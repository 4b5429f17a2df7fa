"""Lazy Polars scans of traces and spans, with filter, slice and projection pushdown.

:func:`scan_traces` and :func:`scan_spans` return a ``pl.LazyFrame`` built on Polars'
IO-plugin interface (``polars.io.plugins.register_io_source``). Nothing is fetched until
the query runs; then pages stream in, one ``DataFrame`` per page (traces) or per few
traces (spans), so ``.sink_parquet()`` and ``.collect(engine="streaming")`` never hold
the whole result.

What Polars hands to the scan, and what the scan does with it:

=========================  ==========================================================
Polars gives               the scan
=========================  ==========================================================
a predicate (``filter``)   pushes ``col == "literal"`` on ``tenant_id``, ``user_id``,
                           ``session_id``, ``trace_id`` into the API's filters, and
                           ``start_time`` comparisons / ``is_between`` into the window;
                           only AND-chains of those are understood, anything else is
                           left out. The *whole* predicate is always applied again to
                           every page, so results never depend on what was pushed.
``n_rows`` (``head(n)``)   stops paginating after ``n`` rows (asking no more per page).
``with_columns``           converts only the needed wire fields, yields only those.
=========================  ==========================================================

When ``n_rows`` and a predicate arrive together (``lf.head(n).filter(...)``) the slice
comes first, so nothing is pushed: the first ``n`` rows are fetched, then filtered.
:func:`~netra_frames.pushdown.pushdown_of` (also ``nf.scan.pushdown_of``) shows what a
predicate pushes; each scan also logs it at DEBUG on the ``netra_frames`` logger.

Examples
--------
>>> import polars as pl
>>> lf = nf.scan_traces("2026-01-01", "2026-02-01", client=client)
>>> lf.filter(pl.col("tenant_id") == "AceTech").select("trace_id", "total_cost").head(5).collect()
shape: (5, 2)
...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import polars as pl
from polars.io.plugins import register_io_source

from ._cancel import watch_interrupts
from ._defaults import client_and_workers
from ._doors import warn_no_traces
from ._engine import choose_shards, spans_pipeline, traces_pipeline
from ._progress import Progress, want_progress
from ._validate import check_buffer_mb, check_max_rows
from ._wire.convert import concat_frames, normalise_ids
from ._wire.decode import finish
from .cache import CacheLike, CacheSettings, SettleLike, cached_trace_frames, settings_for
from .client import NetraClient
from .config import DEFAULT_BUFFER_MB, DEFAULT_MAX_WORKERS, DEFAULT_PAGE_SIZE
from .pushdown import PUSHABLE_FIELDS, Pushdown, narrowed, pushdown_of
from .query import SortOrder, SpanQuery, TraceFilters, TraceQuery, Unpack, filter_keywords
from .schema import SPANS, TRACES, Column, polars_schema
from .times import TimeLike

if TYPE_CHECKING:
    from .transport import Transport

# The pushdown's public names stay importable from here (``nf.scan.pushdown_of``).
__all__ = [
    "PUSHABLE_FIELDS",
    "Pushdown",
    "narrowed",
    "pushdown_of",
    "scan_spans",
    "scan_traces",
    "trace_batches",
]

logger = logging.getLogger("netra_frames")

# -- traces --------------------------------------------------------------------------


def _subset(columns: Sequence[Column], needed: set[str] | None) -> tuple[Column, ...]:
    if needed is None:
        return tuple(columns)
    return tuple(c for c in columns if c.name in needed)


def _needed(with_columns: list[str] | None, predicate: pl.Expr | None) -> set[str] | None:
    if with_columns is None:
        return None
    needed = set(with_columns)
    if predicate is not None:
        needed |= set(predicate.meta.root_names())
    return needed


def _finish_batch(
    frame: pl.DataFrame,
    predicate: pl.Expr | None,
    with_columns: list[str] | None,
) -> pl.DataFrame:
    if predicate is not None:
        frame = frame.filter(predicate)
    if with_columns is not None:
        frame = frame.select(with_columns)
    return frame


CACHED_BATCH_ROWS = 50_000
"""Rows of stored days joined into one frame before a cached scan yields it (a day each
would cost Polars more per frame than reading it)."""


def _joined(frames: Iterator[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
    """``frames`` in order, consecutive small ones joined up to about ``rows`` rows."""
    held: list[pl.DataFrame] = []
    count = 0
    for frame in frames:
        if not frame.height:
            continue
        held.append(frame)
        count += frame.height
        if count >= rows:
            yield concat_frames(held)
            held, count = [], 0
    if held:
        yield concat_frames(held)


def trace_batches(
    transport: Transport,
    query: TraceQuery,
    *,
    with_columns: list[str] | None = None,
    predicate: pl.Expr | None = None,
    n_rows: int | None = None,
    heartbeat: bool = False,
    cache: tuple[NetraClient, CacheSettings] | None = None,
    workers: int = DEFAULT_MAX_WORKERS,
    budget: int | None = None,
    bar: Progress | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield the typed frames of ``query`` in result order, after pushdown, filter and
    projection: the batches of the engine's pipeline (concurrent walks, ``budget`` bytes
    of batches waiting at most; see :mod:`netra_frames._engine`).

    This is the engine of :func:`scan_traces`. Only the declared columns of
    :data:`~netra_frames.schema.TRACES` are produced. With ``heartbeat`` an empty frame
    is yielded every slice of waiting: Polars runs a scan's source on a thread of its own
    and checks for Ctrl-C between batches. With ``n_rows`` one walk fetches no page more
    than needed. A listing not in ``start_time`` order is walked as one range (its order
    is the server's). With ``cache`` (the client and its cache settings), final days
    stream from the cache.
    """
    pushed = Pushdown() if n_rows is not None else pushdown_of(predicate)
    sent = narrowed(query, pushed)
    logger.debug(
        "netra_frames: scan_traces pushes %s; n_rows=%s, columns=%s",
        sent.describe() if sent is not None else "nothing to fetch (empty)",
        n_rows,
        with_columns,
    )
    if sent is None or n_rows == 0:
        return
    columns = _subset(TRACES, _needed(with_columns, predicate)) or TRACES[:1]
    names = [c.name for c in columns]
    left = n_rows
    if cache is not None:
        client, settings = cache
        parts = cached_trace_frames(client, sent, settings, n_rows, workers, budget=budget,
                                    bar=bar)  # fmt: skip
        for frame in _joined(parts, CACHED_BATCH_ROWS):
            frame = frame.select(names) if left is None else frame.select(names).head(left)
            left = None if left is None else left - frame.height
            if frame.height and (frame := _finish_batch(frame, predicate, with_columns)).height:
                yield frame
            if left == 0:
                return
        return
    sort_field = str(sent.sort_field or "start_time")
    shards = choose_shards(
        "auto", sent.start, sent.end, sort_field=sort_field, max_rows=n_rows,
        max_workers=workers,
    )  # fmt: skip
    pipe = traces_pipeline(
        transport, sent, [(sent.start, sent.end)], backend="polars", workers=workers,
        shards=shards if sent.is_time_ordered else 1, max_rows=n_rows, bar=bar,
        budget=budget, heartbeat=heartbeat,
    )  # fmt: skip
    for batch in pipe:
        if batch is None:
            yield _finish_batch(finish([], columns), predicate, with_columns)
            continue
        if batch.part is None:
            continue
        frame = batch.part.select(names)
        if left is not None:
            frame = frame.head(left)  # a server may overfill a page
            left -= frame.height
        if frame.height and (frame := _finish_batch(frame, predicate, with_columns)).height:
            yield frame


@filter_keywords
def scan_traces(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    sort_field: str = "start_time",
    sort_order: SortOrder = "desc",
    page_size: int = DEFAULT_PAGE_SIZE,
    max_workers: int = DEFAULT_MAX_WORKERS,
    buffer_mb: float = DEFAULT_BUFFER_MB,
    progress: bool | None = None,
    client: NetraClient | None = None,
    cache: CacheLike = None,
    settle: SettleLike = None,
    refresh: bool = False,
    **filters: Unpack[TraceFilters],
) -> pl.LazyFrame:
    """Return a lazy scan of the traces over ``[start, end)``; nothing is fetched yet.

    Filters, ``head(n)`` and column selections on the returned frame are pushed into the
    requests where possible (see the module docstring); the result always equals
    :func:`netra_frames.traces_frame` with ``backend="polars"`` followed by the same
    Polars query (restricted to the declared columns).

    Parameters
    ----------
    start, end:
        The window on a trace's ``start_time``, as for :func:`netra_frames.traces_frame`
        (default: the 7 days before ``end``, ``end`` = now). The window is resolved when
        this function is called, not when the query runs.
    sort_field, sort_order:
        Row order, as the API sorts (default newest first).
    page_size:
        Traces per request (1 to 100).
    max_workers:
        Requests in flight at once, as for :func:`netra_frames.traces_frame`: the window
        is walked in concurrent sub-windows, and the batches still come in order.
    buffer_mb:
        Megabytes of fetched rows that may wait for Polars (default 8): beyond it the
        workers pause, so a slow sink slows the scan and never fills memory.
    progress:
        Draw a progress bar while the query runs, as for :func:`netra_frames.traces_frame`.
    client:
        The client to use; default: the module-level client (see :func:`configure`).
        It must stay open until the query has run.
    cache, settle, refresh:
        The local cache, as for :func:`netra_frames.traces_frame`: final days stream
        from disk, one frame per day.
    trace_id, session_id, user_id, tenant_id:
        Equality filters always sent (a ``filter`` on these columns does the same).

    Returns
    -------
    polars.LazyFrame
        The columns of :data:`netra_frames.schema.TRACES`, known without any request. A
        query whose filters and window match no trace at all warns
        :class:`~netra_frames.EmptyResultWarning` when it runs.

    Raises
    ------
    InvalidParameterError
        For a bad argument, before any request.

    Examples
    --------
    >>> import polars as pl
    >>> lf = nf.scan_traces("2026-01-01", "2026-02-01", client=client)
    >>> lf.filter(pl.col("user_id") == "user_7").select(pl.col("total_cost").sum()).collect()
    shape: (1, 1)
    ...
    >>> lf.sink_parquet("traces.parquet")  # doctest: +SKIP
    """
    query = TraceQuery.for_frames(
        start, end, filters, page_size=page_size, sort_field=sort_field, sort_order=sort_order
    )
    chosen, workers = client_and_workers(client, max_workers)
    budget = check_buffer_mb(buffer_mb)
    drawn = want_progress(progress)
    transport = chosen.transport
    stored = settings_for(cache, settle, refresh, sort_field=sort_field)
    cached = None if stored is None else (chosen, stored)
    watch_interrupts()  # Ctrl-C reaches the scan's thread while Polars waits in Rust

    def batches(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None
    ) -> Iterator[pl.DataFrame]:
        rows = 0
        with Progress(drawn, "traces", "rows", total=n_rows) as bar:
            for frame in trace_batches(
                transport, query, with_columns=with_columns, predicate=predicate,
                n_rows=n_rows, heartbeat=True, cache=cached, workers=workers, budget=budget,
                bar=bar,
            ):  # fmt: skip
                rows += frame.height
                yield frame
        if rows == 0 and n_rows != 0 and predicate is None:
            warn_no_traces(query.filters, (query.start, query.end))

    return _lazy(TRACES, "netra_traces", query.describe(), batches)


_Batches = Callable[[list[str] | None, pl.Expr | None, int | None], Iterator[pl.DataFrame]]
"""What a scan streams, given Polars' columns, predicate and ``n_rows``."""


def _lazy(columns: Sequence[Column], name: str, detail: str, batches: _Batches) -> pl.LazyFrame:
    """Register ``batches`` as a Polars IO source of ``columns`` (``batch_size`` is ignored:
    a scan yields whole pages)."""

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        return batches(with_columns, predicate, n_rows)

    return register_io_source(
        source, schema=polars_schema(columns), explain_name=name, explain_detail=detail
    )


# -- spans ---------------------------------------------------------------------------


def span_batches(
    transport: Transport,
    ids: Sequence[str],
    query: SpanQuery,
    *,
    max_workers: int,
    with_columns: list[str] | None = None,
    predicate: pl.Expr | None = None,
    n_rows: int | None = None,
    heartbeat: bool = False,
    budget: int | None = None,
    bar: Progress | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield typed span frames of whole traces, in input trace order (the batches of the
    engine's spans pipeline). ``heartbeat`` is as for :func:`trace_batches`.
    """
    if n_rows is None:
        pushed = pushdown_of(predicate)
        wanted = pushed.equals.get("trace_id")
        if pushed.empty:
            ids = []
        elif wanted is not None:
            ids = [i for i in ids if i == wanted]
    logger.debug("netra_frames: scan_spans fetches %d trace(s); n_rows=%s", len(ids), n_rows)
    if n_rows == 0 or not ids:
        return
    names = [c.name for c in SPANS]
    remaining = n_rows
    pipe = spans_pipeline(
        transport, query, ids, backend="polars", workers=max_workers, bar=bar, budget=budget,
        heartbeat=heartbeat, max_rows=n_rows,
    )  # fmt: skip
    for batch in pipe:
        if batch is None:
            yield _finish_batch(finish([], SPANS).select(names), predicate, with_columns)
            continue
        if batch.part is None:
            continue
        frame = batch.part.select(names)
        if remaining is not None:
            frame = frame.head(remaining)
            remaining -= frame.height
        if frame.height and (frame := _finish_batch(frame, predicate, with_columns)).height:
            yield frame
        if remaining == 0:
            return


def scan_spans(
    trace_ids: object,
    *,
    span_name: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_workers: int = DEFAULT_MAX_WORKERS,
    buffer_mb: float = DEFAULT_BUFFER_MB,
    progress: bool | None = None,
    client: NetraClient | None = None,
) -> pl.LazyFrame:
    """Return a lazy scan of the spans of some traces; nothing is fetched yet.

    Spans stream in whole traces, in input trace order, with up to ``max_workers``
    traces fetched ahead. ``filter(pl.col("trace_id") == id)`` fetches only that trace;
    ``head(n)`` stops fetching once ``n`` spans are in; other filters are applied by the
    scan to each batch. The result equals :func:`netra_frames.spans_frame` with
    ``backend="polars"`` followed by the same query.

    Parameters
    ----------
    trace_ids:
        One id, an iterable or Series of ids, or a traces frame (its ``trace_id``).
    span_name:
        Only spans whose name matches (sent to the API).
    page_size:
        Spans per request.
    max_workers:
        Traces fetched concurrently (capped at the client's ``pool_size``).
    buffer_mb:
        Megabytes of fetched spans that may wait for Polars (default 8), as for
        :func:`scan_traces`.
    progress:
        Draw a progress bar (traces) while the query runs.
    client:
        The client to use (default: the module-level client); it must stay open until
        the query has run.

    Returns
    -------
    polars.LazyFrame
        The columns of :data:`netra_frames.schema.SPANS`.

    Raises
    ------
    InvalidParameterError
        For a bad argument or id, before any request.

    Examples
    --------
    >>> ids = nf.traces_frame(max_rows=20, backend="polars", client=client)["trace_id"]
    >>> lf = nf.scan_spans(ids, client=client)
    >>> lf.filter(pl.col("kind") == "generation").select("span_id", "model_name").collect()
    shape: (..., 2)
    ...
    """
    ids = normalise_ids(trace_ids, "trace_ids", column="trace_id")
    query = SpanQuery.template(span_name=span_name, page_size=page_size)
    chosen, workers = client_and_workers(client, max_workers)
    budget = check_buffer_mb(buffer_mb)
    drawn = want_progress(progress)
    transport = chosen.transport
    watch_interrupts()  # as for scan_traces

    def batches(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None
    ) -> Iterator[pl.DataFrame]:
        with Progress(drawn, "spans", "traces", total=len(ids)) as bar:
            yield from span_batches(
                transport, ids, query, max_workers=workers, with_columns=with_columns,
                predicate=predicate, n_rows=check_max_rows(n_rows), heartbeat=True,
                budget=budget, bar=bar,
            )  # fmt: skip

    return _lazy(SPANS, "netra_spans", f"{len(ids)} trace(s)", batches)
