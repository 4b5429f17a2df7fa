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
:func:`pushdown_of` shows what a predicate pushes; each scan also logs it at DEBUG on the
``netra_frames`` logger.

Examples
--------
>>> import polars as pl
>>> lf = nf.scan_traces("2026-01-01", "2026-02-01", client=client)
>>> lf.filter(pl.col("tenant_id") == "AceTech").select("trace_id", "total_cost").head(5).collect()
shape: (5, 2)
...
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from polars.io.plugins import register_io_source

from ._convert import normalise_ids
from ._decode import DecodedPage, finish
from ._defaults import get_client
from ._drain import (
    check_max_rows,
    check_max_workers,
    drain_spans,
    pooled_workers,
    trace_pages,
)
from ._validate import check_page_size, check_sort_order
from .cache import CacheLike, CacheSettings, SettleLike, cached_trace_frames, settings_for
from .config import DEFAULT_MAX_WORKERS, DEFAULT_PAGE_SIZE
from .schema import SPANS, TRACES, Column, polars_schema
from .times import TimeLike, format_time, resolve_window

if TYPE_CHECKING:
    from .client import NetraClient

__all__ = ["PUSHABLE_FIELDS", "Pushdown", "pushdown_of", "scan_spans", "scan_traces"]

logger = logging.getLogger("netra_frames")

PUSHABLE_FIELDS = ("tenant_id", "user_id", "session_id", "trace_id")
"""Columns whose ``== "literal"`` filters become API filters."""

DEFAULT_WINDOW_DAYS = 7.0
"""Days covered when ``start`` is not given (as for :func:`netra_frames.traces_frame`)."""

SPAN_BATCH_ROWS = 1000
"""Spans gathered (from whole traces) before :func:`scan_spans` yields a batch."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_UNITS = ("Nanoseconds", "Microseconds", "Milliseconds")
_FLIP = {"Eq": "Eq", "GtEq": "LtEq", "Gt": "Lt", "LtEq": "GtEq", "Lt": "Gt"}


@dataclass(frozen=True)
class Pushdown:
    """What a predicate lets a scan ask the API for (a superset of the matching rows).

    Attributes
    ----------
    equals:
        Field -> value for ``col == "value"`` conjuncts on :data:`PUSHABLE_FIELDS`.
    start, end:
        Bounds on ``start_time`` as a half-open window ``[start, end)`` on millisecond
        edges, or ``None`` when not constrained.
    empty:
        True when the conjuncts contradict each other (no row can match).

    Examples
    --------
    >>> pushdown_of(pl.col("tenant_id") == "AceTech").equals
    {'tenant_id': 'AceTech'}
    """

    equals: Mapping[str, str] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    empty: bool = False

    @property
    def is_trivial(self) -> bool:
        """Whether nothing at all is pushed."""
        return not self.equals and self.start is None and self.end is None and not self.empty


def pushdown_of(predicate: pl.Expr | None) -> Pushdown:
    """Return the part of ``predicate`` that a traces scan can push into the API request.

    The expression is read from its JSON serialisation; only AND-chains of ``col ==
    "literal"`` (on :data:`PUSHABLE_FIELDS`), comparisons of ``start_time`` with a
    timezone-aware datetime literal and ``start_time.is_between(...)`` are understood.
    Anything else, including any ``|``, contributes nothing (it is still applied by the
    scan afterwards).

    Parameters
    ----------
    predicate:
        A Polars boolean expression, or ``None``.

    Returns
    -------
    Pushdown
        Equality filters and ``start_time`` bounds implied by the predicate.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> p = pushdown_of((pl.col("user_id") == "u1") & (pl.col("start_time") >= since))
    >>> p.equals, p.start
    ({'user_id': 'u1'}, datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
    """
    if predicate is None:
        return Pushdown()
    try:
        tree = json.loads(predicate.meta.serialize(format="json"))
    except Exception as exc:  # noqa: BLE001 - an unreadable predicate is simply not pushed
        logger.debug("netra_frames: predicate not pushed (%s)", exc)
        return Pushdown()
    equals: dict[str, str] = {}
    start: datetime | None = None
    end: datetime | None = None
    empty = False
    for node in _conjuncts(tree):
        for kind, name, value in _constraints(node):
            if kind == "eq":
                assert isinstance(value, str)
                if equals.setdefault(name, value) != value:
                    empty = True
            elif kind == "ge":
                assert isinstance(value, datetime)
                start = value if start is None else max(start, value)
            else:
                assert isinstance(value, datetime)
                end = value if end is None else min(end, value)
    if start is not None and end is not None and end <= start:
        empty = True
    return Pushdown(equals, start, end, empty)


def _conjuncts(node: Any) -> Iterator[Any]:
    binary = node.get("BinaryExpr") if isinstance(node, dict) else None
    if isinstance(binary, dict) and binary.get("op") in ("And", "LogicalAnd"):
        yield from _conjuncts(binary.get("left"))
        yield from _conjuncts(binary.get("right"))
    else:
        yield node


def _constraints(node: Any) -> Iterator[tuple[str, str, str | datetime]]:
    """Yield ``("eq", field, str)``, ``("ge", "start_time", lo)``, ``("lt", ..., hi)``."""
    if not isinstance(node, dict):
        return
    binary = node.get("BinaryExpr")
    if isinstance(binary, dict):
        yield from _comparison(binary.get("left"), binary.get("op"), binary.get("right"))
        return
    function = node.get("Function")
    if not isinstance(function, dict):
        return
    spec = function.get("function")
    inputs = function.get("input")
    if (
        isinstance(spec, dict)
        and isinstance(spec.get("Boolean"), dict)
        and "IsBetween" in spec["Boolean"]
        and isinstance(inputs, list)
        and len(inputs) == 3
        and _column(inputs[0]) == "start_time"
    ):
        yield from _comparison(inputs[0], "GtEq", inputs[1])
        yield from _comparison(inputs[0], "LtEq", inputs[2])


def _comparison(left: Any, op: Any, right: Any) -> Iterator[tuple[str, str, str | datetime]]:
    if op not in _FLIP:
        return
    name = _column(left)
    literal = right
    if name is None:
        name, literal, op = _column(right), left, _FLIP[op]
    if name in PUSHABLE_FIELDS and op == "Eq":
        value = _scalar(literal).get("String")
        if isinstance(value, str):
            yield "eq", name, value
    elif name == "start_time":
        moment = _datetime(_scalar(literal).get("Datetime"))
        if moment is None:
            return
        floor = moment - timedelta(microseconds=moment.microsecond % 1000)
        if op in ("GtEq", "Gt", "Eq"):
            yield "ge", name, floor
        if op == "Lt":
            yield "lt", name, floor if floor == moment else floor + _MS
        elif op in ("LtEq", "Eq"):
            yield "lt", name, floor + _MS


def _column(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("Column"), str):
        return str(node["Column"])
    return None


def _scalar(node: Any) -> dict[str, Any]:
    if isinstance(node, dict):
        literal = node.get("Literal")
        if isinstance(literal, dict) and isinstance(literal.get("Scalar"), dict):
            scalar: dict[str, Any] = literal["Scalar"]
            return scalar
    return {}


def _datetime(value: Any) -> datetime | None:
    """``[value, unit, {"inner": tz}]`` -> aware datetime; naive literals are not pushed."""
    if not isinstance(value, list) or len(value) != 3 or value[2] is None:
        return None
    count, unit, _ = value
    if not isinstance(count, int) or unit not in _UNITS:
        return None
    micros = (
        count // 1000 if unit == "Nanoseconds" else count * (1000 if unit == "Milliseconds" else 1)
    )
    try:
        return _EPOCH + timedelta(microseconds=micros)
    except (OverflowError, ValueError):
        return None


# -- traces --------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceQuery:
    """One traces listing: window, equality filters, order and page size (validated)."""

    start: datetime
    end: datetime
    filters: Mapping[str, str] = field(default_factory=dict)
    sort_field: str = "start_time"
    sort_order: Literal["asc", "desc"] = "desc"
    page_size: int = DEFAULT_PAGE_SIZE

    def narrowed(self, pushed: Pushdown) -> TraceQuery | None:
        """Return this query restricted by ``pushed``, or ``None`` if it matches nothing."""
        if pushed.empty:
            return None
        filters = dict(self.filters)
        for name, value in pushed.equals.items():
            if filters.setdefault(name, value) != value:
                return None
        start = self.start if pushed.start is None else max(self.start, pushed.start)
        end = self.end if pushed.end is None else min(self.end, pushed.end)
        if end <= start:
            return None
        return replace(self, start=start, end=end, filters=filters)

    def body(
        self, client: NetraClient, *, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """Build (and validate) the ``POST /sdk/traces`` body of one page."""
        return client.traces_body(
            self.start,
            self.end,
            tenant_id=self.filters.get("tenant_id"),
            user_id=self.filters.get("user_id"),
            session_id=self.filters.get("session_id"),
            trace_id=self.filters.get("trace_id"),
            limit=limit,
            cursor=cursor,
            sort_field=self.sort_field,
            sort_order=self.sort_order,
        )

    def describe(self) -> str:
        """A one-line description for logs (no secrets in a query)."""
        return f"[{format_time(self.start)}, {format_time(self.end)}) filters={dict(self.filters)}"


def iter_trace_pages(
    client: NetraClient, query: TraceQuery, *, max_rows: int | None = None
) -> Iterator[DecodedPage]:
    """Yield the decoded pages of one traces listing, one request per page, lazily.

    Unlike :func:`netra_frames._drain.drain_traces` nothing is kept: a consumer that
    drops each page holds one page at a time. ``max_rows`` stops early, asking each page
    for no more rows than still wanted.
    """
    pages = trace_pages(client, query.body(client), page_size=query.page_size, max_rows=max_rows)
    for page, _ in pages:
        yield page


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
    client: NetraClient,
    query: TraceQuery,
    *,
    with_columns: list[str] | None = None,
    predicate: pl.Expr | None = None,
    n_rows: int | None = None,
    cache: CacheSettings | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield one typed frame per page of ``query``, after pushdown, filter and projection.

    This is the engine of :func:`scan_traces`; :mod:`netra_frames.export` uses it too.
    Only the declared columns of :data:`~netra_frames.schema.TRACES` are produced.
    """
    pushed = Pushdown() if n_rows is not None else pushdown_of(predicate)
    narrowed = query.narrowed(pushed)
    logger.debug(
        "netra_frames: scan_traces pushes %s; n_rows=%s, columns=%s",
        narrowed.describe() if narrowed is not None else "nothing to fetch (empty)",
        n_rows,
        with_columns,
    )
    if narrowed is None or n_rows == 0:
        return
    columns = _subset(TRACES, _needed(with_columns, predicate)) or TRACES[:1]
    sources = [c.source for c in columns]
    left = n_rows
    if cache is not None:  # cache (issue 13): cached frames (declared columns) for pages
        names = [c.name for c in columns]
        for frame in cached_trace_frames(client, narrowed, cache, n_rows):
            frame = frame.select(names) if left is None else frame.select(names).head(left)
            left = None if left is None else left - frame.height
            if frame.height and (frame := _finish_batch(frame, predicate, with_columns)).height:
                yield frame
        return
    for page in iter_trace_pages(client, narrowed, max_rows=n_rows):
        table = page.table.select(sources)
        if left is not None:
            table = table.slice(0, left)  # a server may overfill a page
            left -= table.num_rows
        if table.num_rows:
            frame = _finish_batch(finish([table], columns), predicate, with_columns)
            if frame.height:
                yield frame


def scan_traces(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    tenant_id: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    sort_field: str = "start_time",
    sort_order: Literal["asc", "desc"] = "desc",
    page_size: int = DEFAULT_PAGE_SIZE,
    client: NetraClient | None = None,
    cache: CacheLike = None,
    settle: SettleLike = None,
    refresh: bool = False,
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
    tenant_id, user_id, session_id:
        Equality filters always sent (a ``filter`` on these columns does the same).
    sort_field, sort_order:
        Row order, as the API sorts (default newest first).
    page_size:
        Traces per request.
    client:
        The client to use; default: the module-level client (see :func:`configure`).
        It must stay open until the query has run.
    cache, settle, refresh:
        The local cache, as for :func:`netra_frames.traces_frame`: final days stream
        from disk, one frame per day.

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
    check_page_size(page_size)
    check_sort_order(sort_order)
    named = {"tenant_id": tenant_id, "user_id": user_id, "session_id": session_id}
    filters = {name: value for name, value in named.items() if value is not None}
    window = resolve_window(start, end, default_days=DEFAULT_WINDOW_DAYS)
    chosen = client or get_client()
    query = TraceQuery(*window, filters, sort_field, sort_order, page_size)
    query.body(chosen)  # validates ids and sort_field now, without a request
    stored = settings_for(cache, settle, refresh, sort_field=sort_field)  # cache (issue 13)

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        return trace_batches(
            chosen, query, with_columns=with_columns, predicate=predicate, n_rows=n_rows,
            cache=stored,
        )  # fmt: skip

    return register_io_source(
        source,
        schema=polars_schema(TRACES),
        explain_name="netra_traces",
        explain_detail=query.describe(),
    )


# -- spans ---------------------------------------------------------------------------


def _prefetch(
    client: NetraClient,
    ids: Sequence[str],
    params: Mapping[str, str],
    page_size: int,
    max_workers: int,
) -> Iterator[list[DecodedPage]]:
    """Yield each trace's span pages in input order, at most ``max_workers`` in flight."""
    if not ids:
        return
    pool = ThreadPoolExecutor(
        max_workers=min(max_workers, len(ids)), thread_name_prefix="netra_frames_scan"
    )
    try:
        pending: list[Future[list[DecodedPage]]] = []
        ahead = iter(ids)
        for trace_id in ahead:
            pending.append(pool.submit(drain_spans, client, trace_id, params, page_size))
            if len(pending) >= max_workers:
                break
        while pending:
            pages = pending.pop(0).result()
            nxt = next(ahead, None)
            if nxt is not None:
                pending.append(pool.submit(drain_spans, client, nxt, params, page_size))
            yield pages
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def span_batches(
    client: NetraClient,
    ids: Sequence[str],
    params: Mapping[str, str],
    *,
    page_size: int,
    max_workers: int,
    with_columns: list[str] | None = None,
    predicate: pl.Expr | None = None,
    n_rows: int | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield typed span frames of whole traces (about :data:`SPAN_BATCH_ROWS` rows each)."""
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
    for pages in _prefetch(client, ids, params, page_size, max_workers):
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
    check_page_size(page_size)
    chosen = client or get_client()
    workers = pooled_workers(chosen, check_max_workers(max_workers))
    params = chosen.spans_params(span_name=span_name)

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        return span_batches(
            chosen,
            ids,
            params,
            page_size=page_size,
            max_workers=workers,
            with_columns=with_columns,
            predicate=predicate,
            n_rows=check_max_rows(n_rows),
        )

    return register_io_source(
        source,
        schema=polars_schema(SPANS),
        explain_name="netra_spans",
        explain_detail=f"{len(ids)} trace(s)",
    )
