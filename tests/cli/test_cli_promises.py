"""The command line's promises to scripts (issue 17): exit codes, messages, files, signals.

Each test runs ``python -m netra_frames`` as a user or a script does, against the session
server; faults come from the server.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from test_cli import Window, assert_one_line_error, clean_env, cli, span

from netra_frames.schema import SPANS, TRACES
from netra_frames.server import LocalNetra

HEAVY = ("polars", "pandas", "pyarrow")


def run(
    *args: str, server: LocalNetra, stdin: bytes = b"", code: int = 0, **env: str
) -> subprocess.CompletedProcess[bytes]:
    """``cli`` against ``server`` with ``env`` added and bytes on standard input."""
    return cli(*args, env=clean_env(server, **env), stdin=stdin, code=code)


def csv_columns(data: bytes) -> list[str]:
    return data.decode().splitlines()[0].split(",")


# -- 1, 2: the README pipe ---------------------------------------------------------------


def test_an_empty_day_piped_to_spans_is_an_empty_typed_result(
    server: LocalNetra, window: Window
) -> None:
    empty_day = ["--start", "2020-01-01", "--end", "2020-01-02"]
    traces = run("traces", *empty_day, "--format", "csv", server=server)
    server.reset_stats()
    for stdin in (traces.stdout, b""):
        spans = run("spans", "--from-traces", "-", "--format", "csv", server=server, stdin=stdin)
        assert csv_columns(spans.stdout) == [c.name for c in SPANS]
        assert len(spans.stdout.decode().splitlines()) == 1
    assert server.stats.requests == 0


def test_one_column_without_trace_id_is_refused(server: LocalNetra, window: Window) -> None:
    users = run("traces", *span(window), "--limit", "3", "-c", "user_id", "--format", "csv",
                server=server)  # fmt: skip
    assert users.stdout.startswith(b"user_id\n")
    proc = run("spans", "--from-traces", "-", server=server, stdin=users.stdout, code=2)
    assert_one_line_error(proc, "no trace_id column", "user_id")


# -- 3, 4, 14: bad values are one line and exit 2, before any request ----------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["serve", "--traces", "-5"], "--traces"),
        (["serve", "--days", "0"], "--days"),
        (["serve", "--port", "70000"], "--port"),
        (["demo", "--traces", "-1"], "--traces"),
        (["traces", "--max-retries", "-1"], "--max-retries: must be 0 or more, got -1"),
        (["traces", "--sort-field", "cost"], "--sort-field"),
        (["traces", "-o", "t.txt"], "--format"),
        (["traces", "--formt", "csv"], "did you mean --format?"),
        (["trace"], "did you mean traces?"),
        (["usage", "tenat", "AceTech"], "did you mean tenant?"),
        (["traces", "--format", "cvs"], "did you mean csv?"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2_before_any_request(
    server: LocalNetra, tmp_path: Path, argv: list[str], needle: str
) -> None:
    server.reset_stats()
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "netra_frames", *argv],
        env=clean_env(server), cwd=tmp_path, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr.decode()
    assert_one_line_error(proc, needle)
    assert server.stats.requests == 0
    assert list(tmp_path.iterdir()) == []


def test_sort_field_choices_are_in_help() -> None:
    out = cli("traces", "--help").stdout.decode()
    for name in ("start_time", "latency_ms", "total_cost", "total_tokens"):
        assert name in out.split("--sort-field", 1)[1]


def test_format_and_choices_take_any_case(server: LocalNetra, window: Window) -> None:
    proc = run("traces", *span(window), "--limit", "2", "--format", "CSV", "--sort-order",
               "ASC", server=server)  # fmt: skip
    assert csv_columns(proc.stdout) == [c.name for c in TRACES]


# -- 5, 14: where output goes, and what is said about it -----------------------------------


def test_dash_output_is_stdout_and_counts_are_singular(
    server: LocalNetra, window: Window, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netra_frames", "traces", *span(window), "--limit", "1",
         "--format", "csv", "-o", "-"],
        env=clean_env(server), cwd=tmp_path, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert not (tmp_path / "-").exists()
    assert len(proc.stdout.decode().splitlines()) == 2
    target = tmp_path / "one.csv"
    proc = run("traces", *span(window), "--limit", "1", "-o", str(target), server=server)
    assert proc.stderr.decode() == f"wrote 1 row to {target}\n"
    assert pl.read_csv(target).height == 1


def test_an_export_rerun_says_nothing_was_left_to_do(
    server: LocalNetra, window: Window, tmp_path: Path
) -> None:
    days = ["--start", window[0].isoformat(), "--end", (window[0] + timedelta(days=2)).isoformat()]
    first = run("export", str(tmp_path / "out"), *days, "--no-progress", server=server)
    assert first.stderr.decode().startswith("exported ")
    again = run("export", str(tmp_path / "out"), *days, "--no-progress", server=server)
    text = again.stderr.decode()
    assert text.startswith("nothing to export: all 2 partitions") and "0 rows" not in text


# -- 7: failures in the command line's words -------------------------------------------------


def test_keep_partial_writes_what_was_fetched_and_exits_1(
    server: LocalNetra, window: Window, tmp_path: Path
) -> None:
    target = tmp_path / "t.csv"
    # --limit makes the drain one walk, page after page: the 8 pages the server answers are
    # all taken before the 9th request fails. (With the window split, the failure may be
    # read before the newest range's first page, and the prefix kept is then empty.)
    argv = ["traces", *span(window), "--max-retries", "0", "--no-progress", "--limit", "1500",
            "-o", str(target)]  # fmt: skip
    server.set_faults(fail_after_requests=8)
    lost = run(*argv, server=server, code=1)
    assert_one_line_error(lost, "stopped part way", "--keep-partial")
    assert ".resume()" not in lost.stderr.decode() and not target.exists()
    server.set_faults(fail_after_requests=8)
    kept = run(*argv, "--keep-partial", server=server, code=1)
    assert_one_line_error(kept, f"{target}.partial")
    partial = pl.read_csv(f"{target}.partial")
    assert partial.height == 800 and partial.columns == [c.name for c in TRACES]
    assert not target.exists()


def test_messages_name_flags_not_python_arguments(server: LocalNetra) -> None:
    insecure = run("traces", "--base-url", "http://example.com", server=server, code=2)
    assert_one_line_error(insecure, "--allow-insecure-http")
    assert "allow_insecure_http" not in insecure.stderr.decode()
    no_url = run("traces", server=server, code=2, NETRA_OTLP_ENDPOINT="")
    assert_one_line_error(no_url, "--base-url")
    assert "base_url=" not in no_url.stderr.decode()


def test_a_wrong_base_url_path_blames_the_endpoint(server: LocalNetra) -> None:
    proc = run("spans", "abc", "--base-url", server.base_url + "/wrong", "--max-retries", "0",
               server=server, code=1)  # fmt: skip
    assert_one_line_error(proc, "--base-url", "NETRA_OTLP_ENDPOINT")
    assert "check the id" not in proc.stderr.decode()


# -- 9, 10: the cache, and the output path checked first -----------------------------------


def test_cache_flags(server: LocalNetra, window: Window, tmp_path: Path) -> None:
    assert "default: on only when NETRA_FRAMES_CACHE" in cli("traces", "--help").stdout.decode()
    home = tmp_path / "xdg"
    argv = ["traces", *span(window), "--format", "csv", "--no-progress"]
    info = ["cache", "info", "--cache-dir"]
    run(*argv, "--no-cache", server=server, NETRA_FRAMES_CACHE=str(tmp_path / "c"))
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("*.parquet"))
    run(*argv, "--cache", server=server, XDG_CACHE_HOME=str(home))
    stored = [p for p in home.rglob("*") if p.is_dir() and p.name == "netra-frames"]
    assert stored, list(home.rglob("*"))
    entries = run(*info, str(stored[0]), server=server).stdout.decode()
    assert "entries       0 " not in entries


@pytest.mark.parametrize("command", ["export", "demo"])
def test_an_existing_file_as_output_folder_is_refused_first(
    server: LocalNetra, tmp_path: Path, command: str
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine")
    server.reset_stats()
    argv = [command, str(taken)] if command == "export" else [command, "--out", str(taken)]
    proc = run(*argv, server=server, code=2)
    assert_one_line_error(proc, "existing file")
    assert server.stats.requests == 0 and taken.read_text() == "mine"


# -- 11: signals however the process was started --------------------------------------------


def test_serve_started_with_sigint_ignored_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "netra_frames", "serve", "--port", "0", "--traces", "20",
         "--no-progress"],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("ready:"):
            line = proc.stdout.readline().decode()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_serve_banner_pastes_into_a_shell_and_shows_its_faults(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "netra_frames", "serve", "--port", "0", "--traces", "20",
         "--no-progress", "--fault", "latency_ms=5", "--fault", "every=503:10"],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("ready:"):
            line = proc.stdout.readline().decode()
            assert line
            lines.append(line)
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    block = "".join(lines[:-1])
    assert "# faults: latency_ms=5.0, every={'503': 10}" in block
    assert all(line.startswith(("#", "export ")) for line in lines[:-1]), lines
    script = tmp_path / "env.sh"
    script.write_text(block + 'printf %s "$NETRA_OTLP_ENDPOINT"\n')
    shell = subprocess.run(["sh", "-e", str(script)], capture_output=True, timeout=30)
    assert shell.returncode == 0 and shell.stdout.decode().startswith("http://127.0.0.1:")


# -- 13: start-up imports nothing heavy -------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "from netra_frames.cli import main; main(['--help'])",
        "from netra_frames.cli import main; main(['--version'])",
        "from netra_frames.server import LocalNetra",
        "import netra_frames",
        "import tempfile; from netra_frames.cli import main; "
        "main(['cache', 'info', '--cache-dir', tempfile.mkdtemp()])",
        "import tempfile; from netra_frames.cli import main; "
        "main(['cache', 'clear', '--cache-dir', tempfile.mkdtemp()])",
        "import tempfile, netra_frames as nf; nf.cache_info(tempfile.mkdtemp())",
    ],
)
def test_start_up_imports_no_data_frame_library(code: str) -> None:
    probe = f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
    probe += f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=clean_env(), capture_output=True, timeout=60, check=True
    ).stdout.decode()
    assert out.splitlines()[-1] == "[]"


def test_the_face_still_gives_every_name() -> None:
    code = (
        "import netra_frames as nf; names = set(dir(nf)); "
        "print(set(nf.__all__) <= names and all(hasattr(nf, n) for n in nf.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True,
                         timeout=60, check=True)  # fmt: skip
    assert out.stdout == b"True\n"


def test_interrupted_while_loading_a_command_is_one_line(tmp_path: Path) -> None:
    """SIGINT during the import of a command's module: ``interrupted``, 130, no traceback."""
    hook = tmp_path / "sitecustomize.py"
    hook.write_text(
        "import builtins, os, signal\n"
        "real = builtins.__import__\n"
        "def slow(name, *a, **k):\n"
        "    if name == 'polars':\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = slow\n"
    )
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    proc = subprocess.run([sys.executable, "-m", "netra_frames", "traces", "--help"], env=env,
                          capture_output=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 130, proc.stderr.decode()
    assert proc.stderr.decode() == "netra-frames: interrupted\n"


# -- 12: one rule for configuration errors: exit 2, one line -------------------------------

BAD_SETTINGS: dict[str, dict[str, str]] = {
    "NETRA_API_KEY": {"NETRA_API_KEY": ""},
    "NETRA_OTLP_ENDPOINT": {"NETRA_OTLP_ENDPOINT": "ftp://x"},
    "OTEL_EXPORTER_OTLP_ENDPOINT": {"NETRA_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"},
    "NETRA_HEADERS": {"NETRA_HEADERS": "novalue"},
    "NETRA_USAGE_TIMEOUT": {"NETRA_USAGE_TIMEOUT": "abc"},
    "NETRA_FRAMES_MAX_REQUESTS_PER_SECOND": {"NETRA_FRAMES_MAX_REQUESTS_PER_SECOND": "fast"},
    "NETRA_FRAMES_SETTLE": {"NETRA_FRAMES_SETTLE": "soon", "NETRA_FRAMES_CACHE": "{tmp}"},
}
"""A bad value of every setting the command line reads (each exits 2 with one line)."""

NOT_AN_ERROR = {
    "NETRA_FRAMES_BACKEND": "the command line always builds Polars frames",
    "NETRA_FRAMES_CACHE": "a cache never fails a read: an unusable folder warns and is skipped",
}


def test_every_setting_is_covered() -> None:
    """Each ``ENV_*`` setting of the package is in one of the two tables above."""
    package = Path(__file__).resolve().parents[2] / "netra_frames"
    found = set()
    for module in package.rglob("*.py"):
        if "server" not in module.relative_to(package).parts:
            found |= set(re.findall(r'^ENV_\w+ = "(\w+)"', module.read_text(), re.M))
    assert found == set(BAD_SETTINGS) | set(NOT_AN_ERROR), found


@pytest.mark.parametrize("name", sorted(BAD_SETTINGS))
def test_a_bad_setting_exits_2_with_one_line(
    server: LocalNetra, window: Window, tmp_path: Path, name: str
) -> None:
    env = {k: v.format(tmp=tmp_path) for k, v in BAD_SETTINGS[name].items()}
    server.reset_stats()
    proc = run("traces", *span(window), "--format", "csv", server=server, code=2, **env)
    # the line names the setting, or (for the fallback URL variable) its bad value
    assert_one_line_error(proc, "base URL 'x'" if name.startswith("OTEL") else name)
    assert server.stats.requests == 0
