"""CI sessions beyond the README's test command: other Pythons, the dependency floors, the wheel.

``.ci/run`` runs every session after the README's ``python -m pytest``. Run one locally with
``nox -s tests-3.10`` (``nox -l`` lists them; arguments after ``--`` go to pytest:
``nox -s tests-3.10 -- tests/doors/test_scan.py -x``).

- ``tests-3.10``: the suite on the lowest supported Python, with every runtime dependency at
  exactly the floor that ``pyproject.toml`` declares (constraints derived from it at run time,
  so they cannot drift): the oldest of everything we claim to support, together.
- ``tests-3.13``: the suite on the highest supported Python, with the newest dependencies (as
  the README's run on the default Python has them).
  A Python that this machine lacks is skipped with a printed line, never silently, and does
  not fail the run.
- ``dist``: build the sdist and the wheel, check their metadata, install the wheel into a fresh
  venv outside the repository and run ``netra-frames demo`` there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nox
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev extra installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent
LOWEST_PYTHON = "3.10"
HIGHEST_PYTHON = "3.13"
PYTHONS = [LOWEST_PYTHON, HIGHEST_PYTHON]

# The extra Pythons run the suite without the tests marked slow (examples, demo, benchmark
# smoke): the README's run on the default Python covers those, and .ci/run stays under ~20 min.
SUITE = ("-m", "not slow")
# What the wheel's demo writes (the PNG chart needs the plot extra, which the wheel run omits).
DEMO_FILES = ("traces.parquet", "spans.parquet", "cost_by_user.csv", "cost_by_model_day.csv")

nox.options.default_venv_backend = "uv|virtualenv"
# uv may otherwise download a Python it cannot find; only the machine's own Pythons count here.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
nox.options.reuse_venv = "yes"
# nox turns this on when CI is set; a Python the machine lacks is reported, not a failure.
nox.options.error_on_missing_interpreters = False
nox.options.sessions = [f"tests-{v}" for v in PYTHONS] + ["dist"]


def runtime_floors(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """Map each runtime dependency of ``pyproject.toml`` to the floor its ``>=`` declares.

    Examples
    --------
    >>> runtime_floors()["requests"]  # doctest: +SKIP
    '2.32.2'
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    floors: dict[str, str] = {}
    for text in project["dependencies"]:
        requirement = Requirement(text)
        lows = [s.version for s in requirement.specifier if s.operator == ">="]
        if len(lows) != 1:
            raise ValueError(f"{text!r}: every runtime dependency needs exactly one >= floor")
        floors[requirement.name] = lows[0]
    return floors


def _expose_pyenv_pythons(versions: list[str]) -> None:
    """Let pyenv's ``python3.X`` shims answer for each wanted version that pyenv has.

    pyenv's shims run only the versions that ``PYENV_VERSION`` names; naming several, as
    ``pyenv shell 3.11.7 3.10.13`` does, makes each ``python3.X`` findable at once.
    """
    if shutil.which("pyenv") is None:
        return
    installed = subprocess.run(
        ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
    ).stdout.split()
    current = (
        os.environ.get("PYENV_VERSION")
        or subprocess.run(
            ["pyenv", "version-name"], capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    chosen = [current] if current else []
    for version in versions:
        patches = [v for v in installed if v.startswith(version + ".") and v.count(".") == 2]
        patches = [v for v in patches if v.rsplit(".", 1)[1].isdigit()]
        if patches:
            chosen.append(max(patches, key=lambda v: int(v.rsplit(".", 1)[1])))
    os.environ["PYENV_VERSION"] = ":".join(dict.fromkeys(chosen))


def _report_missing_pythons(versions: list[str]) -> None:
    """Print one line for each wanted Python that cannot run here (its session is skipped)."""
    for version in versions:
        exe = shutil.which(f"python{version}")
        ok = exe is not None and subprocess.run([exe, "-c", ""], check=False).returncode == 0
        if not ok:
            print(f"nox: Python {version} is not installed here; its sessions are SKIPPED")


_expose_pyenv_pythons(PYTHONS)
_report_missing_pythons(PYTHONS)


def _pytest(session: nox.Session, *default: str) -> None:
    """Run pytest with the session's arguments, else ``default`` (which must find tests)."""
    if session.posargs:
        # A selection given by hand may match nothing (pytest's exit 5); that is no failure.
        session.run("python", "-m", "pytest", *session.posargs, success_codes=[0, 5])
    else:
        session.run("python", "-m", "pytest", *default)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Import the package and run the suite (without slow tests) on this Python; on the lowest,
    with every runtime dependency at its declared floor."""
    if session.python == LOWEST_PYTHON:
        _install_floors(session)
    else:
        session.install("-e", ".[dev]")
    session.run("python", "-c", "import netra_frames, sys; print('imported on', sys.version)")
    _pytest(session, *SUITE)


_CHECK_FLOORS = """\
import json, sys
from importlib.metadata import version
floors = json.loads(sys.argv[1])
got = {n: version(n) for n in floors}
print("installed at the declared floors:", ", ".join(f"{n}=={v}" for n, v in got.items()))
sys.exit(0 if got == floors else f"installed {got}, declared floors {floors}")
"""


def _install_floors(session: nox.Session) -> None:
    """Install the package with every runtime dependency at its floor; check it got them."""
    floors = runtime_floors()
    constraints = Path(session.create_tmp()) / "floors.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in floors.items()), encoding="utf-8")
    session.install("-c", str(constraints), "-e", ".[dev]")
    check = Path(session.create_tmp()) / "check_floors.py"
    check.write_text(_CHECK_FLOORS, encoding="utf-8")
    session.run("python", str(check), json.dumps(floors))


@nox.session
def dist(session: nox.Session) -> None:
    """Build, check, install the wheel outside the repository and run the demo from it."""
    session.install("build", "twine", "uv")
    work = Path(tempfile.mkdtemp(prefix="netra-frames-dist-"))
    try:
        out = work / "dist"
        session.run("python", "-m", "build", "--installer", "uv", "--outdir", str(out), ".")
        built = sorted(out.iterdir())
        wheels = [p for p in built if p.suffix == ".whl"]
        sdists = [p for p in built if p.name.endswith(".tar.gz")]
        if len(wheels) != 1 or len(sdists) != 1:
            session.error(f"expected one wheel and one sdist, built {[p.name for p in built]}")
        session.run("twine", "check", "--strict", *map(str, built))
        venv = work / "venv"
        here = str(Path(session.bin) / "python")
        session.run("uv", "venv", "--quiet", "--python", here, str(venv))
        python = venv / "bin" / "python"
        session.run("uv", "pip", "install", "--quiet", "--python", str(python), str(wheels[0]))
        run_dir = work / "run"
        run_dir.mkdir()
        with session.chdir(run_dir):
            where = (
                "import sys, netra_frames as nf; print('imported from', nf.__file__); "
                "sys.exit(nf.__file__.startswith(sys.argv[1]))"
            )
            session.run(str(python), "-c", where, str(ROOT), external=True)
            session.run(
                str(venv / "bin" / "netra-frames"),
                *("demo", "--out", "demo", "--traces", "200", "--no-progress"),
                external=True,
            )
        missing = [name for name in DEMO_FILES if not (run_dir / "demo" / name).is_file()]
        if missing:
            session.error(f"netra-frames demo from the wheel did not write {missing}")
        session.log(f"the wheel's demo wrote {', '.join(DEMO_FILES)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
