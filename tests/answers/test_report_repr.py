"""``repr(nf.report(...))`` is one short line (the dataclass's own was 11 KB of frames), and
the notebook still shows the page inline through ``_repr_html_``."""

from __future__ import annotations

import warnings
from datetime import datetime

import netra_frames as nf


def test_the_repr_is_one_line_saying_what_the_report_covers(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    report = nf.report(*window, tenant_id="AceTech", client=client, progress=False)
    text = repr(report)
    assert text == f"<Report: {report.summary()}>"
    assert "\n" not in text and len(text) < 200, text
    traces = int(report.figures.totals["requests"][0])
    assert f"report of {traces:,} traces (AceTech) in [" in text
    assert text.endswith("totals agree with the usage endpoint>")
    assert report._repr_html_().startswith('<div class="nf-report">')


def test_an_empty_report_has_a_short_repr_too(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nf.EmptyResultWarning)
        empty = nf.report(*window, tenant_id="acetech", client=client, progress=False)
    assert repr(empty).startswith("<Report: report of 0 traces (acetech) in [")
    assert len(repr(empty)) < 200
