"""An error is one good line, not pages of internals: what a terminal shows, counted.

For each failure a new user meets (a refused connection, a host name that does not
resolve, 401, 404, 5xx), a script whose uncaught error prints a traceback, and the command
line, each run in a process of its own: at most 30 lines on the terminal, and no line twice
(retry lines included: sixteen workers retrying an unknown host print one warning). The
library's errors drop the chained urllib3 internals and keep them as ``.cause``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

import netra_frames as nf
from netra_frames import NetraClient, ServerError, TransportError
from netra_frames.server import LocalNetra

SERVER = dict(seed=6, traces=300, anchor=datetime(2026, 1, 1, tzinfo=timezone.utc))
WINDOW = ("2025-12-01", "2026-01-01")
MOST_LINES = 30 if sys.version_info < (3, 13) else 45
"""At most this many lines; Python 3.13 quotes each call that spans lines whole, so the
same frames take more lines there (docs/reliability.md says so)."""

SCRIPT = """\
import netra_frames as nf
nf.configure(backoff_factor=0.01, max_backoff=0.05, max_retries=2)
df = nf.traces_frame({start!r}, {end!r})
print(len(df))
"""


@pytest.fixture(autouse=True)
def _no_faults(srv: LocalNetra) -> Iterator[None]:
    srv.set_faults(None)
    yield
    srv.set_faults(None)
    assert srv.errors == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _case(srv: LocalNetra, case: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The environment (key, base URL) and the server's faults of one failure."""
    env = {"NETRA_API_KEY": srv.api_key, "NETRA_OTLP_ENDPOINT": srv.base_url}
    faults: dict[str, Any] = {}
    if case == "refused":
        env["NETRA_OTLP_ENDPOINT"] = f"http://127.0.0.1:{_closed_port()}"
    elif case == "unresolvable":
        env["NETRA_OTLP_ENDPOINT"] = "https://api.netra-frames-test.invalid"
    elif case == "401":
        env["NETRA_API_KEY"] = "nk_not-a-key-of-this-server"
    elif case == "404":
        env["NETRA_OTLP_ENDPOINT"] = srv.base_url + "/v9"  # no such route: a wrong base URL
    elif case == "5xx":
        faults = {"every": {"error": 1}, "error_statuses": (503,)}
    return env, faults


def _run(args: list[str], env: dict[str, str]) -> list[str]:
    full = {**os.environ, **env, "PYTHONWARNINGS": "ignore", "NETRA_FRAMES_CACHE": ""}
    proc = subprocess.run(args, env=full, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stdout
    return (proc.stdout + proc.stderr).splitlines()


def _check(lines: list[str], words: str) -> None:
    shown = "\n".join(lines)
    assert len(lines) <= MOST_LINES, shown
    # no line said twice: the log's and the error's (the quoted code, indented, may repeat)
    said = [line for line in lines if not line.startswith("  ")]
    assert len(set(said)) == len(said), shown
    assert words in lines[-1], shown  # the last line says what happened
    assert "urllib3" not in shown and "The above exception" not in shown, shown


CASES = {
    "refused": "could not connect to 127.0.0.1",
    "unresolvable": "did not resolve (DNS)",
    "401": "HTTP 401",
    "404": "HTTP 404",
    "5xx": "HTTP 503",
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_scripts_traceback_is_short(srv: LocalNetra, case: str) -> None:
    env, faults = _case(srv, case)
    srv.set_faults(**faults)
    script = SCRIPT.format(start=WINDOW[0], end=WINDOW[1])
    lines = _run([sys.executable, "-c", script], env)
    _check(lines, CASES[case])
    assert lines[0] == "Traceback (most recent call last):" or "retrying" in lines[0]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_command_lines_error_is_short(srv: LocalNetra, case: str) -> None:
    env, faults = _case(srv, case)
    srv.set_faults(**faults)
    args = ["traces", "--start", WINDOW[0], "--end", WINDOW[1], "--max-retries", "2"]
    lines = _run([sys.executable, "-m", "netra_frames", *args], env)
    _check(lines, CASES[case])
    assert "Traceback" not in "\n".join(lines)


def test_one_warning_per_kind_of_failure_and_drain(
    srv: LocalNetra, caplog: pytest.LogCaptureFixture
) -> None:
    """Sixteen workers, each request failing twice: one warning per kind, the rest DEBUG."""
    caplog.set_level(logging.DEBUG, logger="netra_frames")
    with NetraClient(srv.api_key, srv.base_url, max_retries=3, backoff_factor=0.001) as client:
        srv.set_faults(schedule={1: "503", 2: "malformed", 3: "503"})  # a call: its own drain
        client.get_tenant_usage("AceTech", *WINDOW)
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warned) == 2 and "HTTP 503" in warned[0] and "unusable body" in warned[1]
        caplog.clear()
        srv.set_faults(every={"error": 1}, error_statuses=(503,))
        with pytest.raises(ServerError):
            nf.traces_frame(*WINDOW, max_workers=16, progress=False, client=client)
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    warnings = [r for r in retries if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and len(retries) > 1
    assert "later retries for the same reason are logged at DEBUG" in warnings[0].message


def test_our_errors_keep_the_cause_on_an_attribute_not_a_chain() -> None:
    client = NetraClient("k", f"http://127.0.0.1:{_closed_port()}")
    with client, pytest.raises(TransportError) as info:
        client.get_tenant_usage("AceTech", *WINDOW)
    error = info.value
    assert error.__cause__ is None and error.__suppress_context__
    assert isinstance(error.cause, Exception) and "refused" in str(error.cause).lower()


EVERY_CALL = """\
import json, sys, tempfile, traceback
import netra_frames as nf
nf.configure(backoff_factor=0.01, max_backoff=0.05, max_retries=2)
start, end = {start!r}, {end!r}
ids = ["0" * 32, "1" * 32]
out = tempfile.mkdtemp()
calls = {{
    "traces_frame": lambda: nf.traces_frame(start, end),
    "scan_traces": lambda: nf.scan_traces(start, end).collect(),
    "export_traces": lambda: nf.export_traces(out + "/x", start, end),
    "spans_frame": lambda: nf.spans_frame(ids),
    "scan_spans": lambda: nf.scan_spans(ids).collect(),
    "session_usage_frame": lambda: nf.session_usage_frame(["s1", "s2"], start, end),
    "tenant_usage_frame": lambda: nf.tenant_usage_frame("AceTech", start, end),
    "sessions_frame": lambda: nf.sessions_frame(start, end),
    "usage_frame": lambda: nf.usage_frame(start, end),
    "report": lambda: nf.report(start, end),
    "NetraClient.list_traces": lambda: nf.get_client().list_traces(start, end),
}}
for name, call in calls.items():
    try:
        call()
    except Exception as exc:  # what a terminal would print for it, uncaught
        text = "".join(traceback.format_exception(exc))
        print(json.dumps({{"call": name, "lines": text.splitlines()}}))
    else:
        print(json.dumps({{"call": name, "lines": []}}))
"""


@pytest.mark.slow  # eleven calls in a process per failure
@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_public_call_fails_in_a_few_lines(srv: LocalNetra, case: str) -> None:
    """Each public function that sends requests, on each failure: the traceback a terminal
    would show is at most 30 lines, none twice, and its last line says what happened."""
    import json

    env, faults = _case(srv, case)
    srv.set_faults(**faults)
    script = EVERY_CALL.format(start=WINDOW[0], end=WINDOW[1])
    full = {**os.environ, **env, "PYTHONWARNINGS": "ignore", "NETRA_FRAMES_CACHE": ""}
    proc = subprocess.run([sys.executable, "-c", script], env=full, capture_output=True,
                          text=True, timeout=280)  # fmt: skip
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 11, proc.stderr
    for report in reports:
        assert report["lines"], f"{report['call']} did not fail"
        _check(report["lines"], CASES[case])
    retries = [line for line in proc.stderr.splitlines() if "retrying" in line]
    assert len(retries) <= 2 * len(reports)  # a line per kind of failure and call, not per try


COMMANDS = {
    "traces": ["traces", "--start", WINDOW[0], "--end", WINDOW[1]],
    "spans": ["spans", "0" * 32],
    "usage": ["usage", "tenant", "AceTech", "--start", WINDOW[0], "--end", WINDOW[1]],
    "export": ["export", "{out}", "--start", WINDOW[0], "--end", WINDOW[1]],
    "report": ["report", "--start", WINDOW[0], "--end", WINDOW[1], "-o", "{out}.html"],
}


@pytest.mark.slow  # a process per command and failure
@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", ["refused", "5xx"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_fails_in_a_few_lines(
    srv: LocalNetra, tmp_path: Any, command: str, case: str
) -> None:
    env, faults = _case(srv, case)
    srv.set_faults(**faults)
    args = [a.replace("{out}", str(tmp_path / "out")) for a in COMMANDS[command]]
    lines = _run([sys.executable, "-m", "netra_frames", *args, "--max-retries", "2"], env)
    _check(lines, CASES[case])
    assert "Traceback" not in "\n".join(lines)
