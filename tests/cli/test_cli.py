"""The ``netra-frames`` command end to end: subprocesses against the session server."""

from __future__ import annotations

import dataclasses
import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import requests

import netra_frames
from netra_frames import NetraClient
from netra_frames.cli import main
from netra_frames.cli._output import TABLE_COLUMNS
from netra_frames.demo import FILES
from netra_frames.output import format_for_path, neutralise_formulas, write_frame
from netra_frames.schema import SPANS, TRACES
from netra_frames.server import LocalNetra
from netra_frames.server.faults import FaultConfig

REPO = Path(netra_frames.__file__).resolve().parents[1]
Window = tuple[datetime, datetime]


def clean_env(server: LocalNetra | None = None, **extra: str) -> dict[str, str]:
    """The current environment without NETRA_*/OTEL_*, pointed at ``server`` if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NETRA_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if server is not None:
        env["NETRA_API_KEY"] = server.api_key
        env["NETRA_OTLP_ENDPOINT"] = server.base_url
    env.update(extra)
    return env


def cli(
    *args: str,
    server: LocalNetra | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    code: int = 0,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m netra_frames ARGS`` (``stdin`` on its input) and check its exit code."""
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "netra_frames", *args],
        env=env if env is not None else clean_env(server),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == code, (proc.returncode, proc.stderr.decode())
    return proc


def span(window: Window) -> list[str]:
    return ["--start", window[0].isoformat(), "--end", window[1].isoformat()]


def assert_one_line_error(proc: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    err = proc.stderr.decode()
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("netra-frames"), err
    for needle in needles:
        assert needle in err, err
    assert proc.stdout == b""


# -- traces ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first20(client: NetraClient, window: Window) -> pl.DataFrame:
    return netra_frames.traces_frame(
        *window, tenant_id="AceTech", max_rows=20, backend="polars", progress=False, client=client
    )


def _read(fmt: str, data: bytes) -> pl.DataFrame:
    if fmt == "csv":
        return pl.read_csv(io.BytesIO(data), infer_schema=False)
    if fmt == "parquet":
        return pl.read_parquet(io.BytesIO(data))
    if fmt == "ndjson":
        return pl.read_ndjson(io.BytesIO(data))
    return pl.DataFrame(json.loads(data))


@pytest.mark.parametrize("fmt", ["csv", "parquet", "ndjson", "json"])
def test_traces_formats_to_stdout(
    server: LocalNetra, window: Window, first20: pl.DataFrame, fmt: str
) -> None:
    proc = cli(
        "traces", "--tenant", "AceTech", "--limit", "20", *span(window), "--format", fmt,
        server=server,
    )  # fmt: skip
    frame = _read(fmt, proc.stdout)
    assert frame.columns == [c.name for c in TRACES]
    assert frame["trace_id"].to_list() == first20["trace_id"].to_list()
    assert proc.stderr == b""  # no progress bar when stderr is not a terminal


def test_traces_table_and_piped_default_is_csv(
    server: LocalNetra, window: Window, first20: pl.DataFrame
) -> None:
    table = cli("traces", "--tenant", "AceTech", "--limit", "20", *span(window), "--format",
                "table", server=server).stdout.decode()  # fmt: skip
    assert table.split("\n", 1)[0].split() == list(TABLE_COLUMNS["traces"])
    assert len(table.strip().splitlines()) == 21  # header and one line per trace
    piped = cli("traces", "--tenant", "AceTech", "--limit", "20", *span(window), server=server)
    assert pl.read_csv(io.BytesIO(piped.stdout))["trace_id"].to_list() == (
        first20["trace_id"].to_list()
    )


def test_traces_filters_and_sort(server: LocalNetra, window: Window, first20: pl.DataFrame) -> None:
    user = first20["user_id"].drop_nulls()[0]
    proc = cli("traces", "--tenant", "AceTech", "--user", user, *span(window), "--sort-field",
               "total_cost", "--sort-order", "asc", "--format", "csv", server=server)  # fmt: skip
    frame = pl.read_csv(io.BytesIO(proc.stdout))
    assert frame.height > 0 and set(frame["user_id"]) == {user}
    assert frame["total_cost"].to_list() == sorted(frame["total_cost"].to_list())


@pytest.mark.parametrize("name", ["t.parquet", "t.json"])
def test_output_format_follows_the_extension(
    server: LocalNetra, window: Window, tmp_path: Path, first20: pl.DataFrame, name: str
) -> None:
    target = tmp_path / "sub" / name
    proc = cli("traces", "--tenant", "AceTech", "--limit", "20", *span(window), "-o",
               str(target), server=server)  # fmt: skip
    assert proc.stdout == b""
    assert proc.stderr.decode().strip() == f"wrote 20 rows to {target}"
    frame = _read(format_for_path(target), target.read_bytes())
    assert frame["trace_id"].to_list() == first20["trace_id"].to_list()
    assert [p.name for p in target.parent.iterdir()] == [name]  # no temporary file left


def test_progress_goes_to_stderr_only(server: LocalNetra, window: Window) -> None:
    """With stderr a terminal the bar is drawn there; stdout stays pure CSV."""
    leader, follower = pty.openpty()
    # A fresh pty is 0x0 and tqdm draws nothing at width 0: give it a size.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    drawn: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                return
            if not chunk:
                return
            drawn.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "netra_frames", "traces", "--tenant", "AceTech",
             *span(window), "--format", "csv"],
            env=clean_env(server), stdout=subprocess.PIPE, stderr=follower, timeout=120,
            check=True,
        )  # fmt: skip
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    assert b"netra_frames: traces" in b"".join(drawn)
    frame = pl.read_csv(io.BytesIO(proc.stdout))
    assert frame.height > 100 and frame.columns[0] == "trace_id"


# -- spans -----------------------------------------------------------------------------


def test_spans_by_ids(server: LocalNetra, client: NetraClient, first20: pl.DataFrame) -> None:
    # traces with a chat model have a generation span: the filter below surely finds some
    chat = pl.col("models").list.set_intersection(["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"])
    ids = first20.filter(chat.list.len() > 0)["trace_id"].to_list()[:3]
    assert len(ids) == 3
    expected = netra_frames.spans_frame(
        ids, span_name="generation", backend="polars", progress=False, client=client
    )
    proc = cli("spans", *ids, "--span-name", "generation", "--format", "parquet", server=server)
    frame = pl.read_parquet(io.BytesIO(proc.stdout))
    assert frame.columns == [c.name for c in SPANS]
    assert frame["span_id"].to_list() == expected["span_id"].to_list()
    assert set(frame["kind"]) == {"generation"} and set(frame["trace_id"]) == set(ids)


@pytest.mark.parametrize("ext", ["parquet", "csv"])
def test_spans_from_traces_file(
    server: LocalNetra, client: NetraClient, window: Window, tmp_path: Path, ext: str
) -> None:
    traces_file = tmp_path / f"traces.{ext}"
    cli("traces", "--tenant", "Globex", *span(window), "--limit", "15", "-o", str(traces_file),
        server=server)  # fmt: skip
    spans_file = tmp_path / "spans.ndjson"
    cli("spans", "--from-traces", str(traces_file), "-o", str(spans_file), server=server)
    spans = pl.read_ndjson(spans_file)
    traces = pl.read_parquet(traces_file) if ext == "parquet" else pl.read_csv(traces_file)
    expected = netra_frames.spans_frame(traces, backend="polars", progress=False, client=client)
    assert spans["span_id"].to_list() == expected["span_id"].to_list()
    assert spans["trace_id"].unique(maintain_order=True).to_list() == traces["trace_id"].to_list()


# -- usage -----------------------------------------------------------------------------


def test_usage_session_equals_the_client(
    server: LocalNetra, client: NetraClient, window: Window, first20: pl.DataFrame
) -> None:
    session = first20["session_id"].drop_nulls()[0]
    proc = cli("usage", "session", session, *span(window), "--format", "json", server=server)
    (row,) = json.loads(proc.stdout)
    usage = client.get_session_usage(session, *window)
    assert row["session_id"] == session
    assert (row["token_count"], row["request_count"]) == (usage.token_count, usage.request_count)
    assert row["total_cost"] == pytest.approx(usage.total_cost, rel=1e-12)


def test_usage_tenants_equal_the_client(
    server: LocalNetra, client: NetraClient, window: Window
) -> None:
    tenants = ["AceTech", "Zürich AG", "Q?Labs #7 100%"]
    proc = cli("usage", "tenant", *tenants, *span(window), "--format", "ndjson", server=server)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["tenant_id"] for r in rows] == tenants
    for row in rows:
        usage = client.get_tenant_usage(row["tenant_id"], *window)
        assert row["request_count"] == usage.request_count > 0
        assert row["session_count"] == usage.session_count
        assert row["token_count"] == usage.token_count
        assert row["total_cost"] == pytest.approx(usage.total_cost, rel=1e-12)


# -- serve and demo --------------------------------------------------------------------


def test_serve_prints_the_bound_port_and_serves(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "netra_frames", "serve", "--port", "0", "--traces", "50",
         "--shape", "skewed", "--anchor", "2026-01-01"],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(3)]
            url = lines[0].split()[-1]
            key = lines[2].split("=", 1)[1].split()[0]
            assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
            assert lines[1].strip() == f"export NETRA_OTLP_ENDPOINT={url}"
            with requests.Session() as http:
                answer = http.get(
                    f"{url}/usage/tenants/AceTech",
                    params={"startTime": "2000-01-01T00:00:00.000Z",
                            "endTime": "2100-01-01T00:00:00.000Z"},
                    headers={"x-api-key": key},
                )  # fmt: skip
            assert answer.status_code == 200
            assert answer.json()["data"]["tenant_id"] == "AceTech"
            # --shape skewed: all the data lies in the last quarter of the 30 days
            early = http.get(
                f"{url}/usage/tenants/AceTech",
                params={"startTime": "2025-12-01T00:00:00.000Z",
                        "endTime": "2025-12-24T12:00:00.000Z"},
                headers={"x-api-key": key},
            )  # fmt: skip
            late = http.get(
                f"{url}/usage/tenants/AceTech",
                params={"startTime": "2025-12-24T12:00:00.000Z",
                        "endTime": "2026-01-01T00:00:00.000Z"},
                headers={"x-api-key": key},
            )  # fmt: skip
            assert early.json()["data"]["requestsCount"] == 0
            assert late.json()["data"]["requestsCount"] > 0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert proc.returncode == 0  # SIGTERM stops it cleanly


def test_serve_rejects_a_bad_fault() -> None:
    proc = cli("serve", "--port", "0", "--fault", "nonsense=1", code=2, env=clean_env())
    assert_one_line_error(proc, "--fault", "latency_ms")


def test_fault_values_follow_the_field_types() -> None:
    config = FaultConfig.from_specs(
        ["latency-ms=5", "error_statuses=500,503", "rate_limit_burst=3", "rate_limit_rps=none"]
    )
    assert (config.latency_ms, config.error_statuses) == (5.0, (500, 503))
    assert (config.rate_limit_burst, config.rate_limit_rps) == (3, None)
    with pytest.raises(ValueError, match="not a number"):
        FaultConfig.from_specs(["error_rate=lots"])
    with pytest.raises(ValueError, match="at most 1"):
        FaultConfig.from_specs(["error_rate=0.8", "rate_429=0.8"])
    config = FaultConfig.from_specs(["schedule=3:429, 7:truncate", "every=503:10", "stall-ms=5"])
    assert (config.schedule, config.every) == ({3: "429", 7: "truncate"}, {"503": 10})
    assert config.stall_ms == 5.0
    with pytest.raises(ValueError, match="KEY:VALUE"):
        FaultConfig.from_specs(["schedule=3"])
    with pytest.raises(ValueError, match="unknown fault 'nonsense'"):
        FaultConfig.from_specs(["every=nonsense:2"])
    assert FaultConfig.from_specs(["retry_after_http_date=yes"]).retry_after_http_date


def test_fault_grammar_follows_new_fields_without_parser_changes() -> None:
    """``from_specs`` reads a field by its declared type, so a new knob needs no parser change."""

    @dataclasses.dataclass
    class MoreFaults(FaultConfig):
        burst_statuses: tuple[int, ...] = (503,)
        cap_ms: float | None = None
        weights: dict[str, float] = dataclasses.field(default_factory=dict)

    config = MoreFaults.from_specs(["burst-statuses=500,502", "cap_ms=7", "weights=a:0.5"])
    assert (config.burst_statuses, config.cap_ms, config.weights) == ((500, 502), 7.0, {"a": 0.5})
    assert MoreFaults.from_specs(["cap_ms=off"]).cap_ms is None
    with pytest.raises(ValueError, match="cap_ms"):
        MoreFaults.from_specs(["cap_ms=soon"])


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = cli("demo", "--out", str(out), "--traces", "1500", "--no-progress", env=clean_env())
    text = proc.stdout.decode()
    assert "agree: yes" in text and "Top users by cost" in text
    assert str(out.resolve()) in text
    names = set(FILES) - {"cost_by_model_day.png"}
    try:
        import matplotlib  # noqa: F401

        names.add("cost_by_model_day.png")
        assert (out / "cost_by_model_day.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    except ImportError:
        assert "plot extra" in text
    assert {p.name for p in out.iterdir()} == names

    traces = pl.read_parquet(out / "traces.parquet")
    spans = pl.read_parquet(out / "spans.parquet")
    assert traces.columns == [c.name for c in TRACES]
    assert spans.columns == [c.name for c in SPANS]
    assert set(traces["tenant_id"]) == {"AceTech"} and traces.height > 100
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Cost report: report of" in text and "totals agree with the usage endpoint" in text
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert f"{traces.height:,}" in page or str(traces.height) in page
    assert set(spans["trace_id"]) == set(traces["trace_id"])
    by_user = pl.read_csv(out / "cost_by_user.csv")
    assert by_user["requests"].sum() == traces.height
    assert by_user["total_tokens"].sum() == traces["total_tokens"].sum()
    assert by_user["total_cost"].sum() == pytest.approx(traces["total_cost"].sum(), rel=1e-9)
    assert by_user["total_cost"].to_list() == sorted(by_user["total_cost"], reverse=True)
    by_model_day = pl.read_csv(out / "cost_by_model_day.csv")
    # Every token and cent of the tenant is on a span that names its model.
    assert by_model_day["total_tokens"].sum() == traces["total_tokens"].sum()
    assert by_model_day["total_cost"].sum() == pytest.approx(traces["total_cost"].sum(), rel=1e-9)
    assert f"{traces.height:,} traces (of the server's 1,500, every tenant's)" in text


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["traces", "--start", "yesterday"], "yesterday"),
        (["spans"], "TRACE_ID"),
        (["spans", "--from-traces", "no-such-file.csv"], "no-such-file.csv"),
        (["traces", "--bogus"], "--bogus"),
    ],
)
def test_bad_usage_exits_2_with_one_line(server: LocalNetra, args: list[str], needle: str) -> None:
    assert_one_line_error(cli(*args, server=server, code=2), needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["traces", "--sort-order", "up"], "--sort-order"),
        (["traces", "--limit", "0"], "--limit"),
        (["usage", "tenant"], "ID"),
        (["usage", "bogus"], "KIND"),
        (["bogus"], "COMMAND"),
    ],
)
def test_parse_errors_are_one_line(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and needle in captured.err


def test_bad_key_exits_1(server: LocalNetra) -> None:
    proc = cli("usage", "tenant", "AceTech", env=clean_env(server, NETRA_API_KEY="nk_wrong"),
               code=1)  # fmt: skip
    assert_one_line_error(proc, "401")
    assert "nk_wrong" not in proc.stderr.decode()


def test_unknown_trace_exits_1(server: LocalNetra) -> None:
    assert_one_line_error(cli("spans", "0" * 32, server=server, code=1), "404")


def test_missing_configuration_exits_2() -> None:
    assert_one_line_error(cli("traces", env=clean_env(), code=2), "NETRA_API_KEY")


def test_typo_tenant_warns_one_line_and_still_succeeds(server: LocalNetra) -> None:
    start, end = (server.anchor - timedelta(days=30)).isoformat(), server.anchor.isoformat()
    proc = cli("traces", "--tenant", "acetech", "--start", start, "--end", end, "--format",
               "csv", server=server)  # fmt: skip
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netra-frames: warning: no traces matched")
    assert "case-sensitive" in lines[0] and "Traceback" not in proc.stderr.decode()
    usage = cli("usage", "tenant", "AceTech", "acetech", "--start", start, "--end", end,
                "--format", "csv", server=server)  # fmt: skip
    assert usage.stderr.decode().count("warning:") == 1 and "'acetech'" in usage.stderr.decode()


def test_api_key_env_and_base_url_options(server: LocalNetra) -> None:
    env = clean_env(MY_NETRA_KEY=server.api_key)
    proc = cli("usage", "tenant", "AceTech", "--api-key-env", "MY_NETRA_KEY", "--base-url",
               server.base_url, "--format", "ndjson", env=env)  # fmt: skip
    assert json.loads(proc.stdout)["tenant_id"] == "AceTech"
    missing = cli("traces", "--api-key-env", "NOT_SET_ANYWHERE", "--base-url", server.base_url,
                  env=env, code=2)  # fmt: skip
    assert_one_line_error(missing, "NOT_SET_ANYWHERE")


# -- CSV formula neutralisation --------------------------------------------------------

RISKY = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


def test_write_frame_neutralises_formulas(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"cell": [*RISKY, "plain", "a=b", None], "n": [-1, 2, -3, 4, 5, 6, 7, -8, 9]}
    )
    write_frame(frame, tmp_path / "safe.csv")
    safe = pl.read_csv(tmp_path / "safe.csv")
    assert safe["cell"].to_list() == [*("'" + r for r in RISKY), "plain", "a=b", None]
    assert safe["n"].to_list() == frame["n"].to_list()  # numbers are never touched
    write_frame(frame, tmp_path / "raw.csv", csv_safe=False)
    assert pl.read_csv(tmp_path / "raw.csv")["cell"].to_list() == frame["cell"].to_list()


def test_neutralise_formulas_keeps_non_strings_and_pandas_input() -> None:
    import pandas as pd

    out = io.BytesIO()
    write_frame(pd.DataFrame({"x": ["=1", "ok"], "y": [1.5, -2.0]}), stream=out)
    assert out.getvalue().decode().splitlines() == ["x,y", "'=1,1.5", "ok,-2.0"]
    frame = pl.DataFrame({"x": [["=a"]], "y": [True]})
    assert neutralise_formulas(frame).equals(frame)  # lists are JSON text by the time of CSV


def test_cli_csv_safe_on_and_off(server: LocalNetra, window: Window) -> None:
    risky = '=HYPERLINK("http://evil","click")'
    safe = cli("usage", "session", risky, *span(window), "--format", "csv", server=server)
    assert pl.read_csv(io.BytesIO(safe.stdout))["session_id"].to_list() == ["'" + risky]
    raw = cli("usage", "session", risky, *span(window), "--format", "csv", "--no-csv-safe",
              server=server)  # fmt: skip
    assert pl.read_csv(io.BytesIO(raw.stdout))["session_id"].to_list() == [risky]


def test_written_files_honour_the_umask(tmp_path: Path) -> None:
    write_frame(pl.DataFrame({"a": [1]}), tmp_path / "a.csv")
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o666 & ~umask


# -- in-process: help of every command -------------------------------------------------

COMMANDS = [
    [], ["traces"], ["spans"], ["usage"], ["usage", "session"], ["usage", "tenant"],
    ["serve"], ["demo"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "netra-frames")
def test_help_of_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: netra-frames {' '.join(command)}".strip())


def test_version_subprocess() -> None:
    proc = cli("--version", env=clean_env())
    assert proc.stdout.decode().strip() == f"netra-frames {netra_frames.__version__}"


def test_unwritable_output_is_one_line_before_any_request(
    server: LocalNetra, window: Window, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = str(blocker / "traces.csv")
    server.reset_stats()
    proc = cli("traces", *span(window), "--limit", "3", "-o", target, server=server, code=2)
    assert_one_line_error(proc, "a-file")
    assert server.stats.requests == 0
