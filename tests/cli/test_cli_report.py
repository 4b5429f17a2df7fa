"""``netra-frames report``: one HTML file, its one-line verdict, refusals before any request."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from test_cli import Window, assert_one_line_error, clean_env, cli, span

import netra_frames as nf
from netra_frames.server import LocalNetra


def test_report_writes_one_self_contained_page_that_agrees(
    server: LocalNetra, client: nf.NetraClient, window: Window, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "report.html"
    proc = cli(
        "report", "--tenant", "AceTech", *span(window), "-o", str(target), "--no-progress",
        env=clean_env(server),
    )  # fmt: skip
    traces = nf.traces_frame(*window, tenant_id="AceTech", backend="polars", client=client)
    assert isinstance(traces, pl.DataFrame) and traces.height > 0
    message = proc.stderr.decode()
    assert f"wrote {target}: report of {traces.height:,} traces (AceTech)" in message
    assert "totals agree with the usage endpoint" in message
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch


def test_report_refuses_a_file_that_is_not_html_before_any_request(
    server: LocalNetra, tmp_path: Path
) -> None:
    server.reset_stats()
    proc = cli("report", "--tenant", "AceTech", "-o", str(tmp_path / "r.txt"),
               env=clean_env(server), code=2)  # fmt: skip
    assert_one_line_error(proc, "r.txt' is named .txt but the file is html", ".html or .htm")
    assert server.stats.requests == 0 and not (tmp_path / "r.txt").exists()


def test_report_needs_an_output(server: LocalNetra) -> None:
    proc = cli("report", "--tenant", "AceTech", env=clean_env(server), code=2)
    assert_one_line_error(proc, "--output")


def test_report_of_a_tenant_with_no_traces_says_so_on_the_page_and_exits_0(
    server: LocalNetra, window: Window, tmp_path: Path
) -> None:
    target = tmp_path / "nope.html"
    proc = cli(
        "report", "--tenant", "Nope", *span(window), "-o", str(target), "--no-progress",
        env=clean_env(server),
    )  # fmt: skip
    err = proc.stderr.decode()
    assert "no traces matched" in err and "case-sensitive" in err  # the traces' warning
    assert "no trace matched; ids are case-sensitive" in err  # the summary line
    page = target.read_text(encoding="utf-8")
    assert "No trace matched tenant_id &#x27;Nope&#x27; in the window" in page
    assert "ids are case-sensitive: check the spelling and the window." in page
    assert "The totals agree with the usage endpoint" not in page
