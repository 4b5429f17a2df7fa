"""The one on-disk store of :func:`~netra_frames.export_traces` and the local cache.

Both lay data out as Hive partitions (``date=2026-11-01/``, ``pack=<id>/``), each holding
``part-*`` data files and a ``_SUCCESS`` marker written last. This module is the only
writer of those files and the only reader of those markers:

* :class:`AtomicFile` / :func:`write_atomic`: a file is written under a unique hidden
  temporary name (``.part-0.parquet.<random>.tmp``), flushed, ``fsync``-ed and renamed
  into place, then its folder is ``fsync``-ed: no reader ever sees half a file under a
  final name, and two writers never share a temporary file.
* :class:`PartWriter`: the rows of one partition, streamed into ``part-<n>`` files of at
  most ``max_rows`` rows each (Parquet, NDJSON or CSV).
* :func:`write_marker` / :func:`read_marker` / :func:`load_parquet_entry`: the marker.

The marker is one JSON object. Its first keys identify what the partition holds (for
an export: ``version, start, end, filters, sort, format``; the cache adds ``query``, the
fingerprint of what was asked); then ``rows`` and ``files`` (the data files, in order),
``sizes`` and ``blake2b`` (each file's byte size and BLAKE2b-128 hex digest), and
optional extras (``final``, ``written_at``, a span pack's ``traces``). A partition is
valid only when its marker parses and every file it names has the recorded size and
digest; :func:`load_parquet_entry` checks that on every read and raises
:class:`CorruptEntry` otherwise, never returning a damaged file.

Examples
--------
>>> folder = Path(tmp) / "date=2026-11-01"; folder.mkdir()
>>> w = PartWriter(folder, "parquet", 1000); w.write(pl.DataFrame({"a": [1, 2]}))
>>> marker = write_marker(folder, {"version": 1, "rows": w.rows}, w.finish())
>>> load_parquet_entry(folder, marker)[0].height
2
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ._atomic import (
    MARKER,
    MARKER_VERSION,
    AtomicFile,
    CorruptEntry,
    digest_file,
    fsync_dir,
    is_done,
    is_temporary,
    make_dirs,
    matches,
    read_marker,
    read_verified,
    remove_temporaries,
    remove_unreferenced,
    write_atomic,
    write_marker,
)
from ._disk import disk_errno
from .output import iso_times, spreadsheet_ready
from .query import TraceQuery
from .times import format_time

__all__ = [
    "AtomicFile",
    "CorruptEntry",
    "FORMATS",
    "FileFormat",
    "MARKER",
    "MARKER_VERSION",
    "PartWriter",
    "ROW_GROUP_ROWS",
    "clear",
    "digest_file",
    "disk_errno",
    "fsync_dir",
    "is_done",
    "is_export_file",
    "is_temporary",
    "load_parquet_entry",
    "make_dirs",
    "matches",
    "parse_parquet",
    "partition_key",
    "read_marker",
    "read_verified",
    "remove_temporaries",
    "remove_unreferenced",
    "write_atomic",
    "write_marker",
]

FileFormat = Literal["parquet", "ndjson", "csv"]
FORMATS: tuple[FileFormat, ...] = ("parquet", "ndjson", "csv")

ROW_GROUP_ROWS = 20_000
"""Rows buffered before a Parquet row group (or a text chunk) is written: the memory bound."""


_EXPORT_NAME = r"(_SUCCESS|part-\d+\.(parquet|ndjson|csv))"
_EXPORT_FILE = re.compile(rf"{_EXPORT_NAME}|\.{_EXPORT_NAME}\.[0-9a-f]+\.tmp")
"""The names an export writes in a partition folder: its marker, its ``part-<n>`` files, and
their temporaries. Nothing else in the folder is ever removed."""


def is_export_file(name: str) -> bool:
    """Whether ``name`` is one an export writes (:data:`_EXPORT_FILE`).

    Examples
    --------
    >>> [is_export_file(n) for n in ("part-0.csv", "._SUCCESS.0a1b2c3d.tmp", "part-0-x.csv")]
    [True, True, False]
    """
    return _EXPORT_FILE.fullmatch(name) is not None


# -- data files ------------------------------------------------------------------------


class PartWriter:
    """Writes ``part-<n>`` files of one partition, rolling over every ``max_rows`` rows.

    Parameters
    ----------
    folder:
        The partition folder (must exist).
    fmt:
        ``"parquet"`` (zstd), ``"ndjson"`` or ``"csv"`` (list columns as JSON text).
    max_rows:
        Rows per file before the next one is started.
    csv_safe:
        Neutralise spreadsheet formulas in CSV cells.
    schema:
        The Arrow schema every Parquet file is cast to (and the CSV header of an empty
        file); ``None``: the schema of the first frame written.
    tag:
        Inserted in file names (``part-0-<tag>.parquet``) so that writers of the same
        folder never pick the same name; ``""``: ``part-0.parquet``.
    keep_empty:
        Write one file with just the schema when no row was written.
    private:
        Create files readable by the owner only.
    """

    def __init__(
        self,
        folder: Path,
        fmt: FileFormat,
        max_rows: int,
        csv_safe: bool = True,
        *,
        schema: pa.Schema | None = None,
        tag: str = "",
        keep_empty: bool = True,
        private: bool = False,
    ) -> None:
        self.folder, self.fmt, self.max_rows, self.csv_safe = folder, fmt, max_rows, csv_safe
        self.schema, self.tag, self.keep_empty, self.private = schema, tag, keep_empty, private
        self.files: list[str] = []
        self.rows = 0
        self.committed_bytes = 0
        self._file: AtomicFile | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._in_file = 0
        self._buffer: list[pl.DataFrame] = []
        self._buffered = 0

    def write(self, frame: pl.DataFrame) -> None:
        """Append the rows of ``frame``."""
        if self.schema is None:
            self.schema = frame.to_arrow().schema
        while frame.height:
            if self._file is None:
                self._open()
            room = self.max_rows - self._in_file - self._buffered
            head, frame = frame.head(room), frame.slice(room)
            self._buffer.append(head)
            self._buffered += head.height
            if self._buffered >= ROW_GROUP_ROWS:
                self._flush()
            if self._in_file + self._buffered >= self.max_rows:
                self._close()

    def finish(self) -> list[str]:
        """Close the last file and return the names of every file written, in order."""
        if self._file is None and not self.files and self.keep_empty:
            self._open()
        if self._file is not None:
            self._close()
        return self.files

    @property
    def current(self) -> Path:
        """The file being written (its final name), else the folder."""
        return self._file.target if self._file is not None else self.folder

    def size(self) -> int:
        """Bytes written so far: the files closed and the one being written."""
        return self.committed_bytes + (self._file.size() if self._file is not None else 0)

    def abort(self) -> None:
        """Drop the file being written (files already closed stay); never raises."""
        self._buffer, self._buffered = [], 0
        if self._parquet is not None:
            try:
                self._parquet.close()
            except (OSError, pa.ArrowException):  # its footer could not be written
                pass
            self._parquet = None
        if self._file is not None:
            self._file.abort()
            self._file = None

    def discard(self) -> None:
        """Drop every file of this writer, those closed too (a write that failed); never raises."""
        self.abort()
        for name in self.files:
            try:
                (self.folder / name).unlink(missing_ok=True)
            except OSError:
                pass

    def _open(self) -> None:
        tag = f"-{self.tag}" if self.tag else ""
        name = f"part-{len(self.files)}{tag}.{self.fmt}"
        self._file = AtomicFile(self.folder / name, private=self.private)
        self.files.append(name)
        self._in_file = 0
        if self.fmt == "parquet":
            assert self.schema is not None
            self._parquet = pq.ParquetWriter(self._file.fh, self.schema, compression="zstd")

    def _flush(self) -> None:
        if not self._buffered:
            return
        frame = (
            pl.concat(self._buffer, how="vertical") if len(self._buffer) > 1 else self._buffer[0]
        )
        self._buffer, self._buffered = [], 0
        assert self._file is not None
        self._file.check("write")
        if self._parquet is not None:
            self._parquet.write_table(frame.to_arrow().cast(self.schema))
        elif self.fmt == "ndjson":
            iso_times(frame).write_ndjson(self._file.fh)
        else:
            ready = spreadsheet_ready(frame, csv_safe=self.csv_safe)
            ready.write_csv(self._file.fh, include_header=self._in_file == 0)
        self._in_file += frame.height
        self.rows += frame.height

    def _close(self) -> None:
        self._flush()
        assert self._file is not None
        self._file.check("write")
        if self.fmt == "csv" and self._in_file == 0 and self.schema is not None:
            empty = pl.from_arrow(self.schema.empty_table())
            assert isinstance(empty, pl.DataFrame)
            spreadsheet_ready(empty).write_csv(self._file.fh)  # header only
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        self._file.commit()
        self.committed_bytes += os.stat(self._file.target).st_size
        self._file = None


# -- markers ---------------------------------------------------------------------------


def partition_key(query: TraceQuery, fmt: str, /, **extra: Any) -> dict[str, Any]:
    """The identity keys a marker starts with: version, window, filters, sort, format, extras.

    Examples
    --------
    >>> q = TraceQuery.build("2026-11-01", "2026-11-02")
    >>> partition_key(q, "parquet")["start"]
    '2026-11-01T00:00:00.000Z'
    """
    return {
        "version": MARKER_VERSION,
        "start": format_time(query.start),
        "end": format_time(query.end),
        "filters": dict(sorted(query.filters.items())),
        "sort": [query.sort_field, query.sort_order],
        "format": fmt,
        **extra,
    }


def clear(folder: Path) -> None:
    """Remove what an export wrote in ``folder`` (:func:`is_export_file`): the marker first,
    then data files and temporaries (of a run killed at any instant). Nothing else."""
    (folder / MARKER).unlink(missing_ok=True)
    for path in folder.iterdir():
        if is_export_file(path.name) and path.is_file():
            path.unlink()


def parse_parquet(blobs: list[bytes]) -> list[pl.DataFrame]:
    """Parse verified Parquet files (one frame each).

    Raises
    ------
    CorruptEntry
        When one is not readable Parquet.
    """
    frames = []
    for data in blobs:
        try:
            frames.append(pl.read_parquet(io.BytesIO(data)))
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise CorruptEntry(f"a data file is not readable Parquet ({exc})") from exc
    return frames


def load_parquet_entry(folder: Path, marker: Mapping[str, Any]) -> list[pl.DataFrame]:
    """Read and verify the Parquet files of a partition (one frame per file, in order).

    Raises
    ------
    CorruptEntry
        A file has the wrong size or checksum, or is not readable Parquet.
    FileNotFoundError
        A file is gone (e.g. replaced by a concurrent writer: re-read the marker).
    """
    return parse_parquet(read_verified(folder, marker))
