"""docs/architecture.md against the import-linter contract in pyproject.toml.

Each ``<!-- layers: CONTAINER -->`` table of the page must list, row by row, the layers of
the contract of that container; every layers contract must have its table; and every
module of the package is in the main layers (or is the local server, which has contracts
of its own).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import netra_frames

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(netra_frames.__file__).resolve().parents[1]
PACKAGE = REPO / "netra_frames"


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _layers() -> dict[str, list[list[str]]]:
    """``container -> [[module, ...] per layer, top first]`` of every layers contract."""
    out = {}
    for contract in _contracts():
        if contract["type"] != "layers":
            continue
        (container,) = contract["containers"]
        out[container] = [
            [name.strip().strip("()") for name in re.split(r"[|:]", layer)]
            for layer in contract["layers"]
        ]
    return out


def _doc_tables() -> dict[str, list[list[str]]]:
    """``container -> [[module, ...] per row]`` of the page's marked tables."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    out = {}
    for match in re.finditer(r"<!-- layers: (\S+) -->\n((?:\|.*\n)+)", text):
        rows = match.group(2).splitlines()[2:]  # after the header and its rule
        out[match.group(1)] = [re.findall(r"`([^`]+)`", row.split("|")[2]) for row in rows]
    return out


def test_each_table_of_the_page_is_its_contract() -> None:
    layers, tables = _layers(), _doc_tables()
    assert sorted(tables) == sorted(layers), "a layers contract without a table, or the reverse"
    for container, rows in layers.items():
        assert tables[container] == rows, f"docs/architecture.md disagrees on {container}"


def test_every_module_is_in_a_layer() -> None:
    main = {name for layer in _layers()["netra_frames"] for name in layer}
    present = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert present - main == {"server"}, "add the module to the layers and to the page"
    for container in ("_wire", "cache", "_engine"):
        inside = {p.stem for p in (PACKAGE / container).glob("*.py") if p.stem != "__init__"}
        listed = {name for layer in _layers()[f"netra_frames.{container}"] for name in layer}
        assert inside == listed, f"netra_frames.{container}: every module in its layers"


def test_the_server_contract_covers_every_module() -> None:
    (server,) = [
        c
        for c in _contracts()
        if c["type"] == "forbidden" and c["source_modules"] == ["netra_frames.server"]
    ]
    assert server["forbidden_modules"] == ["netra_frames.*"]
