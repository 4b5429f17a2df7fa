"""``report``: a self-contained HTML cost report of a window (totals, models, users, latency).

``figures`` computes every table from one traces drain and one spans drain, ``svg`` draws
the charts and ``html`` lays the page out; this module fetches and wraps the result.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import polars as pl

from ..._atomic import save
from ..._doors import EMPTY_WINDOW_HINT, IDS_HINT
from ...cache import CacheLike
from ...client import NetraClient
from ...errors import EmptyResultWarning, InvalidParameterError
from ...frames import spans_frame
from ...output import HTML_EXTENSIONS, named_format
from ...query import TraceFilters, Unpack, filter_keywords
from ...times import TimeLike, format_time
from ...usage_frames import session_usage_frame, tenant_usage_frame
from .._drain import asked, given_spans, given_traces, traces_of
from ..usage import rollup
from .figures import Check, Figures, figures_of, reconcile
from .html import document, fragment

Window = tuple[datetime, datetime]

__all__ = ["Report", "report"]


@dataclass(frozen=True, repr=False)
class Report:
    """A cost report: its HTML (``str(report)``, ``.html``), its figures, and ``write``.

    In Jupyter it shows inline (``_repr_html_``, its CSS scoped to the report); its
    ``repr`` is one line: what it covers and whether its totals agree.

    Examples
    --------
    >>> r = nf.report("2026-01-01", "2026-02-01", tenant_id="AceTech", client=client)
    >>> r.agrees
    True
    """

    figures: Figures

    @property
    def html(self) -> str:
        """The whole HTML document: one file, no request to make when opened."""
        return document(self.figures)

    @property
    def agrees(self) -> bool | None:
        """Whether the totals equal the usage endpoint's (``None``: not comparable)."""
        if self.figures.unreconciled is not None:
            return None
        return all(c.agrees for c in self.figures.checks)

    def summary(self) -> str:
        """One line: what the report covers and whether its totals agree.

        Examples
        --------
        >>> nf.report("2026-01-31", "2026-02-01", tenant_id="Globex").summary()  # doctest: +SKIP
        'report of 7 traces (Globex) in [...): totals agree with the usage endpoint'
        """
        fig = self.figures
        who = ", ".join(fig.filters.values()) or "every tenant"
        verdict = {
            True: "totals agree with the usage endpoint",
            False: "totals DIFFER from the usage endpoint (see the report)",
            None: "totals not compared with the usage endpoint",
        }[self.agrees]
        if fig.empty and self.agrees is not False:
            verdict = "no trace matched; " + (IDS_HINT if fig.filters else EMPTY_WINDOW_HINT)
        traces = int(fig.totals["requests"][0])
        return (
            f"report of {traces:,} traces ({who}) in [{format_time(fig.start)}, "
            f"{format_time(fig.end)}): {verdict}"
        )

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the HTML to ``path`` (folders made, replaced whole, never half-written); return it.

        ``path`` is named ``.html`` or ``.htm`` (or has no extension): the page is HTML, and
        a name that says otherwise (``report.pdf``) is refused before anything is written,
        as :func:`netra_frames.write_frame` refuses a name its format contradicts.

        Raises
        ------
        InvalidParameterError
            For a name with another extension.
        WriteError
            When it cannot be written there (no permission, a read-only or full disk),
            naming ``path`` and what to do; no temporary file is left.

        Examples
        --------
        >>> nf.report(tenant_id="AceTech").write("report.html")  # doctest: +SKIP
        PosixPath('report.html')
        """
        named_format(path, None, HTML_EXTENSIONS, default="html")
        return save(Path(path), self.html.encode("utf-8"))

    def __str__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        """``<Report: {summary}>``: one line, where the dataclass's own was 11 KB of frames.

        Examples
        --------
        >>> nf.report("2026-01-31", "2026-02-01", tenant_id="Globex", client=client)
        <Report: report of 3 traces (Globex) in [2026-01-31T00:00:00.000Z, ...): totals agree ...>
        """
        return f"<Report: {self.summary()}>"

    def _repr_html_(self) -> str:
        return fragment(self.figures)


@filter_keywords
def report(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    top: int = 10,
    traces: pd.DataFrame | pl.DataFrame | None = None,
    spans: pd.DataFrame | pl.DataFrame | None = None,
    progress: bool | None = None,
    client: NetraClient | None = None,
    cache: CacheLike = None,
    **filters: Unpack[TraceFilters],
) -> Report:
    """Build the cost report of the traces of ``[start, end)``: one self-contained page.

    One traces drain (:func:`netra_frames.traces_frame`) and one spans drain of those
    traces (:func:`netra_frames.spans_frame`, for cost by model), both through the cache
    when it is on, or none with frames already fetched (``traces=``, ``spans=``), then the
    usage endpoint for the reconciliation: with ``tenant_id``, that tenant's usage; with
    ``session_id``, that session's; with no filter, every tenant of the window (traces
    without a tenant are not counted by any usage endpoint, and are said to be left out);
    with ``user_id`` or ``trace_id`` the endpoint has nothing comparable, and the report
    says so.

    The page holds: totals (cost, traces, sessions, users, tokens) and their
    reconciliation ("agree" or the difference); daily cost by model as a stacked bar chart
    (inline SVG); the top users, sessions and traces by cost; latency p50/p95/p99 by trace
    name; error, PII and violation rates; the window and the filters. It has no script and
    fetches nothing (no CDN, no font), prints on A4 and reads on a phone.

    Parameters
    ----------
    start, end:
        The window on a trace's ``start_time`` (default: the last 7 days).
    top:
        Rows of the top users, sessions and traces tables.
    traces, spans:
        Frames already fetched (pandas or Polars), so the report drains nothing again:
        ``traces`` must be what :func:`netra_frames.traces_frame` gives for the same
        window and filters (every row starts in the window and carries the filters'
        values), ``spans`` the :func:`netra_frames.spans_frame` of those traces (each of
        its spans belongs to one of them; it needs ``traces``). Without ``spans``, the
        spans of ``traces`` are drained.
    progress, client, cache:
        As for :func:`netra_frames.traces_frame`.
    trace_id, session_id, user_id, tenant_id:
        Equality filters, combined with AND, as for :func:`netra_frames.traces_frame`.

    Returns
    -------
    Report
        ``str(r)`` or ``r.html`` is the page, ``r.write(path)`` saves it, ``r.figures``
        holds every table as a Polars frame, ``r.agrees`` the reconciliation.

    Raises
    ------
    InvalidParameterError
        For a bad argument (or a ``traces``/``spans`` frame of another window, filters
        or traces), before any request.

    Examples
    --------
    >>> r = nf.report("2026-01-01", "2026-02-01", tenant_id="AceTech", client=client)
    >>> path = r.write("report.html")
    >>> t = nf.traces_frame("2026-01-01", "2026-02-01", tenant_id="AceTech", client=client)
    >>> again = nf.report("2026-01-01", "2026-02-01", tenant_id="AceTech", traces=t,
    ...                   client=client)
    >>> again.figures.totals.equals(r.figures.totals)
    True
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InvalidParameterError(f"top must be a positive int, got {top!r}.")
    query = asked(start, end, filters)
    window, given = (query.start, query.end), dict(query.filters)
    if spans is not None and traces is None:
        raise InvalidParameterError(
            "spans= needs traces=: pass the traces frame whose spans these are, or neither."
        )
    if traces is None:
        drained = traces_of(*window, progress, client, cache, filters)
    else:
        drained = given_traces(traces, query)
    if spans is None:
        with_spans = spans_frame(
            drained, backend="polars", progress=progress, client=client, cache=cache
        )
    else:
        with_spans = given_spans(spans, drained)
    checks, unreconciled = _reconcile(drained, given, window, client)
    figures = figures_of(
        drained, with_spans, start=window[0], end=window[1], filters=given, checks=checks,
        unreconciled=unreconciled, top=top,
    )  # fmt: skip
    return Report(figures)


def _reconcile(
    traces: pl.DataFrame, given: dict[str, str], window: Window, client: NetraClient | None
) -> tuple[tuple[Check, ...], str | None]:
    """The checks of the totals against the usage endpoint, or why there are none."""
    beyond: list[str] = [name for name in ("user_id", "trace_id") if name in given]
    if beyond or {"tenant_id", "session_id"} <= set(given):
        named = beyond or ["both tenant_id and session_id"]
        return (), f"the usage endpoint has no total for a filter on {' and '.join(named)}"
    with warnings.catch_warnings():  # an empty window has warned already
        warnings.simplefilter("ignore", EmptyResultWarning)
        if "tenant_id" in given:
            tenant = given["tenant_id"]
            usage = tenant_usage_frame(
                tenant, *window, backend="polars", client=client, progress=False
            )
            return reconcile(rollup(traces, [], None), f"tenant {tenant}", usage), None
        if "session_id" in given:
            session = given["session_id"]
            usage = session_usage_frame(
                session, *window, backend="polars", client=client, progress=False
            )
            return reconcile(rollup(traces, [], None), f"session {session}", usage), None
        with_tenant = traces.filter(pl.col("tenant_id").is_not_null())
        tenants = with_tenant["tenant_id"].unique(maintain_order=True)
        if tenants.len() == 0:
            return (), "no trace of the window has a tenant_id"
        usage = tenant_usage_frame(
            tenants, *window, backend="polars", client=client, progress=False
        )
    left_out = traces.height - with_tenant.height
    scope = f"{tenants.len()} tenants" + (
        f" ({left_out} traces without a tenant left out)" if left_out else ""
    )
    return reconcile(rollup(with_tenant, ["tenant_id"], None), scope, usage), None
