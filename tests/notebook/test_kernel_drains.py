"""Drains in a real Jupyter kernel: Ctrl-C (the stop button) and the progress bar (issue 27).

Every request of the interrupted drains stalls for ten minutes, so a drain that does not
stop on the interrupt ends the cell by its timeout instead, and the test fails: nothing
here depends on the machine's speed. A kernel resets SIGINT's handler before each cell,
which undoes Polars' own; the scans watch Python's wakeup fd instead
(``netra_frames._cancel.watch_interrupts``), on every Polars engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from kernel import Cell, Kernel

from netra_frames.server import LocalNetra

pytestmark = pytest.mark.slow  # a kernel per test; the README suite runs them

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
WINDOW = "'2025-12-01', '2026-01-01'"
STALL_MS = 600_000.0

# The drain each case runs in the interrupted cell; the cell before it makes what it needs.
DRAINS = {
    "scan_traces, Polars' default engine": "lf.collect()",
    "scan_traces, the streaming engine": "lf.collect(engine='streaming')",
    "scan_traces, the in-memory engine": "lf.collect(engine='in-memory')",
    "scan_spans": "nf.scan_spans(ids).collect()",
    "traces_frame": f"nf.traces_frame({WINDOW})",
    "traces_frame with the cache": f"nf.traces_frame({WINDOW}, cache='cache')",
    "spans_frame": "nf.spans_frame(ids)",
    "export_traces": f"nf.export_traces('out', {WINDOW})",
}


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalNetra]:
    with LocalNetra(seed=0, traces=3000, anchor=ANCHOR) as server:
        yield server


@pytest.fixture
def notebook(kernel: Callable[..., Kernel], srv: LocalNetra, tmp_path: Any) -> Kernel:
    k = kernel(env={"NETRA_API_KEY": srv.api_key, "NETRA_OTLP_ENDPOINT": srv.base_url},
               cwd=tmp_path)  # fmt: skip
    setup = k.run(
        "import netra_frames as nf, polars as pl, threading\n"
        f"ids = nf.traces_frame({WINDOW}, max_rows=40, backend='polars')['trace_id']\n"
        f"lf = nf.scan_traces({WINDOW})\n"
        "def ours():\n"
        "    return [t.name for t in threading.enumerate() if t.name.startswith('netra_frames')]"
    )
    assert setup.status == "ok", setup.traceback
    return k


WAIT_FOR_NO_THREAD = """\
import time
for _ in range(100):
    if not ours():
        break
    time.sleep(0.1)
ours()"""


def _stopped(k: Kernel, cell: Cell) -> None:
    """The cell ended in KeyboardInterrupt, and no thread of the drain is left behind.

    (A second press can land while IPython draws the first one's traceback: IPython then
    prints a bare ``KeyboardInterrupt`` on stderr instead of the error.)"""
    assert cell.status == "error", (cell.status, cell.traceback)
    interrupted = cell.error is not None and cell.error["ename"] == "KeyboardInterrupt"
    assert interrupted or "KeyboardInterrupt" in cell.stderr, (cell.traceback, cell.stderr)
    left = k.run(WAIT_FOR_NO_THREAD)
    assert left.result == "[]", left.result


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", list(DRAINS))
def test_the_stop_button_stops_every_door(notebook: Kernel, srv: LocalNetra, case: str) -> None:
    srv.set_faults(every={"stall": 1}, stall_ms=STALL_MS)
    try:
        cell = notebook.run(DRAINS[case], timeout=90, interrupt_after=3)
    finally:
        srv.set_faults(None)
    _stopped(notebook, cell)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", ["scan_traces, Polars' default engine", "traces_frame"])
def test_a_second_interrupt_stops_it_too(notebook: Kernel, srv: LocalNetra, case: str) -> None:
    """Two presses in a row (an impatient user): the drain still stops, nothing is left."""
    srv.set_faults(every={"stall": 1}, stall_ms=STALL_MS)
    try:
        cell = notebook.run(DRAINS[case], timeout=90, interrupt_after=[3, 3.2])
    finally:
        srv.set_faults(None)
    _stopped(notebook, cell)
    assert notebook.run("1 + 1").result == "2"  # the kernel goes on


def _bars(cell: Cell) -> list[dict[str, Any]]:
    """Every state a progress widget of the cell was sent (tqdm's FloatProgress and text)."""
    states = []
    for message in cell.comms:
        data = message["content"].get("data", {})
        state = data.get("state") if isinstance(data, dict) else None
        if isinstance(state, dict):
            states.append(state)
    return states


@pytest.mark.parametrize(
    ("code", "rows"),
    [
        (f"len(nf.traces_frame({WINDOW}))", f"len(nf.traces_frame({WINDOW}, progress=False))"),
        (
            f"nf.scan_traces({WINDOW}, progress=True).collect().height",
            f"nf.scan_traces({WINDOW}).collect().height",
        ),
        (
            f"nf.export_traces('out', {WINDOW}).rows",
            f"len(nf.traces_frame({WINDOW}, progress=False))",
        ),
    ],
    ids=["traces_frame", "scan_traces", "export_traces"],
)
def test_the_bar_ends_at_the_rows_received_never_red(
    notebook: Kernel, code: str, rows: str
) -> None:
    """The total starts as an estimate and ends as the rows received: the last text reads
    ``N/N`` for the N rows the drain returned, and no state ever says ``danger`` (red)."""
    cell = notebook.run(code)
    assert cell.status == "ok", cell.traceback
    expected = notebook.run(rows).result
    states = _bars(cell)
    assert states, "no progress widget was drawn"
    assert all(s.get("bar_style") != "danger" for s in states)
    texts = [s["value"] for s in states if isinstance(s.get("value"), str) and "/" in s["value"]]
    last = re.search(r"(\d+)/(\d+)", texts[-1].replace("\u2007", " "))
    assert last is not None and last.group(1) == last.group(2) == expected == cell.result
