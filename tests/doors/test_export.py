"""Streaming export against a real LocalNetra: layout, readers, atomicity, resume, CLI."""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import ANCHOR
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient
from netra_frames.export import MARKER, export_traces, partition_windows
from netra_frames.server import LocalNetra

Window = tuple[datetime, datetime]
KEY = ["start_time", "trace_id"]


@pytest.fixture(scope="module")
def days(window: Window) -> Window:
    """Whole UTC days inside the server's data window."""
    start = window[0].replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    end = window[1].replace(hour=0, minute=0, second=0, microsecond=0)
    return start, end


@pytest.fixture(scope="module")
def eager(client: NetraClient, days: Window) -> pl.DataFrame:
    frame = nf.traces_frame(*days, backend="polars", client=client, progress=False)
    return frame.sort(KEY, descending=True)


def read_polars(root: Path) -> pl.DataFrame:
    frame = pl.scan_parquet(root / "**" / "*.parquet", hive_partitioning=True).collect()
    return frame.sort(KEY, descending=True)


def test_parquet_by_date_read_by_polars_and_duckdb(
    client: NetraClient, days: Window, eager: pl.DataFrame, tmp_path: Path
) -> None:
    result = export_traces(tmp_path, *days, client=client, progress=False)
    n_days = (days[1] - days[0]).days
    assert result.partitions_written == n_days and result.rows == eager.height
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == [f"date={(days[0] + timedelta(days=i)).date()}" for i in range(n_days)]
    for folder in tmp_path.iterdir():
        assert sorted(p.name for p in folder.iterdir()) == [MARKER, "part-0.parquet"]
        marker = json.loads((folder / MARKER).read_text())
        assert marker["files"] == ["part-0.parquet"]
        assert marker["rows"] == pl.read_parquet(folder / "part-0.parquet").height

    frame = read_polars(tmp_path)
    assert frame.schema["date"] == pl.Date
    assert (frame["date"] == frame["start_time"].dt.date()).all()
    assert_frame_equal(frame.drop("date"), eager)

    sql = f"select * from read_parquet('{tmp_path}/**/*.parquet', hive_partitioning=true)"
    by_duckdb = (
        duckdb.sql(sql)
        .pl()
        .drop("date")
        .with_columns(pl.col(pl.Datetime).dt.convert_time_zone("UTC"))
        .sort(KEY, descending=True)
    )
    assert_frame_equal(by_duckdb, eager)


def test_rerun_skips_finished_partitions_and_resumes(
    server: LocalNetra, client: NetraClient, days: Window, eager: pl.DataFrame, tmp_path: Path
) -> None:
    first = (days[0], days[0] + timedelta(days=5))
    assert export_traces(tmp_path, *first, client=client, progress=False).partitions_written == 5
    server.reset_stats()
    again = export_traces(tmp_path, *first, client=client, progress=False)
    assert again.partitions_written == 0 and len(again.skipped) == 5
    assert server.stats.requests == 0

    # an interrupted partition: no marker, a stale part file and a temporary left over
    broken = tmp_path / f"date={days[0].date()}"
    (broken / MARKER).unlink()
    (broken / "part-3.parquet").write_bytes(b"stale")
    (broken / ".part-1.parquet.abcd1234.tmp").write_bytes(b"half")
    rest = export_traces(tmp_path, *days, client=client, progress=False)
    assert len(rest.skipped) == 4
    assert broken.name in rest.written
    assert sorted(p.name for p in broken.iterdir()) == [MARKER, "part-0.parquet"]
    assert_frame_equal(read_polars(tmp_path).drop("date"), eager)


def test_changed_window_rewrites_the_edge_partition(
    client: NetraClient, days: Window, eager: pl.DataFrame, tmp_path: Path
) -> None:
    half_day = (days[0], days[0] + timedelta(hours=12))
    export_traces(tmp_path, *half_day, client=client, progress=False)
    whole = export_traces(tmp_path, days[0], days[0] + timedelta(days=1), client=client)
    assert whole.written == (f"date={days[0].date()}",)
    expected = eager.filter(pl.col("start_time") < days[0] + timedelta(days=1))
    assert_frame_equal(read_polars(tmp_path).drop("date"), expected)


def test_crash_leaves_no_half_written_file(
    server: LocalNetra, days: Window, eager: pl.DataFrame, tmp_path: Path
) -> None:
    fragile = NetraClient(server.api_key, server.base_url, max_retries=0)
    server.set_faults(schedule={7: "503"})  # the export fails at its 7th request
    try:  # one worker: the days before the 7th request are complete, deterministically
        with fragile, pytest.raises(nf.NetraError):
            export_traces(tmp_path, *days, max_rows_per_file=7, client=fragile, progress=False,
                          max_workers=1)  # fmt: skip
    finally:
        server.set_faults(None)
    assert not list(tmp_path.rglob("*.tmp"))
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert folders and all((p / MARKER).exists() for p in folders)  # no empty, unmarked one
    for path in tmp_path.rglob("*.parquet"):
        assert pl.read_parquet(path).height <= 7  # every visible file is complete
    with NetraClient(server.api_key, server.base_url) as client:
        result = export_traces(tmp_path, *days, max_rows_per_file=7, client=client)
    n_days = (days[1] - days[0]).days
    assert result.partitions_written + len(result.skipped) == n_days
    assert_frame_equal(read_polars(tmp_path).drop("date"), eager)


def test_max_rows_per_file_and_filters(
    client: NetraClient, days: Window, eager: pl.DataFrame, tmp_path: Path
) -> None:
    result = export_traces(
        tmp_path,
        *days,
        tenant_id="AceTech",
        partition_by="none",
        max_rows_per_file=100,
        client=client,
        progress=False,
    )
    expected = eager.filter(pl.col("tenant_id") == "AceTech")
    assert result.written == (".",) and result.files == -(-expected.height // 100)
    sizes = [pl.read_parquet(p).height for p in sorted(tmp_path.glob("part-*.parquet"))]
    assert max(sizes) == 100 and sum(sizes) == expected.height
    frame = pl.read_parquet(tmp_path / "*.parquet").sort(KEY, descending=True)
    assert_frame_equal(frame, expected)


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_text_formats(
    client: NetraClient, days: Window, eager: pl.DataFrame, tmp_path: Path, fmt: str
) -> None:
    window = (days[0], days[0] + timedelta(days=3))
    export_traces(tmp_path, *window, format=fmt, client=client, progress=False)  # type: ignore[arg-type]
    expected = eager.filter(pl.col("start_time") < window[1])
    reader = "read_json_auto" if fmt == "ndjson" else "read_csv_auto"
    sql = f"select trace_id, models from {reader}('{tmp_path}/**/*.{fmt}', hive_partitioning=true)"
    got = duckdb.sql(sql).pl()
    assert sorted(got["trace_id"].to_list()) == sorted(expected["trace_id"].to_list())
    if fmt == "csv":  # list items joined with "; ", as write_frame writes them
        joined = dict(zip(got["trace_id"], got["models"], strict=True))
        for trace_id, models in zip(expected["trace_id"], expected["models"], strict=True):
            assert (joined[trace_id] or "") == "; ".join(models)


def test_empty_partition_keeps_schema(client: NetraClient, tmp_path: Path) -> None:
    with pytest.warns(nf.EmptyResultWarning, match=r"no traces in \[2001-01-01"):
        result = export_traces(tmp_path, "2001-01-01", "2001-01-02", client=client, progress=False)
    assert result.rows == 0 and result.files == 1
    frame = pl.read_parquet(tmp_path / "date=2001-01-01" / "part-0.parquet")
    assert frame.height == 0 and frame.columns == [c.name for c in nf.schema.TRACES]


def test_bad_arguments(client: NetraClient, tmp_path: Path) -> None:
    with pytest.raises(nf.InvalidParameterError):
        export_traces(tmp_path, format="xlsx", client=client)  # type: ignore[arg-type]
    with pytest.raises(nf.InvalidParameterError):
        export_traces(tmp_path, partition_by="hour", client=client)  # type: ignore[arg-type]
    with pytest.raises(nf.InvalidParameterError):
        export_traces(tmp_path, max_rows_per_file=0, client=client)
    with pytest.raises(nf.InvalidParameterError):
        export_traces(tmp_path, tenant_id="", client=client)


def test_ctrl_c_leaves_no_empty_partition_folder(days: Window, tmp_path: Path) -> None:
    # A server of its own: the session's may still be reading requests that an earlier test
    # sent and cut (a loaded machine runs its handler threads late); each would count as a
    # stall here, and Ctrl-C could come before the export started.
    with LocalNetra(seed=0, traces=2000, anchor=ANCHOR) as server:
        _interrupt_an_export(server, days, tmp_path)


def _interrupt_an_export(server: LocalNetra, days: Window, tmp_path: Path) -> None:
    server.set_faults(every={"stall": 1}, stall_ms=5_000)  # every request waits 5 s

    def ctrl_c_once_a_request_waits() -> None:
        while server.stats.faults.get("stall", 0) < 1:
            time.sleep(0.005)
        signal.raise_signal(signal.SIGINT)  # a real SIGINT, as a shell's Ctrl-C sends

    threading.Thread(target=ctrl_c_once_a_request_waits, daemon=True).start()
    try:
        with (
            NetraClient(server.api_key, server.base_url) as client,
            pytest.raises(KeyboardInterrupt),
        ):
            export_traces(tmp_path / "out", *days, client=client, progress=False)
    finally:
        server.set_faults(None)
    assert (tmp_path / "out").is_dir() and list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("where", ["file", "under-a-file", "partition-is-a-file"])
def test_an_unusable_path_is_refused_before_any_request(
    server: LocalNetra, client: NetraClient, days: Window, tmp_path: Path, where: str
) -> None:
    (tmp_path / "taken").write_text("not a folder")
    target = {
        "file": tmp_path / "taken",
        "under-a-file": tmp_path / "taken" / "out",
        "partition-is-a-file": tmp_path / "out",
    }[where]
    if where == "partition-is-a-file":
        target.mkdir()
        (target / f"date={days[0].date()}").write_text("in the way")
    server.reset_stats()
    with pytest.raises(nf.InvalidParameterError) as caught:
        export_traces(target, *days, client=client, progress=False)
    message = str(caught.value)
    assert "Errno" not in message and ("folder" in message or "file" in message), message
    assert str(tmp_path) in message
    assert server.stats.requests == 0


def test_partition_windows_cover_the_window() -> None:
    start, end = nf.times.parse_time("2026-11-01T12:00"), nf.times.parse_time("2026-11-03T01:00")
    parts = partition_windows(start, end, "date")
    assert [p[0] for p in parts] == ["date=2026-11-01", "date=2026-11-02", "date=2026-11-03"]
    assert parts[0][1] == start and parts[-1][2] == end
    assert all(a[2] == b[1] for a, b in zip(parts, parts[1:], strict=False))
    assert partition_windows(start, end, "none") == [(".", start, end)]


def test_cli_export(
    server: LocalNetra,
    days: Window,
    eager: pl.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from netra_frames import cli

    monkeypatch.setenv("NETRA_API_KEY", server.api_key)
    end = days[0] + timedelta(days=2)
    argv = ["export", str(tmp_path), "--start", days[0].isoformat(), "--end", end.isoformat()]
    assert cli.main([*argv, "--base-url", server.base_url, "--no-progress"]) == 0
    assert "exported" in capsys.readouterr().err
    expected = eager.filter(pl.col("start_time") < end)
    assert_frame_equal(read_polars(tmp_path).drop("date"), expected)
