"""Every test a page of docs/ names as holding a promise (``tests/<file>.py::<name>``) exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import netra_frames

REPO = Path(netra_frames.__file__).resolve().parents[1]
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def named_tests() -> list[tuple[str, str, str]]:
    """``(page, file, test)`` of every test a page of docs/ names."""
    found = []
    for page in sorted((REPO / "docs").glob("*.md")):
        for path, name in NAMED.findall(page.read_text(encoding="utf-8")):
            found.append((page.name, path, name))
    return found


def test_the_reliability_page_names_tests() -> None:
    assert sum(page == "reliability.md" for page, _, _ in named_tests()) >= 20


@pytest.mark.parametrize(("page", "path", "name"), named_tests(), ids=lambda v: str(v))
def test_every_named_test_exists(page: str, path: str, name: str) -> None:
    source = REPO / path
    assert source.is_file(), f"{page} names {path}, which does not exist"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    tests = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert name in tests, f"{page} names {path}::{name}, which does not exist"
