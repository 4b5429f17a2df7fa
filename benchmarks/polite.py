"""Politeness under a rate limit (issue 18); called by ``benchmarks.run``.

Each case is a ``traces_frame`` drain against the server's per-key token bucket (burst 5;
a 429 says ``Retry-After``: the whole seconds until the next token), from a fresh client:

* ``polite_fast_*``: about 150 pages at 40 requests/s. Targets: 429s <= 5% of the pages,
  time <= 1.3x ``pages / R``.
* ``polite_slow_*``: 20 to 30 pages at 30 requests a minute (Langfuse's smallest plan,
  ~60 s; a few pages at the same rate in quick mode). Targets: <= 3 answers of 429 in all,
  time <= 1.3x ``pages / R``.
* ``*_headers``: the same drains when the server sends ``RateLimit-*`` headers. Target: no
  429 at all.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import netra_frames as nf

if TYPE_CHECKING:
    from benchmarks._harness import Server

BURST = 5
TARGETS = {
    "polite_fast_429_share": ("<=", 0.05),
    "polite_fast_time_ratio": ("<=", 1.3),
    "polite_slow_429s": ("<=", 3.0),
    "polite_slow_time_ratio": ("<=", 1.3),
    "polite_fast_headers_429s": ("<=", 0.0),
    "polite_slow_headers_429s": ("<=", 0.0),
}


def _drain(server: Server, days: float, rps: float, headers: bool) -> dict[str, Any]:
    """One drain of the last ``days`` of the window against a ``rps`` bucket."""
    start, end = server.anchor - timedelta(days=days), server.anchor
    server.faults(rate_limit_rps=rps, rate_limit_burst=BURST, rate_limit_headers=headers)
    server.command("reset")
    try:
        with nf.NetraClient(server.api_key, server.base_url) as client:
            began = time.perf_counter()
            frame = nf.traces_frame(start, end, backend="polars", client=client, progress=False)
            seconds = time.perf_counter() - began
        stats = server.stats()
    finally:
        server.faults()
    pages = int(stats["by_status"].get("200", 0))
    limited = int(stats["faults"].get("rate_limit", 0))
    return {
        "rows": frame.height,
        "pages": pages,
        "s": seconds,
        "ideal_s": pages / rps,
        "time_ratio": seconds / (pages / rps),
        "429s": float(limited),
        "429_share": limited / max(pages, 1),
    }


def bench_polite(server: Server, quick: bool) -> dict[str, Any]:
    """Every case above, on the server's uniform 30-day data."""
    start, end = server.anchor - timedelta(days=30), server.anchor
    with nf.NetraClient(server.api_key, server.base_url) as client:
        rows = len(nf.traces_frame(start, end, backend="polars", client=client, progress=False))
    pages_per_day = rows / 100 / 30
    fast_pages, slow_pages = (40, 6) if quick else (150, 25)
    cases = {
        "fast": (min(30.0, fast_pages / pages_per_day), 40.0),
        "slow": (min(30.0, slow_pages / pages_per_day), 0.5),
    }
    out: dict[str, Any] = {}
    for name, (days, rps) in cases.items():
        for headers in (False, True):
            key = f"polite_{name}_headers" if headers else f"polite_{name}"
            figures = _drain(server, days, rps, headers)
            out.update({f"{key}_{k}": v for k, v in figures.items()})
    return out
