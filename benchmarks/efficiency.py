"""Drains against the physical limit (issue 18); called by ``benchmarks.run``.

``efficiency_<length>_<shape>`` = (pages x median page time / workers) / drain time, at
200 ms per page: 1.0 is 16 workers busy from the first request to the last. The page
time is measured in the same run by the SDK-style sequential loop (one page after
another), on a sample of :data:`SAMPLE_PAGES` pages; ``pages`` is the unsharded drain's
(one page per 100 rows, and a last one). The drain is the median of :data:`RUNS` runs of
``traces_frame`` on a warm server, each from a fresh client (so each starts slow, as a
first drain does). ``inflight_<length>_<shape>`` is the drain's mean number of requests
in flight over its duration, as a share of the workers.

Lengths: ``short`` (about 70 pages) and ``long`` (about 700), on the ``uniform``,
``skewed`` (a 120-day window, the traces in its last 30 days) and ``bursty`` (half the
traces in one day of 30) shapes. Targets: >= 0.75 (short) and >= 0.92 (long) each.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import netra_frames as nf
from benchmarks._harness import sdk_pages

if TYPE_CHECKING:
    from benchmarks._harness import Server

LATENCY_MS = 200.0
WORKERS = nf.config.DEFAULT_MAX_WORKERS
SAMPLE_PAGES = 20
RUNS = 3
SHAPES = ("uniform", "skewed", "bursty")
LENGTHS = {"short": 10_000, "long": 98_000}
"""Traces per server: the API key's organisation holds ~71%, so ~71 and ~700 pages."""
QUICK_LENGTHS = {"short": 1_000, "long": 2_000}
"""Quick mode (a smoke test): a few pages, one run, a sample of :data:`QUICK_SAMPLE`."""
QUICK_SAMPLE = 5
TARGETS = {
    **{f"efficiency_short_{shape}": (">=", 0.75) for shape in SHAPES},
    **{f"efficiency_long_{shape}": (">=", 0.92) for shape in SHAPES},
}


def _page_times(server: Server, pages: int) -> list[float]:
    """Seconds of each of the first ``pages`` pages of the sequential SDK-style loop."""
    start, end = server.anchor - timedelta(days=server.days), server.anchor
    walk = sdk_pages(server.base_url, server.api_key, start, end)
    return [seconds for _, (_, seconds) in zip(range(pages), walk, strict=False)]


def _drain(server: Server) -> tuple[float, int, float]:
    """One drain from a fresh client: seconds, rows, mean requests in flight."""
    start, end = server.anchor - timedelta(days=server.days), server.anchor
    busy = [0.0]
    lock = threading.Lock()
    with nf.NetraClient(server.api_key, server.base_url) as client:
        send = client.transport.send

        def timed(*args: Any, **kwargs: Any) -> Any:  # measures; changes nothing
            began = time.perf_counter()
            try:
                return send(*args, **kwargs)
            finally:
                with lock:
                    busy[0] += time.perf_counter() - began

        client.transport.send = timed  # type: ignore[method-assign]
        began = time.perf_counter()
        frame = nf.traces_frame(start, end, backend="polars", client=client, progress=False)
        seconds = time.perf_counter() - began
    return seconds, frame.height, busy[0] / seconds


def bench_shape(server: Server, sample: int = SAMPLE_PAGES, repeats: int = RUNS) -> dict[str, Any]:
    """One server's shape and length: efficiency and requests in flight."""
    server.command(f"latency {LATENCY_MS}")
    try:
        _drain(server)  # warms the server (SQLite's page cache)
        page_s = statistics.median(_page_times(server, sample))
        runs = [_drain(server) for _ in range(repeats)]
    finally:
        server.command("latency 0")
    rows = runs[0][1]
    assert all(r == rows for _, r, _ in runs), runs
    pages = rows // 100 + 1  # the unsharded drain's: full pages, then a last one
    seconds = statistics.median(s for s, _, _ in runs)
    inflight = statistics.median(f for _, _, f in runs)
    return {
        "rows": rows,
        "pages": pages,
        "page_s": page_s,
        "s": seconds,
        "runs_s": [round(s, 3) for s, _, _ in runs],
        "ideal_s": pages * page_s / WORKERS,
        "efficiency": pages * page_s / WORKERS / seconds,
        "inflight": inflight / WORKERS,
    }


def bench_efficiency(server_of: Any, quick: bool) -> dict[str, Any]:
    """Every length and shape; ``server_of(traces, shape, days)`` starts a server."""
    out: dict[str, Any] = {}
    for length, traces in (QUICK_LENGTHS if quick else LENGTHS).items():
        for shape in SHAPES:
            server = server_of(traces, shape, 120 if shape == "skewed" else 30)
            try:
                figures = bench_shape(server, QUICK_SAMPLE, 1) if quick else bench_shape(server)
            finally:
                server.close()
            key = f"{length}_{shape}"
            out.update({f"efficiency_{key}_{k}": v for k, v in figures.items()})
            out[f"efficiency_{key}"] = figures["efficiency"]
            out[f"inflight_{key}"] = figures["inflight"]
    return out
