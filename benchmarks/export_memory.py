"""Peak memory of ``export_traces`` at two data sizes: it should not grow with the rows.

Starts a LocalNetra per size in this process, then runs each export in a fresh child
process and reports the child's peak RSS (``VmHWM``) next to its RSS right after
imports, so the server's own memory is never counted. The default sizes are 20,000 and
200,000 traces, i.e. about 100,000 and 1,000,000 spans in the server's data set. For
contrast, mode ``eager`` builds the whole frame with ``traces_frame`` and writes it once.

Usage::

    python benchmarks/export_memory.py                       # both sizes, all modes
    python benchmarks/export_memory.py --sizes 20000 --modes date
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

MODES = ("date", "none", "eager")


def _status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in MB.

    ``VmHWM`` belongs to the process image and starts afresh at ``exec``, unlike
    ``ru_maxrss``, which would include the parent's memory copied by ``fork``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


ANCHOR = datetime(2026, 12, 1, tzinfo=timezone.utc)
DAYS = 30


def child(base_url: str, mode: str, out: str) -> None:
    """Run one export in this (fresh) process and print a JSON line of measurements."""
    import polars as pl

    import netra_frames as nf
    from netra_frames.export import export_traces

    window = (ANCHOR - timedelta(days=DAYS), ANCHOR)
    with nf.NetraClient(os.environ["BENCH_NETRA_KEY"], base_url) as client:
        baseline = _status_mb("VmRSS")
        started = time.perf_counter()
        if mode == "eager":
            frame = nf.traces_frame(*window, backend="polars", client=client, progress=False)
            frame.write_parquet(Path(out) / "all.parquet")
            rows = frame.height
        else:
            by = "date" if mode == "date" else "none"
            result = export_traces(out, *window, partition_by=by, client=client, progress=False)
            rows = result.rows
        seconds = time.perf_counter() - started
    peak = _status_mb("VmHWM")
    files = sum(1 for _ in Path(out).rglob("*.parquet"))
    check = pl.scan_parquet(Path(out) / "**" / "*.parquet").select(pl.len()).collect().item()
    assert check == rows, (check, rows)
    print(json.dumps({"rows": rows, "files": files, "seconds": seconds,
                      "baseline_mb": baseline, "peak_mb": peak}))  # fmt: skip


def run(sizes: list[int], modes: list[str], cache: Path) -> None:
    from netra_frames.server import LocalNetra

    header = f"{'traces':>8} {'spans':>9} {'mode':>6} {'rows':>8} {'files':>5} {'s':>6} "
    header += f"{'import MB':>9} {'peak MB':>8} {'growth MB':>9}"
    print(header)
    for size in sizes:
        db = cache / f"netra-{size}.sqlite"
        with LocalNetra(traces=size, seed=0, days=DAYS, db=str(db), anchor=ANCHOR) as srv:
            with sqlite3.connect(db) as con:
                spans = con.execute("select count(*) from spans").fetchone()[0]
            con.close()
            for mode in modes:
                with tempfile.TemporaryDirectory() as out:
                    env = {**os.environ, "BENCH_NETRA_KEY": srv.api_key}
                    proc = subprocess.run(
                        [sys.executable, __file__, "--child", srv.base_url, mode, out],
                        env=env,
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                m = json.loads(proc.stdout.strip().splitlines()[-1])
                print(
                    f"{size:>8} {spans:>9} {mode:>6} {m['rows']:>8} {m['files']:>5} "
                    f"{m['seconds']:>6.1f} {m['baseline_mb']:>9.0f} {m['peak_mb']:>8.0f} "
                    f"{m['peak_mb'] - m['baseline_mb']:>9.0f}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--cache",
        default=os.path.join(tempfile.gettempdir(), "netra-bench"),
        help="folder for the generated SQLite data (reused across runs)",
    )
    parser.add_argument("--child", nargs=3, metavar=("URL", "MODE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    run(args.sizes, args.modes, cache)


if __name__ == "__main__":
    main()
