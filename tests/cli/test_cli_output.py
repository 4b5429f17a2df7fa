"""The CLI's output and input as a user pipes them: formats, columns, ``--from-traces``."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

import netra_frames
from netra_frames import NetraClient
from netra_frames.cli import main
from netra_frames.cli._output import TABLE_COLUMNS
from netra_frames.schema import TRACES
from netra_frames.server import LocalNetra

REPO = Path(netra_frames.__file__).resolve().parents[1]
Window = tuple[datetime, datetime]


def run(
    *args: str,
    server: LocalNetra,
    code: int = 0,
    stdin: bytes = b"",
    columns: int | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``netra-frames ARGS`` against ``server`` in this process; check its exit code.

    The command line's own ``main`` runs with its standard streams and environment
    replaced (``tests/cli/test_cli.py`` covers the real process: exit codes, signals, TTYs);
    in process, each command costs milliseconds instead of an interpreter start.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NETRA_", "OTEL_"))}
    env |= {"NETRA_API_KEY": server.api_key, "NETRA_OTLP_ENDPOINT": server.base_url}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    out, err = io.BytesIO(), io.StringIO()
    text_in = io.TextIOWrapper(io.BytesIO(stdin))
    text_out = io.TextIOWrapper(out, write_through=True)
    streams = (sys.stdin, sys.stdout, sys.stderr)
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        sys.stdin, sys.stdout, sys.stderr = text_in, text_out, err
        returncode = main(list(args))
    finally:
        sys.stdin, sys.stdout, sys.stderr = streams
        os.environ.clear()
        os.environ.update(saved)
        text_out.flush()
        text_out.detach()  # keep ``out`` open
    stdout, stderr = out.getvalue(), err.getvalue().encode()
    proc = subprocess.CompletedProcess(list(args), returncode, stdout, stderr)
    assert proc.returncode == code, (proc.returncode, proc.stderr.decode())
    return proc


def one_line_error(proc: subprocess.CompletedProcess[bytes], *needles: str) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("netra-frames: error: ") and len(err) < 400, err
    for needle in needles:
        assert needle in err, err
    return err


def span(window: Window) -> list[str]:
    return ["--start", window[0].isoformat(), "--end", window[1].isoformat()]


@pytest.fixture(scope="module")
def ten(client: NetraClient, window: Window) -> pl.DataFrame:
    """Ten traces of Globex and their spans' ids, in the CLI's order."""
    return netra_frames.traces_frame(
        *window, tenant_id="Globex", max_rows=10, backend="polars", progress=False, client=client
    )


@pytest.fixture(scope="module")
def ten_spans(client: NetraClient, ten: pl.DataFrame) -> list[str]:
    spans = netra_frames.spans_frame(ten, backend="polars", progress=False, client=client)
    return spans["span_id"].to_list()


def traces_args(window: Window) -> list[str]:
    return ["traces", "--tenant", "Globex", "--limit", "10", *span(window)]


# -- spans --from-traces ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "tsv", "ndjson", "json"])
def test_traces_pipe_into_spans(
    server: LocalNetra, window: Window, ten_spans: list[str], fmt: str
) -> None:
    traces = run(*traces_args(window), "--format", fmt, server=server).stdout
    spans = run("spans", "--from-traces", "-", "--format", "csv", "-c", "span_id",
                server=server, stdin=traces).stdout  # fmt: skip
    assert pl.read_csv(io.BytesIO(spans))["span_id"].to_list() == ten_spans


@pytest.mark.parametrize("name", ["t.tsv", "t.json", "t.ndjson", "t.parquet", "t.csv", "t"])
def test_spans_from_traces_files(
    server: LocalNetra, window: Window, ten_spans: list[str], tmp_path: Path, name: str
) -> None:
    run(*traces_args(window), "-o", str(tmp_path / name), server=server)
    spans = run("spans", "--from-traces", str(tmp_path / name), "--format", "csv", "-c",
                "span_id", server=server).stdout  # fmt: skip
    assert pl.read_csv(io.BytesIO(spans))["span_id"].to_list() == ten_spans


def test_bare_ids_still_work(
    server: LocalNetra, ten: pl.DataFrame, ten_spans: list[str], tmp_path: Path
) -> None:
    ids = "\n".join(ten["trace_id"]) + "\n"
    for stdin, source in ((ids.encode(), "-"), (b"", str(tmp_path / "ids.txt"))):
        (tmp_path / "ids.txt").write_text("\r\n" + ids.replace("\n", "\r\n"))
        spans = run("spans", "--from-traces", source, "--format", "csv", "-c", "span_id",
                    server=server, stdin=stdin).stdout  # fmt: skip
        assert pl.read_csv(io.BytesIO(spans))["span_id"].to_list() == ten_spans


def test_one_column_csv_of_ids(server: LocalNetra, window: Window, ten_spans: list[str]) -> None:
    traces = run(*traces_args(window), "-c", "trace_id", "--format", "csv", server=server).stdout
    assert traces.startswith(b"trace_id\n")
    spans = run("spans", "--from-traces", "-", "--format", "csv", "-c", "span_id",
                server=server, stdin=traces).stdout  # fmt: skip
    assert pl.read_csv(io.BytesIO(spans))["span_id"].to_list() == ten_spans


@pytest.mark.parametrize(
    ("stdin", "needle"),
    [
        (b"name,user_id\nchat,u1\n", "no trace_id column (columns: name, user_id)"),
        (b"name\tuser_id\nchat\tu1\n", "no trace_id column"),
        (b" trace_id   name\n abc   chat\n", "text table"),
        (b'[{"name": "chat"}]', "array item 1 has no trace_id"),
        (b'{"trace_id": "abc"}\n{"name": 1}\n', "line 2 has no trace_id"),
        (b'{"trace_id": "abc"', "line 1 is not a JSON object"),
        (b"[1, 2", "not valid JSON"),
        (b'{"data": []}', "line 1 has no trace_id"),
        (b"abc def\n", "line 1 is not a trace id"),
        (b"\xff\xfe\x00garbage", "neither text nor Parquet"),
    ],
)
def test_other_input_is_refused_in_one_short_line(
    server: LocalNetra, stdin: bytes, needle: str
) -> None:
    proc = run("spans", "--from-traces", "-", server=server, stdin=stdin, code=2)
    one_line_error(proc, "--from-traces: standard input", needle)
    assert proc.stdout == b""


def test_a_file_without_trace_ids_is_named(server: LocalNetra, tmp_path: Path) -> None:
    pl.DataFrame({"span_id": ["x"]}).write_parquet(tmp_path / "s.parquet")
    proc = run("spans", "--from-traces", str(tmp_path / "s.parquet"), server=server, code=2)
    one_line_error(proc, repr(str(tmp_path / "s.parquet")), "no trace_id column")


# -- output formats and targets -----------------------------------------------------------


@pytest.mark.parametrize("name", ["t.xls", "t.csv.gz", "t.foo"])
def test_unknown_extension_exits_2_listing_the_formats(
    server: LocalNetra, window: Window, tmp_path: Path, name: str
) -> None:
    proc = run(*traces_args(window), "-o", str(tmp_path / name), server=server, code=2)
    one_line_error(proc, ".csv", ".tsv", ".xlsx", ".parquet", "--format")
    assert list(tmp_path.iterdir()) == []
    assert server.errors == []


def test_tsv_and_xlsx_by_extension(
    server: LocalNetra, window: Window, ten: pl.DataFrame, tmp_path: Path
) -> None:
    import pandas as pd

    run(*traces_args(window), "-o", str(tmp_path / "t.tsv"), server=server)
    tsv = pl.read_csv(tmp_path / "t.tsv", separator="\t")
    assert tsv.columns == [c.name for c in TRACES]
    assert tsv["trace_id"].to_list() == ten["trace_id"].to_list()
    run(*traces_args(window), "-o", str(tmp_path / "t.xlsx"), server=server)
    xlsx = pd.read_excel(tmp_path / "t.xlsx")
    assert xlsx["trace_id"].tolist() == ten["trace_id"].to_list()
    assert xlsx["total_cost"].tolist() == pytest.approx(ten["total_cost"].to_list(), rel=1e-14)


def test_no_extension_is_csv_with_a_note(
    server: LocalNetra, window: Window, ten: pl.DataFrame, tmp_path: Path
) -> None:
    proc = run(*traces_args(window), "-o", str(tmp_path / "out"), server=server)
    assert "as CSV (the name has no extension" in proc.stderr.decode()
    assert pl.read_csv(tmp_path / "out")["trace_id"].to_list() == ten["trace_id"].to_list()


@pytest.mark.parametrize("existing", [True, False])
def test_a_folder_output_is_one_line_naming_it(
    server: LocalNetra, window: Window, tmp_path: Path, existing: bool
) -> None:
    folder = tmp_path / "out"
    if existing:
        folder.mkdir()
    target = str(folder) + ("" if existing else "/")
    err = one_line_error(run(*traces_args(window), "-o", target, server=server, code=2), target)
    assert ".part" not in err and "folder" in err
    assert not folder.exists() or list(folder.iterdir()) == []


# -- columns ------------------------------------------------------------------------------


def test_default_table_shows_key_columns_with_whole_ids(
    server: LocalNetra, window: Window, ten: pl.DataFrame
) -> None:
    proc = run(*traces_args(window), "--format", "table", server=server, columns=120)
    lines = proc.stdout.decode().splitlines()
    assert lines[0].split() == list(TABLE_COLUMNS["traces"])
    assert [line.split()[0] for line in lines[1:]] == ten["trace_id"].to_list()
    assert max(len(line.rstrip()) for line in lines) <= 120
    assert "6 of 27 columns shown" in proc.stderr.decode()


def test_all_columns_table_never_wraps_an_id(
    server: LocalNetra, window: Window, ten: pl.DataFrame
) -> None:
    proc = run(*traces_args(window), "--format", "table", "--all-columns", server=server,
               columns=120)  # fmt: skip
    lines = proc.stdout.decode().splitlines()
    assert lines[0].split() == [c.name for c in TRACES]
    assert [line.split()[0] for line in lines[1:]] == ten["trace_id"].to_list()
    assert proc.stderr == b""


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "table"])
def test_columns_choose_and_order(
    server: LocalNetra, window: Window, ten: pl.DataFrame, fmt: str
) -> None:
    proc = run(*traces_args(window), "-c", "total_cost,trace_id", "--format", fmt,
               server=server)  # fmt: skip
    if fmt == "table":
        assert proc.stdout.decode().splitlines()[0].split() == ["total_cost", "trace_id"]
        return
    frame = (
        pl.read_csv(io.BytesIO(proc.stdout))
        if fmt == "csv"
        else pl.read_ndjson(io.BytesIO(proc.stdout))
    )
    assert frame.columns == ["total_cost", "trace_id"]
    assert frame["trace_id"].to_list() == ten["trace_id"].to_list()


def test_unknown_column_exits_2_before_any_request(server: LocalNetra, window: Window) -> None:
    before = server.stats.requests
    proc = run(*traces_args(window), "-c", "trace_id,cost", server=server, code=2)
    one_line_error(proc, "unknown column(s) cost", "known: trace_id, name, kind")
    proc = run("usage", "tenant", "AceTech", "-c", "tokens", server=server, code=2)
    one_line_error(proc, "unknown column(s) tokens", "token_count")
    assert server.stats.requests == before


def test_columns_and_all_columns_exclude_each_other(server: LocalNetra) -> None:
    proc = run("traces", "-c", "trace_id", "--all-columns", server=server, code=2)
    one_line_error(proc, "--columns and --all-columns")


@pytest.mark.parametrize("command", [["traces"], ["spans"], ["usage", "tenant"]])
def test_help_shows_the_column_options(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from netra_frames.cli import main

    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    # Python 3.13's argparse shows the metavar once: "--columns, -c A,B,..."
    assert re.search(r"--columns( A,B,\.\.\.)?, -c A,B,\.\.\.", text) and "--all-columns" in text
