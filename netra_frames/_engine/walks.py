"""Traces drains over time ranges, with adaptive work-splitting.

A traces drain is a set of :class:`Walk` objects, each paging one sub-window of the
query (its own :class:`~netra_frames._wire.pages.PageWalk` and cursor). The walks partition the
window on ``start_time``: each one is *responsible* for a half-open range and keeps only
the rows inside it, so a trace is counted once, even on an edge.

**Adaptive sharding** (listings in ``start_time`` order): a walk's cursor tells how far
it has got (its ``position``, the last row's ``start_time``) and its full pages how many
rows a second of ``start_time`` holds (its ``density``), so the pages left in it are its
density times the time it has not reached. The drain starts as many walks as requests
may go at once (the limiter's window), and after every page (:meth:`WalkSet.rebalance`)
each free worker gets a part of the walk whose parts are largest (D'Hondt), and a walk
holding more than its share of the pages left is split ahead of time (R4). Every walk
ends in a partial page, so a walk whose page crosses into a walk that has not started
carries on through it with its cursor (R9, :meth:`WalkSet.take`), and in a long drain
such walks start after the others (R10). New walks take the far parts from scratch; the
running walk keeps its cursor and request, and stops at the first edge (a page that
crosses it is clipped). Each rule is a switch of :class:`Rules`, kept because a replay of
the drain on a virtual clock shows it pays (``benchmarks/replay.py``,
docs/architecture.md). Listings in another order (``total_cost``, ...) are split once,
into equal sub-windows, and merged by that order (the server's tie-break, ``trace_id``,
included).

Results come out per *group* (one per window asked for): in the listing's order, the
walks of a group are concatenated by their ranges (newest first for ``desc``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .._wire.checks import Expect, Mismatch
from .._wire.decode import DecodedPage, last_start_time
from .._wire.pages import PageWalk
from ..config import DEFAULT_PAGE_SIZE
from ..query import TraceQuery
from ..times import split_window
from .batch import Batcher, Sink, consolidate
from .walk import DENSITY_PAGES, Walk

__all__ = ["Rules", "WalkSet"]


@dataclass(frozen=True)
class Rules:
    """The scheduling rules of a traces drain, as switches and constants (the defaults are
    production's). ``benchmarks/replay.py`` replays drains with each one off, and a rule
    stays only where that shows it pays (docs/architecture.md says where and how much).
    """

    presplit: bool = True
    """R4: split ahead of time a walk whose parts hold more than ``split_slack`` shares,
    into parts expected to hold ``min_part_pages`` each at least (a part costs a partial
    page)."""
    split_slack: float = 1.25
    min_part_pages: float = 2.0
    apportion: bool = True
    """D'Hondt: each free worker gets a part of the walk whose parts are largest, none
    below ``min_idle_part_pages`` (its partial page costs nothing then)."""
    min_idle_part_pages: float = 1.0
    unseen_whole: bool = True
    """A walk that has seen no page is not split ahead of time: it may well be empty."""
    inherit: bool = True
    """The parts of a split take its density until they see a page of their own."""
    density_pages: int = DENSITY_PAGES
    """R7: full pages a walk's density is measured over (1: the last page alone)."""
    carry_on: bool = True
    """R9: a walk carries on through the unstarted walk its page crosses into."""
    defer_rounds: float = 8.0
    """R10: pages left per worker from which a walk that starts where a running one stops
    waits for the others, so that R9 can happen (``inf``: never)."""


class WalkSet:
    """The walks of one traces drain, and how work is handed out (see module docstring).

    Parameters
    ----------
    query:
        The listing (filters, sort, page size); its window is the first group's.
    windows:
        The windows to drain, one result group each.
    sink:
        How each walk batches its pages.
    shards:
        Sub-windows each window starts with.
    adaptive:
        Split running walks as their pages show where the rows are (time-ordered
        listings only; see :meth:`rebalance`).
    max_rows:
        Rows wanted at most (one walk, never split).
    rules:
        The scheduling rules (see :class:`Rules`).
    """

    def __init__(
        self,
        query: TraceQuery,
        windows: list[tuple[datetime, datetime]],
        sink: Sink[Any],
        *,
        shards: int,
        adaptive: bool,
        max_rows: int | None = None,
        rules: Rules = Rules(),  # noqa: B008 - frozen
    ) -> None:
        self.query = query
        self.rules = rules
        self.windows = windows
        self.sink = sink
        self.adaptive = adaptive and query.is_time_ordered and max_rows is None
        self.backward = query.walks_backward
        self.rounds_left = 0.0
        """Pages left per worker, by the estimates of the last :meth:`rebalance`."""
        self.frontier: int | None = None
        """Unfinished walks, first in result order, that may send and split (``None``: all;
        ``0``: none). A bounded pipeline narrows it while its buffer is full."""
        self.walks: list[Walk] = []
        order: Literal["asc", "desc"] | None = None
        if query.is_time_ordered:
            order = "desc" if self.backward else "asc"
        filters = tuple(query.filters.items())
        for group, (lo, hi) in enumerate(windows):
            parts = split_window(lo, hi, shards) if max_rows is None else [(lo, hi)]
            if self.backward:
                parts.reverse()  # result order: idle workers take the first walks first
            for a, b in parts:
                self.walks.append(
                    Walk(
                        group,
                        a,
                        b,
                        PageWalk(query.with_window(a, b), max_rows=max_rows),
                        Batcher(sink),
                        self.backward,
                        a if self.backward else b,
                        expect=Expect(a, b, (lo, hi), filters, order=order),
                    )
                )

    @property
    def rows(self) -> int:
        """Rows taken so far."""
        return sum(w.pages.rows for w in self.walks)

    @property
    def done(self) -> bool:
        """Whether every walk is done."""
        return all(w.done for w in self.walks)

    @property
    def held(self) -> int:
        """Bytes (roughly) the walks hold: pages and batches not handed over yet."""
        return sum(w.batcher.held for w in self.walks if not w.emitted)

    def in_order(self) -> list[Walk]:
        """The unfinished walks in result order (groups in order, each in its order)."""
        return [w for g in range(len(self.windows)) for w in self.ordered(g) if not w.done]

    def _open(self) -> list[Walk]:
        """The walks allowed to send and split now (see :attr:`frontier`)."""
        if self.frontier is None:
            return self.walks
        return self.in_order()[: self.frontier]

    def next_walk(self) -> int | None:
        """A walk to fetch a page of now, or ``None``."""
        indexed = (
            enumerate(self.walks)
            if self.frontier is None
            else ((self.walks.index(w), w) for w in self._open())
        )
        # in a long drain, a walk that starts where a running one stops waits, so that one
        # may carry on through it (see take); the others go first
        reached: set[tuple[int, datetime]] = set()
        if self.adaptive and self.rounds_left >= self.rules.defer_rounds:
            reached = {(w.group, w.bound) for w in self.walks if w.pages.cursor and not w.done}
        deferred = None
        for index, walk in indexed:
            if walk.busy or walk.done:
                continue
            if (walk.group, walk.start) not in reached:
                return index
            if deferred is None:
                deferred = index
        return deferred

    def take(self, index: int, page: DecodedPage, workers: int) -> int:
        """Walk ``index`` takes a fetched page (see :meth:`Walk.take`); return the rows kept.

        ``workers`` is how many requests can be in flight now. A page that crosses the
        walk's bound first moves the bound over the next walk (the walk *absorbs* it) if
        that one has sent no request, lies inside the walk's own listing, would not get a
        worker now either (as many other walks wait as workers are free) and holds no more
        than a worker's share of the rows left (so the walk does not become the drain's
        last): it is emptied, and the walk carries on through its range with the cursor it
        has. The rows past the old bound are kept instead of fetched again, and the next
        walk does not end in a partial page of its own.
        """
        walk = self.walks[index]
        if page.num_rows == 0 and not walk.retried and walk.expect is not None:
            # an empty answer looks the same whatever request it answered (a replayed one
            # too): asked again when rows were due, after a page that promised more, or in
            # a range split off a walk whose pages say it holds a page or more (a range no
            # page has told about yet is taken as empty: most such ranges are, in uneven
            # data, and asking each twice would cost more than the rest of the checks)
            expected = walk.expected_rows()
            page_rows = self.query.page_size or DEFAULT_PAGE_SIZE
            if walk.position is not None or (expected is not None and expected >= page_rows):
                raise Mismatch("rows", 0, "came back where rows were due: asked again")
        page = walk.check(page)  # a page not trusted changes nothing (Mismatch)
        last = last_start_time(page) if self.adaptive and self.rules.carry_on else None
        while last is not None and walk.past(last):
            after = self._unstarted_after(walk)
            if after is None or not self._absorbs(walk, after, workers):
                break
            walk.bound, after.bound = after.bound, after.start  # after's range is empty now
            # and it holds nothing, ever: handed over already, so that no run of finished
            # walks starts at it (its place in the order lies inside walk's range, where
            # walk's later splits put their parts; a run gathered there would come first)
            after.pages.done = after.emitted = True
        return walk.take(page, self.rules.density_pages)

    def _absorbs(self, walk: Walk, after: Walk, workers: int) -> bool:
        """Whether ``walk`` should carry on through ``after`` (see :meth:`take`)."""
        others = [w for w in self.walks if w is not walk and not w.done]
        free = workers - sum(w.busy for w in others)
        if sum(not w.busy for w in others) - 1 < free:
            return False  # it would start now: two workers finish sooner than one
        fallback = self.density()
        rows = [r for w in others if (r := w.expected_rows(fallback)) is not None]
        mine = after.expected_rows(fallback)
        if mine is None or len(rows) < len(others):
            return False  # some walk's work is unknown: no share to compare with
        return mine * max(workers, 1) <= sum(rows)

    def _unstarted_after(self, walk: Walk) -> Walk | None:
        """The walk whose range starts where ``walk``'s stops, if it has sent no request and
        lies inside ``walk``'s listing."""
        for other in self.walks:
            if other.group != walk.group or other.busy or other.done or other.pages.cursor:
                continue
            inside = walk.lo <= other.bound <= walk.hi  # walk's listing reaches that far
            if other.start == walk.bound and inside:
                return other
        return None

    def density(self) -> float | None:
        """Rows per second of the time the walks have covered so far (``None``: no rows)."""
        rows, seconds = 0, 0.0
        for walk in self.walks:
            if walk.position is None:
                continue
            rows += walk.pages.rows
            seconds += abs((walk.position - walk.start).total_seconds())
        return rows / seconds if rows and seconds > 0 else None

    def rebalance(self, workers: int, most: int | None = None) -> int:
        """Split, ahead of time, the walks holding the most pages left; return walks added.

        ``workers`` is how many requests can be in flight now, ``most`` how many the drain
        may ever have (for :attr:`rounds_left`; ``workers`` if not given). Each free worker
        gets a part of the walk whose parts are largest (D'Hondt: the largest part as small
        as it can be), then a walk whose parts hold more than ``split_slack`` shares (the
        pages left over ``workers``) is cut into as many parts as it warrants (see
        :class:`Rules`). Calling it again before a page comes in adds nothing.
        """
        if not self.adaptive:
            return 0
        size = self.query.page_size or DEFAULT_PAGE_SIZE
        fallback = self.density()
        rows = [(w.expected_rows(fallback), w) for w in self._open() if not w.done]
        estimates = [(1.0 if r is None else r / size, w) for r, w in rows]
        # a walk that has seen no page is only guessed at (a skewed window's empty days
        # look like the others): it counts towards the total, but is not split
        rules = self.rules
        seen = [w.density is not None or not rules.unseen_whole for _, w in estimates]
        known = [p if s else 0.0 for (p, _), s in zip(estimates, seen, strict=True)]
        free = workers - len(estimates) if rules.apportion else 0
        parts = _apportion(known, free, rules.min_idle_part_pages)
        total = sum(pages for pages, _ in estimates)
        self.rounds_left = total / max(most or workers, 1)
        share = max(total / max(workers, 1), rules.min_part_pages)
        added = 0
        for (pages, walk), k, measured in sorted(
            zip(estimates, parts, seen, strict=True), key=lambda e: e[0][0] / e[1], reverse=True
        ):
            if rules.presplit and measured and pages / k > rules.split_slack * share:
                k = max(k, min(math.ceil(pages / share), int(pages / rules.min_part_pages)))
            new = walk.split(self.query, k, rules.inherit) if k > 1 else []
            self.walks.extend(new)
            added += len(new)
        return added

    def build_one(self, budget: int) -> None:
        """Build the pages of the walk holding the most, if all walks hold ``budget`` bytes.

        One batch at a time, as pages arrive: walks progress in step, and building each
        one's pages when it reaches a size would stall the drain while they all do.
        """
        if sum(w.batcher.weight for w in self.walks) >= budget:
            max(self.walks, key=lambda w: w.batcher.weight).batcher.flush()

    def build_finished(self) -> bool:
        """Build the loose pages of one run of finished walks (consecutive in result
        order) into batches; return whether there was any to build.

        The drain calls it while it has nothing else to do than wait for answers, so a
        drain bound by the server's latency ends with little left to build. A run's walks
        stay consecutive: a split only ever adds walks next to an unfinished one.
        """
        for group in range(len(self.windows)):
            run: list[Walk] = []
            for walk in [*self.ordered(group), None]:
                if walk is not None and walk.emitted:
                    continue  # handed over already (a prefix of the group)
                if walk is not None and walk.done:
                    run.append(walk)
                    continue
                if any(w.batcher.loose for w in run):
                    consolidate([w.batcher for w in run])
                    return True
                run = []
        return False

    def covered(self) -> float:
        """Share of the windows' time the walks have covered (for a progress estimate)."""
        total = sum((hi - lo).total_seconds() for lo, hi in self.windows)
        left = 0.0
        for walk in self.walks:
            remaining = walk.remaining()
            if remaining is not None:
                left += (remaining[1] - remaining[0]).total_seconds()
        return 1.0 - left / total if total > 0 else 1.0

    def ordered(self, group: int, upto_unfinished: bool = False) -> list[Walk]:
        """The walks of a group in result order (``upto_unfinished``: stop after the first
        walk not done, for a partial result that is a prefix of the full one)."""
        walks = [w for w in self.walks if w.group == group]
        if self.backward:
            walks.sort(key=lambda w: w.bound, reverse=True)
        else:
            walks.sort(key=lambda w: w.lo)
        if upto_unfinished:
            for index, walk in enumerate(walks):
                if not walk.done:
                    return walks[: index + 1]
        return walks

    def copy(self) -> WalkSet:
        """An independent snapshot of every walk (for ``resume``)."""
        twin = copy.copy(self)  # the query, windows, sink and rules are shared: immutable
        twin.walks = [w.copy() for w in self.walks]
        return twin


def _apportion(pages: list[float], free: int, least: float) -> list[int]:
    """Parts for each walk: ``free`` more in all, each to the walk whose parts are the
    largest (D'Hondt), none below ``least`` pages.

    Examples
    --------
    >>> _apportion([12.0, 6.0, 3.0], 3, 1.0)
    [3, 2, 1]
    >>> _apportion([2.5, 0.0], 4, 1.0)       # none below a page
    [2, 1]
    """
    parts = [1] * len(pages)
    for _ in range(max(free, 0)):
        best = max(range(len(pages)), key=lambda i: pages[i] / parts[i], default=None)
        if best is None or pages[best] / (parts[best] + 1) < least:
            break
        parts[best] += 1
    return parts
