"""The README's "In a notebook" block, run in a real Jupyter kernel against a LocalNetra.

Each statement of the block is a cell, as an analyst runs it. The notebook shows no warning
noise (no warning at all in the flow; progress bars leave nothing behind), a misspelled tenant
warns at each cell that uses it, and an error is a few lines: the cell's line and the message,
without the frames inside netra_frames. Skipped, saying why, where no kernel can start.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from kernel import Cell, Kernel

from netra_frames.server import LocalNetra

README = Path(__file__).resolve().parents[2] / "README.md"
#: The documentation's data: ``netra-frames serve --anchor 2026-02-01`` (seed 0, 2000 traces).
DOCS_ANCHOR = datetime(2026, 2, 1, tzinfo=timezone.utc)
NOT_INHERITED = (
    "NETRA_FRAMES_BACKEND",
    "NETRA_FRAMES_CACHE",
    "NETRA_FRAMES_MAX_REQUESTS_PER_SECOND",
    "NETRA_FRAMES_SETTLE",
    "NETRA_HEADERS",
    "NETRA_USAGE_TIMEOUT",
)


def readme_notebook_block() -> str:
    """The first ```python block of the README's "In a notebook" section."""
    section = README.read_text(encoding="utf-8").split("\n## In a notebook\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "README.md's 'In a notebook' section has no python block"
    return match.group(1)


def statements(block: str) -> list[str]:
    """The block's statements, one cell each."""
    return [ast.get_source_segment(block, node) or "" for node in ast.parse(block).body]


def visible(stream: str) -> str:
    """What a notebook (or a terminal) still shows of a stream: each line's text after its
    last carriage return (a progress bar redraws, then clears, its line)."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in stream.split("\n")).strip()


@pytest.fixture(scope="module")
def docs_server() -> Iterator[LocalNetra]:
    with LocalNetra(seed=0, traces=2000, anchor=DOCS_ANCHOR) as srv:
        yield srv
        assert srv.errors == []


@pytest.fixture
def notebook(kernel: Callable[..., Kernel], docs_server: LocalNetra, tmp_path: Path) -> Kernel:
    """A kernel set up as the README says (the two variables ``serve`` prints), in tmp_path."""
    env: dict[str, str | None] = dict.fromkeys(NOT_INHERITED)
    env |= {"NETRA_API_KEY": docs_server.api_key, "NETRA_OTLP_ENDPOINT": docs_server.base_url}
    return kernel(env=env, cwd=tmp_path)


def assert_quiet(cell: Cell) -> None:
    """No error, nothing left on stderr, no warning anywhere in the cell's output."""
    assert cell.status == "ok" and cell.error is None, (cell.source, cell.traceback)
    assert visible(cell.stderr) == "", (cell.source, cell.stderr)
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert "Warning" not in text, (cell.source, text)


def test_the_readme_flow_shows_no_warning_noise(notebook: Kernel, tmp_path: Path) -> None:
    block = readme_notebook_block()
    assert "nf.traces_frame(" in block and "nf.write_frame(" in block
    for code in statements(block):
        assert_quiet(notebook.run(code))
    shape = notebook.run("df.shape, len(spans), len(usage), top.size")
    assert_quiet(shape)
    assert shape.result == "((561, 27), 1037, 1, 5)"
    assert (tmp_path / "january.csv").is_file()
    report = notebook.run('nf.report("2026-01-01", "2026-02-01", tenant_id="AceTech")')
    assert_quiet(report)
    widgets = "application/vnd.jupyter.widget-view+json"  # progress bars, when ipywidgets is in
    (bundle,) = [b for b in report.displayed if widgets not in b]
    assert bundle["text/html"].startswith('<div class="nf-report">')  # the page, inline
    assert bundle["text/plain"].startswith("<Report: report of 561 traces (AceTech)")


def test_a_misspelled_tenant_warns_at_each_cell(notebook: Kernel) -> None:
    notebook.run("import netra_frames as nf")
    cells = [
        notebook.run(f'nf.{call}("2026-01-01", "2026-02-01", tenant_id="acetech");')
        for call in ("sessions_frame", "usage_frame", "report")
    ]
    for cell in cells:
        assert cell.status == "ok", cell.traceback
        (warning,) = [line for line in cell.stderr.splitlines() if "Warning:" in line]
        where, _, message = warning.rpartition(": EmptyResultWarning: ")
        assert message.startswith("no traces matched {'tenant_id': 'acetech'}"), warning
        assert "netra_frames" not in where and where.endswith(":1"), where  # the cell's line


MISTAKES = {
    "a misspelled filter": (
        'nf.traces_frame("2026-01-01", "2026-02-01", tenant="AceTech")',
        "InvalidParameterError: 'tenant' is not a traces filter; did you mean 'tenant_id'?",
    ),
    "a bad value": (
        'nf.traces_frame("2026-01-01", "2026-02-01", sort_order="up")',
        "InvalidParameterError: sort_order must be one of 'asc', 'desc', got 'up'.",
    ),
    "a trace that does not exist": (
        'nf.spans_frame("no-such-trace")',
        "NotFoundError: GET ",
    ),
}


def test_an_error_is_the_cells_line_and_the_message(notebook: Kernel) -> None:
    notebook.run("import netra_frames as nf")
    for what, (code, message) in MISTAKES.items():
        cell = notebook.run(code)
        assert cell.status == "error", what
        lines = cell.traceback
        assert len(lines) <= 7, (what, lines)  # was 72 to 126 lines of our frames
        assert lines[-1].startswith(message), (what, lines[-1])
        assert any(code in line for line in lines), (what, lines)  # the cell's own line
        assert not any("netra_frames/" in line for line in lines), (what, lines)
        assert "frame(s) inside netra_frames not shown" in lines[-2], (what, lines)
        everything = notebook.run(
            "import sys, traceback; traceback.print_exception(sys.last_value)"
        )
        assert "netra_frames/" in everything.stderr, what  # as the hint says
