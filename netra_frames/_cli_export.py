"""The ``netra-frames export`` subcommand: a thin shell over :func:`netra_frames.export_traces`.

Registered by :func:`netra_frames.cli.build_parser` with :func:`add_export_parser`; the
handler parses nothing itself and lets library errors reach the CLI's one error boundary.

Examples
--------
::

    netra-frames export out/traces --start 2026-11-01 --end 2026-12-01 --tenant AceTech
    netra-frames export out/traces.csv.d --format csv --partition-by none
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["add_export_parser", "run_export"]


def run_export(args: argparse.Namespace) -> int:
    """Run ``export`` from parsed arguments and print a one-line summary to stderr.

    Examples
    --------
    >>> run_export(parser.parse_args(["export", "out", "--start", "2026-11-01"]))  # doctest: +SKIP
    0
    """
    from .cli import connect
    from .export import export_traces

    with connect(args) as client:
        result = export_traces(
            args.path,
            args.start,
            args.end,
            tenant_id=args.tenant,
            user_id=args.user,
            session_id=args.session,
            format=args.format,
            partition_by=args.partition_by,
            max_rows_per_file=args.max_rows_per_file,
            csv_safe=not args.no_csv_safe,
            progress=False if args.no_progress else None,
            client=client,
        )
    print(
        f"exported {result.rows} rows in {result.files} file(s) to {result.root} "
        f"({result.partitions_written} partition(s) written, {len(result.skipped)} already "
        "complete)",
        file=sys.stderr,
    )
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def add_export_parser(sub: SubParsers, parents: list[argparse.ArgumentParser]) -> Any:
    """Add the ``export`` subcommand to ``sub``; ``parents`` supply connection options.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> sub = parser.add_subparsers(dest="command")
    >>> _ = add_export_parser(sub, [])
    >>> parser.parse_args(["export", "out", "--format", "csv"]).partition_by
    'date'
    """
    from .export import DEFAULT_MAX_ROWS_PER_FILE, EXPORT_FORMATS, PARTITION_BY

    p = sub.add_parser(
        "export",
        parents=parents,
        help="stream traces to hive-partitioned Parquet/NDJSON/CSV files (resumable)",
        description="Write the traces of [--start, --end) under PATH page by page, one "
        "date=YYYY-MM-DD folder per UTC day with a _SUCCESS marker written last. Running "
        "the same command again skips finished days. Read the result with e.g. "
        "pl.scan_parquet('PATH/**/*.parquet', hive_partitioning=True).",
    )
    p.add_argument("path", metavar="PATH", help="root folder of the export")
    p.add_argument("--start", help="window start, ISO 8601 (default: 7 days before --end)")
    p.add_argument("--end", help="window end, exclusive, ISO 8601 (default: now)")
    p.add_argument("--tenant", help="only this tenant id")
    p.add_argument("--user", help="only this user id")
    p.add_argument("--session", help="only this session id")
    p.add_argument(
        "--format", choices=EXPORT_FORMATS, default="parquet", help="file format (default parquet)"
    )
    p.add_argument(
        "--partition-by",
        choices=PARTITION_BY,
        default="date",
        help="one folder per UTC day, or none (default date)",
    )
    p.add_argument(
        "--max-rows-per-file",
        type=_positive_int,
        default=DEFAULT_MAX_ROWS_PER_FILE,
        metavar="N",
        help=f"start a new part file after N rows (default {DEFAULT_MAX_ROWS_PER_FILE})",
    )
    p.add_argument(
        "--no-csv-safe",
        action="store_true",
        help="write CSV cells starting with = + - @ as they are (default: prefix them with ')",
    )
    p.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    p.set_defaults(handler=run_export)
    return p
