"""Shared fixtures: one LocalNetra per test session, a client on it, a clean default state.

The session server's data is fixed (``ANCHOR``), so every pick a test makes from it is the
same on every run. After each test that used it, its faults are switched off again, so no
test's faults leak into the next one whatever the order (the suite runs in random order:
``pytest-randomly`` prints the seed to replay one with ``-p randomly --randomly-seed=N``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from netra_frames import NetraClient, _defaults
from netra_frames.server import LocalNetra

#: End of the session server's data window: fixed, so the data never moves with the clock.
ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def server() -> Iterator[LocalNetra]:
    """A local Netra server with 2000 traces over ``[ANCHOR - 30 days, ANCHOR)``."""
    with LocalNetra(seed=0, traces=2000, anchor=ANCHOR) as srv:
        yield srv
        assert srv.errors == []


@pytest.fixture(scope="session")
def local_netra() -> Iterator[Callable[..., LocalNetra]]:
    """Start ``LocalNetra(**params)`` once per set of params; close them all at session end.

    Each server's data is fixed by its parameters, so modules asking for the same parameters
    share one server. Every server must end the session with no server-side error.
    """
    servers: dict[tuple[tuple[str, object], ...], LocalNetra] = {}
    with ExitStack() as stack:

        def start(**params: object) -> LocalNetra:
            key = tuple(sorted(params.items()))
            if key not in servers:
                servers[key] = stack.enter_context(LocalNetra(**params))  # type: ignore[arg-type]
            return servers[key]

        yield start
        for srv in servers.values():
            assert srv.errors == [], srv.errors


@pytest.fixture(scope="module")
def srv(request: pytest.FixtureRequest, local_netra: Callable[..., LocalNetra]) -> LocalNetra:
    """The server of this module: ``LocalNetra(**SERVER)`` from the module's ``SERVER`` dict.

    A module without ``SERVER`` gets the session ``server``.
    """
    params = getattr(request.module, "SERVER", None)
    if params is None:
        return request.getfixturevalue("server")  # type: ignore[no-any-return]
    return local_netra(**params)


@pytest.fixture(autouse=True)
def _session_server_faults_off(request: pytest.FixtureRequest) -> Iterator[None]:
    """Switch the session server's faults off after every test that used it."""
    srv = request.getfixturevalue("server") if "server" in request.fixturenames else None
    yield
    if srv is not None:
        srv.set_faults(None)


@pytest.fixture(scope="session")
def client(server: LocalNetra) -> Iterator[NetraClient]:
    """A client of the first organisation (tenant ``AceTech``), closed at the end."""
    with NetraClient(server.api_key, server.base_url) as c:
        yield c


@pytest.fixture(scope="module")
def window(
    request: pytest.FixtureRequest, srv: LocalNetra
) -> tuple[datetime, datetime] | tuple[str, str]:
    """The window of this module around its server's anchor, from the module's ``WINDOW`` dict.

    ``WINDOW = dict(days_before=31, days_after=1)`` reaches that far before and after the
    anchor; with ``as_text=True`` the two ends are ISO 8601 text, as a user types them. A
    module without ``WINDOW`` gets the whole data window ``[anchor - 30 days, anchor)``.
    """
    shape = {"days_before": 30, "days_after": 0, "as_text": False}
    shape.update(getattr(request.module, "WINDOW", {}))
    start = srv.anchor - timedelta(days=shape["days_before"])
    end = srv.anchor + timedelta(days=shape["days_after"])
    return (start.isoformat(), end.isoformat()) if shape["as_text"] else (start, end)


@pytest.fixture
def clean_defaults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No default client or backend before and after the test; backend env unset."""
    monkeypatch.delenv(_defaults.ENV_BACKEND, raising=False)
    _defaults.reset()
    yield
    _defaults.reset()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount small tmpfs file systems under ``tmp_path``: ``small_disk(size="64k", full=False)``.

    ``full=True`` fills it up first, so the first byte written fails with ``ENOSPC``;
    ``read_only=True`` mounts it read-only, so every write fails with ``EROFS``. The
    test is skipped, saying why, where nothing can be mounted (not root, no ``mount``);
    every file system is unmounted at teardown. Each test mounts under its own
    ``tmp_path``, so this works under pytest-xdist.
    """
    mounted: list[Path] = []
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small tmpfs needs root and mount(8) (CI runs as root); not here")

    def mount(size: str = "64k", *, full: bool = False, read_only: bool = False) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        options = f"size={size},mode=0755" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
        mounted.append(point)
        if full:
            _fill(point / ".filler")
        return point

    yield mount
    for point in reversed(mounted):
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _fill(path: Path) -> None:
    """Write ``path`` until its file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


def pytest_configure(config: pytest.Config) -> None:
    """Give SIGINT Python's usual handler (KeyboardInterrupt), as in a terminal.

    A shell script that starts a job in the background (``cmd &``, as a CI script may
    start a suite) starts it with SIGINT ignored, and Python then keeps it ignored: the
    Ctrl-C tests would see no KeyboardInterrupt, in this process or in the children that
    inherit it.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """Repeat pytest-randomly's seed at the end (``-q`` hides the header that shows it)."""
    seed = getattr(config.option, "randomly_seed", None)
    if config.pluginmanager.hasplugin("randomly") and isinstance(seed, int):
        terminalreporter.write_line(
            f"Using --randomly-seed={seed} (replay this order: "
            f"python -m pytest -p randomly --randomly-seed={seed}; in one process: -n 0)"
        )


INTERRUPT_CHILD = Path(__file__).parent / "engine" / "_interrupt_child.py"


@pytest.fixture
def interrupt_child() -> Callable[..., dict[str, Any]]:
    """Run ``tests/engine/_interrupt_child.py`` with ``args``, press Ctrl-C (SIGINT) once it
    says ``stalled``, and return its report, checked: it raised ``KeyboardInterrupt``, left
    no worker alive, and exited 130."""

    def run(*args: str) -> dict[str, Any]:
        proc = subprocess.Popen([sys.executable, str(INTERRUPT_CHILD), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)  # fmt: skip
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "stalled"  # its requests all wait
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        assert report["raised"] == "KeyboardInterrupt", err
        assert report["alive_after"] == [], report["stacks"]
        assert proc.returncode == 130
        return report

    return run
