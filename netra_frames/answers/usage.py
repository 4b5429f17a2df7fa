"""``usage_frame``: tokens, costs, requests and flags of a window, grouped as asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

import pandas as pd
import polars as pl

from .._defaults import resolve_backend
from .._wire.convert import to_backend
from ..cache import CacheLike
from ..client import NetraClient
from ..config import Backend
from ..errors import InvalidParameterError
from ..frames import spans_frame
from ..query import TraceFilters, Unpack, filter_keywords
from ..schema import USAGE, USAGE_KEYS, polars_schema
from ..times import TimeLike
from ._drain import DrainOptions, traces_of

__all__ = ["BY", "FREQS", "check_grouping", "model_rollup", "rollup", "usage_frame"]

BY: tuple[str, ...] = ("tenant_id", "user_id", "session_id", "name", "environment", "service")
"""Trace columns ``usage_frame`` groups by (``"model"`` too, from the spans)."""

FREQS: dict[str, str] = {"1h": "1h", "1d": "1d", "1w": "1w", "1mo": "1mo"}
"""``freq=`` values and the Polars truncation each one means (UTC periods; weeks start on
Monday)."""

TRACE_KEYS = ("trace_id", "start_time", *BY)


def check_grouping(by: object, freq: object) -> tuple[list[str], str | None]:
    """Return ``by`` as a list of distinct names and ``freq``, or raise before any request.

    Examples
    --------
    >>> check_grouping("tenant_id", "1d")
    (['tenant_id'], '1d')
    """
    names = [by] if isinstance(by, str) else by
    if not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise InvalidParameterError(
            f"by must be a column name or a list of them, got {by!r}; choose from "
            f"{', '.join((*BY, 'model'))}."
        )
    unknown = [n for n in names if n not in (*BY, "model")]
    if unknown:
        raise InvalidParameterError(
            f"by: {', '.join(map(repr, unknown))} cannot be grouped by; choose from "
            f"{', '.join((*BY, 'model'))}."
        )
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"by names a column twice: {list(names)!r}.")
    if freq is not None and freq not in FREQS:
        raise InvalidParameterError(
            f"freq must be one of {', '.join(map(repr, FREQS))} or None, got {freq!r}."
        )
    return list(names), freq


@overload
def usage_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    by: str | Sequence[str] = ...,
    freq: str | None = ...,
    backend: Literal["pandas"],
    **options: Unpack[DrainOptions],
) -> pd.DataFrame: ...
@overload
def usage_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    by: str | Sequence[str] = ...,
    freq: str | None = ...,
    backend: Literal["polars"],
    **options: Unpack[DrainOptions],
) -> pl.DataFrame: ...
@overload
def usage_frame(
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    by: str | Sequence[str] = ...,
    freq: str | None = ...,
    backend: Backend | None = ...,
    **options: Unpack[DrainOptions],
) -> pd.DataFrame | pl.DataFrame: ...
@filter_keywords
def usage_frame(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    by: str | Sequence[str] = ("tenant_id",),
    freq: str | None = None,
    backend: Backend | None = None,
    progress: bool | None = None,
    client: NetraClient | None = None,
    cache: CacheLike = None,
    **filters: Unpack[TraceFilters],
) -> pd.DataFrame | pl.DataFrame:
    """Return usage totals of the traces of ``[start, end)``, grouped by ``by`` and period.

    Built on :func:`netra_frames.traces_frame` (one traces drain, through the cache when
    it is on). Grouped by ``tenant_id``, ``total_tokens``, ``requests``, ``sessions`` and
    ``total_cost`` equal :func:`netra_frames.tenant_usage_frame` over the same window.

    ``by=["model"]`` is answered from the spans that name a model (LLM generations and
    embeddings), since a trace's cost is not split by model: it also drains the spans of
    every trace of the window (:func:`netra_frames.spans_frame`, one request or more per
    trace, through the cache when it is on). Its other keys and its period are those of
    the span's trace; ``requests`` then counts model calls, and the flag counts are those
    of the calls.

    Parameters
    ----------
    start, end:
        The window on a trace's ``start_time`` (default: the last 7 days).
    by:
        One or more of ``tenant_id``, ``user_id``, ``session_id``, ``name`` (the trace's
        name), ``environment``, ``service`` and ``model``; ``[]`` for one row of totals.
    freq:
        Also group by UTC period of the trace's ``start_time``: ``"1h"``, ``"1d"``,
        ``"1w"`` (weeks start on Monday) or ``"1mo"``; the ``period`` column holds each
        period's start.
    backend, progress, client, cache:
        As for :func:`netra_frames.traces_frame`.
    trace_id, session_id, user_id, tenant_id:
        Equality filters, combined with AND, as for :func:`netra_frames.traces_frame`.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        ``period`` (with ``freq``), the ``by`` columns in the order given, then the
        columns of :data:`netra_frames.schema.USAGE`: token and cost sums; ``requests``;
        distinct non-null ``sessions`` and ``users``; and counts of rows with
        ``has_error``, ``has_pii`` and ``has_violation`` (``errors``, ``pii``,
        ``violations``). Sorted by period, then by ``total_cost``, largest first.

    Raises
    ------
    InvalidParameterError
        For a bad ``by``, ``freq`` or other argument, before any request.

    Examples
    --------
    >>> daily = nf.usage_frame("2026-01-01", "2026-02-01", by="tenant_id", freq="1d",
    ...                        client=client)
    >>> models = nf.usage_frame("2026-01-30", "2026-02-01", by="model", tenant_id="Globex",
    ...                         client=client)
    """
    names, period = check_grouping(by, freq)
    chosen = resolve_backend(backend)
    traces = traces_of(start, end, progress, client, cache, filters)
    if "model" in names:
        spans = spans_frame(traces, backend="polars", progress=progress, client=client, cache=cache)
        return to_backend(model_rollup(traces, spans, names, period), chosen)
    return to_backend(rollup(traces, names, period), chosen)


def rollup(rows: pl.DataFrame, by: list[str], freq: str | None) -> pl.DataFrame:
    """Group a traces frame (or model spans carrying their trace's keys) as ``usage_frame``.

    Examples
    --------
    >>> rollup(nf.traces_frame(backend="polars", client=client), ["tenant_id"], None).columns[0]
    'tenant_id'
    """
    keys = (["period"] if freq is not None else []) + by
    if freq is not None:
        rows = rows.with_columns(period=pl.col("start_time").dt.truncate(FREQS[freq]))
    flags = {"errors": "has_error", "pii": "has_pii", "violations": "has_violation"}
    measures = [
        *(pl.col(c.name).sum() for c in USAGE[:8]),
        pl.len().alias("requests"),
        pl.col("session_id").drop_nulls().n_unique().alias("sessions"),
        pl.col("user_id").drop_nulls().n_unique().alias("users"),
        *(pl.col(flag).sum().alias(name) for name, flag in flags.items()),
    ]
    grouped = rows.group_by(keys).agg(measures) if keys else rows.select(measures)
    types = {c.name: c.dtype for c in USAGE_KEYS} | dict(polars_schema(USAGE))
    ordered = [*keys, *(c.name for c in USAGE)]
    sort = (["period"] if freq else []) + ["total_cost", *by]
    descending = ([False] if freq else []) + [True] + [False] * len(by)
    return grouped.select([pl.col(n).cast(types[n]) for n in ordered]).sort(
        sort, descending=descending, nulls_last=True
    )


def model_rollup(
    traces: pl.DataFrame, spans: pl.DataFrame, by: list[str], freq: str | None
) -> pl.DataFrame:
    """Group the spans that name a model by ``by`` (``model`` among them), with the trace keys.

    Examples
    --------
    >>> t = nf.traces_frame("2026-01-31", "2026-02-01", backend="polars", client=client)
    >>> model_rollup(t, nf.spans_frame(t, backend="polars", client=client), ["model"], "1d")
    ... # doctest: +SKIP
    """
    calls = (
        spans.filter(pl.col("model_name").is_not_null())
        .drop([c for c in TRACE_KEYS if c != "trace_id"], strict=False)
        .rename({"model_name": "model"})
        .join(traces.select(TRACE_KEYS), on="trace_id", how="inner")
    )
    return rollup(calls, by, freq)
