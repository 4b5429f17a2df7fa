"""Streaming export of traces to hive-partitioned Parquet, NDJSON or CSV files.

:func:`export_traces` fetches a window page by page and writes each page out as it
arrives, so memory stays bounded by one row group (:data:`ROW_GROUP_ROWS`), whatever
the number of rows. The layout, with ``partition_by="date"`` (one UTC day each)::

    root/
      date=2026-11-01/
        part-0.parquet        <= max_rows_per_file rows each; part-1.parquet, ...
        _SUCCESS              written last: JSON with the partition's window and row count
      date=2026-11-02/
        ...

With ``partition_by="none"`` the files and the ``_SUCCESS`` marker sit in ``root``
itself. Guarantees:

* **Atomic files.** Each file is written under a hidden temporary name
  (``.part-0.parquet.<random>.tmp``), flushed, ``fsync``-ed and renamed into place; a
  crash never leaves a half-written file under a final name.
* **Resumable.** A partition whose ``_SUCCESS`` marker records the same window, filters
  and format is skipped when the export runs again; any other partition is (re)written
  from scratch, its earlier files removed first. Re-running an interrupted export
  therefore fetches only the unfinished days.
* **Readable as is.** Polars and DuckDB read the tree directly; use a ``*.parquet`` glob
  so the ``_SUCCESS`` markers are not taken for data::

      pl.scan_parquet("root/**/*.parquet", hive_partitioning=True)
      duckdb.sql("select * from read_parquet('root/**/*.parquet', hive_partitioning=true)")

Columns are those of :data:`netra_frames.schema.TRACES` (fields the schema does not know
are not exported, so every file has the same schema). CSV is written for spreadsheets as
by :func:`netra_frames.output.spreadsheet_ready` (plain decimals, list items joined with
``"; "``, formula-like cells neutralised unless ``csv_safe=False``); CSV and NDJSON write
times as ``2026-11-01T12:00:00.123Z``.

Examples
--------
>>> result = nf.export_traces("out/traces", "2026-11-01", "2026-11-08", client=client)
>>> result.partitions_written, result.rows
(7, 10512)
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ._decode import finish
from ._defaults import get_client
from ._progress import Progress, want_progress
from ._validate import check_page_size
from .client import NetraClient
from .config import DEFAULT_PAGE_SIZE, DEFAULT_WINDOW_DAYS
from .errors import InvalidParameterError
from .output import iso_times, spreadsheet_ready
from .query import TraceFilters, TraceQuery
from .scan import trace_batches
from .schema import TRACES
from .times import TimeLike, format_time

if TYPE_CHECKING:
    from typing import Unpack

    from .transport import Transport

__all__ = [
    "EXPORT_FORMATS",
    "ExportFormat",
    "ExportResult",
    "PartitionBy",
    "export_traces",
    "partition_windows",
]

logger = logging.getLogger("netra_frames")

ExportFormat = Literal["parquet", "ndjson", "csv"]
PartitionBy = Literal["date", "none"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("parquet", "ndjson", "csv")
PARTITION_BY: tuple[PartitionBy, ...] = ("date", "none")

DEFAULT_MAX_ROWS_PER_FILE = 1_000_000
"""Rows per data file before the next ``part-<n>`` file is started."""
ROW_GROUP_ROWS = 20_000
"""Rows buffered before a Parquet row group (or a text chunk) is written: the memory bound."""
MARKER = "_SUCCESS"
"""Name of the per-partition completion marker, written last."""
_MARKER_VERSION = 1


@dataclass(frozen=True)
class ExportResult:
    """What one :func:`export_traces` run did.

    Attributes
    ----------
    root:
        The export's root folder.
    written, skipped:
        Partition folder names (``date=YYYY-MM-DD`` or ``.``) written in this run, and
        those skipped because a matching ``_SUCCESS`` marker was already there.
    rows, files:
        Rows and data files written in this run.

    Examples
    --------
    >>> ExportResult(Path("out"), ("date=2026-11-01",), (), 10, 1).partitions_written
    1
    """

    root: Path
    written: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    rows: int = 0
    files: int = 0

    @property
    def partitions_written(self) -> int:
        """Number of partitions written in this run."""
        return len(self.written)


def partition_windows(
    start: datetime, end: datetime, partition_by: PartitionBy
) -> list[tuple[str, datetime, datetime]]:
    """Split ``[start, end)`` into ``(folder, start, end)`` partitions, oldest first.

    With ``"date"`` each partition is the part of one UTC day inside the window (the
    first and last may be partial days); with ``"none"`` there is one partition, ``"."``.

    Examples
    --------
    >>> from netra_frames.times import parse_time
    >>> start, end = parse_time("2026-11-01T12:00"), parse_time("2026-11-03")
    >>> [name for name, _, _ in partition_windows(start, end, "date")]
    ['date=2026-11-01', 'date=2026-11-02']
    """
    if partition_by == "none":
        return [(".", start, end)]
    parts = []
    day = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        nxt = day + timedelta(days=1)
        parts.append((f"date={day.date().isoformat()}", max(day, start), min(nxt, end)))
        day = nxt
    return parts


# -- atomic files ----------------------------------------------------------------------


class _AtomicFile:
    """A file written under a hidden temporary name and renamed into place on commit."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        self.fh: IO[bytes] = open(self.tmp, "wb")  # noqa: SIM115 - closed in commit/abort

    def commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
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


def _write_atomic(target: Path, data: bytes) -> None:
    out = _AtomicFile(target)
    try:
        out.fh.write(data)
        out.commit()
    except BaseException:
        out.abort()
        raise


# -- format writers --------------------------------------------------------------------


_ARROW_SCHEMA: pa.Schema = finish([], TRACES).to_arrow().schema


class _PartWriter:
    """Writes ``part-<n>.<ext>`` files of one partition, rolling over every ``max_rows``."""

    def __init__(self, folder: Path, fmt: ExportFormat, max_rows: int, csv_safe: bool) -> None:
        self.folder, self.fmt, self.max_rows, self.csv_safe = folder, fmt, max_rows, csv_safe
        self.files: list[str] = []
        self.rows = 0
        self._file: _AtomicFile | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._in_file = 0
        self._buffer: list[pl.DataFrame] = []
        self._buffered = 0

    def write(self, frame: pl.DataFrame) -> None:
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
        """Close the last file (an empty partition still gets one file with the schema)."""
        if self._file is None and not self.files:
            self._open()
        if self._file is not None:
            self._close()
        return self.files

    def abort(self) -> None:
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
        name = f"part-{len(self.files)}.{self.fmt}"
        self._file = _AtomicFile(self.folder / name)
        self.files.append(name)
        self._in_file = 0
        if self.fmt == "parquet":
            self._parquet = pq.ParquetWriter(self._file.fh, _ARROW_SCHEMA, compression="zstd")

    def _flush(self) -> None:
        if not self._buffered:
            return
        frame = (
            pl.concat(self._buffer, how="vertical") if len(self._buffer) > 1 else self._buffer[0]
        )
        self._buffer, self._buffered = [], 0
        assert self._file is not None
        if self._parquet is not None:
            self._parquet.write_table(frame.to_arrow().cast(_ARROW_SCHEMA))
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
        if self.fmt == "csv" and self._in_file == 0:
            spreadsheet_ready(finish([], TRACES)).write_csv(self._file.fh)  # header only
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        self._file.commit()
        self._file = None


# -- partitions ------------------------------------------------------------------------


def _marker_key(query: TraceQuery, fmt: ExportFormat) -> dict[str, Any]:
    return {
        "version": _MARKER_VERSION,
        "start": format_time(query.start),
        "end": format_time(query.end),
        "filters": dict(sorted(query.filters.items())),
        "sort": [query.sort_field, query.sort_order],
        "format": fmt,
    }


def _is_done(folder: Path, key: dict[str, Any]) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and all(marker.get(k) == v for k, v in key.items())


def _clear(folder: Path) -> None:
    """Remove the marker, data files and temporaries of an unfinished partition."""
    (folder / MARKER).unlink(missing_ok=True)
    for path in folder.iterdir():
        name = path.name
        is_part = name.startswith("part-") and name.rsplit(".", 1)[-1] in EXPORT_FORMATS
        if path.is_file() and (is_part or (name.startswith(".part-") and name.endswith(".tmp"))):
            path.unlink()


def _export_partition(
    transport: Transport,
    folder: Path,
    query: TraceQuery,
    fmt: ExportFormat,
    max_rows_per_file: int,
    csv_safe: bool,
    bar: Progress,
) -> tuple[int, int]:
    folder.mkdir(parents=True, exist_ok=True)
    _clear(folder)
    writer = _PartWriter(folder, fmt, max_rows_per_file, csv_safe)
    try:
        for batch in trace_batches(transport, query):
            writer.write(batch)
            bar.update(batch.height)
        files = writer.finish()
    except BaseException:
        writer.abort()
        raise
    marker = {**_marker_key(query, fmt), "rows": writer.rows, "files": files}
    _write_atomic(folder / MARKER, json.dumps(marker, indent=1).encode())
    _fsync_dir(folder)
    return writer.rows, len(files)


def export_traces(
    path: str | os.PathLike[str],
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    format: ExportFormat = "parquet",  # noqa: A002 - the natural name, as in write_frame
    partition_by: PartitionBy = "date",
    max_rows_per_file: int = DEFAULT_MAX_ROWS_PER_FILE,
    csv_safe: bool = True,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: bool | None = None,
    client: NetraClient | None = None,
    **filters: Unpack[TraceFilters],
) -> ExportResult:
    """Write the traces of ``[start, end)`` under ``path``, page by page, one folder per day.

    Memory stays bounded (about :data:`ROW_GROUP_ROWS` rows) however many traces the
    window holds. Each partition (a UTC day, or the whole window) is fetched as one
    sub-window (oldest day first; newest rows first within a day) and marked complete
    by a ``_SUCCESS`` file written last; running the same export again skips completed
    partitions. See the module docstring for the layout and guarantees.

    Parameters
    ----------
    path:
        Root folder (created if missing).
    start, end:
        The window, as for :func:`netra_frames.traces_frame` (default: the last 7 days).
    format:
        ``"parquet"`` (zstd-compressed), ``"ndjson"`` or ``"csv"``.
    partition_by:
        ``"date"``: one ``date=YYYY-MM-DD`` folder per UTC day; ``"none"``: files in
        ``path`` itself.
    max_rows_per_file:
        Start a new ``part-<n>`` file after this many rows.
    csv_safe:
        Prefix CSV cells that start like a spreadsheet formula with ``'``.
    page_size:
        Traces per request.
    progress:
        Draw a progress bar (rows); ``None`` = only on a terminal or in a notebook.
    client:
        The client to use; default: the module-level client (see :func:`configure`).
    **filters:
        ``tenant_id``, ``user_id``, ``session_id``, ``trace_id``: equality filters,
        combined with AND.

    Returns
    -------
    ExportResult
        Partitions written and skipped, rows and files written.

    Raises
    ------
    InvalidParameterError
        For a bad argument, before any request.
    NetraError
        When a request fails (after retries); finished partitions stay finished.

    Examples
    --------
    >>> res = nf.export_traces("out", "2026-11-01", "2026-11-03", client=client)
    >>> sorted(p.name for p in Path("out").iterdir())
    ['date=2026-11-01', 'date=2026-11-02']
    >>> pl.scan_parquet("out/**/*.parquet", hive_partitioning=True).select(pl.len()).collect()
    shape: (1, 1)
    ...
    """
    if format not in EXPORT_FORMATS:
        raise InvalidParameterError(
            f"format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}."
        )
    if partition_by not in PARTITION_BY:
        raise InvalidParameterError(f"partition_by must be 'date' or 'none', got {partition_by!r}.")
    if (
        isinstance(max_rows_per_file, bool)
        or not isinstance(max_rows_per_file, int)
        or max_rows_per_file < 1
    ):
        raise InvalidParameterError(
            f"max_rows_per_file must be an int >= 1, got {max_rows_per_file!r}."
        )
    base = TraceQuery.build(
        start,
        end,
        filters=filters,
        page_size=check_page_size(page_size),
        default_days=DEFAULT_WINDOW_DAYS,
    )
    transport = (client or get_client()).transport
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    skipped: list[str] = []
    rows = files = 0
    with Progress(want_progress(progress), "export", "rows") as bar:
        for name, lo, hi in partition_windows(base.start, base.end, partition_by):
            query = base.with_window(lo, hi)
            folder = root / name
            if _is_done(folder, _marker_key(query, format)):
                logger.debug("netra_frames: export skips finished partition %s", name)
                skipped.append(name)
                continue
            n, f = _export_partition(
                transport, folder, query, format, max_rows_per_file, csv_safe, bar
            )
            logger.debug("netra_frames: export wrote %s: %d rows in %d file(s)", name, n, f)
            written.append(name)
            rows, files = rows + n, files + f
    _fsync_dir(root)
    return ExportResult(root, tuple(written), tuple(skipped), rows, files)
