"""Every door on one pipeline, side by side in one run: ``python -m benchmarks.pipeline``.

The server runs in its own process (``benchmarks/_server.py``). Each figure is a ratio of
two measurements of the same run (medians of interleaved repeats):

1. ``pipeline_export_time_ratio``: ``export_traces`` of a 30-day window (Parquet, a
   folder per day) over ``traces_frame`` of the same window, at 100 ms a page.
   Target <= 1.15.
2. ``pipeline_scan_time_ratio``: ``scan_traces(...).collect()`` over ``traces_frame``,
   the same way. Target <= 1.15.
3. ``pipeline_scan_cached_ratio``: a second ``scan_traces(cache=dir).collect()`` (every day
   on disk) over a second ``traces_frame(cache=dir)``; ``pipeline_export_rerun_ratio``:
   the same export run again (every day complete) over that same second frame. Target
   <= 1.15 each ("as fast as").
4. ``pipeline_export_memory_ratio``: peak RSS growth of a 30-day export over a 7-day one
   (about 4x the rows), each in a fresh process (``VmHWM`` reset after a warm-up), no
   added latency. Target <= 1.25: an export's memory does not grow with its window.

The server's data: ``--traces`` (default 19,400: the key's organisation holds ~13,700 of
them over the 30 days) for 1-3, and ten times as many for 4.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import netra_frames as nf
from benchmarks._harness import MEMORY_PRELUDE, Server

TARGETS = {
    "pipeline_export_time_ratio": ("<=", 1.15),
    "pipeline_scan_time_ratio": ("<=", 1.15),
    "pipeline_scan_cached_ratio": ("<=", 1.15),
    "pipeline_export_rerun_ratio": ("<=", 1.15),
    "pipeline_export_memory_ratio": ("<=", 1.25),
}

LATENCY_MS = 100.0


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _one_round(server: Server, window: tuple[Any, Any], tmp: Path) -> dict[str, float]:
    """One repeat of every timed call, in a fresh client and folder."""
    out, cache = tmp / "export", tmp / "cache"
    with nf.NetraClient(server.api_key, server.base_url) as client:
        kw: dict[str, Any] = {"client": client}
        times = {
            "frame": _timed(
                lambda: nf.traces_frame(*window, backend="polars", progress=False, **kw)
            ),
            "export": _timed(lambda: nf.export_traces(out, *window, progress=False, **kw)),
            "scan": _timed(lambda: nf.scan_traces(*window, **kw).collect()),
        }
        nf.scan_traces(*window, cache=cache, **kw).collect()  # fills the cache
        times["frame_cached"] = _timed(
            lambda: nf.traces_frame(*window, backend="polars", progress=False, cache=cache, **kw)
        )
        times["scan_cached"] = _timed(lambda: nf.scan_traces(*window, cache=cache, **kw).collect())
        times["rerun"] = _timed(lambda: nf.export_traces(out, *window, progress=False, **kw))
        times["rows"] = nf.scan_traces(*window, cache=cache, **kw).collect().height
    return times


def bench_speed(server: Server, repeats: int) -> dict[str, Any]:
    """Figures 1-3 against ``server`` (100 ms a page while they run)."""
    window = (server.anchor - timedelta(days=30), server.anchor)
    rounds: list[dict[str, float]] = []
    server.command(f"latency {LATENCY_MS}")
    try:
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                rounds.append(_one_round(server, window, Path(tmp)))
    finally:
        server.command("latency 0")
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    return {
        "pipeline_rows": int(med["rows"]),
        "pipeline_latency_ms": LATENCY_MS,
        "pipeline_frame_s": med["frame"],
        "pipeline_export_s": med["export"],
        "pipeline_scan_s": med["scan"],
        "pipeline_export_time_ratio": med["export"] / med["frame"],
        "pipeline_scan_time_ratio": med["scan"] / med["frame"],
        "pipeline_frame_cached_s": med["frame_cached"],
        "pipeline_scan_cached_s": med["scan_cached"],
        "pipeline_export_rerun_s": med["rerun"],
        "pipeline_scan_cached_ratio": med["scan_cached"] / med["frame_cached"],
        "pipeline_export_rerun_ratio": med["rerun"] / med["frame_cached"],
    }


_MEMORY_CHILD = r"""
import json, sys, tempfile
from datetime import timedelta, datetime
from pathlib import Path
import netra_frames as nf

base_url, api_key, anchor, days = sys.argv[1:5]
anchor = datetime.fromisoformat(anchor)
with nf.NetraClient(api_key, base_url) as client, tempfile.TemporaryDirectory() as tmp:
    nf.export_traces(Path(tmp) / "warm", anchor - timedelta(days=1), anchor, client=client,
                     progress=False)  # warm up: imports, pools, the first batches
    reset = reset_peak()
    before = status("VmRSS:")
    result = nf.export_traces(Path(tmp) / "out", anchor - timedelta(days=int(days)), anchor,
                              client=client, progress=False)
    peak = status("VmHWM:")
    print(json.dumps({"rows": result.rows, "peak_growth": peak - before, "hwm_reset": reset}))
"""


def _export_memory(server: Server, days: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_PRELUDE + _MEMORY_CHILD, server.base_url, server.api_key,
         server.anchor.isoformat(), str(days)],
        capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
    info: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return info


def bench_export_memory(server: Server) -> dict[str, Any]:
    """Figure 4: peak RSS growth of a 30-day export over a 7-day one, in fresh processes."""
    week, month = _export_memory(server, 7), _export_memory(server, 30)
    return {
        "pipeline_memory_week_rows": week["rows"],
        "pipeline_memory_month_rows": month["rows"],
        "pipeline_memory_week_growth_bytes": week["peak_growth"],
        "pipeline_memory_month_growth_bytes": month["peak_growth"],
        "pipeline_export_memory_ratio": month["peak_growth"] / week["peak_growth"],
        "pipeline_memory_hwm_reset": week["hwm_reset"] and month["hwm_reset"],
    }


def bench_pipeline(
    traces: int, *, repeats: int, memory_traces: int | None = None
) -> dict[str, Any]:
    """Every figure of this module, with a server of ``traces`` and one of ``memory_traces``
    (default ten times as many) for the memory figure."""
    out: dict[str, Any] = {}
    server = Server(traces)
    try:
        out.update(bench_speed(server, repeats))
    finally:
        server.close()
    server = Server(memory_traces or traces * 10)
    try:
        out.update(bench_export_memory(server))
    finally:
        server.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run and print every figure, and the targets."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--traces", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    traces = args.traces or (2_000 if args.quick else 19_400)
    repeats = args.repeats or (1 if args.quick else 3)
    results = bench_pipeline(traces, repeats=repeats)
    for name, value in sorted(results.items()):
        target = TARGETS.get(name)
        if target is None:
            print(f"{name:<40} {value}")
            continue
        op, bound = target
        met = value <= bound if op == "<=" else value >= bound
        print(f"{name:<40} {value:>10.3f}  {op} {bound:<5} {'met' if met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
