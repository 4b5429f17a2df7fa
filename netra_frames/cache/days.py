"""The traces cache: UTC-day slices, what is final, what to fetch, how to put it together.

A query's window ``[start, end)`` is cut on UTC midnights. A day is *final* once it
ended more than ``settle`` ago (``day + 1 day <= now - settle``); everything after the
last final day is the *live tail*, always fetched. A final day is fetched whole, even
when the window only covers part of it (the first and last day of a window that cuts
days), stored as one partition ``date=YYYY-MM-DD/`` of the query's folder (a
``part-*.parquet`` file, none for an empty day, and its ``_SUCCESS`` marker: see
:mod:`netra_frames._files`), and read from disk after that, so overlapping or shifted
windows reuse it.

Missing final days are fetched in at most :data:`FETCH_PIECES` windows (runs of
consecutive days, each a whole number of days) concurrently; their rows are split into
days here. Each day keeps the server's order for the query's sort. Put together:

* ``sort_field="start_time"``: the days (and the live tail) in time order, reversed for
  ``desc``: exactly the server's order, ties included (equal start times share a day);
* other sort fields: the concatenation re-sorted by ``(sort_field, trace_id)``, nulls
  first when ascending, as a sharded drain does (by :mod:`netra_frames.cache.fetch`,
  with the engine's merge).

A trace lies in exactly one day (its ``start_time`` never changes), so the parts never
share a row and nothing is deduplicated. An empty day costs a marker on disk and nothing
in memory: every empty part is the same empty frame.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol

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
from .entries import GRACE_SECONDS, Scope, query_folder, report_damaged, write_entry
from .settings import CacheSettings

__all__ = [
    "FETCH_PIECES",
    "Plan",
    "WindowFetcher",
    "concat_parts",
    "plan_window",
    "slice_frames",
]

logger = logging.getLogger("netra_frames")

_DAY_SECONDS = 86_400
FETCH_PIECES = 16
"""Most windows one fetch asks for: runs of missing days are cut into about this many."""
READ_THREADS = 4
"""Days read from disk at once."""
WRITE_THREADS = 4
"""Days written to disk at once."""

Windows = Sequence[tuple[datetime, datetime]]


class WindowFetcher(Protocol):
    """Drain windows of one traces query (what the cache asks of the engine).

    Drain each half-open window ``[lo, hi)`` of ``query`` (same filters, sort_field,
    sort_order, page_size; its own start/end ignored) and return one Polars frame per
    window, in the order given, each with exactly the rows and row order an uncached
    ``traces_frame(lo, hi, backend="polars", ...)`` would return (TRACES columns +
    unknown extras). The windows are fetched concurrently by the engine.
    """

    def __call__(self, query: TraceQuery, windows: Windows) -> list[pl.DataFrame]: ...


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


def _cut(lo: datetime, hi: datetime, pieces: int) -> list[tuple[datetime, datetime]]:
    """Cut ``[lo, hi)`` on UTC midnights into at most about ``pieces`` windows."""
    ndays = max(1, math.ceil((hi - floor_day(lo)) / DAY))
    return utc_days(lo, hi, math.ceil(ndays / pieces))


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
                out.append(_empty())  # the one empty frame: an empty day costs nothing
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


# -- putting it together ---------------------------------------------------------------


@cache
def _empty() -> pl.DataFrame:
    """The empty traces frame (one, shared: frames are immutable)."""
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
    """The rows of a fetched run of days ``[lo, hi)``, one frame per day (order kept).

    Days without rows share the one empty frame: only the days with rows are cut out.
    """
    days = [lo + DAY * n for n in range((hi - lo) // DAY)]
    if len(days) == 1 or not frame.height:
        return {day: frame if n == 0 else _empty() for n, day in enumerate(days)}
    day_of = frame["start_time"].dt.epoch("s") // _DAY_SECONDS
    first = int(lo.timestamp()) // _DAY_SECONDS
    present = set(day_of.unique().to_list())
    return {
        day: frame.filter(day_of == first + n) if first + n in present else _empty()
        for n, day in enumerate(days)
    }


@dataclass
class _Part:
    """One piece of the window: a final day or a live window, and its rows once known."""

    lo: datetime
    hi: datetime
    final: bool
    frame: pl.DataFrame | None = None


def _parts(query: TraceQuery, settings: CacheSettings, now: datetime) -> list[_Part]:
    plan = plan_window(query.start, query.end, now=now, settle=settings.settle)
    parts = [_Part(day, day + DAY, True) for day in plan.days]
    if plan.live is not None:
        parts += [_Part(lo, hi, False) for lo, hi in _cut(*plan.live, FETCH_PIECES)]
    return parts


def _fetch(
    batch: list[_Part], query: TraceQuery, days: _Days, fetch: WindowFetcher, now: datetime
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
    query: TraceQuery,
    settings: CacheSettings,
    scope: Scope,
    fetch: WindowFetcher,
    *,
    now: datetime,
    max_rows: int | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield the window's rows part by part (day or live window), in result order.

    Final days are read from the cache, the rest fetched with ``fetch`` (final days are
    stored). With ``sort_field="start_time"`` the parts come in the result's order and
    concatenate to it; with ``max_rows`` the missing parts are fetched in that order, 1,
    then 2, 4, ... at a time, until the rows are there (the caller cuts the total). Other
    sort fields: the parts of the whole window, to be merged by that sort. When the
    cache folder cannot be used, everything is fetched and nothing stored.

    Examples
    --------
    >>> parts = slice_frames(query, settings, Scope.of(client), fetcher, now=now)
    >>> sum(part.height for part in parts) > 0  # doctest: +SKIP
    True
    """
    folder, qid, usable = query_folder(
        settings,
        scope,
        "traces",
        filters=dict(sorted(query.filters.items())),
        sort=[query.sort_field, query.sort_order],
    )
    days = _Days(folder, qid, query, usable)
    parts = _parts(query, settings, now)
    finals = [] if settings.refresh else [p for p in parts if p.final]
    for part, frame in zip(finals, days.read([p.lo for p in finals]), strict=True):
        part.frame = frame
    by_time = query.sort_field == "start_time"
    order = parts[::-1] if by_time and query.sort_order == "desc" else parts
    limit = max_rows if by_time else None
    rows = pos = 0
    batch = 1  # with max_rows: 1 part, then 2, 4, ... up to FETCH_PIECES per fetch
    while pos < len(order):
        todo = [p for p in order[pos:] if p.frame is None]
        if todo:
            _fetch(todo if limit is None else todo[:batch], query, days, fetch, now)
            batch = min(FETCH_PIECES, 2 * batch)
        if order[pos].frame is None:  # pragma: no cover - _fetch fills every part it is given
            raise RuntimeError(f"no rows for [{order[pos].lo}, {order[pos].hi}) after a fetch")
        while pos < len(order) and (frame := order[pos].frame) is not None:
            part = order[pos]
            pos += 1
            part.frame = None  # handed out: each part is held once
            clipped = _clip(frame, part.lo, part.hi, query.start, query.end)
            rows += clipped.height
            yield clipped
            if limit is not None and rows >= limit:
                return


def concat_parts(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The parts :func:`slice_frames` yielded, in order, as one frame (empty parts skipped)."""
    frames = [p for p in parts if p.height]
    return concat_frames(frames) if frames else _empty()
