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
from typing import TYPE_CHECKING, Any

import polars as pl
from polars.io.plugins import register_io_source

from ._defaults import client_and_workers, get_client
from ._engine import plan_workers, span_pages, trace_pages
from ._validate import check_max_rows
from ._wire.convert import normalise_ids
from ._wire.decode import finish
from .cache import CacheLike, CacheSettings, SettleLike, cached_trace_frames, settings_for
from .client import NetraClient
from .config import DEFAULT_MAX_WORKERS, DEFAULT_PAGE_SIZE
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

SPAN_BATCH_ROWS = 1000
"""Spans gathered (from whole traces) before :func:`scan_spans` yields a batch."""


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


def trace_batches(
    transport: Transport,
    query: TraceQuery,
    *,
    with_columns: list[str] | None = None,
    predicate: pl.Expr | None = None,
    n_rows: int | None = None,
    heartbeat: bool = False,
    cache: tuple[NetraClient, CacheSettings] | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield one typed frame per page of ``query``, after pushdown, filter and projection.

    This is the engine of :func:`scan_traces`; :mod:`netra_frames.export` uses it too.
    Only the declared columns of :data:`~netra_frames.schema.TRACES` are produced. With
    ``heartbeat`` an empty frame is yielded every slice of waiting for a page: Polars runs a
    scan's source on a thread of its own and checks for Ctrl-C between batches. With
    ``cache`` (the client and its cache settings), final days stream from the cache.
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
    sources = [c.source for c in columns]
    left = n_rows
    if cache is not None:
        names = [c.name for c in columns]
        client, settings = cache
        workers = plan_workers(client.pool_size, DEFAULT_MAX_WORKERS)
        for frame in cached_trace_frames(client, sent, settings, n_rows, workers):
            frame = frame.select(names) if left is None else frame.select(names).head(left)
            left = None if left is None else left - frame.height
            if frame.height and (frame := _finish_batch(frame, predicate, with_columns)).height:
                yield frame
        return
    for page in trace_pages(transport, sent, max_rows=n_rows, heartbeat=heartbeat):
        if page is None:
            yield _finish_batch(finish([], columns), predicate, with_columns)
            continue
        table = page.table.select(sources)
        if left is not None:
            table = table.slice(0, left)  # a server may overfill a page
            left -= table.num_rows
        if table.num_rows:
            frame = _finish_batch(finish([table], columns), predicate, with_columns)
            if frame.height:
                yield frame


@filter_keywords
def scan_traces(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    sort_field: str = "start_time",
    sort_order: SortOrder = "desc",
    page_size: int = DEFAULT_PAGE_SIZE,
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
        The columns of :data:`netra_frames.schema.TRACES`, known without any request.

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
    chosen = client or get_client()
    transport = chosen.transport
    stored = settings_for(cache, settle, refresh, sort_field=sort_field)
    cached = None if stored is None else (chosen, stored)
    return _lazy(
        TRACES,
        "netra_traces",
        query.describe(),
        lambda with_columns, predicate, n_rows: trace_batches(
            transport, query, with_columns=with_columns, predicate=predicate, n_rows=n_rows,
            heartbeat=True, cache=cached,
        ),
    )  # fmt: skip


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
) -> Iterator[pl.DataFrame]:
    """Yield typed span frames of whole traces (about :data:`SPAN_BATCH_ROWS` rows each).

    ``heartbeat`` is as for :func:`trace_batches`.
    """
    if n_rows is None:
        pushed = pushdown_of(predicate)
        wanted = pushed.equals.get("trace_id")
        if pushed.empty:
            ids = []
        elif wanted is not None:
            ids = [i for i in ids if i == wanted]
    logger.debug("netra_frames: scan_spans fetches %d trace(s); n_rows=%s", len(ids), n_rows)
    if n_rows == 0:
        return
    names = [c.name for c in SPANS]
    remaining = n_rows
    buffer: list[Any] = []
    buffered = 0
    for pages in span_pages(transport, query, ids, workers=max_workers, heartbeat=heartbeat):
        if pages is None:
            yield _finish_batch(finish([], SPANS).select(names), predicate, with_columns)
            continue
        for page in pages:
            table = page.table if remaining is None else page.table.slice(0, remaining)
            if remaining is not None:
                remaining -= table.num_rows
            buffer.append(table)
            buffered += table.num_rows
        if buffered >= SPAN_BATCH_ROWS or remaining == 0:
            yield from _emit_spans(buffer, names, predicate, with_columns)
            buffer, buffered = [], 0
            if remaining == 0:
                return
    yield from _emit_spans(buffer, names, predicate, with_columns)


def _emit_spans(
    tables: list[Any],
    names: list[str],
    predicate: pl.Expr | None,
    with_columns: list[str] | None,
) -> Iterator[pl.DataFrame]:
    if not any(t.num_rows for t in tables):
        return
    frame = _finish_batch(finish(tables, SPANS).select(names), predicate, with_columns)
    if frame.height:
        yield frame


def scan_spans(
    trace_ids: object,
    *,
    span_name: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_workers: int = DEFAULT_MAX_WORKERS,
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
    transport = chosen.transport
    return _lazy(
        SPANS,
        "netra_spans",
        f"{len(ids)} trace(s)",
        lambda with_columns, predicate, n_rows: span_batches(
            transport, ids, query, max_workers=workers, with_columns=with_columns,
            predicate=predicate, n_rows=check_max_rows(n_rows), heartbeat=True,
        ),
    )  # fmt: skip
