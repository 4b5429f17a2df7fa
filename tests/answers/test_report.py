"""``nf.report``: one self-contained page whose figures equal the frames and the usage endpoint.

The page as a browser shows it is checked in ``test_report_browser.py``; here, the HTML
text and the figures.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path

import polars as pl
import pytest

import netra_frames as nf
from netra_frames.answers.report.svg import nice_ticks, stacked_bars
from netra_frames.server import LocalNetra


@pytest.fixture(scope="module")
def acetech(client: nf.NetraClient, window: tuple[datetime, datetime]) -> nf.Report:
    return nf.report(*window, tenant_id="AceTech", client=client, progress=False)


def test_the_page_fetches_nothing(acetech: nf.Report) -> None:
    html = acetech.html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for pattern in (
        r"https?://",
        r"\bsrc\s*=",
        r"\bhref\s*=",
        r"@import",
        r"url\(",
        r"<script",
        r"<link",
    ):
        assert not re.search(pattern, html, re.I), pattern
    assert str(acetech) == html
    assert acetech._repr_html_().startswith('<div class="nf-report"><style>')
    assert "<html" not in acetech._repr_html_()  # inline in a notebook: no document


def test_totals_are_reconciled_with_the_tenant_usage_endpoint(
    acetech: nf.Report, client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    assert acetech.agrees is True
    usage = nf.tenant_usage_frame("AceTech", *window, backend="polars", client=client).row(
        0, named=True
    )
    checks = {c.metric: c for c in acetech.figures.checks}
    assert checks["requests"].endpoint == usage["request_count"]
    assert checks["sessions"].endpoint == usage["session_count"]
    assert checks["total_tokens"].endpoint == usage["token_count"]
    assert math.isclose(checks["total_cost"].endpoint, usage["total_cost"], rel_tol=1e-12)
    assert 'data-metric="reconciliation" data-value="agree"' in acetech.html
    assert acetech.html.count(">agree</td>") == 4
    assert acetech.summary().endswith("totals agree with the usage endpoint")


def test_a_difference_is_shown_as_the_difference() -> None:
    from netra_frames.answers.report.figures import Check

    check = Check("tenant X", "total_cost", 1.5, 1.25)
    assert not check.agrees and check.difference == 0.25
    assert Check("tenant X", "total_cost", 0.1 + 0.2, 0.3).agrees


def test_figures_equal_the_frames(
    acetech: nf.Report, client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    fig = acetech.figures
    traces = nf.traces_frame(
        *window, tenant_id="AceTech", backend="polars", client=client, progress=False
    )
    users = nf.usage_frame(
        *window, by="user_id", tenant_id="AceTech", backend="polars", client=client, progress=False
    )
    assert fig.top_users["user_id"].to_list() == users["user_id"].head(10).to_list()
    assert fig.top_users["total_cost"].to_list() == users["total_cost"].head(10).to_list()
    sessions = nf.sessions_frame(
        *window, tenant_id="AceTech", backend="polars", client=client, progress=False
    )
    top = sessions.sort(["total_cost", "session_id"], descending=[True, False]).head(10)
    assert fig.top_sessions["session_id"].to_list() == top["session_id"].to_list()
    assert (
        fig.top_traces["trace_id"].to_list()
        == traces.sort("total_cost", descending=True)["trace_id"].head(10).to_list()
    )
    assert fig.totals["requests"][0] == traces.height
    assert fig.rates["traces"].to_list() == [
        traces[c].sum() for c in ("has_error", "has_pii", "has_violation")
    ]
    name = fig.latency["name"][0]
    lat = traces.filter(pl.col("name") == name)["latency_ms"].cast(pl.Float64)
    assert fig.latency["p95_ms"][0] == lat.quantile(0.95, "linear")
    daily = fig.cost_by_model_day.group_by("day").agg(pl.col("total_cost").sum())
    assert math.isclose(daily["total_cost"].sum(), traces["total_cost"].sum(), rel_tol=1e-9)


def test_without_a_tenant_every_tenant_is_reconciled(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    start = window[1] - timedelta(days=2)
    r = nf.report(start, window[1], client=client, progress=False)
    assert r.agrees is True
    assert "tenants" in r.figures.checks[0].scope
    assert r.figures.filters == {} and "Filters: none" in r.html


def test_a_filter_the_endpoint_cannot_follow_is_said_so(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    traces = nf.traces_frame(
        *window, tenant_id="Globex", max_rows=1, backend="polars", client=client, progress=False
    )
    user = traces["user_id"][0]
    r = nf.report(*window, user_id=user, client=client, progress=False)
    assert r.agrees is None and r.figures.checks == ()
    assert "Not compared: the usage endpoint has no total for a filter on user_id" in r.html
    assert f"user_id = {user}" in r.html


def test_write_returns_the_path_and_names_are_escaped(
    server: LocalNetra, client: nf.NetraClient, window: tuple[datetime, datetime], tmp_path: Path
) -> None:
    r = nf.report(
        window[1] - timedelta(days=7),
        window[1],
        tenant_id="Q?Labs #7 100%",
        client=client,
        progress=False,
    )
    path = r.write(tmp_path / "r.html")
    assert path == tmp_path / "r.html" and path.read_text(encoding="utf-8") == r.html
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    assert "Q?Labs #7 100%" in r.html
    evil = {"tenant_id": "<b>x</b>"}
    with pytest.warns(nf.EmptyResultWarning):
        page = nf.report(*window, client=client, progress=False, **evil).html
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_bad_arguments_are_refused_before_any_request(
    server: LocalNetra, client: nf.NetraClient
) -> None:
    server.reset_stats()
    for kwargs, match in (
        ({"top": 0}, "top must be a positive int"),
        ({"tenant": "x"}, "not a traces filter"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "window is empty"),
    ):
        with pytest.raises(nf.InvalidParameterError, match=match):
            nf.report(client=client, **kwargs)  # type: ignore[arg-type]
    assert server.stats.requests == 0


def _acetech_frames(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    traces = nf.traces_frame(
        *window, tenant_id="AceTech", backend="polars", client=client, progress=False
    )
    return traces, nf.spans_frame(traces, backend="polars", client=client, progress=False)


@pytest.mark.parametrize("backend", ["polars", "pandas"])
def test_frames_already_fetched_are_not_drained_again(
    backend: str,
    acetech: nf.Report,
    server: LocalNetra,
    client: nf.NetraClient,
    window: tuple[datetime, datetime],
) -> None:
    traces, spans = _acetech_frames(client, window)
    given = {"traces": traces, "spans": spans}
    if backend == "pandas":
        given = {name: frame.to_pandas() for name, frame in given.items()}
    server.reset_stats()
    r = nf.report(*window, tenant_id="AceTech", client=client, **given)  # type: ignore[arg-type]
    assert server.stats.requests == 1  # the tenant's usage, to reconcile; no drain
    assert r.html == acetech.html and r.agrees is True
    for name in ("totals", "cost_by_model_day", "top_users", "top_sessions", "top_traces"):
        assert getattr(r.figures, name).equals(getattr(acetech.figures, name)), name


def test_given_traces_alone_have_their_spans_drained(
    acetech: nf.Report,
    server: LocalNetra,
    client: nf.NetraClient,
    window: tuple[datetime, datetime],
) -> None:
    traces, _ = _acetech_frames(client, window)
    server.reset_stats()
    r = nf.report(*window, tenant_id="AceTech", traces=traces, client=client, progress=False)
    assert 1 + traces.height <= server.stats.requests  # spans of every trace, then the usage
    assert r.html == acetech.html


def test_given_frames_of_another_window_filters_or_traces_are_refused(
    server: LocalNetra, client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    traces, spans = _acetech_frames(client, window)
    later = (window[0] + timedelta(days=10), window[1])
    early_ids = traces.filter(pl.col("start_time") < later[0])["trace_id"]
    server.reset_stats()
    for kwargs, match in (
        ({"traces": traces.to_dicts()}, r"traces= must be a pandas or Polars frame .* got list"),
        ({"traces": traces.drop("total_cost")}, "traces= lacks the column.s. total_cost"),
        ({"traces": traces, "start": later[0]}, r"traces= has \d+ trace.s. outside the window"),
        ({"traces": traces, "tenant_id": "Globex"}, "outside the window .* 'Globex'"),
        ({"spans": spans}, "spans= needs traces="),
        ({"traces": traces.filter(~pl.col("trace_id").is_in(early_ids.implode())),
          "spans": spans, "start": later[0]}, r"spans= has spans of \d+ trace.s. not in traces="),
        ({"traces": traces, "spans": spans.with_columns(pl.lit("x").alias("start_time"))},
         "spans= has a column of another type"),
    ):  # fmt: skip
        kwargs.setdefault("start", window[0])
        kwargs.setdefault("tenant_id", "AceTech")
        with pytest.raises(nf.InvalidParameterError, match=match):
            nf.report(end=window[1], client=client, **kwargs)  # type: ignore[arg-type]
    assert server.stats.requests == 0


def test_the_chart_draws_one_rect_per_value_and_round_ticks() -> None:
    svg = stacked_bars(
        ["a", "b", "c"], [("m1", [1.0, 0.0, 2.0]), ("m2", [0.5, 0.5, 0.0])], title="t"
    )
    assert svg.count('class="bar"') == 4 and svg.count('class="series"') == 2
    assert nice_ticks(2.6) == [0.0, 1.0, 2.0, 3.0]
    assert nice_ticks(0.43) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert nice_ticks(0) == [0.0, 1.0]


@pytest.mark.parametrize(
    ("filters", "said"),
    [
        ({"tenant_id": "Nope"}, "No trace matched tenant_id 'Nope' in the window ["),
        ({"tenant_id": "acetech"}, "No trace matched tenant_id 'acetech' in the window ["),
        ({}, "No trace in the window ["),
    ],
    ids=["unknown-tenant", "wrong-case", "empty-window"],
)
def test_an_empty_report_says_so_on_the_page(
    client: nf.NetraClient, window: tuple[datetime, datetime], filters: dict[str, str], said: str
) -> None:
    empty_window = (window[0] - timedelta(days=400), window[0] - timedelta(days=370))
    span = window if filters else empty_window
    with pytest.warns(nf.EmptyResultWarning) as warned:
        report = nf.report(*span, client=client, progress=False, **filters)
    hint = str(warned[0].message).split("; ", 1)[1]  # the traces' own hint, on the page too
    assert report.figures.empty and report.agrees is not False
    html = unescape(report.html)
    assert said in html and hint in html
    assert 'data-metric="empty"' in html
    assert "agree with the usage endpoint" not in html and 'class="verdict agree"' not in html
    assert "no trace matched" in report.summary()
    assert "agree" not in report.summary()


def test_a_report_with_traces_has_no_empty_banner(acetech: nf.Report) -> None:
    assert not acetech.figures.empty and 'data-metric="empty"' not in acetech.html
