"""``span_tree`` on a million spans against one self-join: ``python -m benchmarks.span_tree``.

The frame is synthetic (no server): ``--spans`` spans (default 1,000,000) in traces of 2
to 40 spans shaped as the local server shapes them (a root, tasks under it or under earlier
tasks, leaves under the tasks), with times, tokens and costs. The figure is
``span_tree_ratio`` = median time of ``nf.span_tree(frame)`` (Polars in, Polars out, with
``path``) over the median time of one left self-join of the frame on ``parent_span_id``
(``frame.join(frame, left_on="parent_span_id", right_on="span_id", how="left")``), the
least any tree answer must do. Target: <= 10. Repeats are interleaved, median of
``--repeats`` (default 5). ``--quick`` uses 100,000 spans and 3 repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
import polars as pl

import netra_frames as nf

TARGET = 10.0
"""``span_tree_ratio`` must not exceed this."""


def synthetic_spans(n: int, seed: int = 0) -> pl.DataFrame:
    """Return ``n`` spans in traces of 2..40 spans: root, tasks under it, leaves under those."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 41, size=n // 2 + 2)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    sizes[-1] -= int(sizes.sum()) - n
    sizes = sizes[sizes > 0]
    trace = np.repeat(np.arange(len(sizes)), sizes)
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)
    pos = np.arange(n) - first  # position inside the trace; 0 = root
    tasks = np.maximum(1, np.repeat(sizes, sizes) // 5)  # positions 1..tasks are tasks
    # a task hangs off the root or an earlier task, a leaf off any task (or the root)
    pick = rng.integers(0, tasks + 1)
    parent_pos = np.where(pos <= tasks, rng.integers(0, np.maximum(pos, 1)), pick)
    parent = np.where(pos == 0, -1, first + parent_pos)
    start = 1_767_225_600_000_000 + trace * 10_000_000 + pos * 1_000 + rng.integers(0, 500, n)
    end = start + rng.integers(1_000, 3_000_000, n)
    ids = pl.Series(np.char.add("s", np.arange(n).astype(str)))
    return pl.DataFrame(
        {
            "span_id": ids,
            "trace_id": pl.Series(np.char.add("t", trace.astype(str))),
            "parent_span_id": ids.gather(np.maximum(parent, 0)).scatter(
                np.flatnonzero(parent < 0), None
            ),
            "name": pl.Series(
                np.where(pos == 0, "workflow", np.where(pos <= tasks, "task", "llm"))
            ),
            "start_time": pl.Series(start).cast(pl.Datetime("us", "UTC")),
            "end_time": pl.Series(end).cast(pl.Datetime("us", "UTC")),
            "total_tokens": rng.integers(0, 4000, n),
            "total_cost": rng.random(n) / 100,
        }
    )


def _time(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def run(spans: int, repeats: int) -> dict[str, object]:
    """Measure and return the figures (also printed as JSON by :func:`main`)."""
    frame = synthetic_spans(spans)
    tree_times: list[float] = []
    join_times: list[float] = []
    for _ in range(repeats):
        join_times.append(
            _time(lambda: frame.join(frame, left_on="parent_span_id", right_on="span_id",
                                     how="left"))
        )  # fmt: skip
        tree_times.append(_time(lambda: nf.span_tree(frame)))
    tree, join = statistics.median(tree_times), statistics.median(join_times)
    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spans": spans,
        "max_depth": int(nf.span_tree(frame, path=False)["depth"].max() or 0),
        "span_tree_s": round(tree, 3),
        "self_join_s": round(join, 3),
        "span_tree_ratio": round(tree / join, 2),
        "target": TARGET,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures as one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="100,000 spans, 3 repeats")
    args = parser.parse_args(argv)
    spans, repeats = (100_000, 3) if args.quick else (args.spans, args.repeats)
    print(json.dumps(run(spans, repeats), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
