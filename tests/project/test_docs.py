"""The docs stay true: generated column reference, CLI commands, links."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import netra_frames
from netra_frames.cli import build_parser, main
from netra_frames.server.faults import FaultConfig

REPO = Path(netra_frames.__file__).resolve().parents[1]
DOCS = REPO / "docs"


def load_gen_columns() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_columns", DOCS / "gen_columns.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_columns_md_is_generated_from_the_schema() -> None:
    gen = load_gen_columns()
    assert (DOCS / "columns.md").read_text(encoding="utf-8") == gen.render(), (
        "docs/columns.md is stale: run python docs/gen_columns.py"
    )


def cli_commands() -> list[list[str]]:
    """Every ``netra-frames ...`` command named in a heading of docs/cli.md."""
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    return [m.split() for m in re.findall(r"^## `netra-frames ([a-z ]+)`", text, re.M)]


def test_cli_md_covers_every_command() -> None:
    named = {" ".join(c) for c in cli_commands()}
    assert named == {
        "traces",
        "spans",
        "usage",
        "usage session",
        "usage tenant",
        "export",
        "report",
        "cache",
        "cache info",
        "cache clear",
        "serve",
        "demo",
    }


@pytest.mark.parametrize("command", cli_commands(), ids=" ".join)
def test_every_documented_command_exists_and_has_help(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: netra-frames {' '.join(command)}")


def test_every_documented_option_exists() -> None:
    """Each ``--option`` in docs/cli.md is accepted by some command."""
    parser = build_parser()
    known: set[str] = set()
    stack = [parser]
    while stack:
        p = stack.pop()
        for action in p._actions:
            known.update(action.option_strings)
            if action.choices and isinstance(action.choices, dict):
                stack.extend(action.choices.values())
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    # a misspelt option shown on purpose, with its "did you mean" line, is not documented
    text = re.sub(r"^\$ [^\n]*\n[^\n]*\(did you mean --[^\n]*\n", "", text, flags=re.M)
    documented = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text))
    assert documented <= known, documented - known


def test_every_fault_knob_is_documented() -> None:
    text = (DOCS / "local-server.md").read_text(encoding="utf-8")
    for name in vars(FaultConfig()):
        assert f"| `{name}` |" in text, name


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
        if target.startswith("../benchmarks/"):
            continue  # written by the benchmark suite
        assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name})" in index, page.name
