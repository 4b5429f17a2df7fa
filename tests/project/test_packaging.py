"""The packaging promises agree with each other and with what CI runs.

``requires-python``, the classifiers, mypy's ``python_version``, ruff's ``target-version`` and
the Pythons of ``noxfile.py`` all name the same lowest Python; its ``tests-3.10`` session pins
exactly the floors that ``pyproject.toml`` declares; ``.ci/run`` runs every nox session.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]

sys.path.insert(0, str(ROOT))
try:
    import noxfile
finally:
    sys.path.remove(str(ROOT))


def _minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _lowest_supported() -> tuple[int, int]:
    spec = SpecifierSet(PROJECT["requires-python"])
    lows = [Version(s.version) for s in spec if s.operator == ">="]
    assert len(lows) == 1, f"requires-python {spec} should have one >= bound"
    return lows[0].major, lows[0].minor


def test_every_place_names_the_same_lowest_python() -> None:
    lowest = _lowest_supported()
    assert _minor(noxfile.LOWEST_PYTHON) == lowest
    assert _minor(PYPROJECT["tool"]["mypy"]["python_version"]) == lowest
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{lowest[0]}{lowest[1]}"


def test_classifiers_list_each_python_from_lowest_to_highest() -> None:
    prefix = "Programming Language :: Python :: "
    listed = sorted(
        _minor(c[len(prefix) :])
        for c in PROJECT["classifiers"]
        if re.fullmatch(re.escape(prefix) + r"3\.\d+", c)
    )
    lowest, highest = _lowest_supported(), _minor(noxfile.HIGHEST_PYTHON)
    assert listed == [(3, m) for m in range(lowest[1], highest[1] + 1)]
    assert noxfile.PYTHONS == [noxfile.LOWEST_PYTHON, noxfile.HIGHEST_PYTHON]


def test_this_python_is_one_the_package_claims() -> None:
    running = ".".join(map(str, sys.version_info[:3]))
    assert running in SpecifierSet(PROJECT["requires-python"])
    assert _lowest_supported() <= sys.version_info[:2] <= _minor(noxfile.HIGHEST_PYTHON)


def test_lowest_session_pins_every_declared_floor() -> None:
    floors = noxfile.runtime_floors()
    declared = [Requirement(text) for text in PROJECT["dependencies"]]
    assert sorted(floors) == sorted(r.name for r in declared)
    for requirement in declared:
        # a full release number, so "installed == declared floor" is a strict check
        assert re.fullmatch(r"\d+\.\d+\.\d+", floors[requirement.name]), requirement
        assert Version(floors[requirement.name]) in requirement.specifier


def test_a_dependency_without_a_floor_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["polars>=1.20.0", "requests"]\n')
    with pytest.raises(ValueError, match="'requests': every runtime dependency needs"):
        noxfile.runtime_floors(pyproject)


def test_ci_runs_every_nox_session() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "nox", "--list", "--noxfile", str(ROOT / "noxfile.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    sessions = re.findall(r"^\* (\S+)", listed, flags=re.MULTILINE)
    expected = [f"tests-{v}" for v in noxfile.PYTHONS] + ["dist"]
    assert sessions == expected
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    docs = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    for session in expected:
        assert re.search(rf"nox .*-s {re.escape(session)}\b", ci), session
        assert f"| `{session}` |" in docs, f"docs/testing.md's CI table lacks {session}"


def test_floors_named_in_the_docs_are_the_declared_ones() -> None:
    docs = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    named = dict(re.findall(r"`([a-z][a-z0-9-]*)==([\d.]+)`", docs))
    assert named, "docs/testing.md names no floor"
    floors = noxfile.runtime_floors()
    assert {n: floors.get(n) for n in named} == named


def test_no_session_deselects_a_test() -> None:
    """Every promise runs in every suite on every Python: nothing is deselected."""
    source = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert "--deselect" not in source and "KNOWN_FLAKY" not in source
