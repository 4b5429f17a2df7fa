"""The local cache, side by side in one run: ``python -m benchmarks.cache [--quick]``.

The server runs in its own process (``benchmarks/_server.py``) with 50 ms added per
request (``--latency-ms``); its data is anchored in the past, so every day is final.
Each figure is a ratio of two measurements of the same run (medians of interleaved
repeats, a fresh cache directory per repeat):

1. ``cache_traces_speedup``: a first ``traces_frame`` over 30 days (~56,000 traces, fills
   the cache) over the second one (reads it). Target >= 20. Request counts printed.
2. ``cache_spans_speedup``: a first ``spans_frame`` of 2,000 settled traces over the
   second. Target >= 50; the second sends no request.
3. ``cache_read_overhead``: the second ``traces_frame`` (polars) over ``pl.read_parquet``
   of the same files. Target <= 2.

Also reported, without a target: ``cache_fill_overhead``, the first (cache-filling)
``traces_frame`` over an uncached one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

import netra_frames as nf
from benchmarks._harness import Server

TARGETS = {
    "cache_traces_speedup": (">=", 20.0),
    "cache_spans_speedup": (">=", 50.0),
    "cache_read_overhead": ("<=", 2.0),
}


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _requests(server: Server) -> int:
    return int(json.loads(server.command("stats"))["requests"])


def bench_cache(
    client: nf.NetraClient, server: Server, *, repeats: int, span_traces: int
) -> dict[str, Any]:
    """Measure the three cache ratios; return every figure by name."""
    window = (server.anchor - timedelta(days=30), server.anchor)
    out: dict[str, Any] = {}
    first_t, second_t, read_t, parquet_t, plain_t = [], [], [], [], []
    first_s, second_s = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="nf-cache-bench-") as tmp:
            root = Path(tmp)

            def frame(root: Path = root) -> pl.DataFrame:
                return nf.traces_frame(
                    *window, backend="polars", progress=False, client=client, cache=root
                )

            plain_t.append(
                _timed(lambda: nf.traces_frame(*window, backend="polars", client=client))[0]
            )
            before = _requests(server)
            seconds, traces = _timed(frame)
            first_t.append(seconds)
            middle = _requests(server)  # counters read off the server, not over HTTP
            out["cache_traces_first_requests"] = middle - before
            seconds, again = _timed(frame)
            second_t.append(seconds)
            out["cache_traces_second_requests"] = _requests(server) - middle
            assert again.equals(traces)
            out["cache_traces_rows"] = traces.height

            files = sorted(str(p) for p in root.glob("traces/*/date=*/part-*.parquet"))
            for _ in range(5):  # interleaved: the cached read and a bare read of its files
                read_t.append(_timed(frame)[0])
                parquet_t.append(_timed(lambda f=files: pl.read_parquet(f))[0])
            out["cache_read_files"] = len(files)

            source = traces.head(span_traces)

            def spans(root: Path = root, source: pl.DataFrame = source) -> pl.DataFrame:
                return nf.spans_frame(
                    source, backend="polars", progress=False, client=client, cache=root
                )

            before = _requests(server)
            seconds, first = _timed(spans)
            first_s.append(seconds)
            middle = _requests(server)
            out["cache_spans_first_requests"] = middle - before
            seconds, second = _timed(spans)
            second_s.append(seconds)
            out["cache_spans_second_requests"] = _requests(server) - middle
            assert second.equals(first)
            out["cache_spans_rows"] = first.height
    out["cache_traces_first_s"] = statistics.median(first_t)
    out["cache_traces_second_s"] = statistics.median(second_t)
    out["cache_traces_speedup"] = out["cache_traces_first_s"] / out["cache_traces_second_s"]
    out["cache_traces_uncached_s"] = statistics.median(plain_t)
    out["cache_fill_overhead"] = out["cache_traces_first_s"] / out["cache_traces_uncached_s"]
    out["cache_spans_first_s"] = statistics.median(first_s)
    out["cache_spans_second_s"] = statistics.median(second_s)
    out["cache_spans_speedup"] = out["cache_spans_first_s"] / out["cache_spans_second_s"]
    out["cache_read_s"] = statistics.median(read_t)
    out["cache_read_parquet_s"] = statistics.median(parquet_t)
    out["cache_read_overhead"] = out["cache_read_s"] / out["cache_read_parquet_s"]
    return out


def report(results: dict[str, Any]) -> str:
    """A small table of the three ratios and what they were measured on."""
    r = results
    rows = [
        (
            "second traces_frame (30 days) vs first",
            "cache_traces_speedup",
            f"{r['cache_traces_rows']} rows; {r['cache_traces_first_s']:.2f} s -> "
            f"{r['cache_traces_second_s'] * 1000:.0f} ms; requests "
            f"{r['cache_traces_first_requests']} -> {r['cache_traces_second_requests']}",
        ),
        (
            "second spans_frame vs first",
            "cache_spans_speedup",
            f"{r['cache_spans_rows']} spans; {r['cache_spans_first_s']:.2f} s -> "
            f"{r['cache_spans_second_s'] * 1000:.0f} ms; requests "
            f"{r['cache_spans_first_requests']} -> {r['cache_spans_second_requests']}",
        ),
        (
            "cached read vs pl.read_parquet",
            "cache_read_overhead",
            f"{r['cache_read_files']} files, {r['cache_read_s'] * 1000:.0f} ms vs "
            f"{r['cache_read_parquet_s'] * 1000:.0f} ms",
        ),
    ]
    lines = ["| what | ratio | target | met | measured on |", "|---|---|---|---|---|"]
    for label, name, detail in rows:
        op, target = TARGETS[name]
        value = results[name]
        met = value >= target if op == ">=" else value <= target
        lines.append(
            f"| {label} | {value:.1f}x | {op} {target:g} | {'yes' if met else 'NO'} | {detail} |"
        )
    lines.append(
        f"| first cached traces_frame vs uncached (no target) | "
        f"{r['cache_fill_overhead']:.2f}x | | | {r['cache_traces_uncached_s']:.2f} s uncached |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the cache benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cache", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the figures to DIR/<time>-cache.json")
    args = parser.parse_args(argv)
    traces, span_traces = (3_000, 200) if args.quick else (80_000, 2_000)
    server = Server(traces)
    try:
        server.command(f"latency {args.latency_ms}")
        with nf.NetraClient(server.api_key, server.base_url) as client:
            results = bench_cache(
                client, server, repeats=1 if args.quick else args.repeats, span_traces=span_traces
            )
    finally:
        server.close()
    runs = 1 if args.quick else args.repeats
    print(f"latency {args.latency_ms:g} ms per request; medians of {runs} run(s)")
    print(report(results))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{time.strftime('%Y%m%d-%H%M%S')}-cache.json"
        path.write_text(json.dumps(results, indent=1))
        print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
