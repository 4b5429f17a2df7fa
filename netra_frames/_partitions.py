"""An export's partitions on disk: whose export a folder holds, one partition written whole
or not at all, and the room a full disk would still need.

:func:`~netra_frames.export_traces` keeps its fetch loop; everything it does to the disk
around that loop is here:

* :func:`check_folder` looks at the folder before any request. An export of another
  query there (other filters, format or layout), or files that no export wrote, are
  refused with :class:`~netra_frames.errors.ExportConflictError`, naming the difference;
  with ``overwrite=True`` the other export is replaced. Files an export did not write
  (:func:`~netra_frames._files.is_export_file`) are never deleted, even then.
* :class:`PartitionWrite` writes one partition: its folder made and cleared of what an
  earlier run left, its files, then its marker. When anything fails (a full disk, an
  error of the server, Ctrl-C) it removes its marker, its files and its folder, so every
  partition folder left has its ``_SUCCESS``.
* :class:`Room` turns a full disk into one :class:`~netra_frames.WriteError` naming the
  file, the room the rest of the export needs (estimated from the bytes written per hour
  of the window so far) and the room there is.

Examples
--------
>>> from netra_frames._files import partition_key
>>> from netra_frames.query import TraceQuery
>>> key = partition_key(TraceQuery.build("2026-11-01", "2026-11-02"), "parquet")
>>> check_folder(Path("new-folder"), key, "date", overwrite=False)  # nothing there: fine
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import polars as pl

from ._disk import disk_errno, free_space, human_size, write_error
from ._files import (
    MARKER,
    CorruptEntry,
    PartWriter,
    clear,
    is_export_file,
    make_dirs,
    read_marker,
    write_marker,
)
from .errors import ExportConflictError, WriteError

__all__ = ["PartitionWrite", "Room", "Survey", "check_folder", "difference", "survey"]

DATE_FOLDER = re.compile(r"date=\d{4}-\d{2}-\d{2}")
"""The name of a partition folder of ``partition_by="date"``."""
IDENTITY = ("version", "filters", "sort", "format")
"""The marker keys that say which query an export is of (its window may differ)."""
_SHOWN = 3


# -- whose export a folder holds -----------------------------------------------------------


@dataclass
class Survey:
    """What a folder holds besides this query's export."""

    others: list[tuple[str, str]] = field(default_factory=list)
    """Partitions of another query or layout: ``(folder name or ".", the difference)``."""
    foreign: list[str] = field(default_factory=list)
    """Names (``date=.../name`` inside a partition) that no export wrote."""


def _marker_of(folder: Path) -> dict[str, Any] | None | Literal[False]:
    """The export marker of ``folder``; ``None``: none; ``False``: a ``_SUCCESS`` not ours."""
    try:
        marker = read_marker(folder)
    except CorruptEntry:
        return False
    if marker is None:
        return None
    ours = isinstance(marker.get("filters"), dict) and all(k in marker for k in IDENTITY)
    return marker if ours else False


def _said(value: object) -> str:
    return "none" if value is None or value == {} else repr(value)


def difference(marker: Mapping[str, Any], key: Mapping[str, Any]) -> str | None:
    """How the query of ``marker`` differs from ``key``'s (``None``: the same query).

    Examples
    --------
    >>> difference({"filters": {"tenant_id": "AceTech"}}, {"filters": {"tenant_id": "Globex"}})
    "tenant_id 'AceTech' there, 'Globex' asked"
    """
    said = []
    there, asked = marker.get("filters") or {}, key.get("filters") or {}
    for name in sorted(set(there) | set(asked)):
        if there.get(name) != asked.get(name):
            said.append(f"{name} {_said(there.get(name))} there, {_said(asked.get(name))} asked")
    for name in ("format", "sort", "version"):
        if name in key and marker.get(name) != key[name]:
            said.append(f"{name} {_said(marker.get(name))} there, {_said(key[name])} asked")
    return "; ".join(said) or None


def survey(root: Path, key: Mapping[str, Any], partition_by: str) -> Survey:
    """Look at what ``root`` holds: other exports, and files no export wrote.

    Hidden names (``.DS_Store``, ...) are neither: they are left alone.
    """
    found = Survey()
    try:
        paths = sorted(root.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return found
    flat = False
    for path in paths:
        name = path.name
        if DATE_FOLDER.fullmatch(name) and path.is_dir():
            _look_into(path, f"{name}/", found)
            marker = _marker_of(path)
            if partition_by != "date":
                found.others.append((name, f"partition_by 'date' there, {partition_by!r} asked"))
            elif marker:
                if (diff := difference(marker, key)) is not None:
                    found.others.append((name, diff))
        elif is_export_file(name) and path.is_file():
            flat = True
        elif not name.startswith("."):
            found.foreign.append(name)
    if flat:
        marker = _marker_of(root)
        if marker is False:
            found.foreign.append(MARKER)
        if partition_by != "none":
            found.others.append((".", f"partition_by 'none' there, {partition_by!r} asked"))
        elif marker and (diff := difference(marker, key)) is not None:
            found.others.append((".", diff))
    return found


def _look_into(folder: Path, prefix: str, found: Survey) -> None:
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError:
        return
    for name in names:
        if not is_export_file(name) and not name.startswith("."):
            found.foreign.append(prefix + name)
    if MARKER in names and _marker_of(folder) is False:
        found.foreign.append(prefix + MARKER)


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def check_folder(
    root: Path, key: Mapping[str, Any], partition_by: str, *, overwrite: bool, shown: str = ""
) -> None:
    """Refuse a folder that holds another export or files no export wrote (before any request).

    With ``overwrite``, the partitions of another export are removed instead (only the
    files an export writes; any other file stays where it is).

    Raises
    ------
    ExportConflictError
        Naming the folder and the difference, or the files that are no export's; and,
        even with ``overwrite``, a ``_SUCCESS`` no export wrote (it would be replaced).
    """
    found = survey(root, key, partition_by)
    where = shown or str(root)
    markers = [name for name in found.foreign if name.rsplit("/", 1)[-1] == MARKER]
    if markers:  # where an export writes its marker: replacing it would delete it
        raise ExportConflictError(
            f"{where!r} holds files that no export wrote ({_listed(found.foreign)}), among "
            f"them {_listed(markers)} where an export writes its marker: never replaced, even "
            "with overwrite=True; export to a new or empty folder."
        )
    if overwrite:
        for name, _ in found.others:
            _remove(root / name, is_root=name == ".")
        return
    if found.others:
        diff = found.others[0][1]
        names = [name for name, _ in found.others]
        raise ExportConflictError(
            f"{where!r} holds an export of another query ({diff}; in {_listed(names)}); export "
            "to another folder, or pass overwrite=True to replace it (files netra_frames did "
            "not write are never deleted)."
        )
    if found.foreign:
        raise ExportConflictError(
            f"{where!r} holds files that no export wrote ({_listed(found.foreign)}); export to "
            "a new or empty folder, or pass overwrite=True to write the export beside them "
            "(they are never deleted)."
        )


def _remove(folder: Path, *, is_root: bool) -> None:
    try:
        clear(folder)
        if not is_root:
            folder.rmdir()
    except OSError:
        pass  # a file that is not ours stays, and so does its folder


def sweep(folder: Path) -> None:
    """Remove the temporaries an export killed at any instant left in ``folder``."""
    try:
        paths = [p for p in folder.iterdir() if p.name.startswith(".")]
    except OSError:
        return
    for path in paths:
        if is_export_file(path.name):
            path.unlink(missing_ok=True)


# -- one partition, whole or not at all ----------------------------------------------------


class PartitionWrite:
    """One partition of an export, written whole or not at all (a context manager).

    Parameters
    ----------
    folder:
        The partition folder (the export's root with ``partition_by="none"``).
    key:
        Its marker's identity (:func:`~netra_frames._files.partition_key`).
    writer:
        The :class:`~netra_frames._files.PartWriter` of its files.
    window:
        The partition's ``[lo, hi)``.
    newest_first:
        The rows come newest first (``True``), oldest first (``False``), or in another
        order (``None``): how far through the window a failure came.
    is_root:
        The folder is the export's root: it is never removed.
    """

    def __init__(
        self,
        folder: Path,
        key: Mapping[str, Any],
        writer: PartWriter,
        *,
        window: tuple[datetime, datetime],
        newest_first: bool | None,
        is_root: bool,
    ) -> None:
        self.folder, self.key, self.writer, self.window = folder, key, writer, window
        self.newest_first, self.is_root = newest_first, is_root
        self.reached: datetime | None = None
        self.bytes = 0
        self.where: Path = folder

    @property
    def rows(self) -> int:
        """Rows written."""
        return self.writer.rows

    @property
    def files(self) -> list[str]:
        """Names of the data files written."""
        return self.writer.files

    def __enter__(self) -> PartitionWrite:
        try:
            make_dirs(self.folder)
            clear(self.folder)
        except BaseException:
            self._undo()
            raise
        return self

    def write(self, batch: pl.DataFrame) -> None:
        """Append the rows of ``batch`` (in the order of the listing)."""
        before = self.writer.rows
        handed = batch.height
        try:
            self.writer.write(batch)
        except BaseException:
            handed = self.writer.rows - before  # the rows it took before it failed
            raise
        finally:  # how far through the window the rows reach, for the estimate of a failure
            if handed > 0 and self.newest_first is not None:
                times = batch["start_time"].head(handed)
                edge = times.min() if self.newest_first else times.max()
                if isinstance(edge, datetime):
                    known = [edge] if self.reached is None else [edge, self.reached]
                    self.reached = min(known) if self.newest_first else max(known)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._undo()
            return
        try:
            files = self.writer.finish()
        except BaseException:
            self._undo()
            raise
        try:
            write_marker(self.folder, {**self.key, "rows": self.writer.rows}, files)
        except BaseException:
            self._undo(self.folder / MARKER)
            raise
        self.bytes = self.writer.size()

    def covered(self) -> float:
        """Seconds of the window whose rows were written before a failure."""
        lo, hi = self.window
        if self.reached is None:
            return 0.0
        edge = hi - self.reached if self.newest_first else self.reached - lo
        return max(0.0, min(edge.total_seconds(), (hi - lo).total_seconds()))

    def _undo(self, where: Path | None = None) -> None:
        """Remove the marker, files and folder of this partition; never raises.

        ``where``: the file being written when it failed (default: the writer's).
        """
        self.where = where or self.writer.current
        self.bytes = self.writer.size()
        try:
            (self.folder / MARKER).unlink(missing_ok=True)
        except OSError:
            pass
        self.writer.discard()
        if not self.is_root:
            try:
                self.folder.rmdir()
            except OSError:
                pass  # a file that is not ours, or the folder could not be made


# -- the room a full disk would still need -------------------------------------------------


class Room:
    """What an export wrote so far, to say how much room the rest needs when the disk is full.

    The estimate assumes the rest of the window holds as many bytes per hour as the part
    written so far (the partitions finished, in this run or before, and the rows of the
    one that failed, by how far through its window they reached).

    Examples
    --------
    >>> from datetime import timedelta
    >>> room = Room(Path("."), now, now + timedelta(days=2))
    >>> room.add(now, now + timedelta(days=1), 1_000_000)
    >>> room.needed(0.0, 0)
    1000000.0
    """

    def __init__(self, root: Path, start: datetime, end: datetime) -> None:
        self.root = root
        self.total = (end - start).total_seconds()
        self.seconds = 0.0
        self.bytes = 0

    def add(self, lo: datetime, hi: datetime, size: int) -> None:
        """Count a finished partition of ``[lo, hi)`` and its ``size`` in bytes."""
        self.seconds += (hi - lo).total_seconds()
        self.bytes += size

    def add_finished(self, folder: Path, lo: datetime, hi: datetime) -> None:
        """Count a partition finished before this run (its size from its marker)."""
        try:
            sizes = (read_marker(folder) or {}).get("sizes") or []
        except CorruptEntry:
            sizes = []
        self.add(lo, hi, sum(s for s in sizes if isinstance(s, int)))

    def needed(self, covered: float, lost: int) -> float | None:
        """Bytes the partitions not finished still need (``None``: nothing to go by)."""
        seconds, written = self.seconds + covered, self.bytes + lost
        if seconds <= 0 or written <= 0:
            return None
        return written / seconds * (self.total - self.seconds)

    def error(self, exc: BaseException, part: PartitionWrite) -> WriteError:
        """The error of a write of ``part`` that failed with ``exc``: its file, and for a full
        disk the room needed and the room there is."""
        detail = ""
        if disk_errno(exc) in (errno.ENOSPC, errno.EDQUOT):
            free = free_space(self.root)
            there = f"{human_size(free)} free there" if free is not None else "free space unknown"
            needed = self.needed(part.covered(), part.bytes)
            done = (self.seconds + part.covered()) / self.total if self.total else 0.0
            if needed is None:
                detail = (
                    f"nothing was written yet, so the room the export needs is not known "
                    f"({there}); free some space or export to another disk"
                )
            else:
                detail = (
                    f"about {human_size(needed)} more is needed to finish the export ({there}; "
                    f"estimated from the {human_size(self.bytes + part.bytes)} written for "
                    f"{done:.0%} of the window); free some space or export to another disk, "
                    "then run it again: finished partitions are kept"
                )
        return write_error(part.where, exc, detail)
