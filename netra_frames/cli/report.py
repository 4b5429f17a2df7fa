"""``netra-frames report``: the self-contained HTML cost report of a window."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..answers import report
from ..output import HTML_EXTENSIONS, check_target, named_format
from . import _options as o
from ._output import check_folder
from ._parser import Configure
from .data import connect

__all__ = ["COMMANDS"]


def _report(args: argparse.Namespace) -> int:
    path = Path(args.output)
    named_format(path, None, HTML_EXTENSIONS, default="html")  # as Report.write will
    check_folder(check_target(path), "--output", is_file=True)
    with connect(args) as client:
        result = report(
            args.start,
            args.end,
            top=args.top,
            progress=o.progress(args),
            cache=o.cache_choice(args),
            client=client,
            **o.filters(args),
        )
    written = result.write(path)
    print(f"wrote {written}: {result.summary()}", file=sys.stderr)
    return 1 if result.agrees is False else 0


def _configure_report(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Write one self-contained HTML cost report of the traces of [--start, --end): totals "
        "reconciled with the usage endpoint, daily cost by model, top users, sessions and "
        "traces, latency percentiles by trace name, error/PII/violation rates. No script, "
        "nothing fetched when it is opened; prints on A4 and reads on a phone. Exit 1 when "
        "the totals differ from the usage endpoint."
    )
    p.epilog = (
        "example: netra-frames report --tenant AceTech --start 2026-01-01 --end 2026-02-01 "
        "-o report.html"
    )
    o.add_connection(p)
    o.add_window(p)
    o.add_filters(p)
    p.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        required=True,
        help="the HTML file to write (.html or .htm; a name without an extension is HTML too)",
    )
    p.add_argument(
        "--top",
        type=o.positive_int,
        default=10,
        metavar="N",
        help="rows of each top table (default 10)",
    )
    o.add_cache(p)
    o.add_progress(p)
    p.set_defaults(handler=_report)


COMMANDS: dict[str, Configure] = {"report": _configure_report}
"""How each command of this module adds its options (see :mod:`._parser`)."""
