"""A cached traces window put together: stored days from disk, the rest as it streams in.

The window is cut into *parts* (:func:`~.days.plan_window`): the final UTC days it touches
and the live tail after them (cut into windows of whole days). Stored days are read
first (:class:`~.days.Days`). The parts still missing, runs of them consecutive in result
order, become fetch windows (final days in runs of whole days, about
:data:`FETCH_PIECES` windows in all; each live part alone), drained in one go through
the engine's pipeline (a :class:`WindowStream`), window after window in result order.
Their rows are handed on batch by batch, between the stored parts, and cut into days as
they pass: a final day is stored the moment the stream has moved past it (or its window
ends), so a long window holds about a day of rows at a time and an interrupted drain
keeps the days it completed. Put together:

* ``sort_field="start_time"``: the parts in time order, reversed for ``desc``: exactly
  the server's order, ties included (equal start times share a day);
* other sort fields: every part, to be re-sorted by ``(sort_field, trace_id)``, nulls
  first when ascending, as a sharded drain does (by :mod:`netra_frames.cache.fetch`, with
  the engine's merge).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import polars as pl

from .._wire.convert import concat_frames
from ..query import TraceQuery
from ..times import DAY
from .days import DAY_SECONDS, Days, cut_days, empty_day, plan_window
from .entries import Scope, query_folder
from .settings import CacheSettings

__all__ = ["FETCH_PIECES", "StreamBatch", "WindowStream", "slice_frames"]

logger = logging.getLogger("netra_frames")

FETCH_PIECES = 16
"""Most windows one fetch asks for: runs of missing days are cut into about this many."""

Windows = Sequence[tuple[datetime, datetime]]


class StreamBatch(Protocol):
    """What a :class:`WindowStream` yields: a batch of one window's rows, in order."""

    @property
    def group(self) -> int: ...
    @property
    def part(self) -> pl.DataFrame | None: ...
    @property
    def last(self) -> bool: ...


class WindowStream(Protocol):
    """Drain windows of one traces query, in order (what the cache asks of the engine).

    Drain each half-open window ``[lo, hi)`` of ``query`` (same filters, sort_field,
    sort_order, page_size; its own start/end ignored) and yield its rows as Polars
    batches, window after window in the order given (``group`` is the window's index;
    each window's last batch has ``last`` set, its ``part`` maybe ``None``), each window's
    rows in exactly the order an uncached ``traces_frame(lo, hi, backend="polars", ...)``
    returns (TRACES columns + unknown extras). The windows are fetched concurrently;
    closing the iterator stops the drain.
    """

    def __call__(self, query: TraceQuery, windows: Windows) -> Iterator[StreamBatch]: ...


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
        parts += [_Part(lo, hi, False) for lo, hi in cut_days(*plan.live, FETCH_PIECES)]
    return parts


def _clip(
    frame: pl.DataFrame, lo: datetime, hi: datetime, start: datetime, end: datetime
) -> pl.DataFrame:
    """Rows of a part ``[lo, hi)`` inside the query window ``[start, end)``."""
    if start <= lo and hi <= end or not frame.height:
        return frame
    column = pl.col("start_time")
    return frame.filter((column >= max(lo, start)) & (column < min(hi, end)))


def _day_runs(frame: pl.DataFrame) -> list[tuple[int, pl.DataFrame]]:
    """The rows of ``frame`` in runs of one UTC day, in order: ``(day number, rows)``."""
    if not frame.height:
        return []
    day_of = frame["start_time"].dt.epoch("s") // DAY_SECONDS
    cut = (day_of != day_of.shift(1)).fill_null(True)
    starts = [*cut.arg_true().to_list(), frame.height]
    return [
        (int(day_of[a]), frame.slice(a, b - a)) for a, b in zip(starts, starts[1:], strict=False)
    ]


def _windows(order: list[_Part], pieces: int) -> list[list[_Part]]:
    """The missing parts as fetch windows, in result order (see the module docstring):
    runs of final days cut into about ``pieces`` windows; each live part alone."""
    runs: list[list[_Part]] = []
    for index, part in enumerate(order):
        if part.frame is not None:
            continue
        before = order[index - 1] if index else None
        if runs and before is not None and before.frame is None and before.final and part.final:
            runs[-1].append(part)
        else:
            runs.append([part])
    days = sum(len(run) for run in runs if run[0].final)
    step = max(1, -(-days // pieces))
    out: list[list[_Part]] = []
    for run in runs:
        out += [run[i : i + step] for i in range(0, len(run), step)] if run[0].final else [run]
    return out


def _span(run: list[_Part]) -> tuple[datetime, datetime]:
    return min(p.lo for p in run), max(p.hi for p in run)


class _Run:
    """One fetch window as it streams in: its rows cut into days, each final day stored
    once the stream has passed it (``by_time``) or the window ends."""

    def __init__(self, parts: list[_Part], days: Days, now: datetime, by_time: bool) -> None:
        self.days, self.now, self.by_time = days, now, by_time
        self.final = parts[0].final
        self.lows = {int(p.lo.timestamp()) // DAY_SECONDS: p.lo for p in parts}
        self.order = list(self.lows)  # day numbers in the order the stream brings them
        self.pending: dict[int, list[pl.DataFrame]] = {}
        self.stored: set[int] = set()
        self.outside = False

    def take(self, frame: pl.DataFrame) -> None:
        if not self.final or self.outside:
            return
        for number, rows in _day_runs(frame):
            if number not in self.lows or number in self.stored:
                logger.debug("netra_frames: rows outside the days fetched; not cached")
                self.outside = True  # store nothing more of a window the server got wrong
                return
            if self.by_time:  # the days before it in the stream's order are complete
                for before in self.order[: self.order.index(number)]:
                    self._store(before)
            self.pending.setdefault(number, []).append(rows)

    def close(self) -> None:
        if self.final:
            for number in self.order:
                self._store(number)

    def _store(self, number: int) -> None:
        if number in self.stored or self.outside:
            return
        self.stored.add(number)
        frames = self.pending.pop(number, [])
        frame = concat_frames(frames) if len(frames) > 1 else frames[0] if frames else empty_day()
        self.days.write(self.lows[number], frame, self.now)


def slice_frames(
    query: TraceQuery,
    settings: CacheSettings,
    scope: Scope,
    stream: WindowStream,
    *,
    now: datetime,
    max_rows: int | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield the window's rows in result order: stored days, and the rest as it streams.

    With ``sort_field="start_time"`` the frames come in the result's order and
    concatenate to it; with ``max_rows`` the iteration stops once the rows are there
    (the caller cuts the total) and the drain with it. Other sort fields: the rows of
    every part, to be merged by that sort. When the cache folder cannot be used,
    everything is fetched and nothing stored.

    Examples
    --------
    >>> parts = slice_frames(query, settings, Scope.of(client), stream, now=now)
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
    days = Days(folder, qid, query, usable)
    parts = _parts(query, settings, now)
    finals = [] if settings.refresh else [p for p in parts if p.final]
    for part, frame in zip(finals, days.read([p.lo for p in finals]), strict=True):
        part.frame = frame
    by_time = query.sort_field == "start_time"
    order = parts[::-1] if by_time and query.sort_order == "desc" else parts
    limit = max_rows if by_time else None
    windows = _windows(order, FETCH_PIECES if limit is None else len(order))  # a day each
    batches = stream(query, [_span(run) for run in windows]) if windows else iter(())
    fetched = {id(run[0]): run for run in windows}
    rows = 0
    try:
        for part in order:
            run = fetched.get(id(part))
            if run is not None:
                state = _Run(run, days, now, by_time)
                lo, hi = _span(run)
                for batch in batches:
                    frame = batch.part if batch.part is not None else empty_day()
                    state.take(frame)
                    if batch.last:
                        state.close()  # stored before it is handed on: a stop keeps it
                    frame = _clip(frame, lo, hi, query.start, query.end)
                    if frame.height:
                        rows += frame.height
                        yield frame
                        if limit is not None and rows >= limit:
                            return
                    if batch.last:
                        break
            elif part.frame is not None:
                frame = _clip(part.frame, part.lo, part.hi, query.start, query.end)
                part.frame = empty_day()  # handed out: each part is held once
                rows += frame.height
                yield frame
                if limit is not None and rows >= limit:
                    return
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # stop the drain of what is no longer wanted
