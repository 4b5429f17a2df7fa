"""Start-up time of the command line: ``python benchmarks/startup.py [--runs N]``.

Each case runs in a fresh interpreter ``--runs`` times (default 15, interleaved so load
spikes hit every case alike) and reports the median wall time:

- ``help`` / ``version`` / ``cache info``: ``python -m netra_frames ...`` as it is now;
- ``help, eager face``: the same ``--help`` after importing every module the package face
  imported eagerly before it became lazy (``frames``, ``scan``, ``export``, ``cache``):
  what ``--help`` cost before;
- with ``--before REV`` (e.g. ``--before bcc5bbc``), also ``--help`` of that git revision's
  package, extracted to a temporary folder: the before figure measured, not emulated.

Target: ``help`` and ``version`` well under 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EAGER = "import netra_frames.frames, netra_frames.scan, netra_frames.export, netra_frames.cache"
CASES: dict[str, list[str]] = {
    "help": ["-m", "netra_frames", "--help"],
    "version": ["-m", "netra_frames", "--version"],
    "cache info": ["-m", "netra_frames", "cache", "info", "--cache-dir", "{tmp}"],
    "help, eager face (before)": [
        "-c",
        f"{EAGER}\nfrom netra_frames.cli import main\nmain(['--help'])",
    ],
}


def measure(runs: int, before: str | None) -> dict[str, float]:
    """Median seconds of each case over ``runs`` interleaved runs."""
    cases = {name: (args, str(ROOT)) for name, args in CASES.items()}
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if before:
            old = Path(tmp) / "before"
            old.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", before, "netra_frames"],
                                     check=True, capture_output=True).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
            cases[f"help at {before} (before)"] = (CASES["help"], str(old))
        for _ in range(runs):
            for name, (args, path) in cases.items():
                argv = [sys.executable, *(a.format(tmp=tmp) for a in args)]
                env = dict(os.environ, PYTHONPATH=path)
                began = time.perf_counter()
                subprocess.run(argv, env=env, cwd=tmp, stdout=subprocess.DEVNULL, check=False)
                times.setdefault(name, []).append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", metavar="REV", help="also time --help of this git revision")
    args = parser.parse_args()
    result = measure(args.runs, args.before)
    for name, seconds in result.items():
        print(f"{name:28} {seconds * 1000:7.0f} ms (median of {args.runs})")


if __name__ == "__main__":
    main()
