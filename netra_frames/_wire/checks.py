"""Is a page the answer to its request? Checks of decoded rows, vectorised on a batch.

A page is kept only if its rows answer the request that asked for it. The engine attaches
an :class:`Expect` to each page it takes (the window of its result group and the range of
its walk, the equality filters, the trace of a spans page, the listing's time order) and
the request itself; :func:`check_batch` then checks a built batch of such pages at once,
on its columns (a few comparisons per batch: a small share of decoding it):

* every row's ``start_time`` lies in its page's range ``[lo, hi)``, which lies in the
  window asked for (a row at exactly a range's upper edge, which a server reading
  ``endTime`` as inclusive sends, belongs to the next range: :func:`edge_rows` trims it);
* every equality filter holds on every row;
* a span's ``trace_id`` is the trace asked for;
* no id appears twice in the batch (across batches: :class:`SeenIds`);
* the fields the contract says are always present are there;
* the rows of a listing in ``start_time`` order are in that order.

A failure is a :class:`Mismatch` naming the field, the value and the page; the engine
fetches that page once more and raises :class:`~netra_frames.PageMismatchError` when the
second answer is as wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from ..times import format_time

if TYPE_CHECKING:
    from .request import Request

logger = logging.getLogger("netra_frames")

__all__ = [
    "REQUIRED_SPANS",
    "REQUIRED_TRACES",
    "Expect",
    "Mismatch",
    "SeenIds",
    "check_batch",
    "describe_request",
    "edge_rows",
]

REQUIRED_TRACES = (
    "trace_id", "name", "kind", "latency_ms", "start_time", "end_time", "organisation_id",
    "project_id",
)  # fmt: skip
"""Columns of a traces frame the contract says are always present (the SDK requires them)."""
REQUIRED_SPANS = ("span_id", "trace_id", "name", "kind", "organisation_id", "project_id")
"""The same for spans (``created_at`` too on the wire, but a span without it is no harm)."""


@dataclass(frozen=True)
class Expect:
    """What the rows of a page must answer.

    ``lo``/``hi``: the range of ``start_time`` the page's walk asked for (``None``: no
    range, spans); ``window``: the window of its result group (the range lies inside);
    ``filters``: ``(column, value)`` equality filters; ``trace_id``: the trace of a spans
    page; ``order``: the listing's order of ``start_time`` (``None``: another sort).
    """

    lo: datetime | None = None
    hi: datetime | None = None
    window: tuple[datetime, datetime] | None = None
    filters: tuple[tuple[str, str], ...] = ()
    trace_id: str | None = None
    order: Literal["asc", "desc"] | None = None


class Mismatch(ValueError):
    """A batch's rows do not answer a page's request (see :func:`check_batch`)."""

    def __init__(self, field: str, value: object, why: str, page: int | None = None) -> None:
        shown = format_time(value) if isinstance(value, datetime) else repr(value)
        super().__init__(f"{field} {shown} {why}")
        self.field, self.value, self.why, self.page = field, shown, why, page


def describe_request(request: Request | None) -> str:
    """The request as text for a message: method, path, window, filters, cursor (no key).

    Examples
    --------
    >>> from netra_frames.query import TraceQuery
    >>> describe_request(TraceQuery.build("2026-01-01", "2026-01-02").request())
    'POST /sdk/traces [2026-01-01T00:00:00.000Z, 2026-01-02T00:00:00.000Z)'
    """
    if request is None:
        return "the request"
    text = f"{request.method} {request.target.split('?')[0]}"
    if request.body:
        try:
            body = json.loads(request.body)
        except ValueError:
            return text
        text += f" [{body.get('startTime')}, {body.get('endTime')})"
        filters = {f.get("field"): f.get("value") for f in body.get("filters") or []}
        if filters:
            text += f" {filters}"
        cursor = (body.get("pagination") or {}).get("cursor")
    else:
        query = request.target.partition("?")[2]
        cursor = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("cursor")
    if cursor:
        text += f" after cursor {cursor[:12]}..."
    return text


def edge_rows(frame: pl.DataFrame, hi: datetime) -> pl.Series:
    """The rows of a traces page at or past its range's upper edge ``hi`` (a mask)."""
    return (frame["start_time"] >= hi).fill_null(False)


def check_batch(frame: pl.DataFrame, pages: Sequence[object], *, spans: bool) -> pl.DataFrame:
    """Return ``frame`` (the rows of ``pages``) when they answer their requests, else raise
    :class:`Mismatch`; pages without an :class:`Expect` are not checked.

    Traces pages know their row counts (read off their bytes), so each row is checked
    against its own page's range; a row at exactly the range's upper edge (a server that
    reads ``endTime`` as inclusive) is dropped, as it belongs to the next range. The pages
    of one batch share their window, filters and order. Each check is one vectorised pass
    (a row-level search only when it fails).
    """
    expects = [getattr(p, "expect", None) for p in pages]
    if not frame.height or all(e is None for e in expects):
        return frame
    first = next(e for e in expects if e is not None)
    check = _Check(frame, None if spans else _rows_of(pages))
    check.present(REQUIRED_SPANS if spans else REQUIRED_TRACES)
    if not spans:
        check.ranges(expects, first)
    frame = check.frame
    for column, value in first.filters:
        if column in frame.columns:
            wrong = (frame[column] != value).fill_null(True)
            check.fail(wrong, column, f"is not the {value!r} filtered on")
    if spans:
        check.traces_of_spans(expects)
        key = ["trace_id", "span_id"]
        if frame.select(pl.struct(key).n_unique()).item() != frame.height:
            check.fail(frame.select(key).is_duplicated(), "span_id", "appears twice")
    elif frame["trace_id"].n_unique() != frame.height:
        check.fail(frame["trace_id"].is_duplicated(), "trace_id", "appears twice")
    if first.order is not None and frame.height > 1:
        times = frame["start_time"]
        if not times.is_sorted(descending=first.order == "desc"):
            steps = times.diff().dt.total_microseconds().fill_null(0)
            wrong = steps > 0 if first.order == "desc" else steps < 0
            check.fail(wrong, "start_time", f"is out of {first.order} order")
    return frame


def _rows_of(pages: Sequence[object]) -> list[int] | None:
    """Rows of each page, when each knows its count without a parse (traces pages)."""
    counts = []
    for page in pages:
        known = getattr(page, "known_rows", None)
        if known is None:
            return None
        counts.append(known)
    return counts


_NEVER = np.iinfo(np.int64)


def _micros(values: Sequence[datetime | None], missing: int) -> np.ndarray:
    return np.array(
        [missing if v is None else int(v.timestamp() * 1_000_000) for v in values], np.int64
    )


def _extremes(times: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Which pages hold rows, and the earliest and latest of each such page's ``times``."""
    full = counts > 0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[full]
    return full, np.minimum.reduceat(times, starts), np.maximum.reduceat(times, starts)


class _Check:
    """The checks of one batch; a failure names the field, its value and the page."""

    def __init__(self, frame: pl.DataFrame, counts: list[int] | None) -> None:
        self.frame = frame
        self.counts = counts if counts is not None and sum(counts) == frame.height else None

    def page_of(self, row: int) -> int | None:
        if self.counts is None:
            return None
        return int(np.searchsorted(np.cumsum(self.counts), row, side="right"))

    def fail(self, mask: pl.Series | np.ndarray, field: str, why: str) -> None:
        """Raise :class:`Mismatch` for the first row of ``mask``, if any."""
        hits = np.flatnonzero(mask) if isinstance(mask, np.ndarray) else mask.arg_true()
        if not len(hits):
            return
        row = int(hits[0])
        raise Mismatch(field, self.frame[field][row], why, self.page_of(row))

    def present(self, names: Sequence[str]) -> None:
        for name in names:
            if name in self.frame.columns and self.frame[name].null_count():
                self.fail(self.frame[name].is_null(), name, "is missing (the contract says always)")

    def ranges(self, expects: Sequence[Expect | None], first: Expect) -> None:
        """Each row inside its page's range (without row counts: inside the window);
        rows at exactly a range's upper edge are dropped (see :func:`check_batch`)."""
        times = self.frame["start_time"].dt.epoch("us").to_numpy()
        if self.counts is not None:
            lows = _micros([e.lo if e else None for e in expects], _NEVER.min)
            highs = _micros([e.hi if e else None for e in expects], _NEVER.max)
            counts = np.array(self.counts)
        elif first.window is not None:
            lows = _micros([first.window[0]], _NEVER.min)
            highs = _micros([first.window[1]], _NEVER.max)
            counts = np.array([self.frame.height])
        else:
            return
        full, low_seen, high_seen = _extremes(times, counts)
        if (high_seen == highs[full]).any():  # rows on an upper edge: the next range's
            edge = times == np.repeat(highs, counts)
            logger.debug("netra_frames: %d row(s) at a range's upper edge, left to the next",
                         int(edge.sum()))  # fmt: skip
            keep = ~edge
            self.frame, times = self.frame.filter(pl.Series(keep)), times[keep]
            page = np.repeat(np.arange(len(counts)), counts)  # each row's page
            counts = np.bincount(page[keep], minlength=len(counts))  # every page's, still
            self.counts = [int(c) for c in counts] if self.counts is not None else None
            if not len(times):
                return
            full, low_seen, high_seen = _extremes(times, counts)
        lows, highs, counts = lows[full], highs[full], counts[full]
        if (low_seen < lows).any():
            self.fail(times < np.repeat(lows, counts), "start_time",
                      "lies before the window asked for")  # fmt: skip
        if (high_seen >= highs).any():
            self.fail(times >= np.repeat(highs, counts), "start_time",
                      "lies after the window asked for")  # fmt: skip

    def traces_of_spans(self, expects: Sequence[Expect | None]) -> None:
        """The spans come trace after trace, each one asked for, in the order asked."""
        asked = [e.trace_id for e in expects if e is not None and e.trace_id is not None]
        if not asked:
            return
        order = {trace: i for i, trace in enumerate(dict.fromkeys(asked))}
        last = -1
        for value in self.frame["trace_id"].rle().struct.field("value").to_list():
            position = order.get(value)
            if position is None or position <= last:
                self.fail(self.frame["trace_id"] == value, "trace_id", "is not the trace asked for")
            last = position if position is not None else last


class SeenIds:
    """Ids seen across a whole drain, 8 bytes each (64-bit hashes, in sorted runs).

    Examples
    --------
    >>> seen = SeenIds()
    >>> seen.add(pl.Series(["a", "b"]))
    >>> seen.add(pl.Series(["c", "a"]))
    Traceback (most recent call last):
    ...
    netra_frames._wire.checks.Mismatch: trace_id 'a' appears twice
    """

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []

    def add(self, ids: pl.Series, field: str = "trace_id") -> None:
        """Remember ``ids``; raise :class:`Mismatch` for one seen before."""
        if not len(ids):
            return
        hashes = np.sort(ids.hash(seed=0).to_numpy())
        for run in self.runs:
            at = np.searchsorted(run, hashes)
            hit = (at < len(run)) & (run[np.minimum(at, len(run) - 1)] == hashes)
            if hit.any():
                again = ids.hash(seed=0).is_in(pl.Series(hashes[hit]))
                raise Mismatch(field, ids.filter(again)[0], "appears twice")
        self.runs.append(hashes)
        while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
            last = self.runs.pop()
            self.runs[-1] = np.sort(np.concatenate([self.runs[-1], last]), kind="stable")

    def copy(self) -> SeenIds:
        """An independent copy (for a resumed drain)."""
        twin = SeenIds()
        twin.runs = list(self.runs)
        return twin
