"""A cached window with many empty days, against the uncached drain.

``python -m benchmarks.cache_empty_days [--repeats N]``: a 90-day window of which only
the last 30 days hold traces (61 days are empty). Prints the medians of interleaved
repeats of ``traces_frame`` without the cache and with a warm cache (every day final and
stored), in seconds, and their ratio. An empty day should cost nothing, so the cached
read should not be slower than the drain.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import netra_frames as nf
from netra_frames.server import LocalNetra

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the comparison; return the medians (seconds) and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    window = (ANCHOR - timedelta(days=90), ANCHOR)
    plain, cached = [], []
    with (
        LocalNetra(seed=0, traces=600, days=30, anchor=ANCHOR) as srv,
        tempfile.TemporaryDirectory(prefix="nf-empty-days-") as tmp,
    ):
        client = nf.NetraClient(srv.api_key, srv.base_url)

        def run(cache: object) -> float:
            started = time.perf_counter()
            nf.traces_frame(*window, backend="polars", progress=False, client=client, cache=cache)
            return time.perf_counter() - started

        run(Path(tmp))  # fill the cache
        for _ in range(args.repeats):
            plain.append(run(False))
            cached.append(run(Path(tmp)))
        client.close()
    out = {
        "uncached_s": statistics.median(plain),
        "cached_s": statistics.median(cached),
    }
    out["cached_over_uncached"] = out["cached_s"] / out["uncached_s"]
    for name, value in out.items():
        print(f"{name:22} {value:.3f}")
    return out


if __name__ == "__main__":
    main()
