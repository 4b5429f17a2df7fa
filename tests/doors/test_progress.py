"""Progress everywhere, ending at the truth (issue 27), as a terminal shows it (tqdm's text).

Frames, scans and exports draw the same bar. Its total starts as an estimate (rows over the
share of the window covered) and ends as the rows actually received: the last state reads
``N/N`` for the N rows the call returned, never short of its total (a bar left short is
the red one a notebook shows). The notebook's widget is checked in
tests/notebook/test_kernel_drains.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import netra_frames as nf
from netra_frames import NetraClient
from netra_frames.server import LocalNetra

ANCHOR = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
WINDOW = (ANCHOR - timedelta(days=30), ANCHOR)
BAR = re.compile(r"netra_frames: (\w+):\s+(\d+)%\|[^|]*\| (\d+)/(\d+)")


@pytest.fixture(scope="module")
def srv(local_netra: Callable[..., LocalNetra]) -> LocalNetra:
    return local_netra(seed=2, traces=8000, anchor=ANCHOR, shape="skewed")


def _last_state(text: str) -> tuple[str, int, int]:
    states = BAR.findall(text)
    assert states, f"no bar drawn: {text[-300:]!r}"
    label, _, done, total = states[-1]
    return label, int(done), int(total)


CALLS: dict[str, Callable[[NetraClient, Path], int]] = {
    "traces_frame": lambda c, _: len(nf.traces_frame(*WINDOW, client=c, progress=True)),
    "traces_frame, cached": lambda c, p: len(
        nf.traces_frame(*WINDOW, client=c, progress=True, cache=p / "cache")
    ),
    "scan_traces": lambda c, _: nf.scan_traces(*WINDOW, client=c, progress=True).collect().height,
    "scan_traces, streaming": lambda c, _: (
        nf.scan_traces(*WINDOW, client=c, progress=True).collect(engine="streaming").height
    ),
    "export_traces": lambda c, p: (
        nf.export_traces(p / "out", *WINDOW, client=c, progress=True).rows
    ),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_every_traces_door_draws_a_bar_that_ends_at_the_rows(
    srv: LocalNetra, tmp_path: Path, capsys: pytest.CaptureFixture[str], call: str
) -> None:
    with NetraClient(srv.api_key, srv.base_url) as client:
        rows = CALLS[call](client, tmp_path)
    label, done, total = _last_state(capsys.readouterr().err)
    assert (done, total) == (rows, rows), (call, label)


def test_the_total_starts_as_an_estimate(
    srv: LocalNetra, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before its end the bar shows a total it estimated: it knew no count up front."""
    with NetraClient(srv.api_key, srv.base_url) as client:
        rows = len(nf.traces_frame(*WINDOW, client=client, progress=True, page_size=50))
    states = [(int(d), int(t)) for _, _, d, t in BAR.findall(capsys.readouterr().err)]
    assert any(total != rows for _, total in states[:-1])  # an estimate, firmed up
    assert states[-1] == (rows, rows)


def test_spans_frame_and_scan_spans_count_traces(
    srv: LocalNetra, capsys: pytest.CaptureFixture[str]
) -> None:
    with NetraClient(srv.api_key, srv.base_url) as client:
        ids = nf.traces_frame(*WINDOW, client=client, max_rows=30, progress=False)["trace_id"]
        nf.spans_frame(ids, client=client, progress=True)
        assert _last_state(capsys.readouterr().err)[1:] == (30, 30)
        nf.scan_spans(list(ids), client=client, progress=True).collect()
        assert _last_state(capsys.readouterr().err)[1:] == (30, 30)
