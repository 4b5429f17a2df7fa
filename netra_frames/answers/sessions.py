"""``sessions_frame``: one row per session, from the traces of a window."""

from __future__ import annotations

from typing import Literal, overload

import pandas as pd
import polars as pl

from .._defaults import resolve_backend
from .._wire.convert import to_backend
from ..cache import CacheLike
from ..client import NetraClient
from ..config import Backend
from ..query import TraceFilters, Unpack, filter_keywords
from ..schema import SESSIONS, polars_schema
from ..times import TimeLike
from ._drain import DrainOptions, traces_of

__all__ = ["sessions_frame", "sessions_of"]


@overload
def sessions_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["pandas"],
    **options: Unpack[DrainOptions],
) -> pd.DataFrame: ...
@overload
def sessions_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["polars"],
    **options: Unpack[DrainOptions],
) -> pl.DataFrame: ...
@overload
def sessions_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Backend | None = ...,
    **options: Unpack[DrainOptions],
) -> pd.DataFrame | pl.DataFrame: ...
@filter_keywords
def sessions_frame(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    backend: Backend | None = None,
    progress: bool | None = None,
    client: NetraClient | None = None,
    cache: CacheLike = None,
    **filters: Unpack[TraceFilters],
) -> pd.DataFrame | pl.DataFrame:
    """Return one row per session of the traces that started in ``[start, end)``.

    Built on :func:`netra_frames.traces_frame` (one traces drain, through the cache when
    it is on), so a session is the traces of the window that carry its ``session_id``;
    traces without a session are left out. For every session, ``total_tokens``,
    ``traces`` and ``total_cost`` equal ``token_count``, ``request_count`` and
    ``total_cost`` of :func:`netra_frames.session_usage_frame` over the same window (the
    usage endpoint sums the same traces); with a ``tenant_id`` or ``user_id`` filter only
    those traces of a session are counted, where the endpoint counts all of them.

    Parameters
    ----------
    start, end:
        The window on a trace's ``start_time``, as for ``traces_frame`` (default: the last
        7 days).
    backend, progress, client, cache:
        As for :func:`netra_frames.traces_frame`.
    trace_id, session_id, user_id, tenant_id:
        Equality filters, combined with AND, as for :func:`netra_frames.traces_frame`.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        Columns of :data:`netra_frames.schema.SESSIONS`: ``session_id``; ``tenant_id`` (of
        the session's first trace); ``user_ids`` (distinct, in order of first
        appearance); ``start_time`` (the first trace's start) and ``end_time`` (the last
        end); ``duration_ms`` between them; ``traces``; token sums; ``total_cost``;
        ``errors`` (traces with ``has_error``); ``trace_names`` (in start order). Sorted
        by ``start_time``, then ``session_id``.

    Raises
    ------
    InvalidParameterError
        For a bad argument, before any request.

    Examples
    --------
    >>> s = nf.sessions_frame("2026-01-01", "2026-02-01", tenant_id="AceTech", client=client)
    >>> s.nlargest(1, "total_cost")[["session_id", "traces", "total_cost"]]  # doctest: +SKIP
    """
    chosen = resolve_backend(backend)
    traces = traces_of(start, end, progress, client, cache, filters)
    return to_backend(sessions_of(traces), chosen)


def sessions_of(traces: pl.DataFrame) -> pl.DataFrame:
    """Roll a traces frame (Polars) up to one row per session (see :func:`sessions_frame`).

    Examples
    --------
    >>> sessions_of(nf.traces_frame(backend="polars", client=client)).columns[:3]
    ['session_id', 'tenant_id', 'user_ids']
    """
    ordered = traces.filter(pl.col("session_id").is_not_null()).sort(
        "start_time", "trace_id", nulls_last=True
    )
    rolled = ordered.group_by("session_id", maintain_order=True).agg(
        pl.col("tenant_id").first(),
        pl.col("user_id").drop_nulls().unique(maintain_order=True).alias("user_ids"),
        pl.col("start_time").min(),
        pl.col("end_time").max(),
        pl.len().alias("traces"),
        *(pl.col(c).sum() for c in ("prompt_tokens", "completion_tokens", "cached_tokens")),
        pl.col("total_tokens").sum(),
        pl.col("total_cost").sum(),
        pl.col("has_error").sum().alias("errors"),
        pl.col("name").alias("trace_names"),
    )
    rolled = rolled.with_columns(
        duration_ms=(pl.col("end_time") - pl.col("start_time")).dt.total_milliseconds()
    )
    schema = polars_schema(SESSIONS)
    return rolled.select([pl.col(name).cast(dtype) for name, dtype in schema.items()]).sort(
        "start_time", "session_id", nulls_last=True
    )
