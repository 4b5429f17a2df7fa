"""An export never deletes what it did not write, and a full disk leaves no unfinished day.

Against a real LocalNetra: a folder holding another query's export, or files no export
wrote, is refused before any request (``overwrite=True`` / ``--overwrite`` allow it, and
files netra_frames did not write are never deleted); a write that fails (a real small
tmpfs where one can be mounted, else the fault seam at each step) raises one
``WriteError`` naming the file and the room needed, and leaves every partition folder
with its ``_SUCCESS``; stale temporaries go on the next run.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient, export_traces
from netra_frames._disk import WRITE_STEPS, inject_fault
from netra_frames.cli import main
from netra_frames.export import MARKER
from netra_frames.server import LocalNetra

Window = tuple[datetime, datetime]
KEY = ["start_time", "trace_id"]


@pytest.fixture(scope="module")
def days(window: Window) -> Window:
    """Five whole UTC days inside the server's data window."""
    start = window[0].replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return start, start + timedelta(days=5)


def export(root: Path, days: Window, client: NetraClient, **kw: object) -> nf.export.ExportResult:
    return export_traces(root, *days, client=client, progress=False, **kw)  # type: ignore[arg-type]


def read(root: Path) -> pl.DataFrame:
    frame = pl.scan_parquet(root / "**" / "*.parquet", hive_partitioning=True).collect()
    return frame.drop("date").sort(KEY, descending=True)


def eager(client: NetraClient, days: Window, **filters: str) -> pl.DataFrame:
    frame = nf.traces_frame(*days, backend="polars", client=client, progress=False, **filters)
    assert isinstance(frame, pl.DataFrame)
    return frame.sort(KEY, descending=True)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def unfinished(root: Path) -> list[str]:
    """Temporaries, and partition folders without their marker."""
    left = [str(p) for p in root.rglob("*.tmp")]
    return left + [str(p) for p in root.glob("date=*") if not (p / MARKER).exists()]


# -- another query's export, files no export wrote -----------------------------------------


@pytest.mark.parametrize(
    ("first", "then", "said"),
    [
        ({"tenant_id": "AceTech"}, {"tenant_id": "Globex"},
         "tenant_id 'AceTech' there, 'Globex' asked"),
        ({"tenant_id": "AceTech"}, {}, "tenant_id 'AceTech' there, none asked"),
        ({}, {"format": "csv"}, "format 'parquet' there, 'csv' asked"),
        ({}, {"partition_by": "none"}, "partition_by 'date' there, 'none' asked"),
        ({"partition_by": "none"}, {}, "partition_by 'none' there, 'date' asked"),
    ],
    ids=["tenant", "filter-dropped", "format", "date-then-none", "none-then-date"],
)  # fmt: skip
def test_another_querys_export_is_refused_before_any_request(
    server: LocalNetra,
    client: NetraClient,
    days: Window,
    tmp_path: Path,
    first: dict[str, str],
    then: dict[str, str],
    said: str,
) -> None:
    export(tmp_path, days, client, **first)
    before = snapshot(tmp_path)
    server.reset_stats()
    with pytest.raises(nf.ExportConflictError) as caught:
        export(tmp_path, days, client, **then)
    assert isinstance(caught.value, nf.InvalidParameterError)
    message = str(caught.value)
    assert said in message and str(tmp_path) in message and "overwrite=True" in message
    assert server.stats.requests == 0
    assert snapshot(tmp_path) == before  # nothing deleted, nothing written


def test_overwrite_replaces_another_querys_export(
    client: NetraClient, days: Window, tmp_path: Path
) -> None:
    export(tmp_path, days, client, tenant_id="AceTech")
    later = (days[1], days[1] + timedelta(days=2))  # AceTech days the new export does not ask
    export(tmp_path, later, client, tenant_id="AceTech")
    result = export(tmp_path, days, client, tenant_id="Globex", overwrite=True)
    assert result.partitions_written == 5 and result.skipped == ()
    assert_frame_equal(read(tmp_path), eager(client, days, tenant_id="Globex"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"date={(days[0] + timedelta(days=i)).date()}" for i in range(5)
    ]  # one export: the other query's days outside the window are gone too


def test_the_same_query_over_another_window_extends_the_export(
    server: LocalNetra, client: NetraClient, days: Window, tmp_path: Path
) -> None:
    export(tmp_path, (days[0], days[0] + timedelta(days=2)), client, tenant_id="AceTech")
    result = export(tmp_path, days, client, tenant_id="AceTech")
    assert len(result.skipped) == 2 and result.partitions_written == 3
    assert_frame_equal(read(tmp_path), eager(client, days, tenant_id="AceTech"))


@pytest.mark.parametrize(
    ("layout", "files"),
    [
        ("date", {"notes.txt": b"mine"}),
        ("date", {"date=2001-01-01/notes.txt": b"mine"}),
        ("none", {"part-00000-1f2e.c000.snappy.parquet": b"spark's", "_SUCCESS": b""}),
        ("date", {"traces/x/_QUERY.json": b"{}", "CACHEDIR.TAG": b"a cache"}),
    ],
    ids=["a-file", "in-a-partition", "a-spark-output", "a-cache"],
)
def test_files_no_export_wrote_are_refused_and_never_deleted(
    server: LocalNetra,
    client: NetraClient,
    days: Window,
    tmp_path: Path,
    layout: str,
    files: dict[str, bytes],
) -> None:
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    server.reset_stats()
    with pytest.raises(nf.ExportConflictError, match="no export wrote|did not write") as caught:
        export(tmp_path, days, client, partition_by=layout)
    assert next(iter(files)).split("/")[0] in str(caught.value)
    assert server.stats.requests == 0
    if "_SUCCESS" in files:  # a marker that is not ours would be replaced: never
        with pytest.raises(nf.ExportConflictError, match="_SUCCESS"):
            export(tmp_path, days, client, partition_by=layout, overwrite=True)
    else:
        result = export(tmp_path, days, client, partition_by=layout, overwrite=True)
        assert result.rows == eager(client, days).height
    assert {n: (tmp_path / n).read_bytes() for n in files} == files


def test_hidden_files_are_neither_refused_nor_touched(
    client: NetraClient, days: Window, tmp_path: Path
) -> None:
    (tmp_path / ".DS_Store").write_bytes(b"finder")
    export(tmp_path, days, client)
    assert (tmp_path / ".DS_Store").read_bytes() == b"finder"


def test_cli_refuses_another_querys_export_with_exit_2_and_overwrite_allows_it(
    server: LocalNetra,
    client: NetraClient,
    days: Window,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NETRA_API_KEY", server.api_key)
    argv = ["export", str(tmp_path), "--start", days[0].isoformat(), "--end", days[1].isoformat(),
            "--base-url", server.base_url, "--no-progress"]  # fmt: skip
    assert main([*argv, "--tenant", "AceTech"]) == 0
    capsys.readouterr()
    server.reset_stats()
    assert main([*argv, "--tenant", "Globex"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("netra-frames: error: ")
    assert "tenant_id 'AceTech' there, 'Globex' asked" in err and "--overwrite" in err
    assert "overwrite=" not in err and server.stats.requests == 0
    assert main([*argv, "--tenant", "Globex", "--overwrite"]) == 0
    assert_frame_equal(read(tmp_path), eager(client, days, tenant_id="Globex"))


# -- a write that fails ---------------------------------------------------------------------


def test_a_full_disk_names_the_path_and_the_room_needed_and_leaves_no_unfinished_day(
    client: NetraClient, window: Window, small_disk: Callable[..., Path]
) -> None:
    disk = small_disk("64k")
    root = disk / "out"
    with pytest.raises(nf.WriteError) as caught:
        export_traces(root, *window, format="csv", client=client, progress=False)
    error = caught.value
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    message = str(error)
    assert message.startswith(f"cannot write {root}{os.sep}date=") and "\n" not in message
    assert "No space left on device" in message and "more is needed" in message
    assert "free there" in message and "%" in message, message
    assert unfinished(root) == []
    subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)  # room again
    result = export_traces(root, *window, format="csv", client=client, progress=False)
    assert result.skipped  # the days finished before stay finished
    got = pl.read_csv(root / "**" / "*.csv", try_parse_dates=False)
    assert sorted(got["trace_id"].to_list()) == sorted(eager(client, window)["trace_id"].to_list())


def test_cli_on_a_full_disk_exits_1_with_one_line(
    server: LocalNetra,
    window: Window,
    small_disk: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = small_disk("64k") / "out"
    monkeypatch.setenv("NETRA_API_KEY", server.api_key)
    start, end = (t.isoformat() for t in window)
    code = main(["export", str(root), "--start", start, "--end", end,
                 "--base-url", server.base_url, "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith(f"netra-frames: error: cannot write {root}")
    assert "more is needed" in err and "free there" in err
    assert unfinished(root) == []


def test_a_disk_full_from_the_start_says_the_room_is_not_known(
    client: NetraClient, days: Window, small_disk: Callable[..., Path]
) -> None:
    root = small_disk("64k", full=True) / "out"
    with pytest.raises(nf.WriteError, match="nothing was written yet") as caught:
        export(root, days, client)
    assert caught.value.errno == errno.ENOSPC and str(root) in str(caught.value)
    assert unfinished(root) == []


@pytest.mark.parametrize("step", WRITE_STEPS)
def test_each_write_step_failing_leaves_no_unfinished_day(
    client: NetraClient, days: Window, tmp_path: Path, step: str
) -> None:
    root = tmp_path / "out"
    root.mkdir()
    with (
        inject_fault(step, errno.ENOSPC, under=root, after=2) as fault,  # type: ignore[arg-type]
        pytest.raises(nf.WriteError) as caught,
    ):
        export(root, days, client, max_rows_per_file=10)
    assert fault.raised == 1 or step != "fsync_dir"
    assert caught.value.errno == errno.ENOSPC and caught.value.__cause__ is None
    message = str(caught.value)
    assert message.startswith(f"cannot write {root}{os.sep}") and "more is needed" in message
    assert ".tmp" not in message
    assert unfinished(root) == []
    again = export(root, days, client, max_rows_per_file=10)  # the disk works again
    assert again.partitions_written + len(again.skipped) == 5
    assert_frame_equal(read(root), eager(client, days))


@pytest.mark.parametrize(
    ("code", "advice"),
    [(errno.EROFS, "read-only"), (errno.EACCES, "may not write"), (errno.EDQUOT, "more is needed")],
)
def test_a_read_only_or_forbidden_disk_says_so(
    client: NetraClient, days: Window, tmp_path: Path, code: int, advice: str
) -> None:
    root = tmp_path / "out"
    root.mkdir()
    with inject_fault("open", code, under=root, after=1), pytest.raises(nf.WriteError) as caught:
        export(root, days, client)
    assert caught.value.errno == code
    assert os.strerror(code) in str(caught.value) and advice in str(caught.value)
    assert unfinished(root) == []


# -- stale temporaries ----------------------------------------------------------------------


def test_stale_temporaries_of_a_killed_export_are_removed_by_the_next_run(
    client: NetraClient, days: Window, tmp_path: Path
) -> None:
    export(tmp_path, days, client)
    finished = tmp_path / f"date={days[0].date()}"
    broken = tmp_path / f"date={(days[0] + timedelta(days=1)).date()}"
    (broken / MARKER).unlink()  # killed while its marker was written
    stale = [
        broken / "._SUCCESS.0a1b2c3d.tmp",
        broken / ".part-0.parquet.0a1b2c3d.tmp",
        finished / "._SUCCESS.0a1b2c3d.tmp",
    ]
    for path in stale:
        path.write_bytes(b"half")
    result = export(tmp_path, days, client)
    assert result.written == (broken.name,) and len(result.skipped) == 4
    assert [p.exists() for p in stale] == [False] * len(stale)
    assert unfinished(tmp_path) == []
