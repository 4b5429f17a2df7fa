"""How many sub-windows a traces drain starts with, and putting a listing not in time
order back together from them (its walks are in :mod:`.walks`)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal

import polars as pl

from ..errors import InvalidParameterError

__all__ = ["SHARDABLE_SORT_FIELDS", "Shards", "choose_shards", "merge_by_sort"]

SHARDABLE_SORT_FIELDS = frozenset(
    {"start_time", "end_time", "latency_ms", "total_cost", "total_tokens", "name"}
)
"""Sort fields whose sharded result is put back in order exactly (they are frame columns)."""

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
    """Return the number of sub-windows a drain starts with (1 = one walk).

    ``"auto"``: one per day of window, at most ``max_workers``; 1 for a window under a day,
    with ``max_rows`` (one walk stops after the rows wanted), or for a sort field whose
    order cannot be rebuilt. Time-ordered drains split further as workers go idle.

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


def merge_by_sort(frame: pl.DataFrame, sort_field: str, sort_order: str) -> pl.DataFrame:
    """Restore the server's order across sub-windows of a listing not in time order.

    Ties are broken by ``trace_id`` as the server does; nulls come first ascending, as
    SQL sorts them. A trace seen twice (the data changed mid-drain) is kept once.

    Examples
    --------
    >>> f = pl.DataFrame({"trace_id": ["b", "a", "b"], "latency_ms": [2, 2, 2]})
    >>> merge_by_sort(f, "latency_ms", "asc")["trace_id"].to_list()
    ['a', 'b']
    """
    frame = frame.unique(subset="trace_id", keep="first", maintain_order=True)
    descending = sort_order == "desc"
    return frame.sort(
        [sort_field, "trace_id"], descending=descending, nulls_last=descending, maintain_order=True
    )
