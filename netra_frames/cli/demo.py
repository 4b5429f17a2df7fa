"""``netra-frames demo``: the tour on an embedded local server (see :mod:`netra_frames.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..demo import FILES, print_report, run_demo
from ..times import parse_time
from . import _options as o
from ._output import check_folder
from ._parser import Configure

__all__ = ["COMMANDS"]


def _demo(args: argparse.Namespace) -> int:
    anchor = parse_time(args.anchor, "anchor") if args.anchor else None
    check_folder(Path(args.out), "--out", is_file=False)
    report = run_demo(
        args.out, traces=args.traces, seed=args.seed, anchor=anchor, progress=o.progress(args)
    )
    print_report(report)
    return 0 if report.usage_agrees else 1


def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Start an embedded local server with synthetic data, drain tenant AceTech's last 30 "
        "days and the spans of its traces, print the top users and whether the tenant usage "
        f"agrees with the traces, and write {', '.join(FILES[:-1])} and {FILES[-1]} (the "
        "self-contained cost report, as 'netra-frames report' writes) into --out. Exit 1 "
        "when the usage disagrees."
    )
    p.epilog = "example: netra-frames demo --out /tmp/netra-demo"
    p.add_argument("--out", default="netra-demo", help="output folder (default ./netra-demo)")
    p.add_argument(
        "--traces",
        type=o.positive_int,
        default=5000,
        metavar="N",
        help="synthetic traces on the embedded server, every tenant's over the 30 days "
        "(default 5000); the demo drains AceTech's share of them, and says how many",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    p.add_argument(
        "--anchor",
        metavar="TIME",
        help="end of the data window, ISO 8601 (default: now); fix it for the same data and "
        "output on every run",
    )
    o.add_progress(p)
    p.set_defaults(handler=_demo)


COMMANDS: dict[str, Configure] = {"demo": _configure_demo}
"""How each command of this module adds its options (see :mod:`._parser`)."""
