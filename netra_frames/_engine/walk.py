"""One walk of a traces drain: a sub-window's pages, the range it keeps, its density.

A :class:`Walk` pages one sub-window of the query (its own
:class:`~netra_frames._wire.pages.PageWalk` and cursor) and is *responsible* for a
half-open range of ``start_time`` in it: it keeps only the rows inside, so a trace is
counted once, even on an edge. Its ``position`` (the last row's ``start_time``) tells how
far it has got, its ``density`` how many rows a second of ``start_time`` holds, and
:meth:`Walk.split` hands the far parts of the range it has not reached to new walks. How
walks are started, split and merged is :class:`~netra_frames._engine.walks.WalkSet`'s job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .._wire.checks import Expect, Mismatch
from .._wire.decode import DecodedPage, clip_start_times, first_start_time, last_start_time
from .._wire.pages import PageWalk
from ..query import TraceQuery
from .batch import Batcher

__all__ = ["DENSITY_PAGES", "MIN_SPLIT", "Walk"]

logger = logging.getLogger("netra_frames")

MIN_SPLIT = timedelta(milliseconds=2)
"""The narrowest time range that is still split in two (one millisecond each)."""

DENSITY_PAGES = 4
"""Full pages a walk's density is measured over (one page alone is ~10% off)."""


@dataclass
class Walk:
    """One sub-window being paged, and the range of ``start_time`` it is responsible for.

    ``bound`` is where its responsibility stops: walking backward (newest first) it keeps
    rows at or after ``bound``; walking forward, rows before it.
    """

    group: int
    lo: datetime
    hi: datetime
    pages: PageWalk
    batcher: Batcher[Any]
    backward: bool
    bound: datetime
    position: datetime | None = None
    busy: bool = False
    density: float | None = None
    """Rows per second of ``start_time`` over the last full pages (``None``: none yet)."""
    span: tuple[tuple[int, float], ...] = ()
    """Rows and seconds of the last full pages after the first (up to :data:`DENSITY_PAGES`)."""
    emitted: bool = False
    """Whether every row of the walk was handed over (see :mod:`~netra_frames._engine.traces`)."""
    expect: Expect | None = None
    """What the rows of its pages must answer (its window ``[lo, hi)``, the filters, ...)."""
    retried: bool = False
    """Whether the page now asked for is asked again (its first answer was not trusted)."""

    @property
    def done(self) -> bool:
        """Whether every page of the walk's range is in."""
        return self.pages.done

    @property
    def start(self) -> datetime:
        """Where the walk's listing starts, in walking order (``hi`` walking backward)."""
        return self.hi if self.backward else self.lo

    def remaining(self) -> tuple[datetime, datetime] | None:
        """The part of the walk's range its cursor has not reached, or ``None``."""
        if self.done:
            return None
        reached = self.position or self.start
        if self.backward:
            return (self.bound, reached) if reached > self.bound else None
        return (reached, self.bound) if self.bound > reached else None

    def expected_rows(self, fallback: float | None = None) -> float | None:
        """Rows the remaining range should hold, from the density of the last full page.

        ``fallback`` is the density (rows per second) to assume when the walk has seen no
        full page yet; without one, ``None``.

        """
        left = self.remaining()
        if left is None:
            return None
        density = self.density if self.density is not None else fallback
        if density is None:
            return None
        return density * (left[1] - left[0]).total_seconds()

    def split(self, query: TraceQuery, parts: int = 2, inherit: bool = True) -> list[Walk]:
        """Hand all but the nearest of ``parts`` equal slices of the remaining range to new
        walks, and stop this one at the first edge (see :mod:`~netra_frames._engine.walks`).

        Edges fall on whole milliseconds; fewer parts come back when the range is too
        narrow, none when it cannot be split.
        """
        left = self.remaining()
        if left is None or parts < 2 or left[1] - left[0] < MIN_SPLIT:
            return []
        low, high = left
        edges = [low]
        for i in range(1, parts):
            edge = low + (high - low) * i / parts
            edge -= timedelta(microseconds=edge.microsecond % 1000)  # on a millisecond
            if edges[-1] < edge < high:
                edges.append(edge)
        edges.append(high)
        if len(edges) < 3:
            return []
        ranges = list(zip(edges[:-1], edges[1:], strict=True))
        if self.backward:  # this walk keeps the newest slice; the others, newest first
            self.bound = ranges[-1][0]
            ranges = ranges[-2::-1]
        else:
            self.bound = ranges[0][1]
            ranges = ranges[1:]
        return [
            Walk(
                self.group,
                lo,
                hi,
                PageWalk(query.with_window(lo, hi)),
                Batcher(self.batcher.sink, self.batcher.size),
                self.backward,
                lo if self.backward else hi,
                density=self.density if inherit else None,  # the split's estimate, until a page
                expect=None if self.expect is None else replace(self.expect, lo=lo, hi=hi),
            )
            for lo, hi in ranges
        ]

    def take(self, page: DecodedPage, density_pages: int = DENSITY_PAGES) -> int:
        """Take one fetched page; return the rows kept.

        Before it counts, the page is checked where its cursor leads (:meth:`check`; a
        :class:`~netra_frames._wire.checks.Mismatch` leaves the walk where it was) and its
        cursor too (a repeated cursor raises). A page whose last row lies past the walk's
        bound is clipped to the walk's range, and ends the walk: every later row would lie
        past it too.
        """
        page = self.check(page)
        self.pages.advance(page)
        last = last_start_time(page)
        if last is not None and page.has_next_page:
            seconds = max(abs((last - (self.position or self.start)).total_seconds()), 1e-3)
            if self.position is None:  # its span may begin in an empty stretch: it counts alone
                self.density = page.num_rows / seconds
            else:
                kept = self.span[len(self.span) + 1 - density_pages :]
                self.span = (*kept, (page.num_rows, seconds))
                self.density = sum(r for r, _ in self.span) / sum(t for _, t in self.span)
        if last is not None and self.past(last):
            if self.backward:
                page = clip_start_times(page, lo=self.bound)
            else:
                page = clip_start_times(page, hi=self.bound)
            self.pages.done = True
        elif last is not None:
            self.position = last
        self.batcher.add([page], build=False)  # the drain decides when (see TracesDrain)
        return page.num_rows

    def check(self, page: DecodedPage) -> DecodedPage:
        """``page``, marked with what its rows must answer, if its last row (where its
        cursor leads) lies in the walk's window and, in a listing in ``start_time`` order,
        no earlier than the walk got; else :class:`~netra_frames._wire.checks.Mismatch`.

        Rows at exactly the window's upper edge, which a server reading ``endTime`` as
        inclusive sends first when walking backward, are left to the range above (and
        noted at debug level): they count for nothing here.
        """
        page.expect = self.expect
        expect = self.expect
        if expect is None or page.num_rows == 0:
            return page
        ordered = expect.order is not None
        if ordered and self.backward and self.position is None:
            first = first_start_time(page)
            if first is not None and first > self.hi:
                raise Mismatch("start_time", first, "lies outside the window asked for")
            if first is not None and first == self.hi:  # only the edge itself: trimmed
                logger.debug("netra_frames: rows at %s, the upper edge, left to the next range",
                             first)  # fmt: skip
                page = clip_start_times(page, hi=self.hi)
                if page.num_rows == 0:
                    return page
        if page.has_next_page and page.next_cursor in self.pages.seen:
            raise Mismatch("cursor", page.next_cursor, "was given before (an answer replayed?)")
        last = last_start_time(page)
        if last is None:
            return page
        if last < self.lo or last > self.hi:
            raise Mismatch("start_time", last, "lies outside the window asked for")
        if not ordered:
            return page
        first = first_start_time(page)
        if self.position is not None:
            for moment in (first, last):
                if moment is not None and (
                    moment > self.position if self.backward else moment < self.position
                ):
                    raise Mismatch("start_time", moment, f"is out of {expect.order} order")
        if first is not None and self.past(first) and not self.retried:
            # the walk ends with no row of this page kept: were there really none left in
            # its range, or is this another request's answer (a replay) that skipped them?
            # Asked again when its density says the stretch skipped holds a row or more.
            skipped = self.expected_rows()
            if self.position is None or skipped is None or skipped >= 1:
                raise Mismatch("start_time", first, "lies past the range: asked again")
        return page

    def past(self, moment: datetime) -> bool:
        """Whether a row at ``moment`` lies beyond the walk's bound."""
        return moment < self.bound if self.backward else moment >= self.bound

    def copy(self) -> Walk:
        """An independent snapshot (for ``resume``): no request of it is in flight."""
        return replace(self, pages=self.pages.copy(), batcher=self.batcher.copy(), busy=False)
