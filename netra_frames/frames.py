"""The frame builders: whole listings of traces and spans as typed pandas or Polars frames.

Every function validates its arguments before any request, then hands the work to the
engine (:mod:`netra_frames._engine`). Columns and dtypes are those of
:mod:`netra_frames.schema`; ``backend="pandas"`` (the default, see
:func:`netra_frames.set_backend`) gives nullable pandas dtypes, ``backend="polars"`` a
``pl.DataFrame``. Without ``client=``, the default client of
:func:`netra_frames.configure` (or the environment) is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypedDict, overload

import pandas as pd
import polars as pl

from ._defaults import client_and_workers, resolve_backend
from ._doors import backend_following, warn_no_traces
from ._engine import Shards, choose_shards, drain_spans, drain_traces
from ._progress import Progress, want_progress
from ._validate import check_max_rows
from ._warn import warn
from ._wire.convert import as_polars, expand_attributes_polars, normalise_ids, to_backend
from .cache import (
    CacheLike,
    SettleLike,
    cached_spans_frame,
    cached_traces_frame,
    settings_for,
)
from .client import NetraClient
from .config import DEFAULT_MAX_WORKERS, DEFAULT_PAGE_SIZE, Backend
from .errors import EmptyResultWarning
from .query import SortOrder, SpanQuery, TraceFilters, TraceQuery, Unpack, filter_keywords
from .times import TimeLike

__all__ = [
    "TracesFrameOptions",
    "expand_attributes",
    "spans_frame",
    "traces_frame",
]

TraceIds = str | Iterable[str] | Any


class TracesFrameOptions(TraceFilters, total=False):
    """The keywords of :func:`traces_frame` besides ``backend`` (for its overloads)."""

    sort_field: str
    sort_order: SortOrder
    page_size: int
    max_rows: int | None
    shards: Shards
    max_workers: int
    progress: bool | None
    client: NetraClient | None
    cache: CacheLike
    settle: SettleLike
    refresh: bool


@overload
def traces_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["pandas"],
    **options: Unpack[TracesFrameOptions],
) -> pd.DataFrame: ...
@overload
def traces_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["polars"],
    **options: Unpack[TracesFrameOptions],
) -> pl.DataFrame: ...
@overload
def traces_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Backend | None = ...,
    **options: Unpack[TracesFrameOptions],
) -> pd.DataFrame | pl.DataFrame: ...
@filter_keywords
def traces_frame(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    sort_field: str = "start_time",
    sort_order: SortOrder = "desc",
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
    **filters: Unpack[TraceFilters],
) -> pd.DataFrame | pl.DataFrame:
    """Drain every page of ``list_traces`` over ``[start, end)`` into one frame.

    Parameters
    ----------
    start, end:
        The window on a trace's ``start_time``: ISO string, ``date``, ``datetime``,
        pandas ``Timestamp`` or numpy ``datetime64``. A time with a zone is converted to
        UTC, one without is UTC (every type; see :mod:`netra_frames.times`). Defaults:
        ``end`` = now, ``start`` = ``end`` - 7 days.
    sort_field, sort_order:
        Row order, as the API sorts (ties broken by trace id).
    page_size:
        Traces per request (1 to 100, the API's largest page).
    max_rows:
        Stop after this many rows, fetching no page more than needed (one walk).
    shards:
        ``"auto"``: start with one sub-window per day (up to ``max_workers``; one for a
        window under a day) and, for listings in ``start_time`` order, split the largest
        part a running sub-window has not reached whenever a worker is idle, so uneven data
        drains as fast as even data. An int: exactly that many equal sub-windows, never
        split. Same rows, same order as one walk, whatever the sharding.
    max_workers:
        Requests in flight at once (threads sharing the client's pooled session; capped
        at the client's ``pool_size`` so no request opens a connection of its own).
    backend:
        ``"pandas"`` or ``"polars"``; default from :func:`set_backend`, else
        ``NETRA_FRAMES_BACKEND``, else pandas.
    progress:
        Draw a progress bar (rows, with the total estimated from the share of the window
        covered); ``None`` = only on a terminal or in a notebook.
    client:
        The client to use; default: the module-level client (see :func:`configure`).
    cache, settle, refresh:
        The local cache (see :mod:`netra_frames.cache` and ``docs/caching.md``): ``True``
        (the user cache directory), a directory, or ``False``; default: ``configure``,
        else ``NETRA_FRAMES_CACHE``, else off. Days that ended more than ``settle`` ago
        (default 1 hour) are read from disk; ``refresh=True`` fetches them again.
    trace_id, session_id, user_id, tenant_id:
        Equality filters, combined with AND (:class:`~netra_frames.query.TraceFilters`).
        Ids are case-sensitive.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        One row per trace, columns of :data:`netra_frames.schema.TRACES`. An empty result
        (filtered or not, unless ``max_rows=0``) comes with an
        :class:`~netra_frames.EmptyResultWarning` showing the window searched.

    Raises
    ------
    InvalidParameterError
        For a bad argument, before any request.
    DrainError
        When a page fails after earlier pages succeeded (``.partial``, ``.resume()``);
        it is also an instance of the failure's own class.

    Examples
    --------
    >>> df = nf.traces_frame("2026-01-01", "2026-02-01", tenant_id="AceTech", client=client)
    >>> df.groupby("user_id")["total_cost"].sum().head(2)  # doctest: +SKIP
    """
    query = TraceQuery.for_frames(
        start, end, filters, page_size=page_size, sort_field=sort_field, sort_order=sort_order
    )
    frame = _traces_frame_of(
        query,
        max_rows=max_rows,
        shards=shards,
        max_workers=max_workers,
        backend=backend,
        progress=progress,
        client=client,
        cache=cache,
        settle=settle,
        refresh=refresh,
    )
    if len(frame) == 0 and max_rows != 0:
        warn_no_traces(query.filters, (query.start, query.end))
    return frame


def _traces_frame_of(
    query: TraceQuery,
    *,
    max_rows: int | None,
    shards: Shards,
    max_workers: int,
    backend: Backend | None,
    progress: bool | None,
    client: NetraClient | None,
    cache: CacheLike = None,
    settle: SettleLike = None,
    refresh: bool = False,
) -> pd.DataFrame | pl.DataFrame:
    """Drain a built query as :func:`traces_frame` does, without its empty-result warning.

    The Dask partitions use it: an empty day of a filtered window is no news.

    Examples
    --------
    >>> q = TraceQuery.for_frames("2026-01-30", "2026-01-31", {}, page_size=100)
    >>> _traces_frame_of(q, max_rows=5, shards=1, max_workers=4, backend="polars",
    ...                 progress=False, client=client).height
    5
    """
    chosen = resolve_backend(backend)
    limit = check_max_rows(max_rows)
    client, workers = client_and_workers(client, max_workers)
    sort_field = query.sort_field or "start_time"
    parts = choose_shards(
        shards, query.start, query.end, sort_field=sort_field, max_rows=limit, max_workers=workers
    )
    stored = settings_for(cache, settle, refresh, sort_field=sort_field)

    def present(frames: list[Any]) -> Any:
        (frame,) = frames
        return frame[:limit] if limit is not None and len(frame) > limit else frame  # overfill

    with Progress(want_progress(progress), "traces", "rows", total=limit) as bar:
        if stored is not None:
            return cached_traces_frame(
                client, query, max_rows=limit, workers=workers, settings=stored,
                backend=chosen, bar=bar,
            )  # fmt: skip
        frame: pd.DataFrame | pl.DataFrame = drain_traces(
            client.transport,
            query,
            [(query.start, query.end)],
            backend=chosen,
            shards=parts,
            adaptive=shards == "auto",
            workers=workers,
            max_rows=limit,
            bar=bar,
            present=present,
        )
    return frame


class SpansFrameOptions(TypedDict, total=False):
    """The keywords of :func:`spans_frame` besides ``backend`` (for its overloads)."""

    span_name: str | None
    page_size: int
    parse_json: bool
    progress: bool | None
    max_workers: int
    client: NetraClient | None
    cache: CacheLike
    settle: SettleLike
    refresh: bool


@overload
def spans_frame(
    trace_ids: TraceIds, *, backend: Literal["pandas"], **options: Unpack[SpansFrameOptions]
) -> pd.DataFrame: ...
@overload
def spans_frame(
    trace_ids: TraceIds, *, backend: Literal["polars"], **options: Unpack[SpansFrameOptions]
) -> pl.DataFrame: ...
@overload
def spans_frame(
    trace_ids: TraceIds, *, backend: Backend | None = ..., **options: Unpack[SpansFrameOptions]
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
        Keep the spans whose name contains ``span_name``, ignoring case, or whose kind
        equals it, ignoring case (the API filters): ``"generation"`` keeps every LLM call,
        ``"chat"`` a span named ``openai.chat``. One that keeps nothing warns
        (:class:`~netra_frames.EmptyResultWarning`).
    page_size:
        Spans per request (1 to 100).
    parse_json:
        Also expand ``attributes`` into ``attr.<key>`` columns (see
        :func:`expand_attributes`).
    backend:
        ``"pandas"`` or ``"polars"``; default: the backend of ``trace_ids`` when it is a
        frame or Series (a Polars traces frame gives a Polars spans frame), else as for
        :func:`traces_frame`.
    progress, client:
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
    NotFoundError
        For a trace that does not exist (or belongs to another organisation): when other
        traces were fetched first it is also a :class:`DrainError` (``.partial`` holds
        them); the message names the trace.
    DrainError
        When a trace fails after others succeeded (``.partial``, ``.resume()``).

    Examples
    --------
    >>> traces = nf.traces_frame(max_rows=50, client=client)
    >>> spans = nf.spans_frame(traces, client=client)
    >>> spans.merge(traces, on="trace_id", suffixes=("", "_trace")).shape[0] == len(spans)
    True
    """
    chosen = backend_following(trace_ids, backend)
    ids = normalise_ids(trace_ids, "trace_ids", column="trace_id")
    template = SpanQuery.template(span_name=span_name, page_size=page_size)
    client, workers = client_and_workers(client, max_workers)
    stored = settings_for(cache, settle, refresh)
    with Progress(want_progress(progress), "spans", "traces", total=len(ids)) as bar:
        if stored is not None:
            cached = cached_spans_frame(client, ids, trace_ids, template=template,
                                        workers=workers, settings=stored, bar=bar)  # fmt: skip
            return to_backend(expand_attributes_polars(cached) if parse_json else cached, chosen)
        frame: pd.DataFrame | pl.DataFrame = drain_spans(
            client.transport,
            template,
            ids,
            backend="polars" if parse_json else chosen,
            workers=workers,
            bar=bar,
        )
    if parse_json:
        frame = to_backend(expand_attributes_polars(as_polars(frame)), chosen)
    if len(frame) == 0 and span_name is not None and ids:
        warn(
            f"no span of the {len(ids)} trace(s) matched span_name={span_name!r}; names are "
            "matched as the API does (name contains it or kind equals it, ignoring case).",
            EmptyResultWarning,
        )
    return frame


def expand_attributes(frame: Any, column: str = "attributes") -> Any:
    """Return ``frame`` with one column per key of the JSON objects in ``column``.

    The new columns are named ``attr.<key>`` for the default ``attributes`` column, and
    ``<column>.<key>`` for any other (``resources.service.name`` for ``"resources"``).

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
        ``frame`` plus the ``attr.*`` (or ``<column>.*``) columns, after the existing ones.

    Raises
    ------
    InvalidParameterError
        If ``frame`` is not a frame or has no such column.

    Examples
    --------
    >>> spans = nf.spans_frame(trace_id, client=client)
    >>> "attr.gen_ai.request.model" in nf.expand_attributes(spans).columns
    True
    >>> [c for c in nf.expand_attributes(spans, "resources").columns if "." in c][:1]
    ['resources.service.name']
    """
    expanded = expand_attributes_polars(as_polars(frame), column)
    if isinstance(frame, pl.DataFrame):
        return expanded
    return to_backend(expanded, "pandas")
