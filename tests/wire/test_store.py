"""The one store of exports and the cache: atomic files, markers, verification."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from netra_frames import NetraClient, export_traces
from netra_frames._files import (
    MARKER,
    AtomicFile,
    CorruptEntry,
    PartWriter,
    digest_file,
    is_done,
    load_parquet_entry,
    make_dirs,
    read_marker,
    remove_unreferenced,
    write_marker,
)

FRAME = pl.DataFrame({"a": list(range(10)), "b": [str(i) for i in range(10)]})


def written(folder: Path, rows: int = 4) -> dict[str, object]:
    folder.mkdir(parents=True, exist_ok=True)
    writer = PartWriter(folder, "parquet", rows, tag="t1")
    writer.write(FRAME)
    return write_marker(folder, {"version": 1, "rows": writer.rows}, writer.finish())


def test_marker_names_sizes_and_checksums(tmp_path: Path) -> None:
    marker = written(tmp_path)
    assert list(marker) == ["version", "rows", "files", "sizes", "blake2b"]
    assert marker["files"] == ["part-0-t1.parquet", "part-1-t1.parquet", "part-2-t1.parquet"]
    for name, size, digest in zip(marker["files"], marker["sizes"], marker["blake2b"], strict=True):
        assert digest_file(tmp_path / name) == (size, digest)
    assert read_marker(tmp_path) == marker
    frames = load_parquet_entry(tmp_path, marker)
    assert pl.concat(frames).equals(FRAME)


@pytest.mark.parametrize("how", ["truncate", "flip", "garbage"])
def test_damage_is_detected(tmp_path: Path, how: str) -> None:
    marker = written(tmp_path)
    path = tmp_path / marker["files"][1]
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[:-5]
    elif how == "flip":
        data[10] ^= 1
    else:  # right size and checksum, but not Parquet
        data = bytearray(b"x" * len(data))
    path.write_bytes(bytes(data))
    if how == "garbage":
        marker["blake2b"][1] = digest_file(path)[1]
    with pytest.raises(CorruptEntry, match="Parquet" if how == "garbage" else "part-1"):
        load_parquet_entry(tmp_path, marker)


def test_a_missing_file_and_a_bad_marker(tmp_path: Path) -> None:
    assert read_marker(tmp_path) is None
    marker = written(tmp_path)
    (tmp_path / marker["files"][0]).unlink()
    with pytest.raises(FileNotFoundError):
        load_parquet_entry(tmp_path, marker)
    (tmp_path / MARKER).write_text("[1, 2")
    with pytest.raises(CorruptEntry, match="not valid JSON"):
        read_marker(tmp_path)
    (tmp_path / MARKER).write_text('{"rows": 3}')
    with pytest.raises(CorruptEntry, match="name its files"):
        read_marker(tmp_path)


def test_is_done_checks_the_key_and_file_sizes(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    writer = PartWriter(folder, "csv", 100)
    writer.write(FRAME)
    key = {"version": 1, "start": "s", "format": "csv"}
    write_marker(folder, {**key, "rows": writer.rows}, writer.finish())
    assert is_done(folder, key)
    assert not is_done(folder, {**key, "start": "other"})
    with open(folder / "part-0.csv", "ab") as fh:
        fh.write(b"more")
    assert not is_done(folder, key)
    (folder / MARKER).write_text(json.dumps({**key, "rows": 10, "files": ["part-0.csv"]}))
    assert is_done(folder, key)  # a marker of before sizes were recorded


def test_atomic_files_and_private_dirs(tmp_path: Path) -> None:
    out = AtomicFile(tmp_path / "x.bin", private=True)
    out.fh.write(b"abc")
    assert [p.name for p in tmp_path.iterdir()] == [out.tmp.name]
    out.commit()
    assert (tmp_path / "x.bin").read_bytes() == b"abc"
    assert stat.S_IMODE((tmp_path / "x.bin").stat().st_mode) == 0o600
    aborted = AtomicFile(tmp_path / "y.bin")
    aborted.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]
    deep = tmp_path / "a" / "b" / "c"
    make_dirs(deep, private=True)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", deep):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_unreferenced_files_go_after_the_grace_period(tmp_path: Path) -> None:
    marker = written(tmp_path)
    stray = tmp_path / "part-0-other.parquet"
    stray.write_bytes(b"a writer that has not committed yet")
    temp = tmp_path / ".part-0-x.parquet.abcd.tmp"
    temp.write_bytes(b"half")
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not ours")
    remove_unreferenced(tmp_path, marker["files"], grace=600)
    assert stray.exists() and temp.exists()
    old = time.time() - 3600
    for path in (stray, temp, foreign):
        os.utime(path, (old, old))
    remove_unreferenced(tmp_path, marker["files"], grace=600)
    assert not stray.exists() and not temp.exists() and foreign.exists()
    assert load_parquet_entry(tmp_path, marker)


def test_export_markers_are_store_markers(
    client: NetraClient, window: tuple[datetime, datetime], tmp_path: Path
) -> None:
    day = window[0].replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2)
    export_traces(tmp_path, day, day + timedelta(days=1), client=client, progress=False)
    folder = tmp_path / f"date={day.date()}"
    marker = read_marker(folder)
    assert marker is not None
    assert list(marker)[:8] == [
        "version", "start", "end", "filters", "sort", "format", "rows", "files",
    ]  # fmt: skip
    assert marker["files"] == ["part-0.parquet"]
    frames = load_parquet_entry(folder, marker)
    assert frames[0].height == marker["rows"]
