"""What the cost report shows, computed from one traces frame and its spans (Polars)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from ..._doors import EMPTY_WINDOW_HINT, IDS_HINT
from ...times import format_time
from ..sessions import sessions_of
from ..usage import model_rollup, rollup

__all__ = ["Check", "Figures", "figures_of", "reconcile"]

QUANTILES = (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))
"""Latency percentiles of the report (linear interpolation between traces)."""


@dataclass(frozen=True)
class Check:
    """One total of the report next to what the usage endpoint says for the same scope."""

    scope: str
    metric: str
    ours: float
    endpoint: float

    @property
    def agrees(self) -> bool:
        """Equal (costs to a relative 1e-9: they are sums of floats in another order)."""
        if self.metric == "total_cost":
            return math.isclose(self.ours, self.endpoint, rel_tol=1e-9, abs_tol=1e-12)
        return self.ours == self.endpoint

    @property
    def difference(self) -> float:
        """``ours - endpoint``."""
        return self.ours - self.endpoint


@dataclass(frozen=True)
class Figures:
    """Every table and chart of the report, as frames (what the HTML shows, unformatted)."""

    start: datetime
    end: datetime
    filters: dict[str, str]
    totals: pl.DataFrame
    """One row: the columns of ``usage_frame(by=[])``."""
    cost_by_model_day: pl.DataFrame
    """``day``, ``model``, ``total_cost``: one row per day and model with calls."""
    top_users: pl.DataFrame
    top_sessions: pl.DataFrame
    top_traces: pl.DataFrame
    latency: pl.DataFrame
    """Per trace name: ``name``, ``traces``, ``p50_ms``, ``p95_ms``, ``p99_ms``."""
    rates: pl.DataFrame
    """``what`` (errors, PII, violations), ``traces`` flagged, ``share`` of all traces."""
    checks: tuple[Check, ...]
    unreconciled: str | None
    """Why the totals could not be compared with the usage endpoint, if they could not."""

    @property
    def empty(self) -> bool:
        """No trace matched the filters in the window."""
        return int(self.totals["requests"][0] or 0) == 0

    def nothing_matched(self) -> str:
        """What an empty report says, with the hint the traces' empty warning gives.

        Examples
        --------
        >>> import warnings
        >>> with warnings.catch_warnings():  # the traces' own EmptyResultWarning
        ...     warnings.simplefilter("ignore")
        ...     r = nf.report("2026-01-01", "2026-02-01", tenant_id="Nope", client=client)
        >>> print(r.figures.nothing_matched())
        No trace matched tenant_id 'Nope' in the window [2026-01-01T00:00:00.000Z, ...); ids
        are case-sensitive: check the spelling and the window.
        """
        window = f"[{format_time(self.start)}, {format_time(self.end)})"
        if not self.filters:
            return f"No trace in the window {window}; {EMPTY_WINDOW_HINT}."
        said = " and ".join(f"{name} {value!r}" for name, value in self.filters.items())
        return f"No trace matched {said} in the window {window}; {IDS_HINT}."


def figures_of(
    traces: pl.DataFrame,
    spans: pl.DataFrame,
    *,
    start: datetime,
    end: datetime,
    filters: dict[str, str],
    checks: tuple[Check, ...],
    unreconciled: str | None,
    top: int,
) -> Figures:
    """Compute every figure of the report from the frames.

    Examples
    --------
    >>> figures_of(traces, spans, start=s, end=e, filters={}, checks=(), unreconciled=None,
    ...            top=10).totals["requests"][0]  # doctest: +SKIP
    """
    by_model = model_rollup(traces, spans, ["model"], "1d")
    users = rollup(traces, ["user_id"], None)
    sessions = sessions_of(traces).sort(
        ["total_cost", "session_id"], descending=[True, False], nulls_last=True
    )
    rates = [
        (label, int(traces[column].sum() or 0))
        for label, column in (
            ("errors", "has_error"),
            ("PII", "has_pii"),
            ("violations", "has_violation"),
        )
    ]
    return Figures(
        start=start,
        end=end,
        filters=filters,
        totals=rollup(traces, [], None),
        cost_by_model_day=by_model.select(
            pl.col("period").dt.date().alias("day"), "model", "total_cost"
        ).sort("day", "model"),
        top_users=users.select(
            "user_id", "requests", "sessions", "total_tokens", "total_cost"
        ).head(top),
        top_sessions=sessions.select(
            "session_id", "user_ids", "traces", "start_time", "total_tokens", "total_cost"
        ).head(top),
        top_traces=traces.sort(
            ["total_cost", "trace_id"], descending=[True, False], nulls_last=True
        )
        .select(
            "trace_id", "name", "user_id", "start_time", "latency_ms", "total_tokens", "total_cost"
        )
        .head(top),
        latency=_latency(traces),
        rates=pl.DataFrame(
            {
                "what": [label for label, _ in rates],
                "traces": [n for _, n in rates],
                "share": [n / traces.height if traces.height else 0.0 for _, n in rates],
            },
            schema={"what": pl.String, "traces": pl.Int64, "share": pl.Float64},
        ),
        checks=checks,
        unreconciled=unreconciled,
    )


def _latency(traces: pl.DataFrame) -> pl.DataFrame:
    return (
        traces.group_by("name")
        .agg(
            pl.len().cast(pl.Int64).alias("traces"),
            *(
                pl.col("latency_ms").cast(pl.Float64).quantile(q, "linear").alias(name)
                for name, q in QUANTILES
            ),
        )
        .sort(["p95_ms", "name"], descending=[True, False], nulls_last=True)
    )


def reconcile(totals: pl.DataFrame, scope: str, endpoint: pl.DataFrame) -> tuple[Check, ...]:
    """Compare usage totals (``rollup`` columns) with usage endpoint rows summed.

    Examples
    --------
    >>> reconcile(totals, "tenant AceTech", tenant_usage)  # doctest: +SKIP
    """
    pairs = [
        ("requests", "request_count"),
        ("total_tokens", "token_count"),
        ("total_cost", "total_cost"),
    ]
    if "session_count" in endpoint.columns:
        pairs.append(("sessions", "session_count"))
    return tuple(
        Check(scope, ours, float(totals[ours].sum() or 0), float(endpoint[theirs].sum() or 0))
        for ours, theirs in pairs
    )
