"""The traces cache: UTC-day slices, what is final, what to fetch, how to put it together.

A query's window ``[start, end)`` is cut on UTC midnights. A day is *final* once it
ended more than ``settle`` ago (``day + 1 day <= now - settle``); everything after the
last final day is the *live tail*, always fetched. A final day is fetched whole, even
when the window only covers part of it (the first and last day of a window that cuts
days), stored as one partition ``date=YYYY-MM-DD/`` of the query's folder (a
``part-*.parquet`` file, none for an empty day, and its ``_SUCCESS`` marker: see
:mod:`netra_frames._store`), and read from disk after that, so overlapping or shifted
windows reuse it.

Missing final days are fetched in at most :data:`FETCH_PIECES` windows (runs of
consecutive days, each a whole number of days) concurrently; their rows are split into
days here. Each day keeps the server's order for the query's sort. Put together:

* ``sort_field="start_time"``: the days (and the live tail) in time order, reversed for
  ``desc``: exactly the server's order, ties included (equal start times share a day);
* other sort fields: the concatenation re-sorted by ``(sort_field, trace_id)``, nulls
  first when ascending, as a sharded drain does.

A trace lies in exactly one day (its ``start_time`` never changes), so the parts never
share a row and nothing is deduplicated.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from ._cache_base import CacheSettings, warn_once
from ._engine.walks import merge_by_sort
from ._store import (
    CorruptEntry,
    PartWriter,
    concat_frames,
    matches,
    parse_parquet,
    partition_key,
    read_marker,
    read_verified,
    remove_unreferenced,
    write_marker,
)
from ._wire.decode import finish
from .query import TraceQuery
from .schema import TRACES
from .times import format_time

__all__ = [
    "CACHEABLE_SORT_FIELDS",
    "FETCH_PIECES",
    "Plan",
    "TraceQueryLike",
    "floor_day",
    "merge_parts",
    "plan_window",
    "slice_frames",
]

logger = logging.getLogger("netra_frames")

DAY = timedelta(days=1)
_DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
FETCH_PIECES = 16
"""Most windows one fetch asks for: runs of missing days are cut into about this many."""
GRACE_SECONDS = 600.0
"""Age after which a data file no marker names is removed (a writer may not have committed)."""
READ_THREADS = 4
"""Days read from disk at once."""
WRITE_THREADS = 4
"""Days written to disk at once."""
FILE_ROWS = 1_000_000
"""Rows per cached data file."""
CACHEABLE_SORT_FIELDS = frozenset(
    {"start_time", "end_time", "latency_ms", "total_cost", "total_tokens", "name"}
)
"""Sort fields whose days can be put together exactly (they are frame columns)."""


TraceQueryLike = TraceQuery
"""The traces listing the cache plans and fetches (a name kept for the fetch interface)."""

Windows = Sequence[tuple[datetime, datetime]]
Fetch = Callable[[TraceQueryLike, Windows], list[pl.DataFrame]]


def floor_day(moment: datetime) -> datetime:
    """The UTC midnight at or before ``moment``.

    Examples
    --------
    >>> floor_day(datetime(2026, 1, 2, 15, tzinfo=timezone.utc)).isoformat()
    '2026-01-02T00:00:00+00:00'
    """
    return moment.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Plan:
    """How a window is covered: final days (oldest first) and the live tail."""

    days: tuple[datetime, ...]
    live: tuple[datetime, datetime] | None


def plan_window(start: datetime, end: datetime, *, now: datetime, settle: timedelta) -> Plan:
    """Cut ``[start, end)`` into the final UTC days it touches and the live tail after them.

    Examples
    --------
    >>> utc = timezone.utc
    >>> p = plan_window(datetime(2026, 1, 1, 12, tzinfo=utc), datetime(2026, 1, 4, tzinfo=utc),
    ...                 now=datetime(2026, 1, 3, 0, 30, tzinfo=utc), settle=timedelta(hours=1))
    >>> [d.day for d in p.days], p.live[0].day
    ([1], 2)
    """
    boundary = floor_day(now - settle)  # the first day that is not final yet
    days = []
    day = floor_day(start)
    while day < end and day < boundary:
        days.append(day)
        day += DAY
    lo = max(start, boundary)
    return Plan(tuple(days), (lo, end) if lo < end else None)


def _cut(lo: datetime, hi: datetime, pieces: int) -> list[tuple[datetime, datetime]]:
    """Cut ``[lo, hi)`` on UTC midnights into at most about ``pieces`` windows."""
    first = floor_day(lo)
    ndays = max(1, math.ceil((hi - first) / DAY))
    step = DAY * max(1, math.ceil(ndays / pieces))
    out = []
    edge = first
    while edge < hi:
        out.append((max(lo, edge), min(hi, edge + step)))
        edge += step
    return out


def _runs(days: Sequence[datetime], pieces: int) -> list[tuple[datetime, datetime]]:
    """Windows covering ``days`` (sorted): runs of consecutive days, cut into pieces."""
    if not days:
        return []
    step = max(1, math.ceil(len(days) / pieces))
    out: list[tuple[datetime, datetime]] = []
    run_start, count, prev = days[0], 0, days[0] - DAY
    for day in days:
        if day != prev + DAY or count == step:
            out.append((run_start, prev + DAY))
            run_start, count = day, 0
        count += 1
        prev = day
    out.append((run_start, prev + DAY))
    return [w for w in out if w[0] < w[1]]


# -- one day on disk -------------------------------------------------------------------


class _Days:
    """The day partitions of one query's folder."""

    def __init__(
        self, folder: Path, query_id: str, query: TraceQueryLike, writable: bool = True
    ) -> None:
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
                out.append(_empty())
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
        writer = PartWriter(
            folder, "parquet", FILE_ROWS, tag=secrets.token_hex(4), keep_empty=False, private=True
        )
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            writer.write(frame)
            files = writer.finish()
            write_marker(
                folder,
                {**self.key(day), "rows": writer.rows},
                files,
                extra={"final": True, "written_at": format_time(now)},
                private=True,
            )
        except OSError as exc:
            writer.abort()
            warn_once(str(folder), f"netra_frames could not store a cache entry in {folder}: {exc}")
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
    warn_once(
        str(folder),
        f"netra_frames cache entry {folder} is damaged ({problem}); it is fetched again "
        "and rewritten.",
    )


# -- putting it together ---------------------------------------------------------------


def _empty() -> pl.DataFrame:
    return finish([], TRACES)


def _clip(
    frame: pl.DataFrame, lo: datetime, hi: datetime, start: datetime, end: datetime
) -> pl.DataFrame:
    """Rows of a part ``[lo, hi)`` inside the query window ``[start, end)``."""
    if start <= lo and hi <= end or not frame.height:
        return frame
    column = pl.col("start_time")
    return frame.filter((column >= max(lo, start)) & (column < min(hi, end)))


def _split_days(frame: pl.DataFrame, lo: datetime, hi: datetime) -> dict[datetime, pl.DataFrame]:
    """The rows of a fetched run of days ``[lo, hi)``, one frame per day (order kept)."""
    if hi - lo == DAY or not frame.height:
        return {lo + DAY * n: frame if n == 0 else frame.clear() for n in range((hi - lo) // DAY)}
    day_of = frame["start_time"].dt.epoch("ms") // _DAY_MS
    first = int((lo - _EPOCH) / DAY)
    return {lo + DAY * n: frame.filter(day_of == first + n) for n in range((hi - lo) // DAY)}


def _merge(parts: list[pl.DataFrame], sort_field: str, sort_order: str) -> pl.DataFrame:
    """Parts in result order -> the frame a drain of the whole window gives."""
    frames = [p for p in parts if p.height]
    if not frames:
        return _empty()
    frame = frames[0] if len(frames) == 1 else concat_frames(frames)
    if sort_field == "start_time" or len(frames) == 1:
        return frame
    return merge_by_sort(frame, sort_field, sort_order)


@dataclass
class _Part:
    """One piece of the window: a final day or a live window, and its rows once known."""

    lo: datetime
    hi: datetime
    final: bool
    frame: pl.DataFrame | None = None


def _parts(query: TraceQueryLike, settings: CacheSettings, now: datetime) -> list[_Part]:
    plan = plan_window(query.start, query.end, now=now, settle=settings.settle)
    parts = [_Part(day, day + DAY, True) for day in plan.days]
    if plan.live is not None:
        parts += [_Part(lo, hi, False) for lo, hi in _cut(*plan.live, FETCH_PIECES)]
    return parts


def _fetch(
    batch: list[_Part], query: TraceQueryLike, days: _Days, fetch: Fetch, now: datetime
) -> None:
    """Fetch the parts of ``batch`` in one call, store the final days, fill ``part.frame``."""
    finals = sorted(p.lo for p in batch if p.final)
    runs = _runs(finals, FETCH_PIECES)
    live = [p for p in batch if not p.final]
    frames = fetch(query, [*runs, *((p.lo, p.hi) for p in live)])
    if len(frames) != len(runs) + len(live):
        raise RuntimeError(
            f"the fetcher returned {len(frames)} frames for {len(runs) + len(live)} windows"
        )
    by_day = {p.lo: p for p in batch if p.final}
    stored: list[tuple[datetime, pl.DataFrame]] = []
    for (lo, hi), frame in zip(runs, frames[: len(runs)], strict=True):
        split = _split_days(frame, lo, hi)
        if sum(f.height for f in split.values()) == frame.height:
            stored += split.items()
        else:
            logger.debug("netra_frames: rows outside [%s, %s); not cached", lo, hi)
        for day, rows in split.items():
            by_day[day].frame = rows
    if len(stored) > 1:  # Parquet encoding and fsync release the GIL
        with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="netra_frames") as pool:
            list(pool.map(lambda item: days.write(item[0], item[1], now), stored))
    elif stored:
        days.write(stored[0][0], stored[0][1], now)
    for part, frame in zip(live, frames[len(runs) :], strict=True):
        part.frame = frame


def slice_frames(
    query: TraceQueryLike,
    settings: CacheSettings,
    folder: Path,
    query_id: str,
    fetch: Fetch,
    *,
    now: datetime,
    max_rows: int | None = None,
    writable: bool = True,
) -> Iterator[pl.DataFrame]:
    """Yield the window's rows in result order, from the cache and fetched as needed.

    With ``sort_field="start_time"`` one frame per part (day or live window) comes out,
    in order; with ``max_rows`` the missing parts are fetched in result order, 1, then 2,
    4, ... at a time, until the rows are there. Other sort fields give one merged frame.
    The caller cuts the total to ``max_rows``. ``writable=False``: the folder cannot be
    used, everything is fetched and nothing stored.
    """
    days = _Days(folder, query_id, query, writable)
    parts = _parts(query, settings, now)
    finals = [] if settings.refresh else [p for p in parts if p.final]
    for part, frame in zip(finals, days.read([p.lo for p in finals]), strict=True):
        part.frame = frame
    by_time = query.sort_field == "start_time"
    order = parts[::-1] if by_time and query.sort_order == "desc" else parts
    limit = max_rows if by_time else None
    merged: list[pl.DataFrame] = []
    rows = pos = 0
    batch = 1  # with max_rows: 1 part, then 2, 4, ... up to FETCH_PIECES per fetch
    while pos < len(order):
        todo = [p for p in order[pos:] if p.frame is None]
        if todo:
            _fetch(todo if limit is None else todo[:batch], query, days, fetch, now)
            batch = min(FETCH_PIECES, 2 * batch)
        if order[pos].frame is None:  # pragma: no cover - _fetch fills every part it is given
            raise RuntimeError(f"no rows for [{order[pos].lo}, {order[pos].hi}) after a fetch")
        while pos < len(order) and order[pos].frame is not None:
            part = order[pos]
            pos += 1
            assert part.frame is not None
            clipped = _clip(part.frame, part.lo, part.hi, query.start, query.end)
            part.frame = None  # handed out: each part is held once
            rows += clipped.height
            if by_time:
                yield clipped
            else:
                merged.append(clipped)
            if limit is not None and rows >= limit:
                return
    if not by_time:
        yield _merge(merged, str(query.sort_field), str(query.sort_order))


def merge_parts(parts: list[pl.DataFrame], sort_field: str, sort_order: str) -> pl.DataFrame:
    """The frame of a whole window from the frames :func:`slice_frames` yielded."""
    return _merge(parts, sort_field, sort_order)
