"""The span_tree benchmark runs (small) and reports its figure; no timing is checked."""

from __future__ import annotations

import netra_frames as nf
from benchmarks.span_tree import TARGET, run, synthetic_spans


def test_the_benchmark_reports_its_ratio() -> None:
    figures = run(spans=20_000, repeats=1)
    assert figures["spans"] == 20_000 and figures["target"] == TARGET
    assert isinstance(figures["span_tree_ratio"], float) and figures["span_tree_ratio"] > 0


def test_the_synthetic_frame_is_a_forest_of_whole_traces() -> None:
    frame = synthetic_spans(5_000)
    tree = nf.span_tree(frame, path=False)
    assert frame.height == 5_000 and frame["span_id"].n_unique() == 5_000
    assert not tree["orphan"].any() and not tree["cycle"].any()
    assert tree.filter(tree["depth"] == 0).height == frame["trace_id"].n_unique()
