"""The traces cache's days: UTC-day slices, what is final, and the days on disk.

A query's window ``[start, end)`` is cut on UTC midnights. A day is *final* once it
ended more than ``settle`` ago (``day + 1 day <= now - settle``); everything after the
last final day is the *live tail*, always fetched. A final day is fetched whole, even
when the window only covers part of it (the first and last day of a window that cuts
days), stored as one partition ``date=YYYY-MM-DD/`` of the query's folder (a
``part-*.parquet`` file, none for an empty day, and its ``_SUCCESS`` marker: see
:mod:`netra_frames._files`), and read from disk after that, so overlapping or shifted
windows reuse it.

How a window is put together from its days and what it lacks is
:mod:`netra_frames.cache.slices`. A trace lies in exactly one day (its ``start_time``
never changes), so days never share a row. An empty day costs a marker on disk and
nothing in memory: every empty day is the same empty frame.
"""

from __future__ import annotations

import logging
import math
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from .._files import (
    CorruptEntry,
    matches,
    parse_parquet,
    partition_key,
    read_marker,
    read_verified,
    remove_unreferenced,
)
from .._wire.convert import concat_frames
from .._wire.decode import finish
from ..query import TraceQuery
from ..schema import TRACES
from ..times import DAY, floor_day, utc_days
from .entries import GRACE_SECONDS, report_damaged, write_entry

__all__ = [
    "DAY_SECONDS",
    "Days",
    "Plan",
    "concat_parts",
    "cut_days",
    "empty_day",
    "plan_window",
]

logger = logging.getLogger("netra_frames")

DAY_SECONDS = 86_400
READ_THREADS = 4
"""Days read from disk at once."""


@dataclass(frozen=True)
class Plan:
    """How a window is covered: final days (oldest first) and the live tail."""

    days: tuple[datetime, ...]
    live: tuple[datetime, datetime] | None


def plan_window(start: datetime, end: datetime, *, now: datetime, settle: timedelta) -> Plan:
    """Cut ``[start, end)`` into the final UTC days it touches and the live tail after them.

    Examples
    --------
    >>> from datetime import timezone
    >>> utc = timezone.utc
    >>> p = plan_window(datetime(2026, 1, 1, 12, tzinfo=utc), datetime(2026, 1, 4, tzinfo=utc),
    ...                 now=datetime(2026, 1, 3, 0, 30, tzinfo=utc), settle=timedelta(hours=1))
    >>> [d.day for d in p.days], p.live[0].day
    ([1], 2)
    """
    boundary = floor_day(now - settle)  # the first day that is not final yet
    days = tuple(floor_day(lo) for lo, _ in utc_days(start, min(end, boundary)))
    lo = max(start, boundary)
    return Plan(days, (lo, end) if lo < end else None)


def cut_days(lo: datetime, hi: datetime, pieces: int) -> list[tuple[datetime, datetime]]:
    """Cut ``[lo, hi)`` on UTC midnights into at most about ``pieces`` windows.

    Examples
    --------
    >>> from netra_frames.times import parse_time
    >>> len(cut_days(parse_time("2026-01-01"), parse_time("2026-01-31"), 16))
    15
    """
    ndays = max(1, math.ceil((hi - floor_day(lo)) / DAY))
    return utc_days(lo, hi, math.ceil(ndays / pieces))


# -- one day on disk -------------------------------------------------------------------


class Days:
    """The day partitions of one query's folder."""

    def __init__(self, folder: Path, query_id: str, query: TraceQuery, writable: bool) -> None:
        self.folder, self.query_id, self.query = folder, query_id, query
        self.writable = writable

    def path(self, day: datetime) -> Path:
        return self.folder / f"date={day.date().isoformat()}"

    def key(self, day: datetime) -> dict[str, Any]:
        window = self.query.with_window(day, day + DAY)
        return partition_key(window, "parquet", query=self.query_id)

    def _load(self, day: datetime) -> tuple[int, list[bytes]] | None:
        """A final day's row count and verified file bytes, or ``None`` (missing, damaged)."""
        folder, key = self.path(day), self.key(day)
        for _ in range(3):
            try:
                marker = read_marker(folder)
                if marker is None or not matches(marker, key) or marker.get("final") is not True:
                    return None
                rows = marker.get("rows")
                if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
                    raise CorruptEntry("its marker has no row count")
                return rows, read_verified(folder, marker)
            except FileNotFoundError:
                if _marker_or_none(folder) != marker:
                    continue  # replaced by another writer meanwhile: read the new one
                _report(folder, "a file its marker names is missing")
                return None
            except CorruptEntry as exc:
                _report(folder, str(exc))
                return None
            except OSError as exc:
                _report(folder, f"it cannot be read: {exc}")
                return None
        return None

    def read(self, days: list[datetime]) -> list[pl.DataFrame | None]:
        """The stored rows of final days (``None`` for a day missing or damaged).

        Files are read and checked on a few threads, then parsed in one call (Polars
        decodes them in parallel); if that fails, each day is parsed on its own, so a
        damaged one is found and reported.
        """
        if not self.writable:
            return [None] * len(days)
        if len(days) > 1:  # reads and checksums overlap: both release the GIL
            with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="netra_frames") as pool:
                loaded = list(pool.map(self._load, days))
        else:
            loaded = [self._load(day) for day in days]
        blobs = [blob for item in loaded if item is not None for blob in item[1]]
        whole: pl.DataFrame | None = None
        if len(blobs) > 1:
            try:
                whole = pl.read_parquet(blobs)
            except (pl.exceptions.PolarsError, OSError, ValueError):
                whole = None
            expected = sum(item[0] for item in loaded if item is not None)
            if whole is not None and whole.height != expected:
                whole = None
        out: list[pl.DataFrame | None] = []
        offset = 0
        for day, item in zip(days, loaded, strict=True):
            if item is None:
                out.append(None)
            elif not item[1]:
                out.append(empty_day())  # the one empty frame: an empty day costs nothing
            elif whole is not None:
                out.append(whole.slice(offset, item[0]))
                offset += item[0]
            else:
                out.append(self._parse(day, *item))
        return out

    def _parse(self, day: datetime, rows: int, blobs: list[bytes]) -> pl.DataFrame | None:
        try:
            frame = concat_frames(parse_parquet(blobs))
            if frame.height != rows:
                raise CorruptEntry(f"it holds {frame.height} rows, its marker says {rows}")
        except CorruptEntry as exc:
            _report(self.path(day), str(exc))
            return None
        return frame

    def write(self, day: datetime, frame: pl.DataFrame, now: datetime) -> None:
        """Store a final day's rows (best effort: a failure is a warning, not an error)."""
        if not self.writable:
            return
        folder = self.path(day)
        previous = _marker_or_none(folder) if folder.exists() else None
        files = write_entry(folder, self.key(day), frame, now, tag=secrets.token_hex(4))
        if files is None:
            return
        replaced = previous.get("files", []) if previous is not None else []
        for name in replaced:  # a reader of the old marker finds the new one (see read)
            if isinstance(name, str) and name.startswith("part-") and name not in files:
                (folder / name).unlink(missing_ok=True)
        remove_unreferenced(folder, files, grace=GRACE_SECONDS)


def _marker_or_none(folder: Path) -> dict[str, Any] | None:
    try:
        return read_marker(folder)
    except CorruptEntry:
        return None


def _report(folder: Path, problem: str) -> None:
    report_damaged(folder, problem, "it is fetched again and rewritten.")


@cache
def empty_day() -> pl.DataFrame:
    """The empty traces frame (one, shared: frames are immutable)."""
    return finish([], TRACES)


def concat_parts(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Frames of one result, in order, as one frame (empty parts skipped)."""
    frames = [p for p in parts if p.height]
    return concat_frames(frames) if frames else empty_day()
