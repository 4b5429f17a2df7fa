"""Streaming export of traces to hive-partitioned Parquet, NDJSON or CSV files.

:func:`export_traces` consumes the engine's pipeline (the same concurrent walks as
:func:`~netra_frames.traces_frame`): each partition is a result group whose batches come
in order and are written as they arrive, and the workers pause while ``buffer_mb`` of
rows waits to be written, so memory stays bounded whatever the number of rows. The
layout, with ``partition_by="date"`` (one UTC day each)::

    root/
      date=2026-01-25/
        part-0.parquet        <= max_rows_per_file rows each; part-1.parquet, ...
        _SUCCESS              written last: JSON with the partition's window, row count,
                              files, their sizes and BLAKE2b checksums
      date=2026-01-26/
        ...

With ``partition_by="none"`` the files and the ``_SUCCESS`` marker sit in ``root``
itself. Guarantees:

* **Atomic files.** Each file is written under a hidden temporary name
  (``.part-0.parquet.<random>.tmp``), flushed, ``fsync``-ed and renamed into place; a
  crash never leaves a half-written file under a final name.
* **Resumable.** A partition whose ``_SUCCESS`` marker records the same window, filters
  and format, and whose files still have their recorded sizes, is skipped when the
  export runs again; any other partition is (re)written
  from scratch, its earlier files removed first. Re-running an interrupted export
  therefore fetches only the unfinished days.
* **Readable as is.** Polars and DuckDB read the tree directly; use a ``*.parquet`` glob
  so the ``_SUCCESS`` markers are not taken for data::

      pl.scan_parquet("root/**/*.parquet", hive_partitioning=True)
      duckdb.sql("select * from read_parquet('root/**/*.parquet', hive_partitioning=true)")

Columns are those of :data:`netra_frames.schema.TRACES` (fields the schema does not know
are not exported, so every file has the same schema). In CSV, list columns are JSON text
and formula-like cells are neutralised unless ``csv_safe=False``.

Examples
--------
>>> result = nf.export_traces("out/traces", "2026-01-25", "2026-02-01", client=client)
>>> result.partitions_written, result.rows
(7, 414)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from ._defaults import client_and_workers
from ._disk import disk_errno, write_error
from ._doors import warn_no_traces
from ._engine import traces_pipeline
from ._files import MARKER as MARKER  # re-exported: the marker's name, as before
from ._files import ROW_GROUP_ROWS as ROW_GROUP_ROWS  # re-exported: the memory bound
from ._files import PartWriter, fsync_dir, is_done, partition_key
from ._partitions import PartitionWrite, Room, check_folder, sweep
from ._progress import Progress, want_progress
from ._validate import check_buffer_mb
from ._wire.decode import finish
from .client import NetraClient
from .config import DEFAULT_BUFFER_MB, DEFAULT_MAX_WORKERS, DEFAULT_PAGE_SIZE
from .errors import InvalidParameterError, NetraError
from .query import TraceFilters, TraceQuery, Unpack, filter_keywords
from .schema import TRACES
from .times import TimeLike, floor_day, utc_days

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
    return [(f"date={floor_day(lo).date().isoformat()}", lo, hi) for lo, hi in utc_days(start, end)]


# -- partitions ------------------------------------------------------------------------


_ARROW_SCHEMA: pa.Schema = finish([], TRACES).to_arrow().schema


def _marker_key(query: TraceQuery, fmt: ExportFormat) -> dict[str, Any]:
    return partition_key(query, fmt)


def _check_root(
    path: str | os.PathLike[str],
    partitions: list[str],
    key: dict[str, Any],
    partition_by: PartitionBy,
    overwrite: bool,
) -> Path:
    """Create the export's root folder, or say plainly why it cannot be written, and refuse
    a folder holding another export or files no export wrote unless ``overwrite`` (no
    request has been sent yet)."""
    root = Path(path)
    shown = os.fspath(path)
    if root.exists() and not root.is_dir():
        raise InvalidParameterError(
            f"{shown!r} is an existing file; export_traces writes a folder of partitions "
            "(date=YYYY-MM-DD/...): pass the path of a folder, new or existing."
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError(
            f"cannot create the export folder {shown!r}: {exc.strerror or exc}; pass a folder "
            "you can write to."
        ) from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise InvalidParameterError(
            f"the export folder {shown!r} is not writable; pass a folder you can write to."
        )
    for name in partitions:
        folder = root / name
        if name != "." and folder.exists() and not folder.is_dir():
            raise InvalidParameterError(
                f"{os.fspath(folder)!r} is a file where export_traces writes the {name} "
                "partition folder; move it away or export to another folder."
            )
    check_folder(root, key, partition_by, overwrite=overwrite, shown=shown)
    return root


def _is_disk_failure(exc: BaseException) -> bool:
    """A failure of the disk (full, read-only, ...), not of the server or of our code."""
    return not isinstance(exc, NetraError) and (
        isinstance(exc, OSError) or disk_errno(exc) is not None
    )


@filter_keywords
def export_traces(
    path: str | os.PathLike[str],
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    format: ExportFormat = "parquet",  # noqa: A002 - the natural name, as in write_frame
    partition_by: PartitionBy = "date",
    max_rows_per_file: int = DEFAULT_MAX_ROWS_PER_FILE,
    csv_safe: bool = True,
    overwrite: bool = False,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_workers: int = DEFAULT_MAX_WORKERS,
    buffer_mb: float = DEFAULT_BUFFER_MB,
    progress: bool | None = None,
    client: NetraClient | None = None,
    **filters: Unpack[TraceFilters],
) -> ExportResult:
    """Write the traces of ``[start, end)`` under ``path``, as they come, one folder per day.

    The partitions (UTC days, or the whole window) are fetched concurrently, as
    :func:`netra_frames.traces_frame` fetches a window, and written in order (oldest day
    first; newest rows first within a day); memory stays bounded by ``buffer_mb``
    however many traces the window holds. Each partition is marked complete by a
    ``_SUCCESS`` file written last; running the same export again skips completed
    partitions. A window with no trace at all warns
    :class:`~netra_frames.EmptyResultWarning`. See the module docstring for the layout
    and guarantees.

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
    overwrite:
        Replace an export of another query (other filters, format or ``partition_by``)
        found in ``path``, and write beside files that no export wrote; without it such a
        folder is refused before any request. Files netra_frames did not write are never
        deleted, even then.
    page_size:
        Traces per request.
    max_workers:
        Requests in flight at once: the partitions are fetched by the engine's concurrent
        walks, as :func:`netra_frames.traces_frame` fetches a window, and written in order.
    buffer_mb:
        Megabytes of fetched rows that may wait to be written (default 8): beyond it the
        workers pause, so memory does not grow with the window.
    progress:
        Draw a progress bar (rows); ``None`` = only on a terminal or in a notebook.
    client:
        The client to use; default: the module-level client (see :func:`configure`).
    trace_id, session_id, user_id, tenant_id:
        Equality filters, combined with AND (:class:`~netra_frames.query.TraceFilters`).

    Returns
    -------
    ExportResult
        Partitions written and skipped, rows and files written.

    Raises
    ------
    InvalidParameterError
        For a bad argument, before any request; also a ``path`` that is an existing file,
        a folder that cannot be created or written, or a file where a partition folder
        goes.
    ExportConflictError
        Before any request, when ``path`` holds an export of another query or files that
        no export wrote (and ``overwrite`` is off); an :class:`InvalidParameterError`.
    WriteError
        When a file cannot be written (a full disk: with the room still needed; a
        read-only file system; no permission), naming the file.
    NetraError
        When a request fails (after retries); finished partitions stay finished, and the
        unfinished one leaves no file and no folder behind (Ctrl-C and a full disk too).

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
    if not isinstance(overwrite, bool):
        raise InvalidParameterError(f"overwrite must be True or False, got {overwrite!r}.")
    base = TraceQuery.for_frames(start, end, filters, page_size=page_size)
    partitions = partition_windows(base.start, base.end, partition_by)
    names = [name for name, _, _ in partitions]
    root = _check_root(path, names, _marker_key(base, format), partition_by, overwrite)
    chosen, workers = client_and_workers(client, max_workers)
    budget = check_buffer_mb(buffer_mb)
    written: list[str] = []
    skipped: list[str] = []
    rows = files = 0
    room = Room(root, base.start, base.end)
    newest_first = base.sort_order == "desc" if base.sort_field == "start_time" else None
    todo: list[tuple[str, TraceQuery]] = []
    for name, lo, hi in partitions:
        query = base.with_window(lo, hi)
        folder = root / name
        if is_done(folder, _marker_key(query, format)):
            logger.debug("netra_frames: export skips finished partition %s", name)
            sweep(folder)  # temporaries of a run killed at the wrong instant
            room.add_finished(folder, lo, hi)
            skipped.append(name)
        else:
            todo.append((name, query))
    with Progress(want_progress(progress), "export", "rows") as bar:
        pipe = traces_pipeline(
            chosen.transport, base, [(q.start, q.end) for _, q in todo], backend="polars",
            workers=workers, bar=bar, budget=budget,
        )  # fmt: skip
        part: PartitionWrite | None = None  # the partition being written (one at a time)
        last: PartitionWrite | None = None  # the partition a disk failure is about
        try:
            for batch in pipe if todo else ():
                assert batch is not None  # no heartbeat asked
                name, query = todo[batch.group]
                if part is None:
                    writer = PartWriter(root / name, format, max_rows_per_file, csv_safe,
                                        schema=_ARROW_SCHEMA)  # fmt: skip
                    last = PartitionWrite(
                        root / name, _marker_key(query, format), writer,
                        window=(query.start, query.end), newest_first=newest_first,
                        is_root=name == ".",
                    )  # fmt: skip
                    part = last.__enter__()  # a failure here leaves nothing of it
                if batch.part is not None:
                    part.write(batch.part)
                if batch.last:
                    done, part = part, None
                    done.__exit__(None, None, None)  # files closed, the marker written last
                    room.add(query.start, query.end, done.bytes)
                    n, f = done.rows, len(done.files)
                    logger.debug("netra_frames: export wrote %s: %d rows in %d file(s)", name, n, f)
                    written.append(name)
                    rows, files = rows + n, files + f
        except BaseException as exc:
            failed, part = part, None
            if failed is not None:
                failed.__exit__(type(exc), exc, exc.__traceback__)  # nothing left of it
            if isinstance(exc, Exception) and _is_disk_failure(exc):
                if last is None:
                    raise write_error(root, exc) from None
                raise room.error(exc, last) from None
            raise
    try:
        fsync_dir(root)
    except OSError as exc:
        raise write_error(root, exc) from None
    if todo and rows == 0 and not skipped:
        warn_no_traces(base.filters, (base.start, base.end))
    return ExportResult(root, tuple(written), tuple(skipped), rows, files)
