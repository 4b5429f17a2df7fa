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

import hashlib
import io
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

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
    "fsync_dir",
    "is_done",
    "load_parquet_entry",
    "make_private_dirs",
    "matches",
    "parse_parquet",
    "partition_key",
    "read_marker",
    "read_verified",
    "remove_unreferenced",
    "write_atomic",
    "write_marker",
]

FileFormat = Literal["parquet", "ndjson", "csv"]
FORMATS: tuple[FileFormat, ...] = ("parquet", "ndjson", "csv")

MARKER = "_SUCCESS"
"""Name of the per-partition completion marker, written last."""
MARKER_VERSION = 1
"""Version of the marker format (keys are only ever added, so readers of 1 read all)."""
ROW_GROUP_ROWS = 20_000
"""Rows buffered before a Parquet row group (or a text chunk) is written: the memory bound."""
DIGEST_BYTES = 16
"""Size of the BLAKE2b digest recorded per data file (an integrity check, not a secret)."""
_CHUNK = 1 << 20


class CorruptEntry(Exception):
    """A partition's marker or data files are damaged (message: what is wrong)."""


# -- atomic files ----------------------------------------------------------------------


class AtomicFile:
    """A file written under a hidden unique temporary name and renamed into place on commit.

    ``private=True`` creates it readable by its owner only (mode 0600).
    """

    def __init__(self, target: Path, *, private: bool = False) -> None:
        self.target = target
        self.tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
        self.fh: IO[bytes] = os.fdopen(fd, "wb")

    def commit(self) -> None:
        """Flush, fsync and rename the file to its final name."""
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        """Close and remove the temporary file."""
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new names) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_atomic(target: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``target`` atomically (temporary file, fsync, rename)."""
    out = AtomicFile(target, private=private)
    try:
        out.fh.write(data)
        out.commit()
    except BaseException:
        out.abort()
        raise


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and missing parents with mode 0700 (owner only)."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask


def digest_file(path: Path) -> tuple[int, str]:
    """Return the byte size and BLAKE2b hex digest of a file."""
    h = hashlib.blake2b(digest_size=DIGEST_BYTES)
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).hexdigest()


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

    def abort(self) -> None:
        """Drop the file being written (files already closed stay)."""
        self._buffer, self._buffered = [], 0
        if self._parquet is not None:
            try:
                self._parquet.close()
            except (OSError, pa.ArrowException):  # pragma: no cover
                pass
            self._parquet = None
        if self._file is not None:
            self._file.abort()
            self._file = None

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
        if self.fmt == "csv" and self._in_file == 0 and self.schema is not None:
            empty = pl.from_arrow(self.schema.empty_table())
            assert isinstance(empty, pl.DataFrame)
            spreadsheet_ready(empty).write_csv(self._file.fh)  # header only
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        self._file.commit()
        self._file = None


# -- markers ---------------------------------------------------------------------------


def write_marker(
    folder: Path,
    fields: Mapping[str, Any],
    files: list[str],
    *,
    extra: Mapping[str, Any] | None = None,
    private: bool = False,
) -> dict[str, Any]:
    """Write the partition's marker (last, atomically) and return it.

    ``fields`` come first (the partition's identity and ``rows``), then ``files``,
    ``sizes`` and ``blake2b`` (read back from the files), then ``extra``.
    """
    sizes, digests = [], []
    for name in files:
        size, digest = digest_file(folder / name)
        sizes.append(size)
        digests.append(digest)
    marker = {**fields, "files": files, "sizes": sizes, "blake2b": digests, **(extra or {})}
    write_atomic(folder / MARKER, json.dumps(marker, indent=1).encode(), private=private)
    fsync_dir(folder)
    return marker


def read_marker(folder: Path) -> dict[str, Any] | None:
    """Return the partition's marker, or ``None`` when it has none.

    Raises
    ------
    CorruptEntry
        When the marker exists but is not a JSON object naming its files.
    """
    try:
        text = (folder / MARKER).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptEntry(f"its marker cannot be read ({exc})") from exc
    try:
        marker = json.loads(text)
    except ValueError:
        raise CorruptEntry("its marker is not valid JSON") from None
    if not isinstance(marker, dict) or not isinstance(marker.get("files"), list):
        raise CorruptEntry("its marker does not name its files")
    return marker


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


def matches(marker: Mapping[str, Any], key: Mapping[str, Any]) -> bool:
    """Whether ``marker`` records exactly the identity ``key``."""
    return all(marker.get(k) == v for k, v in key.items())


def is_done(folder: Path, key: Mapping[str, Any]) -> bool:
    """Whether ``folder`` holds a finished partition of ``key`` (an export's resume test).

    The marker must match ``key`` and every file it names must exist with its recorded
    size (markers of older versions record no sizes: then existence is not checked).
    """
    try:
        marker = read_marker(folder)
    except CorruptEntry:
        return False
    if marker is None or not matches(marker, key):
        return False
    sizes = marker.get("sizes")
    if not isinstance(sizes, list):
        return True
    try:
        return len(sizes) == len(marker["files"]) and all(
            (folder / str(name)).stat().st_size == size
            for name, size in zip(marker["files"], sizes, strict=True)
        )
    except OSError:
        return False


def clear(folder: Path, formats: Iterable[str] = FORMATS) -> None:
    """Remove the marker, data files and temporaries of an unfinished partition."""
    (folder / MARKER).unlink(missing_ok=True)
    exts = set(formats)
    for path in folder.iterdir():
        name = path.name
        is_part = name.startswith("part-") and name.rsplit(".", 1)[-1] in exts
        if path.is_file() and (is_part or (name.startswith(".part-") and name.endswith(".tmp"))):
            path.unlink()


def read_verified(folder: Path, marker: Mapping[str, Any]) -> list[bytes]:
    """Read every file the marker names, checking sizes and digests.

    Raises
    ------
    CorruptEntry
        A file has the wrong size or checksum, or the marker lists none.
    FileNotFoundError
        A file is gone (e.g. replaced by a concurrent writer: re-read the marker).
    """
    files, sizes, digests = marker.get("files"), marker.get("sizes"), marker.get("blake2b")
    if not (
        isinstance(files, list)
        and isinstance(sizes, list)
        and isinstance(digests, list)
        and len(files) == len(sizes) == len(digests)
        and all(isinstance(n, str) and "/" not in n and n.startswith("part-") for n in files)
    ):
        raise CorruptEntry("its marker lists no valid sizes and checksums")
    out = []
    for name, size, digest in zip(files, sizes, digests, strict=True):
        data = (folder / name).read_bytes()  # FileNotFoundError: the caller re-reads the marker
        if len(data) != size:
            raise CorruptEntry(f"{name} has {len(data)} bytes, its marker says {size}")
        if _digest(data) != digest:
            raise CorruptEntry(f"{name} does not match its checksum")
        out.append(data)
    return out


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


def remove_unreferenced(folder: Path, keep: Iterable[str], *, grace: float) -> None:
    """Remove data and temporary files of ``folder`` not in ``keep`` and older than ``grace`` s.

    The grace period spares the files of a writer that has not committed its marker
    yet; a reader that read an older marker just before its files go re-reads it.
    """
    kept = set(keep) | {MARKER}
    limit = time.time() - grace
    try:
        paths = list(folder.iterdir())
    except OSError:
        return
    for path in paths:
        name = path.name
        ours = name.startswith("part-") or (name.startswith(".") and name.endswith(".tmp"))
        if name in kept or not ours:
            continue
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass
