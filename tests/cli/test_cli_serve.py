"""``netra-frames serve`` as a user runs it: progress while the data is made, a ready line,
and Ctrl-C or SIGTERM that stop it promptly."""

from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import netra_frames
from netra_frames.server import LocalNetra

REPO = Path(netra_frames.__file__).resolve().parents[1]
READY_TIMEOUT_S = 120  # generous: the machine may be busy; the data is tiny
STOP_TIMEOUT_S = 2  # the requirement


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NETRA_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _start_serve(*extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "netra_frames", "serve", "--port", "0",
         "--traces", "50", *extra],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _read_until_ready(proc: subprocess.Popen[bytes]) -> list[str]:
    """Return stdout's lines up to and including the one starting with ``ready:``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    lines: list[str] = []
    buffer = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=1):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            lines += [line.decode() for line in done]
            if any(line.startswith("ready:") for line in lines):
                return lines
    raise AssertionError(f"no ready line within {READY_TIMEOUT_S}s: {lines!r}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_promptly_on_a_signal(sig: signal.Signals) -> None:
    proc = _start_serve()
    try:
        lines = _read_until_ready(proc)
        assert lines[0].startswith("# Local Netra server at http://127.0.0.1:")
        assert lines[-1] == f"ready: serving {lines[0].split()[-1]} until Ctrl-C"
        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve still running {STOP_TIMEOUT_S}s after {sig.name}")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    assert code == 0


def test_serve_says_what_it_is_doing_before_the_ready_line() -> None:
    proc = _start_serve()
    try:
        _read_until_ready(proc)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    lines = err.decode().splitlines()
    assert lines[0] == "netra-frames serve: generating 50 synthetic traces..."
    assert any(line.startswith("netra-frames serve: data ready in ") for line in lines)
    assert lines[-1] == "netra-frames serve: stopped"


def test_serve_no_progress_is_quiet_until_stopped() -> None:
    proc = _start_serve("--no-progress")
    try:
        _read_until_ready(proc)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert err.decode().splitlines() == ["netra-frames serve: stopped"]


def test_local_netra_reports_load_progress() -> None:
    seen: list[tuple[str, int, int]] = []
    anchor = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with LocalNetra(traces=12_000, anchor=anchor, progress=lambda *a: seen.append(a)):
        pass
    generate = [s for s in seen if s[0] == "generate"]
    index = [s for s in seen if s[0] == "index"]
    assert seen == generate + index  # generation first, then indexing
    assert generate[0] == ("generate", 0, 12_000) and generate[-1] == ("generate", 12_000, 12_000)
    assert len(generate) > 2  # several batches, not just start and end
    assert [d for _, d, _ in generate] == sorted(d for _, d, _ in generate)
    (total,) = {t for _, _, t in index}
    assert [d for _, d, _ in index] == list(range(total + 1))


def test_local_netra_reuses_a_db_without_progress(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    db = str(tmp_path / "data.sqlite")
    anchor = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with LocalNetra(traces=20, anchor=anchor, db=db):
        pass
    with LocalNetra(traces=20, anchor=anchor, db=db, progress=lambda *a: seen.append(a)):
        pass
    assert seen == []


_CALLER = r"""
import os, signal, threading, time
from netra_frames.cli import main

def mine(signum, frame):
    print("caller's handler", signum, flush=True)

def ctrl_c_once_main_runs():
    while signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        time.sleep(0.01)  # main() has not installed its handlers yet
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGINT)

signal.signal(signal.SIGINT, mine)
signal.signal(signal.SIGTERM, mine)
threading.Thread(target=ctrl_c_once_main_runs, daemon=True).start()
print("code", main(["serve", "--port", "0", "--traces", "20", "--no-progress"]), flush=True)
print("kept", signal.getsignal(signal.SIGINT) is mine, signal.getsignal(signal.SIGTERM) is mine)
os.kill(os.getpid(), signal.SIGINT)  # the caller's own handler runs again
print("alive", flush=True)
"""


def test_main_called_by_a_program_gives_back_its_signal_handlers() -> None:
    """``main(argv)`` stops ``serve`` on Ctrl-C (its exit code is 0), then leaves SIGINT and
    SIGTERM as it found them (the command itself keeps a second Ctrl-C ignored while it
    exits)."""
    out = subprocess.run(
        [sys.executable, "-c", _CALLER], env=_env(), capture_output=True, timeout=READY_TIMEOUT_S
    )
    lines = [
        line for line in out.stdout.decode().splitlines() if not line.startswith(("#", "export"))
    ]
    assert out.returncode == 0, out.stderr.decode()
    assert lines[-4:] == ["code 0", "kept True True", "caller's handler 2", "alive"], lines


# -- a busy port: one line naming it, before any data is made (issue 28, item 13) ----------


def test_local_netra_binds_before_it_makes_the_data() -> None:
    seen: list[tuple[str, int, int]] = []
    with LocalNetra(traces=5) as busy:
        port = int(busy.base_url.rsplit(":", 1)[1])
        srv = LocalNetra(traces=5000, port=port, progress=lambda *a: seen.append(a))
        with pytest.raises(OSError) as caught:
            srv.start()
        assert caught.value.errno == errno.EADDRINUSE
        assert seen == [] and not srv.is_running
        srv.stop()  # nothing to stop: still fine


def test_serve_on_a_busy_port_is_one_line_naming_it_before_any_data() -> None:
    with LocalNetra(traces=5) as busy:
        port = busy.base_url.rsplit(":", 1)[1]
        proc = subprocess.run(
            [sys.executable, "-W", "error", "-m", "netra_frames", "serve", "--port", port,
             "--traces", "200000"],
            env=_env(), capture_output=True, timeout=READY_TIMEOUT_S, check=False,
        )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err == (
        f"netra-frames: error: --port {port}: 127.0.0.1:{port} is already in use (another "
        "server?); pick another port, or pass --port 0 for any free one.\n"
    )  # not a line about generating 200,000 traces first
    assert proc.stdout == b""


def test_serve_on_an_address_not_of_this_machine_is_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netra_frames", "serve", "--host", "192.0.2.1", "--port", "0",
         "--traces", "200000"],
        env=_env(), capture_output=True, timeout=READY_TIMEOUT_S, check=False,
    )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith("netra-frames: error: --host 192.0.2.1: cannot listen on 192.0.2.1:0")
    assert err.endswith("; check --host.\n") and len(err.splitlines()) == 1
