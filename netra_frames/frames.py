"""The frame builders: whole listings and usage as typed pandas or Polars DataFrames.

Every function validates its arguments before any request, then hands the work to
:mod:`netra_frames._drain`. Columns and dtypes are those of :mod:`netra_frames.schema`;
``backend="pandas"`` (the default, see :func:`netra_frames.set_backend`) gives nullable
pandas dtypes, ``backend="polars"`` a ``pl.DataFrame``. Without ``client=``, the default
client of :func:`netra_frames.configure` (or the environment) is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import polars as pl
import pyarrow as pa

from ._convert import (
    as_polars,
    expand_attributes_polars,
    normalise_ids,
    pandas_ready,
    tables_to_pandas,
    to_backend,
)
from ._decode import DecodedPage, finish, finish_parts, page_weight
from ._defaults import Backend, get_client, resolve_backend
from ._drain import (
    Pack,
    Walk,
    check_max_rows,
    check_max_workers,
    drain_spans,
    drain_traces,
    map_ordered,
    pooled_workers,
)
from ._progress import Progress, want_progress
from ._shard import Shards, choose_shards, drain_sharded, merge_shards, shard_bodies
from ._validate import check_page_size, check_sort_order
from .cache import (
    CacheLike,
    SettleLike,
    cached_spans_frame,
    cached_traces_frame,
    settings_for,
)
from .config import DEFAULT_MAX_WORKERS, DEFAULT_PAGE_SIZE
from .schema import SESSION_USAGE, SPANS, TENANT_USAGE, TRACES, polars_schema
from .times import TimeLike, resolve_window

if TYPE_CHECKING:
    import pandas as pd

    from .client import NetraClient, SessionUsage, TenantUsage

__all__ = [
    "expand_attributes",
    "session_usage_frame",
    "spans_frame",
    "tenant_usage_frame",
    "traces_frame",
]

DEFAULT_WINDOW_DAYS = 7.0
"""Days covered when ``start`` is not given (the window ends now unless ``end`` is given)."""

TraceIds = str | Iterable[str] | Any


def _finish_with(
    columns: Any, backend: Backend
) -> Callable[[list[DecodedPage]], pd.DataFrame | pl.DataFrame]:
    return lambda pages: to_backend(finish(pages, columns), backend)


@overload
def traces_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    tenant_id: str | None = ...,
    user_id: str | None = ...,
    session_id: str | None = ...,
    sort_field: str = ...,
    sort_order: Literal["asc", "desc"] = ...,
    page_size: int = ...,
    max_rows: int | None = ...,
    shards: Shards = ...,
    max_workers: int = ...,
    backend: Literal["pandas"],
    progress: bool | None = ...,
    client: NetraClient | None = ...,
    cache: CacheLike = ...,
    settle: SettleLike = ...,
    refresh: bool = ...,
) -> pd.DataFrame: ...
@overload
def traces_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    tenant_id: str | None = ...,
    user_id: str | None = ...,
    session_id: str | None = ...,
    sort_field: str = ...,
    sort_order: Literal["asc", "desc"] = ...,
    page_size: int = ...,
    max_rows: int | None = ...,
    shards: Shards = ...,
    max_workers: int = ...,
    backend: Literal["polars"],
    progress: bool | None = ...,
    client: NetraClient | None = ...,
    cache: CacheLike = ...,
    settle: SettleLike = ...,
    refresh: bool = ...,
) -> pl.DataFrame: ...
@overload
def traces_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    tenant_id: str | None = ...,
    user_id: str | None = ...,
    session_id: str | None = ...,
    sort_field: str = ...,
    sort_order: Literal["asc", "desc"] = ...,
    page_size: int = ...,
    max_rows: int | None = ...,
    shards: Shards = ...,
    max_workers: int = ...,
    backend: Backend | None = ...,
    progress: bool | None = ...,
    client: NetraClient | None = ...,
    cache: CacheLike = ...,
    settle: SettleLike = ...,
    refresh: bool = ...,
) -> pd.DataFrame | pl.DataFrame: ...
def traces_frame(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    tenant_id: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    sort_field: str = "start_time",
    sort_order: Literal["asc", "desc"] = "desc",
    page_size: int = DEFAULT_PAGE_SIZE,
    max_rows: int | None = None,
    shards: Shards = "auto",
    max_workers: int = DEFAULT_MAX_WORKERS,
    backend: Backend | None = None,
    progress: bool | None = None,
    client: NetraClient | None = None,
    cache: CacheLike = None,
    settle: SettleLike = None,
    refresh: bool = False,
) -> pd.DataFrame | pl.DataFrame:
    """Drain every page of ``list_traces`` over ``[start, end)`` into one frame.

    Parameters
    ----------
    start, end:
        The window on a trace's ``start_time``: ISO string, ``datetime`` or ``date``
        (naive means UTC; mixing naive and aware is refused). Defaults: ``end`` = now,
        ``start`` = ``end`` - 7 days.
    tenant_id, user_id, session_id:
        Equality filters (combined with AND).
    sort_field, sort_order:
        Row order, as the API sorts (ties broken by trace id).
    page_size:
        Traces per request (the server's maximum is usually 100).
    max_rows:
        Stop after this many rows, fetching no page more than needed (never sharded).
    shards:
        Split the window into this many contiguous sub-windows drained concurrently
        (same rows, same order as one drain; see :mod:`netra_frames._shard`). ``"auto"``:
        one per day of window up to ``max_workers``; 1 for windows under a day, with
        ``max_rows``, or for a sort field other than ``start_time``, ``end_time``,
        ``latency_ms``, ``total_cost``, ``total_tokens`` and ``name``.
    max_workers:
        Sub-windows fetched at once (threads sharing the client's pooled session; capped
        at the client's ``pool_size`` so no request opens a connection of its own).
    backend:
        ``"pandas"`` or ``"polars"``; default from :func:`set_backend`, else
        ``NETRA_FRAMES_BACKEND``, else pandas.
    progress:
        Draw a progress bar (rows); ``None`` = only on a terminal or in a notebook.
    client:
        The client to use; default: the module-level client (see :func:`configure`).
    cache, settle, refresh:
        The local cache (see :mod:`netra_frames.cache` and docs/caching.md): ``True``
        (the user cache directory), a directory, or ``False``; default: ``configure``,
        else ``NETRA_FRAMES_CACHE``, else off. Days that ended more than ``settle`` ago
        (default 1 hour) are read from disk; ``refresh=True`` fetches them again.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        One row per trace, columns of :data:`netra_frames.schema.TRACES`.

    Raises
    ------
    InvalidParameterError
        For a bad argument, before any request.
    DrainError
        When a page fails after earlier pages succeeded (``.partial``, ``.resume()``).

    Examples
    --------
    >>> df = nf.traces_frame("2026-01-01", "2026-02-01", tenant_id="AceTech", client=client)
    >>> df.groupby("user_id")["total_cost"].sum().head(2)  # doctest: +SKIP
    """
    chosen = resolve_backend(backend)
    check_page_size(page_size)
    check_sort_order(sort_order)
    limit = check_max_rows(max_rows)
    window = resolve_window(start, end, default_days=DEFAULT_WINDOW_DAYS)
    client = client or get_client()
    body = client.traces_body(
        *window,
        tenant_id=tenant_id,
        user_id=user_id,
        session_id=session_id,
        sort_field=sort_field,
        sort_order=sort_order,
    )
    workers = pooled_workers(client, check_max_workers(max_workers))
    parts = choose_shards(
        shards, *window, sort_field=sort_field, max_rows=limit, max_workers=workers
    )
    stored = settings_for(cache, settle, refresh, sort_field=sort_field)  # cache (issue 13)
    if stored is not None:
        named = {"tenant_id": tenant_id, "user_id": user_id, "session_id": session_id}
        return cached_traces_frame(
            client, window, named, sort_field=sort_field, sort_order=sort_order,
            page_size=page_size, max_rows=limit, max_workers=workers, settings=stored,
            backend=chosen,
        )  # fmt: skip
    with Progress(want_progress(progress), "traces", "row", total=limit) as bar:
        if parts > 1:
            walks = [Walk(b) for b in shard_bodies(body, *window, parts, sort_order)]
            return drain_sharded(
                client,
                walks,
                page_size=page_size,
                max_workers=workers,
                on_page=lambda page: bar.update(page.num_rows),
                build=lambda pages: to_backend(
                    merge_shards(finish(pages, TRACES), sort_field, sort_order), chosen
                ),
                prefix_partial=sort_field == "start_time",
            )
        build = _finish_with(TRACES, chosen)
        if limit is not None:
            full = build
            build = lambda pages: full(pages)[:limit]  # noqa: E731  (a server may overfill)
        return drain_traces(
            client,
            body,
            page_size=page_size,
            max_rows=limit,
            on_page=lambda page: bar.update(page.num_rows),
            build=build,
        )


@overload
def spans_frame(
    trace_ids: TraceIds,
    *,
    span_name: str | None = ...,
    page_size: int = ...,
    parse_json: bool = ...,
    backend: Literal["pandas"],
    progress: bool | None = ...,
    max_workers: int = ...,
    client: NetraClient | None = ...,
    cache: CacheLike = ...,
    settle: SettleLike = ...,
    refresh: bool = ...,
) -> pd.DataFrame: ...
@overload
def spans_frame(
    trace_ids: TraceIds,
    *,
    span_name: str | None = ...,
    page_size: int = ...,
    parse_json: bool = ...,
    backend: Literal["polars"],
    progress: bool | None = ...,
    max_workers: int = ...,
    client: NetraClient | None = ...,
    cache: CacheLike = ...,
    settle: SettleLike = ...,
    refresh: bool = ...,
) -> pl.DataFrame: ...
@overload
def spans_frame(
    trace_ids: TraceIds,
    *,
    span_name: str | None = ...,
    page_size: int = ...,
    parse_json: bool = ...,
    backend: Backend | None = ...,
    progress: bool | None = ...,
    max_workers: int = ...,
    client: NetraClient | None = ...,
    cache: CacheLike = ...,
    settle: SettleLike = ...,
    refresh: bool = ...,
) -> pd.DataFrame | pl.DataFrame: ...
def spans_frame(
    trace_ids: TraceIds,
    *,
    span_name: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    parse_json: bool = False,
    backend: Backend | None = None,
    progress: bool | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    client: NetraClient | None = None,
    cache: CacheLike = None,
    settle: SettleLike = None,
    refresh: bool = False,
) -> pd.DataFrame | pl.DataFrame:
    """Fetch every span of one or many traces into one frame, many traces concurrently.

    Parameters
    ----------
    trace_ids:
        One id, any iterable of ids, a pandas/Polars Series, or a traces frame (its
        ``trace_id`` column). Duplicates are fetched once: the result follows the first
        occurrence of each id, and has no duplicated rows.
    span_name:
        Keep spans whose name or kind matches (as the API filters).
    page_size:
        Spans per request.
    parse_json:
        Also expand ``attributes`` into ``attr.<key>`` columns (see
        :func:`expand_attributes`).
    backend, progress, client:
        As for :func:`traces_frame`; the bar counts traces.
    max_workers:
        Traces fetched at once (threads sharing the client's pooled session).
    cache, settle, refresh:
        As for :func:`traces_frame`: the spans of traces that ended more than ``settle``
        ago (by the ``end_time`` of a traces frame passed as ``trace_ids``, else of their
        spans) are read from the cache.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        Columns of :data:`netra_frames.schema.SPANS`, in input trace order, then the
        API's span order within a trace.

    Raises
    ------
    InvalidParameterError
        For a bad argument or id, before any request.
    DrainError
        When a trace fails after others succeeded (``.partial``, ``.resume()``).

    Examples
    --------
    >>> traces = nf.traces_frame(max_rows=50, client=client)
    >>> spans = nf.spans_frame(traces, client=client)
    >>> spans.merge(traces, on="trace_id", suffixes=("", "_trace")).shape[0] == len(spans)
    True
    """
    chosen = resolve_backend(backend)
    ids = normalise_ids(trace_ids, "trace_ids", column="trace_id")
    check_page_size(page_size)
    workers = check_max_workers(max_workers)
    client = client or get_client()
    workers = pooled_workers(client, workers)
    params = client.spans_params(span_name=span_name)
    stored = settings_for(cache, settle, refresh)  # cache (issue 13)
    if stored is not None:
        frame = cached_spans_frame(
            client, ids, trace_ids, span_name=span_name, page_size=page_size,
            max_workers=workers, settings=stored,
        )  # fmt: skip
        return to_backend(expand_attributes_polars(frame) if parse_json else frame, chosen)

    arrow_batches = chosen == "pandas" and not parse_json

    def build(results: list[SpanPart]) -> pd.DataFrame | pl.DataFrame:
        if arrow_batches:
            return _spans_to_pandas(results)
        frame = finish_parts(results, SPANS)
        results.clear()  # the batches now live in ``frame`` only
        if parse_json:
            frame = expand_attributes_polars(frame)
        return to_backend(frame, chosen)

    with Progress(want_progress(progress), "spans", "trace", total=len(ids)) as bar:
        return map_ordered(
            lambda trace_id: drain_spans(client, trace_id, params, page_size),
            ids,
            max_workers=workers,
            on_done=bar.update,
            build=build,
            pack=_ARROW_PACK if arrow_batches else _POLARS_PACK,
        )


SpanPart: TypeAlias = "list[DecodedPage] | pl.DataFrame | pa.Table"
"""What :func:`spans_frame` holds per trace: its pages, or (packed) a finished batch."""

SPAN_BATCH_BYTES = 4 << 20
"""Page bytes (about 3,500 spans) finished into one Arrow-backed batch during a drain."""


def _span_weight(part: SpanPart) -> int:
    return 0 if isinstance(part, pa.Table) else page_weight(part)


def _pack_run(
    run: list[SpanPart], convert: Callable[[list[DecodedPage]], SpanPart]
) -> list[SpanPart]:
    """Finish each stretch of traces' pages in ``run`` into one batch (first), leaving empty
    parts after it; batches packed earlier (a resumed drain) stay as they are."""
    out: list[SpanPart] = []
    stretch: list[list[DecodedPage]] = []

    def flush() -> None:
        pages = [page for part in stretch for page in part]
        if pages:
            out.extend([convert(pages), *([] for _ in stretch[1:])])
        else:
            out.extend(stretch)
        stretch.clear()

    for part in run:
        if isinstance(part, list):
            stretch.append(part)
        else:
            flush()
            out.append(part)
    flush()
    return out


def _pack_polars(run: list[SpanPart]) -> list[SpanPart]:
    """Pack a run of finished traces into Polars frames."""
    return _pack_run(run, lambda pages: finish(pages, SPANS))


def _pack_arrow(run: list[SpanPart]) -> list[SpanPart]:
    """Pack a run of finished traces into the Arrow tables pandas will take over."""
    return _pack_run(run, lambda pages: pandas_ready(finish(pages, SPANS)))


_POLARS_PACK: Pack[SpanPart] = Pack(_span_weight, _pack_polars, SPAN_BATCH_BYTES)
_ARROW_PACK: Pack[SpanPart] = Pack(_span_weight, _pack_arrow, SPAN_BATCH_BYTES)


def _spans_to_pandas(results: list[SpanPart]) -> pd.DataFrame:
    """One pandas frame of packed Arrow batches and the pages not packed yet, in order."""
    tables: list[pa.Table] = []
    pages: list[DecodedPage] = []
    for part in results:
        if isinstance(part, pa.Table):
            if pages:
                tables.append(pandas_ready(finish(pages, SPANS)))
                pages = []
            tables.append(part)
        elif isinstance(part, list):
            pages.extend(part)
    if pages or not tables:
        tables.append(pandas_ready(finish(pages, SPANS)))
    results.clear()  # the batches now live in ``tables`` only
    return tables_to_pandas(tables)


def _usage_frame(
    kind: Literal["session", "tenant"],
    ids: object,
    start: TimeLike | None,
    end: TimeLike | None,
    backend: Backend | None,
    progress: bool | None,
    max_workers: int,
    client: NetraClient | None,
) -> pd.DataFrame | pl.DataFrame:
    chosen = resolve_backend(backend)
    name = f"{kind}_id"
    keys = normalise_ids(ids, name, column=name)
    workers = check_max_workers(max_workers)
    window = resolve_window(start, end, default_days=DEFAULT_WINDOW_DAYS)
    cli = client or get_client()
    workers = pooled_workers(cli, workers)
    fetch: Callable[[str], SessionUsage | TenantUsage]
    if kind == "session":
        fetch, columns = (lambda key: cli.get_session_usage(key, *window)), SESSION_USAGE
    else:
        fetch, columns = (lambda key: cli.get_tenant_usage(key, *window)), TENANT_USAGE

    def build(rows: list[SessionUsage | TenantUsage]) -> pd.DataFrame | pl.DataFrame:
        data: dict[str, list[Any]] = {c.name: [] for c in columns}
        for row in rows:
            for c in columns:
                data[c.name].append(_usage_value(row, c.name, window))
        return to_backend(pl.DataFrame(data, schema=polars_schema(columns)), chosen)

    with Progress(want_progress(progress), f"{kind} usage", "id", total=len(keys)) as bar:
        return map_ordered(fetch, keys, max_workers=workers, on_done=bar.update, build=build)


def _usage_value(row: object, name: str, window: tuple[Any, Any]) -> Any:
    if name == "start":
        return window[0]
    if name == "end":
        return window[1]
    return getattr(row, name)


@overload
def session_usage_frame(
    session_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["pandas"],
    progress: bool | None = ...,
    max_workers: int = ...,
    client: NetraClient | None = ...,
) -> pd.DataFrame: ...
@overload
def session_usage_frame(
    session_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["polars"],
    progress: bool | None = ...,
    max_workers: int = ...,
    client: NetraClient | None = ...,
) -> pl.DataFrame: ...
@overload
def session_usage_frame(
    session_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Backend | None = ...,
    progress: bool | None = ...,
    max_workers: int = ...,
    client: NetraClient | None = ...,
) -> pd.DataFrame | pl.DataFrame: ...
def session_usage_frame(
    session_id: str | Iterable[str],
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    backend: Backend | None = None,
    progress: bool | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    client: NetraClient | None = None,
) -> pd.DataFrame | pl.DataFrame:
    """Return token, request and cost totals of one or many sessions as a frame.

    Parameters
    ----------
    session_id:
        One id (one row) or an iterable / Series of ids (one row per distinct id, input
        order, fetched concurrently).
    start, end:
        The window, as for :func:`traces_frame` (default: the last 7 days).
    backend, progress, max_workers, client:
        As for :func:`spans_frame`; the bar counts ids.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        Columns of :data:`netra_frames.schema.SESSION_USAGE`. A session without traces
        in the window has zero counts and cost.

    Raises
    ------
    InvalidParameterError
        For a bad argument or id, before any request.

    Examples
    --------
    >>> nf.session_usage_frame(["sess_1", "sess_2"], client=client).shape
    (2, 6)
    """
    return _usage_frame("session", session_id, start, end, backend, progress, max_workers, client)


@overload
def tenant_usage_frame(
    tenant_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["pandas"],
    progress: bool | None = ...,
    max_workers: int = ...,
    client: NetraClient | None = ...,
) -> pd.DataFrame: ...
@overload
def tenant_usage_frame(
    tenant_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["polars"],
    progress: bool | None = ...,
    max_workers: int = ...,
    client: NetraClient | None = ...,
) -> pl.DataFrame: ...
@overload
def tenant_usage_frame(
    tenant_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Backend | None = ...,
    progress: bool | None = ...,
    max_workers: int = ...,
    client: NetraClient | None = ...,
) -> pd.DataFrame | pl.DataFrame: ...
def tenant_usage_frame(
    tenant_id: str | Iterable[str],
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    backend: Backend | None = None,
    progress: bool | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    client: NetraClient | None = None,
) -> pd.DataFrame | pl.DataFrame:
    """Return token, request, session and cost totals of one or many tenants as a frame.

    Parameters
    ----------
    tenant_id:
        One id (one row) or an iterable / Series of ids (one row per distinct id, input
        order, fetched concurrently).
    start, end:
        The window, as for :func:`traces_frame` (default: the last 7 days).
    backend, progress, max_workers, client:
        As for :func:`spans_frame`; the bar counts ids.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        Columns of :data:`netra_frames.schema.TENANT_USAGE`.

    Raises
    ------
    InvalidParameterError
        For a bad argument or id, before any request.

    Examples
    --------
    >>> nf.tenant_usage_frame("AceTech", client=client)["total_cost"].iloc[0] > 0
    True
    """
    return _usage_frame("tenant", tenant_id, start, end, backend, progress, max_workers, client)


def expand_attributes(frame: Any, column: str = "attributes") -> Any:
    """Return ``frame`` with one ``attr.<key>`` column per key of its JSON ``attributes``.

    Works on pandas and Polars frames and returns the same kind. A key's values keep
    their JSON type when it is the same on every row, else they become JSON strings.

    Parameters
    ----------
    frame:
        A spans frame (or any frame with a JSON-object string column).
    column:
        The column to expand.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        ``frame`` plus the ``attr.*`` columns, after the existing ones.

    Raises
    ------
    InvalidParameterError
        If ``frame`` is not a frame or has no such column.

    Examples
    --------
    >>> spans = nf.spans_frame(trace_id, client=client)
    >>> "attr.gen_ai.request.model" in nf.expand_attributes(spans).columns
    True
    """
    expanded = expand_attributes_polars(as_polars(frame), column)
    if isinstance(frame, pl.DataFrame):
        return expanded
    return to_backend(expanded, "pandas")
