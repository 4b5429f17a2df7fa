"""docs/cli.md and the parser agree, command by command, in both directions."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from netra_frames.cli import build_parser

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]+)")


def commands() -> dict[str, argparse.ArgumentParser]:
    """Every runnable command (``traces``, ``usage tenant``, ...) and its parser."""
    found: dict[str, argparse.ArgumentParser] = {}
    stack: list[tuple[str, argparse.ArgumentParser]] = [("", build_parser())]
    while stack:
        name, parser = stack.pop()
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found[name] = parser
        for action in subs:
            stack += [(f"{name} {sub}".strip(), p) for sub, p in action.choices.items()]
    return found


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings if s.startswith("--")} - {"--help"}


def documented() -> dict[str, set[str]]:
    """The long options the page gives each command: its tables and its sections' prose.

    A table applies to the commands named in the line before it ("Common to `traces`, ...");
    a section ``## `netra-frames X``` applies to X and the commands under it. Shell examples
    are left out (they may show other commands).
    """
    text = re.sub(r"```.*?```", "", PAGE.read_text(encoding="utf-8"), flags=re.S)
    names = commands()
    given: dict[str, set[str]] = {name: set() for name in names}
    intro, *sections = re.split(r"^## ", text, flags=re.M)
    lines = intro.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Common to "):
            table = []
            for row in lines[i + 1 :]:
                if row.startswith("|") or not row.strip():
                    table.append(row)
                if table and not row.strip() and any(r.startswith("|") for r in table):
                    break
            flags = set(FLAG.findall("\n".join(table)))
            for command in re.findall(r"`([a-z ]+)`", line):
                for name in names:
                    if name == command or name.startswith(command + " "):
                        given[name] |= flags
    for section in sections:
        title = re.match(r"`netra-frames ([a-z ]+)`", section)
        assert title, section[:40]
        for name in names:
            if name == title.group(1) or name.startswith(title.group(1) + " "):
                given[name] |= set(FLAG.findall(section))
    return given


@pytest.mark.parametrize("name", sorted(commands()))
def test_docs_and_parser_agree(name: str) -> None:
    parser, docs = commands()[name], documented()[name]
    assert docs - options(parser) == set(), f"docs/cli.md gives {name} options it lacks"
    assert options(parser) - docs == set(), f"{name} has options docs/cli.md does not give"


def test_the_docs_do_not_give_spans_a_window() -> None:
    assert "--start" not in documented()["spans"]
