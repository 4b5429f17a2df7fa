"""Time-window sharding: drain a long traces window as K sub-windows fetched concurrently.

``[start, end)`` is split by :func:`~netra_frames.times.split_window` into K contiguous
half-open sub-windows on ``start_time``, so a trace lies in exactly one of them, even on an
edge. Each is paginated to its end on a bounded thread pool sharing the client's one
pooled session; the pages are then put together in the requested order:

* ``sort_field="start_time"``: shards are concatenated in window order (reversed for
  ``desc``), which *is* the server's order, ties included (equal start times share a shard).
* the other sortable fields (``end_time``, ``latency_ms``, ``total_cost``,
  ``total_tokens``, ``name``): the concatenation is re-sorted by ``(sort_field,
  trace_id)``, the server's tie-break, nulls first when ascending as SQL does.

Duplicates (a trace seen by two shards while the data changed) are dropped by
``trace_id``, keeping the first. Other sort fields are never sharded.

``shards="auto"`` picks one shard per day of window, at most ``max_workers``; a window
under one day, an unknown sort field or ``max_rows`` gives one shard (``max_rows`` stops
a single walk after the rows wanted, fetching no page more than needed, which shards
could not promise).

Failure: the first failing shard stops shards not yet started; running shards finish.
:class:`~netra_frames.DrainError` then carries ``resume()``, which continues only the
missing pages of each unfinished shard (completed shards are not fetched again) and
returns exactly the full result, and ``partial``: with ``sort_field="start_time"``, the
rows of the completed shards and the fetched pages of the first unfinished one, up to
that shard (so, as for an unsharded drain, a prefix of the full result); with other sort
fields, every row fetched, in the requested order.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import polars as pl

from ._decode import DecodedPage
from ._drain import Walk, ignore, walk_traces
from .errors import DrainError, InvalidParameterError, NetraError
from .times import format_time, split_window

if TYPE_CHECKING:
    from .client import NetraClient

__all__ = [
    "SHARDABLE_SORT_FIELDS",
    "choose_shards",
    "drain_sharded",
    "merge_shards",
    "shard_bodies",
]

F = TypeVar("F")

SHARDABLE_SORT_FIELDS = frozenset(
    {"start_time", "end_time", "latency_ms", "total_cost", "total_tokens", "name"}
)
"""Sort fields whose sharded result is re-assembled exactly (they are frame columns)."""

Shards = Literal["auto"] | int


def choose_shards(
    shards: object,
    start: datetime,
    end: datetime,
    *,
    sort_field: str,
    max_rows: int | None,
    max_workers: int,
) -> int:
    """Return the number of sub-windows to drain (1 = no sharding).

    Raises
    ------
    InvalidParameterError
        For a ``shards`` that is not ``"auto"`` or an int >= 1, or an explicit
        ``shards > 1`` with ``max_rows`` or a sort field that cannot be sharded.

    Examples
    --------
    >>> from datetime import timezone
    >>> a = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> choose_shards("auto", a, a + timedelta(days=30), sort_field="start_time",
    ...               max_rows=None, max_workers=16)
    16
    """
    if shards == "auto":
        if max_rows is not None or sort_field not in SHARDABLE_SORT_FIELDS:
            return 1
        days = (end - start) / timedelta(days=1)
        return 1 if days < 1 else max(1, min(max_workers, math.ceil(days)))
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise InvalidParameterError(f"shards must be 'auto' or an int >= 1, got {shards!r}.")
    if shards > 1 and max_rows is not None:
        raise InvalidParameterError("shards > 1 cannot be combined with max_rows; use shards=1.")
    if shards > 1 and sort_field not in SHARDABLE_SORT_FIELDS:
        raise InvalidParameterError(
            f"sort_field={sort_field!r} cannot be sharded; use one of "
            f"{', '.join(sorted(SHARDABLE_SORT_FIELDS))} or shards=1."
        )
    return shards


def merge_shards(frame: pl.DataFrame, sort_field: str, sort_order: str) -> pl.DataFrame:
    """Drop duplicate traces and restore the server's order after a sharded drain.

    ``frame`` holds the shards' rows concatenated in window order (reversed for ``desc``).

    Examples
    --------
    >>> f = pl.DataFrame({"trace_id": ["b", "a", "b"], "latency_ms": [2, 2, 2]})
    >>> merge_shards(f, "latency_ms", "asc")["trace_id"].to_list()
    ['a', 'b']
    """
    frame = frame.unique(subset="trace_id", keep="first", maintain_order=True)
    if sort_field == "start_time":
        return frame
    descending = sort_order == "desc"
    return frame.sort(
        [sort_field, "trace_id"], descending=descending, nulls_last=descending, maintain_order=True
    )


def shard_bodies(
    body: Mapping[str, Any], start: datetime, end: datetime, parts: int, sort_order: str
) -> list[dict[str, Any]]:
    """Return one request body per sub-window, in the order their rows are concatenated."""
    windows = split_window(start, end, parts)
    if sort_order == "desc":
        windows.reverse()
    return [
        {**body, "startTime": format_time(lo), "endTime": format_time(hi)} for lo, hi in windows
    ]


def drain_sharded(
    client: NetraClient,
    walks: list[Walk],
    *,
    page_size: int,
    max_workers: int,
    on_page: Callable[[DecodedPage], None],
    build: Callable[[list[DecodedPage]], F],
    prefix_partial: bool,
) -> F:
    """Drain every unfinished walk (one per sub-window) concurrently into ``build(pages)``.

    ``build`` gets the pages of all walks in walk order; it must merge them (see
    :func:`merge_shards`). ``prefix_partial``: a failure's ``partial`` stops at the first
    unfinished walk (walk order is result order).
    """
    lock = threading.Lock()

    def locked_on_page(page: DecodedPage) -> None:
        with lock:
            on_page(page)

    def run(walk: Walk) -> None:
        walk_traces(client, walk, page_size=page_size, max_rows=None, on_page=locked_on_page)

    todo = [w for w in walks if not w.done]
    error: BaseException | None = None
    if todo:
        pool = ThreadPoolExecutor(
            max_workers=min(max_workers, len(todo)), thread_name_prefix="netra_frames_shard"
        )
        try:
            futures = [pool.submit(run, w) for w in todo]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            error = next((f.exception() for f in done if f.exception() is not None), None)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    pages = [p for w in walks for p in w.pages]
    if error is None:
        return build(pages)
    if prefix_partial:
        pages = []
        for w in walks:
            pages.extend(w.pages)
            if not w.done:
                break
    if not isinstance(error, NetraError) or not any(w.pages for w in walks):
        raise error
    snapshot = [w.copy() for w in walks]

    def resume() -> F:
        return drain_sharded(
            client,
            [w.copy() for w in snapshot],
            page_size=page_size,
            max_workers=max_workers,
            on_page=ignore,
            build=build,
            prefix_partial=prefix_partial,
        )

    missing = sum(not w.done for w in walks)
    raise DrainError(
        f"{missing} of {len(walks)} time shards of the traces drain did not finish "
        f"({error}); call .resume() on this error to fetch the rest, or use .partial.",
        partial=build(pages),
        resume=resume,
        cause=error,
    ) from error
