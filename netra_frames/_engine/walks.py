"""Traces drains over time ranges, with adaptive work-splitting.

A traces drain is a set of :class:`Walk` objects, each paging one sub-window of the
query (its own :class:`~netra_frames._wire.pages.PageWalk` and cursor). The walks partition the
window on ``start_time``: each one is *responsible* for a half-open range and keeps only
the rows inside it, so a trace is counted once, even on an edge.

**Adaptive sharding** (listings in ``start_time`` order): pages walk a sub-window in time
order, so a walk's cursor tells how far it has got (its ``position``, the last row's
``start_time``), and each full page tells how much time its rows cover (its ``density``,
rows per second between the previous page's last row and its own).

* **Split by estimated work** (:meth:`WalkSet.rebalance`, after every page): the pages
  left in a running walk are estimated as its density times the time it has not reached.
  The drain starts as many walks as requests may go at once (the client's slow start
  lets 8 go, then doubles per window that succeeded), and as it opens, the pages left are
  apportioned among the workers: each free worker gets a part of the walk whose parts
  are largest (D'Hondt). A walk holding more than its share (the pages left in all
  walks over the workers) is also split ahead of time into as many parts as its
  estimate warrants, so that from the second round on every worker has work of about
  equal size. A walk that has seen no full page yet counts towards the total with the
  density the whole drain has seen, but is not split: in a skewed window its range may
  well be empty.
* **Split on idleness** (the fallback, when estimates were wrong): when a worker is idle
  and no walk is waiting, the range a running walk has not reached yet that holds the
  most rows by its estimate (more than two pages' worth) is
  split in two.

* **Carry on through a waiting walk** (:meth:`WalkSet.take`): every walk ends in a partial
  page. A walk whose page crosses its edge into a walk that has sent no request, would
  not get a worker now, and holds no more than a worker's share, takes that walk's range
  over with the cursor it has: no partial page, and the rows past the edge are kept, not
  fetched again. While a drain has :data:`DEFER_ROUNDS` pages per worker left or more, a
  walk that starts where a running one stops is started after the others, so that this
  can happen (~10 fewer requests in a 700-page drain).

Either way, new walks take the far parts from scratch, and the running walk stops at the
first edge (a page that crosses it is clipped, unless it carries on as above). The
running walk keeps its cursor and its request: only its stopping point moves. Every part
must be expected to hold at least :data:`MIN_PART_PAGES` pages, so a small window costs
no extra request. Uneven data (a busy day in a quiet month) thus drains as fast as even
data. Listings in another order
(``total_cost``, ...) are split once, into equal sub-windows, and merged by that order
(the server's tie-break, ``trace_id``, included).

Results come out per *group* (one per window asked for): in the listing's order, the
walks of a group are concatenated by their ranges (newest first for ``desc``).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from .._wire.checks import Expect, Mismatch
from .._wire.decode import DecodedPage, last_start_time
from .._wire.pages import PageWalk
from ..config import DEFAULT_PAGE_SIZE
from ..query import TraceQuery
from ..times import split_window
from .batch import Batcher, Sink, consolidate
from .walk import Walk

__all__ = [
    "MIN_PART_PAGES",
    "WalkSet",
]

MIN_PART_PAGES = 2.0
"""Pages each part of a split ahead of time must be expected to hold (a split costs a
partial page)."""

MIN_IDLE_PART_PAGES = 1.0
"""Pages each part must be expected to hold when a split feeds a worker that would idle
otherwise: its partial page costs nothing then, and a walk's last pages go in parallel."""

SPLIT_SLACK = 1.25
"""A walk is split ahead of time when it holds more than this many workers' shares."""

DEFER_ROUNDS = 8.0
"""Pages left per worker from which a walk that starts where a running one stops waits for
the others (see :meth:`WalkSet.next_walk`): a short drain needs every part started at once."""

WALKS_PER_WORKER = 2
"""Unfinished walks allowed per worker (splits ahead of time stop there)."""


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
        Split running walks when a worker is idle (time-ordered listings only).
    max_rows:
        Rows wanted at most (one walk, never split).
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
    ) -> None:
        self.query = query
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
        """A walk to fetch a page of now (splitting one when allowed), or ``None``."""
        open_walks = self._open()
        indexed = (
            enumerate(self.walks)
            if self.frontier is None
            else ((self.walks.index(w), w) for w in open_walks)
        )
        # in a long drain, a walk that starts where a running one stops waits, so that one
        # may carry on through it (see take); the others go first
        reached: set[tuple[int, datetime]] = set()
        if self.adaptive and self.rounds_left >= DEFER_ROUNDS:
            reached = {(w.group, w.bound) for w in self.walks if w.pages.cursor and not w.done}
        deferred = None
        for index, walk in indexed:
            if walk.busy or walk.done:
                continue
            if (walk.group, walk.start) not in reached:
                return index
            if deferred is None:
                deferred = index
        if deferred is not None:
            return deferred
        if not self.adaptive or self.frontier == 1:
            return None  # one walk at a time: a split would start a second
        size = self.query.page_size or DEFAULT_PAGE_SIZE
        candidates = []
        for walk in open_walks:
            expected = walk.expected_rows()
            if expected is not None and expected > size * 2 * MIN_IDLE_PART_PAGES:
                candidates.append((expected, walk))
        for _, walk in sorted(candidates, key=lambda c: c[0], reverse=True):
            new = walk.split(self.query)
            if new:
                self.walks.extend(new)
                return len(self.walks) - len(new)
        return None

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
        last = last_start_time(page) if self.adaptive else None
        while last is not None and walk.past(last):
            after = self._unstarted_after(walk)
            if after is None or not self._absorbs(walk, after, workers):
                break
            walk.bound, after.bound = after.bound, after.start  # after's range is empty now
            after.pages.done = True
        return walk.take(page)

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
        may ever have (for :attr:`rounds_left`; ``workers`` if not given). Free workers get work
        first: each gets one more part of the walk whose parts are largest (the D'Hondt
        rule, which makes the largest part as small as it can be), none below
        :data:`MIN_IDLE_PART_PAGES` pages. Then, while the parts number under
        :data:`WALKS_PER_WORKER` per worker, a walk whose parts hold more than
        :data:`SPLIT_SLACK` shares (the pages left over ``workers``) is cut into as many
        parts as its estimate warrants, the largest first. Walks that have seen no page
        are not split. Calling it again before a page comes in adds nothing.
        """
        if not self.adaptive:
            return 0
        size = self.query.page_size or DEFAULT_PAGE_SIZE
        fallback = self.density()
        estimates: list[tuple[float, Walk]] = []
        for walk in self._open():
            if walk.done:
                continue
            rows = walk.expected_rows(fallback)
            estimates.append((1.0 if rows is None else rows / size, walk))
        # a walk that has seen no page is only guessed at (a skewed window's empty days
        # look like the others): it counts towards the total, but is not split
        known = [pages if walk.density is not None else 0.0 for pages, walk in estimates]
        parts = _apportion(known, workers - len(estimates))
        total = sum(pages for pages, _ in estimates)
        self.rounds_left = total / max(most or workers, 1)
        share = max(total / max(workers, 1), MIN_PART_PAGES)
        room = WALKS_PER_WORKER * workers - sum(parts)
        added = 0
        for (pages, walk), k in sorted(
            zip(estimates, parts, strict=True), key=lambda e: e[0][0] / e[1], reverse=True
        ):
            if room > 0 and walk.density is not None and pages / k > SPLIT_SLACK * share:
                more = min(math.ceil(pages / share), int(pages / MIN_PART_PAGES), room + k)
                room -= max(more - k, 0)
                k = max(k, more)
            new = walk.split(self.query, k) if k > 1 else []
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
        twin = WalkSet.__new__(WalkSet)
        twin.query, twin.windows, twin.sink = self.query, self.windows, self.sink
        twin.adaptive, twin.backward = self.adaptive, self.backward
        twin.rounds_left = self.rounds_left
        twin.frontier = self.frontier
        twin.walks = [w.copy() for w in self.walks]
        return twin


def _apportion(pages: list[float], free: int) -> list[int]:
    """Parts for each walk: ``free`` more in all, each to the walk whose parts are the
    largest (D'Hondt), none below :data:`MIN_IDLE_PART_PAGES` pages.

    Examples
    --------
    >>> _apportion([12.0, 6.0, 3.0], 3)
    [3, 2, 1]
    >>> _apportion([2.5, 0.0], 4)       # none below a page
    [2, 1]
    """
    parts = [1] * len(pages)
    for _ in range(max(free, 0)):
        best = max(range(len(pages)), key=lambda i: pages[i] / parts[i], default=None)
        if best is None or pages[best] / (parts[best] + 1) < MIN_IDLE_PART_PAGES:
            break
        parts[best] += 1
    return parts
