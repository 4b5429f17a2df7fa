"""The report as one self-contained HTML page: inline CSS and SVG, nothing to fetch.

Every number shown sits in an element that carries its raw value (``data-value``) and
what it is (``data-metric`` for a total, ``data-col`` for a table cell), so a test can
read the page as a browser shows it and compare it with the frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from html import escape
from typing import Any, cast

import polars as pl

from ...__about__ import __version__
from ...times import format_time
from .figures import Figures
from .svg import legend, stacked_bars

__all__ = ["document", "fragment"]

Format = Callable[[Any], str]

CSS = """
.nf-report{--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;
  --ok:#1a7f37;--bad:#cf222e;color:var(--ink);background:var(--bg);
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  max-width:1100px;margin:0 auto;padding:16px}
.nf-report *{box-sizing:border-box}
.nf-report h1{font-size:1.5em;margin:0 0 4px}
.nf-report h2{font-size:1.15em;margin:28px 0 8px;padding-bottom:4px;
  border-bottom:1px solid var(--line)}
.nf-report .meta{color:var(--muted);margin:0}
.nf-report .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;
  margin:16px 0}
.nf-report .card{border:1px solid var(--line);border-radius:6px;padding:10px 12px;
  background:var(--soft)}
.nf-report .card .label{color:var(--muted);font-size:.85em}
.nf-report .card .value{font-size:1.3em;font-weight:600;font-variant-numeric:tabular-nums;
  overflow-wrap:anywhere}
.nf-report .verdict{font-weight:600;padding:8px 12px;border-radius:6px;border:1px solid var(--line)}
.nf-report .verdict.agree{color:var(--ok)}
.nf-report .verdict.differ{color:var(--bad)}
.nf-report .verdict.empty{color:var(--ink);background:var(--soft);border-color:var(--muted)}
.nf-report .scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
.nf-report table{border-collapse:collapse;width:100%;font-size:.92em}
.nf-report th,.nf-report td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;
  white-space:nowrap}
.nf-report th{background:var(--soft);font-weight:600}
.nf-report td.num,.nf-report th.num{text-align:right;font-variant-numeric:tabular-nums}
.nf-report td.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
.nf-report svg.chart{display:block;width:100%;min-width:560px;height:auto;font-size:12px}
.nf-report ul.legend{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;
  gap:4px 18px}
.nf-report .swatch{display:inline-block;width:12px;height:12px;margin-right:6px;
  vertical-align:-1px;border-radius:2px;print-color-adjust:exact;-webkit-print-color-adjust:exact}
.nf-report svg .grid{stroke:var(--line);stroke-width:1}
.nf-report svg text{fill:var(--ink)}
.nf-report svg .tick{fill:var(--muted);font-size:11px}
.nf-report .note{color:var(--muted);font-size:.88em}
.nf-report footer{margin-top:28px;color:var(--muted);font-size:.85em}
@media (max-width:600px){.nf-report{padding:10px;font-size:14px}
  .nf-report .card .value{font-size:1.1em}.nf-report th,.nf-report td{padding:4px 6px}}
@media print{@page{size:A4;margin:12mm}
  .nf-report{max-width:none;padding:0;font-size:10pt}
  .nf-report .scroll{overflow:visible}
  .nf-report svg.chart{min-width:0}
  .nf-report table{font-size:8.5pt}
  .nf-report th,.nf-report td{padding:3px 5px}
  .nf-report td.text{white-space:normal}
  .nf-report td.id{white-space:normal;overflow-wrap:anywhere}
  .nf-report tr,.nf-report .card,.nf-report svg.chart{break-inside:avoid}
  .nf-report h2{break-after:avoid}
  .nf-report .card,.nf-report th{background:none}}
"""


def document(fig: Figures) -> str:
    """Return the report as a whole HTML document (what ``Report.write`` saves).

    Examples
    --------
    >>> document(figures).startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{escape(_title(fig))}</title>\n</head>\n<body style="margin:0">\n'
        f"{fragment(fig)}\n</body>\n</html>\n"
    )


def fragment(fig: Figures) -> str:
    """Return the report as one ``<div>`` with its own scoped ``<style>`` (for Jupyter).

    Examples
    --------
    >>> fragment(figures).startswith('<div class="nf-report">')  # doctest: +SKIP
    True
    """
    body = [
        f"<header><h1>{escape(_title(fig))}</h1>",
        f'<p class="meta" data-metric="window">Window: [{format_time(fig.start)}, '
        f"{format_time(fig.end)}) UTC, traces by start time</p>",
        f'<p class="meta" data-metric="filters">Filters: {escape(_filters(fig))}</p></header>',
        _nothing_matched(fig),
        _totals(fig),
        _reconciliation(fig),
        "<section><h2>Cost by model per day</h2>",
        _model_chart(fig),
        '<p class="note">From the spans that name a model (LLM generations and embeddings), '
        "by the UTC day their trace started.</p></section>",
        _section("Top users by cost", "top-users", fig.top_users),
        _section("Top sessions by cost", "top-sessions", fig.top_sessions),
        _section("Top traces by cost", "top-traces", fig.top_traces),
        _section(
            "Latency by trace name",
            "latency",
            fig.latency,
            "Percentiles of trace latency_ms, linear interpolation; slowest p95 first.",
        ),
        _section("Errors, PII and violations", "rates", fig.rates, "Share of the traces flagged."),
        f"<footer>Made by netra-frames {escape(__version__)} from the traces of the window "
        f"({_count(fig)} traces) and their spans. Filters: {escape(_filters(fig))}.</footer>",
    ]
    return f'<div class="nf-report"><style>{CSS}</style>' + "\n".join(body) + "</div>"


def _title(fig: Figures) -> str:
    who = fig.filters.get("tenant_id")
    return f"Netra cost report — {who}" if who else "Netra cost report"


def _filters(fig: Figures) -> str:
    if not fig.filters:
        return "none (every trace of the organisation)"
    return ", ".join(f"{name} = {value}" for name, value in fig.filters.items())


def _count(fig: Figures) -> str:
    return f"{int(fig.totals['requests'][0]):,}"


def _nothing_matched(fig: Figures) -> str:
    """The banner of an empty report: no trace matched (and the case-sensitivity hint)."""
    if not fig.empty:
        return ""
    return (
        '<p class="verdict empty" data-metric="empty" role="status">'
        f"{escape(fig.nothing_matched())}</p>"
    )


CARDS: tuple[tuple[str, str], ...] = (
    ("total_cost", "Cost"),
    ("requests", "Traces (requests)"),
    ("sessions", "Sessions"),
    ("users", "Users"),
    ("total_tokens", "Tokens"),
    ("prompt_tokens", "Prompt tokens"),
    ("completion_tokens", "Completion tokens"),
    ("cached_tokens", "Cached tokens"),
)


def _totals(fig: Figures) -> str:
    row = fig.totals.row(0, named=True)
    cards = "".join(
        f'<div class="card"><div class="label">{label}</div><div class="value" '
        f'data-metric="{name}" data-value="{row[name]!r}">{_format(name)(row[name])}</div></div>'
        for name, label in CARDS
    )
    return f'<section><div class="cards">{cards}</div></section>'


def _reconciliation(fig: Figures) -> str:
    head = "<section><h2>Totals against the usage endpoint</h2>"
    if fig.unreconciled is not None:
        return (
            f'{head}<p class="verdict" data-metric="reconciliation" data-value="not compared">'
            f"Not compared: {escape(fig.unreconciled)}</p></section>"
        )
    agree = all(c.agrees for c in fig.checks)
    if agree and fig.empty:  # zeros on both sides: nothing to agree about
        return (
            f'{head}<p class="verdict empty" data-metric="reconciliation" data-value="empty">'
            "Nothing to compare: no trace matched, and the usage endpoint counts none either."
            "</p></section>"
        )
    verdict = (
        "The totals agree with the usage endpoint."
        if agree
        else "The totals differ from the usage endpoint (differences below)."
    )
    rows = []
    for c in fig.checks:
        fmt = _format(c.metric)
        result = "agree" if c.agrees else f"differs by {fmt(c.difference)}"
        rows.append(
            f"<tr><td>{escape(c.scope)}</td><td>{escape(c.metric)}</td>"
            f'<td class="num">{fmt(c.ours)}</td><td class="num">{fmt(c.endpoint)}</td>'
            f'<td data-col="result">{escape(result)}</td></tr>'
        )
    table = (
        '<div class="scroll"><table id="reconciliation"><thead><tr><th>scope</th><th>total</th>'
        '<th class="num">this report</th><th class="num">usage endpoint</th><th>result</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    kind = "agree" if agree else "differ"
    return (
        f'{head}<p class="verdict {kind}" data-metric="reconciliation" data-value="{kind}">'
        f"{verdict}</p>{table}</section>"
    )


def _model_chart(fig: Figures) -> str:
    frame = fig.cost_by_model_day
    if frame.height == 0:
        return '<p class="note">No model calls in the window.</p>'
    first, last = cast(date, frame["day"].min()), cast(date, frame["day"].max())
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    models = (
        frame.group_by("model")
        .agg(pl.col("total_cost").sum())
        .sort(["total_cost", "model"], descending=[True, False])["model"]
        .to_list()
    )
    wide = {(d, m): c for d, m, c in frame.iter_rows()}
    series = [(m, [float(wide.get((d, m), 0.0)) for d in days]) for m in models]
    labels = [d.strftime("%b %d") for d in days]
    chart = stacked_bars(labels, series, title="Daily cost by model (USD)")
    return f'<div class="scroll chart-box">{chart}</div>{legend(models)}'


def _section(title: str, anchor: str, frame: pl.DataFrame, note: str = "") -> str:
    heads = "".join(f'<th class="{_kind(c)}">{escape(c)}</th>' for c in frame.columns)
    rows = []
    for row in frame.iter_rows(named=True):
        cells = "".join(
            f'<td class="{_kind(c)}" data-col="{c}" data-value="{escape(_raw(v))}">'
            f"{escape(_format(c)(v))}</td>"
            for c, v in row.items()
        )
        rows.append(f"<tr>{cells}</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(frame.columns)}">none</td></tr>')
    extra = f'<p class="note">{escape(note)}</p>' if note else ""
    return (
        f'<section><h2>{escape(title)}</h2><div class="scroll"><table id="{anchor}"><thead>'
        f"<tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{extra}</section>"
    )


NUMERIC = ("cost", "tokens", "requests", "sessions", "users", "traces", "_ms", "share")


def _kind(column: str) -> str:
    if column.endswith("_id") or column == "user_ids":
        return "id"
    return "num" if any(k in column for k in NUMERIC) else "text"


def _raw(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(map(str, value))
    return repr(value) if isinstance(value, float) else str(value)


def _format(column: str) -> Format:
    if "cost" in column:
        return _money
    if column == "share":
        return lambda v: f"{v:.1%}"
    if column.endswith("_ms"):
        return lambda v: "—" if v is None else f"{v:,.0f} ms"
    if any(k in column for k in NUMERIC):
        return lambda v: "—" if v is None else f"{int(v):,}"
    return _text


def _money(value: object) -> str:
    if value is None:
        return "—"
    number = float(value)  # type: ignore[arg-type]
    return f"-${-number:,.6f}" if number < 0 else f"${number:,.6f}"


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(map(str, value))
    return str(value)
