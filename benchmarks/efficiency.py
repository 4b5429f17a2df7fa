"""Drains against the physical limit (issue 18); called by ``benchmarks.run``.

``efficiency_<length>_<shape>`` = (pages x median page time / workers) / drain time, at
200 ms per page: 1.0 is 16 workers busy from the first request to the last. The page
time is measured in the same run by the SDK-style sequential loop (one page after
another), on a sample of :data:`SAMPLE_PAGES` pages; ``pages`` is the unsharded drain's
(one page per 100 rows, and a last one). The drain is the median of :data:`RUNS` runs of
``traces_frame`` on a warm server, each from a fresh client (so each starts slow, as a
first drain does); ``efficiency_warm_short_<shape>`` is the same for a client's later
drains (one client; its first drain, not timed, opened its slow-start window, as a
notebook's first call does for every later one). ``inflight_<length>_<shape>`` is the
drain's mean number of requests in flight over its duration (from the limiter letting a
request go to its answer), as a share of the workers.
``efficiency_<length>_<shape>_efficiency_in_drain`` takes the median time of the drain's
own requests as the page time instead: the difference between the two
is how much slower the server answered 16 requests at once than one at a time.

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


def _drain(server: Server, client: nf.NetraClient | None = None) -> tuple[float, int, float, float]:
    """One drain, from a fresh client unless ``client`` is given: seconds, rows, mean requests
    in flight, and the median seconds a request took inside the drain (from the limiter
    letting it go to its answer)."""
    if client is None:
        with nf.NetraClient(server.api_key, server.base_url) as fresh:
            return _drain(server, fresh)
    start, end = server.anchor - timedelta(days=server.days), server.anchor
    took: list[float] = []
    sent = threading.local()
    lock = threading.Lock()
    limiter = client.transport.limiter
    acquire, answered = limiter.acquire, limiter.answered
    try:

        def timed_acquire(*args: Any) -> Any:  # measures; changes nothing
            went = acquire(*args)
            sent.at = time.perf_counter()
            return went

        def timed_answered(*args: Any) -> None:
            answered(*args)
            with lock:
                took.append(time.perf_counter() - sent.at)

        limiter.acquire = timed_acquire  # type: ignore[method-assign]
        limiter.answered = timed_answered  # type: ignore[method-assign]
        began = time.perf_counter()
        frame = nf.traces_frame(start, end, backend="polars", client=client, progress=False)
        seconds = time.perf_counter() - began
    finally:
        limiter.acquire, limiter.answered = acquire, answered  # type: ignore[method-assign]
    return seconds, frame.height, sum(took) / seconds, statistics.median(took)


def _warm_runs(server: Server, repeats: int) -> list[tuple[float, int, float, float]]:
    """``repeats`` drains of one client whose first drain (not timed) opened its window."""
    with nf.NetraClient(server.api_key, server.base_url) as client:
        _drain(server, client)
        return [_drain(server, client) for _ in range(repeats)]


def bench_shape(
    server: Server, sample: int = SAMPLE_PAGES, repeats: int = RUNS, warm: bool = False
) -> dict[str, Any]:
    """One server's shape and length: efficiency and requests in flight; with ``warm``,
    also the efficiency of a client's later drains (``efficiency_warm``)."""
    server.command(f"latency {LATENCY_MS}")
    try:
        _drain(server)  # warms the server (SQLite's page cache)
        page_s = statistics.median(_page_times(server, sample))
        runs = [_drain(server) for _ in range(repeats)]
        warm_runs = _warm_runs(server, repeats) if warm else []
    finally:
        server.command("latency 0")
    rows = runs[0][1]
    assert all(r == rows for _, r, _, _ in runs + warm_runs), runs + warm_runs
    pages = rows // 100 + 1  # the unsharded drain's: full pages, then a last one
    seconds = statistics.median(s for s, _, _, _ in runs)
    inflight = statistics.median(f for _, _, f, _ in runs)
    page_in_drain = statistics.median(p for _, _, _, p in runs)
    extra = {}
    if warm_runs:
        warm_s = statistics.median(s for s, _, _, _ in warm_runs)
        extra = {
            "warm_s": warm_s,
            "warm_runs_s": [round(s, 3) for s, _, _, _ in warm_runs],
            "efficiency_warm": pages * page_s / WORKERS / warm_s,
        }
    return {
        **extra,
        "rows": rows,
        "pages": pages,
        "page_s": page_s,
        "page_in_drain_s": page_in_drain,
        "s": seconds,
        "runs_s": [round(s, 3) for s, _, _, _ in runs],
        "ideal_s": pages * page_s / WORKERS,
        "efficiency": pages * page_s / WORKERS / seconds,
        "efficiency_in_drain": pages * page_in_drain / WORKERS / seconds,
        "inflight": inflight / WORKERS,
    }


def bench_efficiency(server_of: Any, quick: bool) -> dict[str, Any]:
    """Every length and shape; ``server_of(traces, shape, days)`` starts a server."""
    out: dict[str, Any] = {}
    for length, traces in (QUICK_LENGTHS if quick else LENGTHS).items():
        for shape in SHAPES:
            server = server_of(traces, shape, 120 if shape == "skewed" else 30)
            try:
                warm = length == "short"
                figures = (
                    bench_shape(server, QUICK_SAMPLE, 1, warm)
                    if quick
                    else bench_shape(server, warm=warm)
                )
            finally:
                server.close()
            key = f"{length}_{shape}"
            out.update({f"efficiency_{key}_{k}": v for k, v in figures.items()})
            out[f"efficiency_{key}"] = figures["efficiency"]
            out[f"inflight_{key}"] = figures["inflight"]
            if warm:
                out[f"efficiency_warm_{key}"] = figures["efficiency_warm"]
    return out
