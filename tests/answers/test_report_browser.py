"""The report in a real headless browser (Debian's ``chromium``, driven by Playwright).

It loads from a file with every request recorded (and anything but the file itself or a
``data:`` URL refused), its chart has one bar per day and model with a cost and one series
per model, the numbers the page shows equal the frames', it fits a phone's width (tables
and the chart scroll inside it), it prints, and screenshots are taken. Skipped, saying
why, only when no browser or no driver is installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import netra_frames as nf

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip


def _browser_path() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = _browser_path()
    if path is None:
        pytest.skip(
            f"no browser found (looked for {', '.join(BROWSERS)}): apt-get install chromium"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the driver is missing: pip install -e '.[report]'"
    )
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=path, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shown(
    browser: Any,
    client: nf.NetraClient,
    window: tuple[datetime, datetime],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, nf.Report, list[str], Path]]:
    """The AceTech report of the whole window, open in a desktop-sized page."""
    report = nf.report(*window, tenant_id="AceTech", client=client, progress=False)
    path = report.write(tmp_path_factory.mktemp("report") / "report.html")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []

    def record(route: Any) -> None:
        url = route.request.url
        requests.append(url)
        if url == path.as_uri() or url.startswith("data:"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", record)
    page.on("request", lambda r: requests.append(r.url) if r.url not in requests else None)
    page.goto(path.as_uri(), wait_until="load")
    yield page, report, requests, path
    page.close()


CELLS = "(rows, cols) => rows.map(r => cols.map(c => r.querySelector(`[data-col=${c}]`).innerText))"


def cells(page: Any, table: str, *columns: str) -> list[list[str]]:
    """The text a table shows in these columns, row by row."""
    found: list[list[str]] = page.eval_on_selector_all(f"#{table} tbody tr", CELLS, list(columns))
    return found


def number(text: str) -> float:
    return float(text.replace("$", "").replace(",", "").replace("ms", "").strip())


def test_the_page_loads_with_no_request_leaving_the_file(
    shown: tuple[Any, nf.Report, list[str], Path],
) -> None:
    page, _, requests, path = shown
    assert requests and set(requests) <= {path.as_uri()} | {
        u for u in requests if u.startswith("data:")
    }
    assert page.title().startswith("Netra cost report")


def test_the_chart_has_a_bar_per_day_and_model_and_a_series_per_model(
    shown: tuple[Any, nf.Report, list[str], Path],
    client: nf.NetraClient,
    window: tuple[datetime, datetime],
) -> None:
    page, _, _, _ = shown
    by_model = nf.usage_frame(
        *window,
        by="model",
        freq="1d",
        tenant_id="AceTech",
        backend="polars",
        client=client,
        progress=False,
    )
    with_cost = by_model.filter(pl.col("total_cost") > 0)
    assert page.locator("svg.chart rect.bar").count() == with_cost.height
    assert page.locator("svg.chart g.series").count() == by_model["model"].n_unique()
    assert page.locator("ul.legend li").count() == by_model["model"].n_unique()
    drawn = page.eval_on_selector_all(
        "svg.chart g.series rect.bar",
        "els => els.map(e => [e.parentNode.dataset.series, e.dataset.value, e.getBBox().height])",
    )
    shown_cost = {m: 0.0 for m in by_model["model"]}
    for model, value, height in drawn:
        shown_cost[model] += float(value)
        assert height > 0
    want = by_model.group_by("model").agg(pl.col("total_cost").sum())
    for model, cost in want.iter_rows():
        assert math.isclose(shown_cost[model], cost, rel_tol=1e-9)


def test_the_numbers_shown_equal_the_frames(
    shown: tuple[Any, nf.Report, list[str], Path],
    client: nf.NetraClient,
    window: tuple[datetime, datetime],
) -> None:
    page, _, _, _ = shown
    totals = nf.usage_frame(
        *window, by=[], tenant_id="AceTech", backend="polars", client=client, progress=False
    ).row(0, named=True)
    for metric in (
        "requests",
        "sessions",
        "users",
        "total_tokens",
        "prompt_tokens",
        "cached_tokens",
    ):
        assert number(page.inner_text(f'.card [data-metric="{metric}"]')) == totals[metric], metric
    assert page.inner_text('.card [data-metric="total_cost"]') == f"${totals['total_cost']:,.6f}"
    assert (
        page.inner_text('[data-metric="reconciliation"]')
        == "The totals agree with the usage endpoint."
    )

    users = nf.usage_frame(
        *window, by="user_id", tenant_id="AceTech", backend="polars", client=client, progress=False
    )
    shown_users = cells(page, "top-users", "user_id", "total_cost")
    assert shown_users == [
        [u, f"${c:,.6f}"] for u, c in users.select("user_id", "total_cost").head(10).iter_rows()
    ]

    sessions = nf.sessions_frame(
        *window, tenant_id="AceTech", backend="polars", client=client, progress=False
    )
    top = sessions.sort(["total_cost", "session_id"], descending=[True, False]).head(10)
    shown_sessions = [s for (s,) in cells(page, "top-sessions", "session_id")]
    assert shown_sessions == top["session_id"].to_list()

    traces = nf.traces_frame(
        *window, tenant_id="AceTech", backend="polars", client=client, progress=False
    )
    latency = cells(page, "latency", "name", "p50_ms", "p99_ms")
    assert len(latency) == traces["name"].n_unique()
    for name, p50, p99 in latency:
        lat = traces.filter(pl.col("name") == name)["latency_ms"].cast(pl.Float64)
        assert (p50, p99) == (
            f"{lat.quantile(0.5, 'linear'):,.0f} ms",
            f"{lat.quantile(0.99, 'linear'):,.0f} ms",
        )
    errors = page.inner_text('#rates tr:has(td[data-value="errors"]) [data-col=traces]')
    assert number(errors) == traces["has_error"].sum()


def test_it_fits_a_phone_and_prints(
    shown: tuple[Any, nf.Report, list[str], Path], browser: Any, tmp_path: Path
) -> None:
    _, _, _, path = shown
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        phone.goto(path.as_uri())
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways page
        assert (
            phone.evaluate("getComputedStyle(document.querySelector('.scroll')).overflowX")
            == "auto"
        )
        phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        phone.emulate_media(media="print")
        assert (
            phone.evaluate("getComputedStyle(document.querySelector('.scroll')).overflowX")
            == "visible"
        )
        pdf = phone.pdf(format="A4")
        assert pdf.startswith(b"%PDF")
    finally:
        phone.close()
    assert (tmp_path / "phone.png").stat().st_size > 10_000


def test_a_screenshot_is_taken(
    shown: tuple[Any, nf.Report, list[str], Path], tmp_path: Path
) -> None:
    page, _, _, _ = shown
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")


def test_an_empty_report_says_so_where_a_reader_looks_first(
    browser: Any,
    client: nf.NetraClient,
    window: tuple[datetime, datetime],
    tmp_path: Path,
) -> None:
    with pytest.warns(nf.EmptyResultWarning):
        report = nf.report(*window, tenant_id="Nope", client=client, progress=False)
    path = report.write(tmp_path / "nope.html")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto(path.as_uri())
        banner = page.locator('[data-metric="empty"]')
        assert banner.is_visible()
        said = banner.inner_text()
        assert said.startswith("No trace matched tenant_id 'Nope' in the window [")
        assert said.endswith("ids are case-sensitive: check the spelling and the window.")
        cards = page.locator(".cards").bounding_box()
        assert banner.bounding_box()["y"] < cards["y"]  # above the zeros, in the first view
        assert banner.bounding_box()["y"] < 900
        verdict = page.locator('[data-metric="reconciliation"]')
        assert verdict.inner_text().startswith("Nothing to compare: no trace matched")
        green = "rgb(26, 127, 55)"  # --ok
        for shown in (banner, verdict):
            assert shown.evaluate("e => getComputedStyle(e).color") != green
        assert "agree with the usage endpoint" not in page.inner_text("body")
        assert page.locator(".verdict.agree").count() == 0
        page.screenshot(path=str(tmp_path / "nope.png"), full_page=True)
    finally:
        page.close()
