"""``netra-frames demo``: the tour on an embedded local server (see :mod:`netra_frames.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..demo import print_report, run_demo
from . import _options as o
from ._output import check_folder
from ._parser import Configure

__all__ = ["COMMANDS"]


def _demo(args: argparse.Namespace) -> int:
    check_folder(Path(args.out), "--out", is_file=False)
    report = run_demo(args.out, traces=args.traces, seed=args.seed, progress=o.progress(args))
    print_report(report)
    return 0 if report.usage_agrees else 1


def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Start an embedded local server with synthetic data, drain tenant AceTech's last 30 "
        "days, fetch spans, and write Parquet, CSV and a PNG chart."
    )
    p.epilog = "example: netra-frames demo --out /tmp/netra-demo"
    p.add_argument("--out", default="netra-demo", help="output folder (default ./netra-demo)")
    p.add_argument(
        "--traces", type=o.positive_int, default=5000, help="synthetic traces (default 5000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    o.add_progress(p)
    p.set_defaults(handler=_demo)


COMMANDS: dict[str, Configure] = {"demo": _configure_demo}
"""How each command of this module adds its options (see :mod:`._parser`)."""
