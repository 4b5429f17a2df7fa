"""``span_tree``: the parent links of a spans frame turned into depth, paths and subtree sums.

Everything is vectorised: the root and depth of every span come from pointer jumping over
integer arrays (``log2(depth)`` rounds, whatever the shape of the trees), the subtree sums
and the paths from one step per depth *level* (never one per span), and the time a span
spends in itself from one sort of its children's intervals. No recursion, so a chain
10,000 spans deep is as safe as a flat trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from .._wire.convert import as_polars, pandas_ready, tables_to_pandas
from ..errors import InvalidParameterError
from ..schema import SPAN_TREE, polars_schema

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["span_tree"]

REQUIRED = (
    "span_id",
    "parent_span_id",
    "name",
    "start_time",
    "end_time",
    "total_tokens",
    "total_cost",
)
"""The spans columns :func:`span_tree` reads (every frame of ``spans_frame`` has them)."""


@overload
def span_tree(spans: pd.DataFrame, *, path: bool = ...) -> pd.DataFrame: ...
@overload
def span_tree(spans: pl.DataFrame, *, path: bool = ...) -> pl.DataFrame: ...
def span_tree(
    spans: pd.DataFrame | pl.DataFrame, *, path: bool = True
) -> pd.DataFrame | pl.DataFrame:
    """Return a spans frame with the shape of its trees: depth, root, path and subtree sums.

    The frame comes back whole (same rows, same order, same columns; a pandas frame keeps
    its index), with the columns of :data:`netra_frames.schema.SPAN_TREE` added:

    - ``depth``: 0 for a root, else the parent's depth + 1;
    - ``root_span_id``: the span the chain of parents ends at;
    - ``path``: the span names from that root down to the span itself (a list; join it
      with ``" > "`` for display);
    - ``child_count``: spans of the frame whose parent is this span;
    - ``self_ms``: the time not covered by any child: the span's duration minus the length
      of the union of its children's ``[start_time, end_time)`` intervals, each clipped to
      the span's own interval (overlapping children are counted once; null when the span's
      times are missing; children without times cover nothing);
    - ``subtree_tokens``, ``subtree_cost``, ``subtree_spans``: sums of ``total_tokens``
      and ``total_cost`` (nulls as 0) and the count of spans over the span and all its
      descendants (the root's sums are its trace's);
    - ``orphan``: the span names a parent that is not in the frame; it is then a root
      (depth 0), and its descendants are counted from it;
    - ``cycle``: the span's parent links run into a loop (the span is on the loop or under
      it). A loop is cut above its first span in frame order, which then stands as a root,
      so every column still has a value; nothing ever loops.

    Parents are looked up by ``span_id`` among the frame's rows (the API's span ids are
    unique), so fetch whole traces (``spans_frame`` without ``span_name``) for whole trees.

    Parameters
    ----------
    spans:
        A spans frame (pandas or Polars), as :func:`netra_frames.spans_frame` returns; it
        needs ``span_id``, ``parent_span_id``, ``name``, ``start_time``, ``end_time``,
        ``total_tokens`` and ``total_cost``, and unique, non-null span ids.
    path:
        Build the ``path`` column. Its size grows with depth squared (a chain 10,000 deep
        holds 50 million names); ``False`` leaves the column null.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        The same kind of frame as ``spans``, with the tree columns after its own (columns
        of those names already there are replaced).

    Raises
    ------
    InvalidParameterError
        If ``spans`` is not a frame, lacks a column, or has a null or repeated span id.

    Examples
    --------
    >>> spans = nf.spans_frame(trace_id, backend="polars", client=client)
    >>> tree = nf.span_tree(spans)
    >>> tree.filter(pl.col("depth") == 0)["subtree_tokens"].sum() == spans["total_tokens"].sum()
    True
    """
    frame = as_polars(spans)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InvalidParameterError(
            f"spans: the frame has no {', '.join(map(repr, missing))} column(s); pass a "
            "frame from spans_frame()."
        )
    ids = frame["span_id"].cast(pl.String)
    if ids.null_count() or ids.n_unique() != frame.height:
        raise InvalidParameterError(
            "spans: span_id must be unique and non-null; drop the repeated rows "
            "(.unique('span_id')) before calling span_tree()."
        )
    added = _tree_columns(frame, ids, path)
    if isinstance(spans, pl.DataFrame):
        kept = spans.drop([c.name for c in SPAN_TREE], strict=False)
        return pl.concat([kept, added], how="horizontal")
    new = tables_to_pandas([pandas_ready(added)])
    new.index = spans.index
    out: pd.DataFrame = spans.drop(columns=[c.name for c in SPAN_TREE], errors="ignore").copy()
    for column in new.columns:
        out[column] = new[column]
    return out


def _tree_columns(frame: pl.DataFrame, ids: pl.Series, want_path: bool) -> pl.DataFrame:
    n = frame.height
    if n == 0:
        return pl.DataFrame(schema=polars_schema(SPAN_TREE))
    index = np.arange(n, dtype=np.int64)
    named = frame["parent_span_id"].cast(pl.String)
    looked_up = named.replace_strict(ids, pl.Series(index), default=None, return_dtype=pl.Int64)
    parent = looked_up.fill_null(-1).to_numpy().astype(np.int64)
    orphan = named.is_not_null().to_numpy() & (parent < 0)
    self_loop = parent == index  # a span that names itself as its parent: a loop of one
    parent = np.where(parent < 0, index, parent)  # a root points at itself
    cycle = _cut_cycles(parent, index) | self_loop
    root, depth = _jump(parent, index)
    levels = _levels(depth)
    child_count = np.bincount(parent[parent != index], minlength=n).astype(np.int64)
    tokens = frame["total_tokens"].cast(pl.Int64).fill_null(0).to_numpy().astype(np.int64)
    cost = frame["total_cost"].cast(pl.Float64).fill_null(0.0).to_numpy().astype(np.float64)
    count = np.ones(n, dtype=np.int64)
    for nodes in reversed(levels[1:]):  # deepest level first: children before parents
        up = parent[nodes]
        np.add.at(tokens, up, tokens[nodes])
        np.add.at(cost, up, cost[nodes])
        np.add.at(count, up, count[nodes])
    names = frame["name"].cast(pl.String)
    return pl.DataFrame(
        {
            "depth": depth,
            "root_span_id": ids.gather(root),
            "path": _paths(names, parent, depth) if want_path else None,
            "child_count": child_count,
            "self_ms": _self_ms(frame, parent, index),
            "subtree_tokens": tokens,
            "subtree_cost": cost,
            "subtree_spans": count,
            "orphan": orphan,
            "cycle": cycle,
        },
        schema=polars_schema(SPAN_TREE),
    )


def _jump(parent: NDArray[np.int64], index: NDArray[np.int64]) -> tuple[Any, Any]:
    """Return ``(root, depth)`` by pointer jumping (roots point at themselves).

    After round ``k`` every span points at its ancestor ``2**k`` levels up (or its root),
    with the distance to it; ``log2(n) + 1`` rounds reach every root of an acyclic forest.
    """
    up = parent.copy()
    dist = (up != index).astype(np.int64)
    for _ in range(_rounds(len(parent))):
        further = up[up]
        if np.array_equal(further, up):
            break
        dist = dist + dist[up]
        up = further
    return up, dist


def _cut_cycles(parent: NDArray[np.int64], index: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Cut every loop of parent links above its first span (in place); return who was in one.

    A span is marked when following its parents never reaches a root. Each loop is cut at
    its smallest row index, found by pointer jumping with a running minimum: after the
    rounds, a span on a loop has seen the whole loop.
    """
    up = parent.copy()
    low = np.minimum(index, up)
    for _ in range(_rounds(len(parent))):
        low = np.minimum(low, low[up])
        up = up[up]
    is_root = parent == index
    stuck: NDArray[np.bool_] = ~is_root[up]
    if stuck.any():
        landed = up[stuck]  # spans on a loop
        first = np.unique(low[landed])
        parent[first] = first
    return stuck


def _rounds(n: int) -> int:
    return max(1, int(np.ceil(np.log2(max(n, 2)))) + 1)


def _levels(depth: NDArray[np.int64]) -> list[NDArray[np.int64]]:
    """Row indices of each depth level, shallowest first (one stable sort)."""
    order = np.argsort(depth, kind="stable").astype(np.int64)
    bounds = np.searchsorted(depth[order], np.arange(int(depth.max()) + 2))
    return [order[bounds[d] : bounds[d + 1]] for d in range(len(bounds) - 1)]


def _paths(names: pl.Series, parent: NDArray[np.int64], depth: NDArray[np.int64]) -> pl.Series:
    """The names from the root down: one flat gather of names, cut into lists by offsets.

    Row ``i`` holds ``depth[i] + 1`` names; slot ``depth[i] - k`` of it is the ancestor
    ``k`` levels up, found by stepping every row that deep one level up per round.
    """
    n = len(parent)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(depth + 1, out=offsets[1:])
    who = np.empty(int(offsets[-1]), dtype=np.int64)
    rows = np.arange(n, dtype=np.int64)
    slot = offsets[:-1] + depth  # where each row's own name goes; walks up to its root
    up = rows
    while len(rows):
        who[slot] = up
        deeper = slot > offsets[rows]
        rows, slot, up = rows[deeper], slot[deeper] - 1, parent[up[deeper]]
    values = names.gather(who).to_arrow()
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), values)
    series: pl.Series = pl.Series("path", lists).cast(pl.List(pl.String))
    return series


def _self_ms(frame: pl.DataFrame, parent: NDArray[np.int64], index: NDArray[np.int64]) -> Any:
    """Each span's duration minus the union of its children's intervals clipped to it (ms).

    The children are sorted by (parent, start); the union's length is the sum of what each
    child adds beyond the furthest end reached before it in its group. That running
    maximum is one ``np.maximum.accumulate`` over all groups at once: times are taken
    relative to the parent's start (so they lie in ``[0, parent duration]``) and each
    group is shifted above the previous one's range, so no group sees another's ends.
    """
    start = _micros(frame["start_time"])
    end = _micros(frame["end_time"])
    own = end - start
    s0, e0 = start.fill_null(0).to_numpy(), end.fill_null(0).to_numpy()
    known = (start.is_not_null() & end.is_not_null()).to_numpy()
    kid = np.flatnonzero((parent != index) & known & known[parent])
    up = parent[kid]
    width = np.maximum(e0[up] - s0[up], 0)
    lo = np.clip(s0[kid] - s0[up], 0, width)
    hi = np.clip(e0[kid] - s0[up], 0, width)
    keep = hi > lo
    kid, up, width, lo, hi = kid[keep], up[keep], width[keep], lo[keep], hi[keep]
    order = np.lexsort((lo, up))
    up, width, lo, hi = up[order], width[order], lo[order], hi[order]
    first = np.ones(len(up), dtype=bool)
    first[1:] = up[1:] != up[:-1]
    group = np.cumsum(first) - 1
    shift = np.concatenate(([0], np.cumsum(width[first] + 1)[:-1]))[group]
    lo, hi = lo + shift, hi + shift
    reach = np.maximum.accumulate(hi)
    before = np.concatenate(([0], reach[:-1]))
    before[first] = lo[first]
    added = np.maximum(hi - np.maximum(lo, before), 0)
    covered = np.zeros(len(parent), dtype=np.int64)
    np.add.at(covered, up, added)
    self_ms: pl.Series = (own - pl.Series(covered)).cast(pl.Float64) / 1000.0
    return self_ms


def _micros(times: pl.Series) -> pl.Series:
    """Microseconds since the epoch, nulls kept (any time unit, any zone)."""
    micros: pl.Series = times.dt.epoch("us").cast(pl.Int64)
    return micros
