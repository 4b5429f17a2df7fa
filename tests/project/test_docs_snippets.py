"""Every Python snippet of README.md and docs/*.md runs as shown, against the docs' server.

(Its sibling ``test_docs_console.py`` runs the ```console blocks the same way.)

The documentation's outputs come from ``netra-frames serve --anchor 2026-02-01`` (seed 0,
2000 traces over 2026-01-02 .. 2026-02-01, port 8765). This test starts the same data in a
``LocalNetra`` and runs each page's ```python blocks in order, **each in a fresh, empty
namespace** (a reader may copy any one block alone: it imports what it uses and builds what
it needs), with ``NETRA_API_KEY``/``NETRA_OTLP_ENDPOINT`` set as after ``serve``'s two
``export`` lines, and a temporary working directory.

* A block of ``>>>`` examples is checked like a doctest: what an example shows (the repr of
  its value, what it prints, each warning as ``Category: message``, an exception as
  ``Name: message``) must equal the text under it, lines right-stripped; ``...`` matches
  anything, and the server's URL is shown as ``http://127.0.0.1:8765``.
  Frames print as on a terminal 100 characters wide, whatever the real one (pandas
  ``display.width=100``, ``display.max_columns=20``; Polars ``tbl_width_chars=100``).
* Any other block must run, without a warning.
* ``<!-- snippet: skip (reason) -->`` on the line before a fence skips that block; each
  skip is reported with its reason. ``<!-- snippet: xfail (reason) -->`` marks a block that
  shows what should work but fails because of a known bug: it still runs, the page is
  reported as xfailed while it fails, and the test fails once it passes (remove the mark).
* A block that is only a ``def`` of a public function (a signature) must match the real
  signature.

After a change to the data or the package, rewrite the shown outputs with
``python tests/project/test_docs_snippets.py --fix`` and review the diff.
"""

from __future__ import annotations

import contextlib
import doctest
import inspect
import io
import os
import re
import sys
import tempfile
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import netra_frames as nf
from netra_frames import _defaults
from netra_frames.server import LocalNetra

REPO = Path(nf.__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: The documentation's server: ``netra-frames serve --anchor 2026-02-01`` (port 8765).
DOCS_ANCHOR = datetime(2026, 2, 1, tzinfo=timezone.utc)
SHOWN_URL = "http://127.0.0.1:8765"
#: Environment variables a snippet's result could depend on: unset while the pages run.
ENV_UNSET = (
    "NETRA_HEADERS",
    "NETRA_USAGE_TIMEOUT",
    "NETRA_FRAMES_BACKEND",
    "NETRA_FRAMES_CACHE",
    "NETRA_FRAMES_SETTLE",
    "NETRA_FRAMES_MAX_REQUESTS_PER_SECOND",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)

FENCE = re.compile(
    r"^(?:<!-- snippet: (?P<mark>skip|xfail) \((?P<why>[^)]+)\) -->\n)?"
    r"```python\n(?P<code>.*?)^```$",
    re.M | re.S,
)
PS1, PS2 = ">>> ", "... "


@dataclass(frozen=True)
class Block:
    """One fenced ```python block: where it is, its code, its mark (skip, xfail) and why."""

    page: Path
    line: int  # line number of the block's first code line
    code: str
    start: int  # offsets of the code in the page's text
    end: int
    mark: str | None
    why: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def is_doctest(self) -> bool:
        return self.code.lstrip().startswith(PS1.rstrip())


@dataclass
class Example:
    """One ``>>>`` example: its source lines (with prompts) and the output shown under it."""

    prompt_lines: list[str]
    want: str

    @property
    def source(self) -> str:
        return "\n".join(line[4:] for line in self.prompt_lines) + "\n"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(
            page,
            text.count("\n", 0, m.start("code")) + 1,
            m["code"],
            m.start("code"),
            m.end("code"),
            m["mark"],
            m["why"],
        )
        for m in FENCE.finditer(text)
    ]


def examples(code: str) -> list[Example]:
    """Split a ``>>>`` block into examples; the output runs to the next ``>>>`` line."""
    found: list[Example] = []
    for line in code.rstrip("\n").split("\n"):
        if line.startswith(PS1) or line == PS1.rstrip():
            found.append(Example([line], ""))
        elif found and not found[-1].want and (line.startswith(PS2) or line == PS2.rstrip()):
            found[-1].prompt_lines.append(line)
        elif found:
            found[-1].want += line + "\n"
        else:
            raise AssertionError(f"text before the first '>>>': {line!r}")
    return found


def normalise(text: str, base_url: str | None = None) -> str:
    if base_url is not None:
        text = text.replace(base_url, SHOWN_URL)
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n")).strip("\n")


def _as_pandas_2_prints(text: str) -> str:
    """The docs show pandas 3; pandas 2 (the newest on Python 3.10) names and pads otherwise."""
    text = text.replace("string[pyarrow]", "string")
    return re.sub(r" +", " ", re.sub(r"(\.\d{3})000(?=[+ ])", r"\1", text))


def matches(want: str, got: str) -> bool:
    flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1
    if int(pd.__version__.split(".")[0]) < 3:
        want, got = _as_pandas_2_prints(want), _as_pandas_2_prints(got)
    return want == got or doctest.OutputChecker().check_output(want + "\n", got + "\n", flags)


def run_example(example: Example, ns: dict[str, Any], where: str) -> str:
    """Run one example as the REPL would; return what it shows."""
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        try:
            exec(compile(example.source, where, "single"), ns)
            failure = ""
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}\n"
    shown = [f"{w.category.__name__}: {w.message}\n" for w in caught]
    return "".join(shown) + out.getvalue() + failure


def run_block(block: Block, ns: dict[str, Any], base_url: str) -> list[tuple[Example, str]]:
    """Run one block; for a ``>>>`` block, return the examples whose output differs."""
    if not block.is_doctest:
        code = "\n" * (block.line - 1) + block.code  # tracebacks point at the page's lines
        with warnings.catch_warnings():
            # another library's deprecation inside its own code (Dask's parquet writer on
            # pandas 3.1) is not a snippet's fault; any other warning stays an error
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"dask\.")
            exec(compile(code, str(block.page), "exec"), ns)
        return []
    differing = []
    for ex in examples(block.code):
        got = normalise(run_example(ex, ns, block.where), base_url)
        if not matches(normalise(ex.want), got):
            differing.append((ex, got))
    return differing


@contextlib.contextmanager
def display_settings() -> Iterator[None]:
    """Print frames as on a 100-column terminal, whatever the real one is."""
    with (
        pd.option_context("display.width", 100, "display.max_columns", 20),
        pl.Config(tbl_width_chars=100),
    ):
        yield


def namespace(srv: LocalNetra, client: nf.NetraClient) -> dict[str, Any]:
    """A fresh namespace: nothing defined, as in a new interpreter (the environment holds
    ``NETRA_API_KEY`` and ``NETRA_OTLP_ENDPOINT``, as after ``serve``'s two ``export`` lines)."""
    return {"__name__": "__docs__"}


def close_leftovers(ns: dict[str, Any], srv: LocalNetra, client: nf.NetraClient) -> None:
    """Close what a page's snippets opened (servers, clients, Dask clients and clusters)."""
    for value in ns.values():
        if value is client or value is srv:
            continue
        if isinstance(value, LocalNetra):
            value.stop()
        elif isinstance(value, nf.NetraClient) or type(value).__module__.startswith("distributed"):
            with contextlib.suppress(Exception):
                value.close()
    _defaults.reset()


def run_page(page: Path, srv: LocalNetra, client: nf.NetraClient) -> tuple[list[str], list[str]]:
    """Run a page's blocks in order, each in a namespace of its own (a reader may copy any
    one block alone); return what differs from the page, and the xfails."""
    ns = namespace(srv, client)
    differing: list[str] = []
    xfailed: list[str] = []
    try:
        with display_settings():
            for block in blocks(page):
                if block.mark == "skip":
                    continue
                close_leftovers(ns, srv, client)
                ns = namespace(srv, client)
                try:
                    found = run_block(block, ns, srv.base_url)
                except Exception as exc:
                    if block.mark != "xfail":
                        raise
                    xfailed.append(f"{block.where}: {block.why} ({type(exc).__name__}: {exc})")
                    continue
                if block.mark == "xfail":
                    if found:
                        xfailed.append(f"{block.where}: {block.why} (output differs)")
                    else:
                        differing.append(f"{block.where}: marked xfail but runs as shown")
                    continue
                differing += [
                    f"{block.where}: {ex.prompt_lines[0]}\n--- shown:\n{ex.want.rstrip()}"
                    f"\n--- got:\n{got}\n"
                    for ex, got in found
                ]
    finally:
        close_leftovers(ns, srv, client)
        srv.set_faults(None)
    return differing, xfailed


# -- the tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs_server() -> Iterator[LocalNetra]:
    """The data of ``netra-frames serve --anchor 2026-02-01``."""
    with LocalNetra(seed=0, anchor=DOCS_ANCHOR) as srv:
        yield srv
        assert srv.errors == []


@pytest.fixture(scope="module")
def docs_client(docs_server: LocalNetra) -> Iterator[nf.NetraClient]:
    with nf.NetraClient(docs_server.api_key, docs_server.base_url) as c:
        yield c


@pytest.fixture
def docs_env(
    docs_server: LocalNetra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The environment a reader has after ``serve``'s two ``export`` lines, in a fresh folder."""
    for name in ENV_UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRA_API_KEY", docs_server.api_key)
    monkeypatch.setenv("NETRA_OTLP_ENDPOINT", docs_server.base_url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))  # cache=True goes here
    monkeypatch.chdir(tmp_path)
    _defaults.reset()
    yield
    _defaults.reset()


PAGES_WITH_CODE = [p for p in PAGES if blocks(p)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: p.name)
@pytest.mark.usefixtures("docs_env")
def test_every_python_block_runs_as_shown(
    page: Path, docs_server: LocalNetra, docs_client: nf.NetraClient
) -> None:
    differing, xfailed = run_page(page, docs_server, docs_client)
    assert not differing, (
        "\n".join(differing) + "\n(rewrite with: python tests/project/test_docs_snippets.py --fix)"
    )
    if xfailed:
        pytest.xfail("; ".join(xfailed))


def test_skipped_blocks_are_few_and_reported() -> None:
    """Blocks marked skip stay rare, and each is reported with its reason (``-ra`` lists it)."""
    skipped = [b for p in PAGES for b in blocks(p) if b.mark == "skip"]
    assert len(skipped) <= 3, [b.where for b in skipped]
    if skipped:
        pytest.skip("; ".join(f"{b.where} not run: {b.why}" for b in skipped))


def test_blocks_are_found_and_markers_sit_on_fences() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        fences = len(re.findall(r"^```python$", text, re.M))
        assert len(blocks(page)) == fences, f"{page.name}: an unclosed ```python fence"
        assert text.count("<!-- snippet:") == sum(b.mark is not None for b in blocks(page)), (
            f"{page.name}: a '<!-- snippet: skip|xfail (reason) -->' mark not right before a fence"
        )
    assert sum(len(blocks(p)) for p in PAGES) > 30


def documented_signatures() -> list[tuple[Block, str]]:
    """Each function a block of only ``def f(...): ...`` lines shows, with its block."""
    found = []
    for page in PAGES:
        for block in blocks(page):
            if re.fullmatch(r"(def \w+\(.*?\): \.\.\.\s*)+", block.code, re.S):
                found += [(block, name) for name in re.findall(r"^def (\w+)", block.code, re.M)]
    return found


@pytest.mark.parametrize(
    "block,name", documented_signatures(), ids=lambda v: getattr(v, "where", v)
)
def test_documented_signatures_match_the_functions(block: Block, name: str) -> None:
    """A signature shown as ``def f(...): ...`` has f's parameters and defaults, in order."""
    ns: dict[str, Any] = {}
    exec(block.code, ns)
    shown = {p.name: (p.kind, p.default) for p in inspect.signature(ns[name]).parameters.values()}
    real = {
        p.name: (p.kind, p.default)
        for p in inspect.signature(getattr(nf, name)).parameters.values()
    }
    assert list(shown.items()) == list(real.items())  # the same parameters, in the same order


# -- rewriting the shown outputs ---------------------------------------------------------


def fix_page(page: Path, srv: LocalNetra, client: nf.NetraClient) -> bool:
    """Rewrite the outputs shown under a page's ``>>>`` examples; return whether any changed."""
    text = page.read_text(encoding="utf-8")
    ns = namespace(srv, client)
    rewritten: list[tuple[Block, str]] = []
    try:
        with display_settings():
            for block in blocks(page):
                if block.mark == "skip":
                    continue
                close_leftovers(ns, srv, client)
                ns = namespace(srv, client)
                if not block.is_doctest:
                    try:
                        run_block(block, ns, srv.base_url)
                    except Exception:
                        if block.mark != "xfail":
                            raise
                    continue
                parts = []
                for ex in examples(block.code):
                    got = normalise(run_example(ex, ns, block.where), srv.base_url)
                    want = ex.want if matches(normalise(ex.want), got) else got
                    parts.append("\n".join(ex.prompt_lines) + "\n" + normalise(want))
                rewritten.append((block, "\n".join(p.rstrip("\n") for p in parts) + "\n"))
    finally:
        close_leftovers(ns, srv, client)
        srv.set_faults(None)
    new = text
    for block, code in reversed(rewritten):
        new = new[: block.start] + code + new[block.end :]
    if new != text:
        page.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str]) -> int:
    """``--fix [PAGE ...]``: rewrite the outputs shown in the docs (every page by default)."""
    if argv[:1] != ["--fix"]:
        print("usage: python tests/project/test_docs_snippets.py --fix [PAGE ...]", file=sys.stderr)
        return 2
    pages = [Path(p).resolve() for p in argv[1:]] or PAGES_WITH_CODE
    with (
        LocalNetra(seed=0, anchor=DOCS_ANCHOR) as srv,
        nf.NetraClient(srv.api_key, srv.base_url) as client,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for name in ENV_UNSET:
            os.environ.pop(name, None)
        os.environ.update(
            NETRA_API_KEY=srv.api_key,
            NETRA_OTLP_ENDPOINT=srv.base_url,
            XDG_CACHE_HOME=str(Path(tmp) / "user-cache"),
        )
        for page in pages:
            page_dir = Path(tmp) / page.stem
            page_dir.mkdir()
            os.chdir(page_dir)
            try:
                changed = fix_page(page, srv, client)
            except Exception:
                traceback.print_exc()
                print(f"{page.name}: a block failed; nothing rewritten", file=sys.stderr)
                continue
            print(f"{page.relative_to(REPO)}: {'rewritten' if changed else 'unchanged'}")
        os.chdir(REPO)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
