"""``span_tree``: trees of real traces add up, and the edge cases (orphans, loops, deep
chains, many roots, an empty frame) come out marked, typed and without looping."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import polars as pl
import pytest

import netra_frames as nf
from netra_frames.schema import SPAN_TREE, SPANS, pandas_dtypes, polars_schema

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
TREE = [c.name for c in SPAN_TREE]


def spans(rows: list[tuple[str, str | None, int | None, int | None]]) -> pl.DataFrame:
    """A spans frame of ``(span_id, parent_span_id, start_ms, end_ms)``; tokens 1 each."""
    frame = pl.DataFrame(schema=polars_schema(SPANS))
    made = pl.DataFrame(
        {
            "span_id": [r[0] for r in rows],
            "parent_span_id": [r[1] for r in rows],
            "name": [f"n_{r[0]}" for r in rows],
            "start_time": [
                None if r[2] is None else T0 + timedelta(milliseconds=r[2]) for r in rows
            ],
            "end_time": [None if r[3] is None else T0 + timedelta(milliseconds=r[3]) for r in rows],
            "total_tokens": [1] * len(rows),
            "total_cost": [0.5] * len(rows),
        },
        schema_overrides={
            "start_time": pl.Datetime("us", "UTC"),
            "end_time": pl.Datetime("us", "UTC"),
        },
    )
    return pl.concat([frame, made], how="diagonal_relaxed").select(frame.columns)


def by_id(tree: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["span_id"]: row for row in tree.iter_rows(named=True)}


@pytest.fixture(scope="module")
def real(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    traces = nf.traces_frame(
        *window, tenant_id="Globex", max_rows=60, backend="polars", client=client, progress=False
    )
    return traces, nf.spans_frame(traces, backend="polars", client=client, progress=False)


def test_trees_of_real_traces_add_up_to_their_traces(
    real: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    traces, span_frame = real
    tree = nf.span_tree(span_frame)
    assert tree.columns == span_frame.columns + TREE
    assert tree.select(span_frame.columns).equals(span_frame)
    assert not tree["orphan"].any() and not tree["cycle"].any()
    roots = tree.filter(pl.col("depth") == 0)
    assert roots.height == traces.height  # one root per trace
    joined = roots.join(traces, on="trace_id", suffix="_trace")
    assert joined.height == traces.height
    assert (joined["subtree_tokens"] == joined["total_tokens_trace"]).all()
    for got, want in zip(joined["subtree_cost"], joined["total_cost_trace"], strict=True):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    per_trace = span_frame.group_by("trace_id").len()
    sizes = joined.join(per_trace, on="trace_id")
    assert (sizes["subtree_spans"] == sizes["len"]).all()
    # every child is one level below its parent, shares its root and extends its path
    pairs = tree.join(tree, left_on="parent_span_id", right_on="span_id", suffix="_p")
    assert pairs.height == tree.height - roots.height
    assert (pairs["depth"] == pairs["depth_p"] + 1).all()
    assert (pairs["root_span_id"] == pairs["root_span_id_p"]).all()
    assert (pairs["path"] == pairs["path_p"].list.concat(pairs["name"])).all()
    counts = tree.group_by("parent_span_id").len().rename({"parent_span_id": "span_id"})
    kids = tree.join(counts, on="span_id", how="left").with_columns(pl.col("len").fill_null(0))
    assert (kids["child_count"] == kids["len"]).all()
    # the local server's children run one after another inside their parent: self time
    # is what the gaps leave, between 0 and the span's own latency
    assert (tree["self_ms"] >= 0).all()
    assert (tree["self_ms"] <= tree["latency_ms"]).all()
    leaves = tree.filter(pl.col("child_count") == 0)
    assert (leaves["self_ms"] == leaves["latency_ms"].cast(pl.Float64)).all()


def test_pandas_in_pandas_out_with_index_and_nullable_dtypes(
    real: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    _, span_frame = real
    pdf = span_frame.to_pandas(use_pyarrow_extension_array=True)
    pdf.index = pd.RangeIndex(100, 100 + len(pdf))
    tree = nf.span_tree(pdf)
    assert isinstance(tree, pd.DataFrame)
    assert list(tree.index) == list(pdf.index)
    dtypes = pandas_dtypes(SPAN_TREE)
    assert {c: str(tree[c].dtype) for c in TREE} == {c: str(dtypes[c]) for c in TREE}
    polars_tree = nf.span_tree(span_frame)
    assert tree["subtree_tokens"].tolist() == polars_tree["subtree_tokens"].to_list()
    assert tree["root_span_id"].tolist() == polars_tree["root_span_id"].to_list()


def test_an_orphan_is_marked_and_counted_from_where_it_stands() -> None:
    tree = nf.span_tree(spans([("r", None, 0, 10), ("o", "gone", 0, 10), ("c", "o", 2, 4)]))
    rows = by_id(tree)
    assert rows["o"]["orphan"] and not rows["c"]["orphan"] and not rows["r"]["orphan"]
    assert (rows["o"]["depth"], rows["c"]["depth"]) == (0, 1)
    assert rows["c"]["root_span_id"] == "o" and rows["c"]["path"] == ["n_o", "n_c"]
    assert rows["o"]["subtree_spans"] == 2 and rows["o"]["subtree_tokens"] == 2
    assert not tree["cycle"].any()


def test_loops_are_marked_cut_at_their_first_span_and_never_loop() -> None:
    rows = by_id(
        nf.span_tree(
            spans(
                [
                    ("a", "c", 0, 10),  # a -> c -> b -> a: a loop of three
                    ("b", "a", 0, 10),
                    ("c", "b", 0, 10),
                    ("t", "b", 0, 10),  # hangs under the loop
                    ("s", "s", 0, 10),  # its own parent
                    ("ok", None, 0, 10),
                ]
            )
        )
    )
    assert {k for k, r in rows.items() if r["cycle"]} == {"a", "b", "c", "t", "s"}
    assert rows["a"]["depth"] == 0 and rows["a"]["root_span_id"] == "a"  # cut above "a"
    assert (rows["b"]["depth"], rows["c"]["depth"], rows["t"]["depth"]) == (1, 2, 2)
    assert rows["a"]["subtree_spans"] == 4 and rows["a"]["child_count"] == 1
    assert rows["s"]["depth"] == 0 and rows["s"]["subtree_spans"] == 1
    assert not rows["ok"]["cycle"] and rows["ok"]["depth"] == 0


def test_a_chain_ten_thousand_deep_needs_no_recursion() -> None:
    n = 10_000
    chain = spans([(f"s{i}", f"s{i - 1}" if i else None, i, 2 * n - i) for i in range(n)])
    tree = nf.span_tree(chain, path=False)
    assert tree["depth"].to_list() == list(range(n))
    assert tree["subtree_spans"].to_list() == list(range(n, 0, -1))
    assert (tree["root_span_id"] == "s0").all() and tree["path"].null_count() == n
    assert tree["self_ms"].to_list()[:2] == [2.0, 2.0] and tree["self_ms"][-1] == 2.0
    shorter = nf.span_tree(chain.head(2_000))
    assert shorter["path"][-1].to_list() == [f"n_s{i}" for i in range(2_000)]


def test_many_roots() -> None:
    rows = [(f"r{i}", None, 0, 5) for i in range(5_000)] + [("c", "r4999", 1, 2)]
    tree = nf.span_tree(spans(rows))
    assert tree["depth"].sum() == 1 and (tree["root_span_id"] == tree["span_id"]).sum() == 5_000
    assert tree.filter(pl.col("span_id") == "r4999")["subtree_spans"].item() == 2


def test_self_time_counts_overlapping_children_once_and_clips_them() -> None:
    rows = by_id(
        nf.span_tree(
            spans(
                [
                    ("p", None, 100, 200),
                    ("a", "p", 110, 150),
                    ("b", "p", 140, 160),  # overlaps a: the union is 110..160
                    ("c", "p", 190, 400),  # runs past the parent: clipped to 190..200
                    ("d", "p", None, None),  # no times: covers nothing
                    ("x", "p", 150, 150),  # empty
                ]
            )
        )
    )
    assert rows["p"]["self_ms"] == 100 - 50 - 10
    assert rows["d"]["self_ms"] is None and rows["c"]["self_ms"] == 210


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_an_empty_frame_keeps_every_column_typed(backend: str) -> None:
    empty = pl.DataFrame(schema=polars_schema(SPANS))
    frame = empty if backend == "polars" else empty.to_pandas(use_pyarrow_extension_array=True)
    tree = nf.span_tree(frame)
    assert len(tree) == 0 and list(tree.columns) == [*empty.columns, *TREE]
    if backend == "polars":
        assert dict(tree.select(TREE).schema) == dict(polars_schema(SPAN_TREE))
    else:
        dtypes = pandas_dtypes(SPAN_TREE)
        assert all(str(tree[c].dtype) == str(dtypes[c]) for c in TREE)


def test_running_it_twice_replaces_its_columns() -> None:
    frame = spans([("r", None, 0, 10), ("c", "r", 1, 2)])
    once = nf.span_tree(frame)
    assert nf.span_tree(once).equals(once)


def test_bad_input_is_refused_with_what_to_do() -> None:
    with pytest.raises(nf.InvalidParameterError, match="expected a pandas or polars DataFrame"):
        nf.span_tree([1, 2])  # type: ignore[arg-type]
    with pytest.raises(nf.InvalidParameterError, match="no 'parent_span_id'.*spans_frame"):
        nf.span_tree(pl.DataFrame({"span_id": ["a"]}))
    twice = spans([("a", None, 0, 1), ("a", None, 0, 1)])
    with pytest.raises(nf.InvalidParameterError, match=r"unique and non-null.*\.unique"):
        nf.span_tree(twice)
