"""The data commands: ``traces``, ``spans``, ``usage`` and ``export``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..client import NetraClient
from ..errors import ConfigurationError
from ..export import DEFAULT_MAX_ROWS_PER_FILE, EXPORT_FORMATS, PARTITION_BY, export_traces
from ..frames import spans_frame, traces_frame
from ..output import FORMATS
from ..schema import SESSION_USAGE, SPANS, TENANT_USAGE, TRACES
from ..usage_frames import session_usage_frame, tenant_usage_frame
from . import _options as o
from ._output import TABLE_COLUMNS, check_folder, emit, fetch, plan_output, rows
from ._parser import Configure, UsageError, add_subcommands
from ._trace_ids import read_trace_ids

__all__ = ["COMMANDS", "connect"]


def connect(args: argparse.Namespace) -> NetraClient:
    """Build the client of a command from its connection options or the environment.

    Examples
    --------
    >>> connect(parser.parse_args(["traces"]))  # doctest: +SKIP
    NetraClient(base_url='http://127.0.0.1:8765', api_key='[secure]')
    """
    key_env = args.api_key_env
    api_key = os.environ.get(key_env) if key_env else None
    if key_env and not api_key:
        raise ConfigurationError(f"no API key: set {key_env} (named by --api-key-env).")
    return NetraClient(
        api_key,
        args.base_url,
        max_retries=args.max_retries,
        allow_insecure_http=args.allow_insecure_http,
    )


def _data_command(p: argparse.ArgumentParser) -> None:
    o.add_connection(p)
    o.add_output(p, FORMATS)


def _traces(args: argparse.Namespace) -> int:
    out = plan_output(args, TRACES, TABLE_COLUMNS["traces"])
    with connect(args) as client:
        frame = fetch(
            args,
            out,
            "the traces download",
            lambda: traces_frame(
                args.start,
                args.end,
                sort_field=args.sort_field,
                sort_order=args.sort_order,
                max_rows=args.limit,
                backend="polars",
                progress=o.progress(args),
                cache=o.cache_choice(args),
                client=client,
                **o.filters(args),
            ),
        )
    return emit(args, frame, out)


def _read_trace_ids(path: str) -> list[str]:
    if path == "-":
        return read_trace_ids(sys.stdin.buffer.read(), "-")
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"--from-traces: no such file {path!r}.") from None
    except IsADirectoryError:
        raise UsageError(f"--from-traces: {path!r} is a folder, not a file.") from None
    return read_trace_ids(data, path)


def _spans(args: argparse.Namespace) -> int:
    out = plan_output(args, SPANS, TABLE_COLUMNS["spans"])
    ids = list(args.trace_ids)
    if args.from_traces:  # an empty file (an empty day) is an empty result, not an error
        ids += _read_trace_ids(args.from_traces)
    elif not ids:
        raise UsageError("give at least one TRACE_ID or --from-traces FILE.")
    with connect(args) as client:
        frame = fetch(
            args,
            out,
            "the spans download",
            lambda: spans_frame(
                ids,
                span_name=args.span_name,
                backend="polars",
                progress=o.progress(args),
                cache=o.cache_choice(args),
                client=client,
            ),
        )
    return emit(args, frame, out)


def _usage(args: argparse.Namespace) -> int:
    build = session_usage_frame if args.kind == "session" else tenant_usage_frame
    out = plan_output(args, SESSION_USAGE if args.kind == "session" else TENANT_USAGE)
    given = getattr(args, f"{args.kind}_id")  # the keyword it feeds, so errors name ID
    ids = given[0] if len(given) == 1 else list(given)
    with connect(args) as client:
        frame = fetch(
            args,
            out,
            f"the {args.kind} usage download",
            lambda: build(
                ids,
                args.start,
                args.end,
                backend="polars",
                progress=o.progress(args),
                client=client,
            ),
        )
    return emit(args, frame, out)


def _export(args: argparse.Namespace) -> int:
    check_folder(Path(args.path), "PATH", is_file=False)
    with connect(args) as client:
        result = export_traces(
            args.path,
            args.start,
            args.end,
            format=args.format,
            partition_by=args.partition_by,
            max_rows_per_file=args.max_rows_per_file,
            csv_safe=not args.no_csv_safe,
            overwrite=args.overwrite,
            progress=o.progress(args),
            client=client,
            **o.filters(args),
        )
    skipped = len(result.skipped)
    if result.partitions_written == 0 and skipped:
        if args.partition_by == "none":
            done = "the window was already complete"
            again = f"delete {result.root / '_SUCCESS'} to write it again"
        else:
            done = f"all {rows(skipped, 'partition')} of the window were already complete"
            again = "delete a date=... folder to write it again"
        print(f"nothing to export: {done} in {result.root} ({again})", file=sys.stderr)
        return 0
    print(
        f"exported {rows(result.rows)} in {rows(result.files, 'file')} to {result.root} "
        f"({rows(result.partitions_written, 'partition')} written, {skipped} already "
        "complete)",
        file=sys.stderr,
    )
    return 0


def _configure_traces(p: argparse.ArgumentParser) -> None:
    p.description = "Drain every page of traces in [--start, --end) into one table."
    p.epilog = (
        "example: netra-frames traces --tenant AceTech --start 2026-11-01 "
        "--end 2026-12-01 -o november.parquet"
    )
    _data_command(p)
    o.add_window(p)
    o.add_filters(p)
    p.add_argument(
        "--sort-field",
        default="start_time",
        type=o.choice(o.SORT_FIELDS),
        choices=o.SORT_FIELDS,
        help="sort field: %(choices)s (default start_time)",
    )
    p.add_argument(
        "--sort-order",
        default="desc",
        type=o.choice(("asc", "desc")),
        choices=("asc", "desc"),
        help="default desc",
    )
    p.add_argument("--limit", type=o.positive_int, help="stop after this many traces")
    o.add_cache(p)
    p.set_defaults(handler=_traces)


def _configure_spans(p: argparse.ArgumentParser) -> None:
    p.description = "Fetch the spans of the given traces concurrently, in input order."
    p.epilog = (
        "example: netra-frames traces --tenant AceTech -o t.csv && "
        "netra-frames spans --from-traces t.csv --span-name generation -o spans.parquet"
    )
    _data_command(p)
    p.add_argument("trace_ids", nargs="*", metavar="TRACE_ID", help="trace ids")
    p.add_argument(
        "--from-traces",
        metavar="FILE",
        help="read trace ids from the output of 'netra-frames traces' (CSV, TSV, NDJSON, JSON, "
        "Parquet) or a list of ids, one per line; '-' reads standard input; an empty input "
        "gives an empty result",
    )
    p.add_argument("--span-name", help="only spans whose name or kind matches")
    o.add_cache(p)
    p.set_defaults(handler=_spans)


def _configure_usage(p: argparse.ArgumentParser) -> None:
    p.description = "Usage totals of one or more sessions or tenants over a window."
    kinds = add_subcommands(p, "kind", "KIND")
    for kind in ("session", "tenant"):
        k = kinds.add_parser(
            kind,
            help=f"usage of {kind}s",
            description=f"Usage of one row per {kind} id over [--start, --end).",
            epilog=f"example: netra-frames usage {kind} "
            f"{'AceTech Globex' if kind == 'tenant' else 'SESSION_ID'} --start 2026-11-01",
        )
        _data_command(k)
        k.add_argument(f"{kind}_id", nargs="+", metavar="ID", help=f"{kind} id(s)")
        o.add_window(k)
        k.set_defaults(handler=_usage)


def _configure_export(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Write the traces of [--start, --end) under PATH page by page, one date=YYYY-MM-DD "
        "folder per UTC day with a _SUCCESS marker written last. Running the same command "
        "again skips finished days. Read the result with e.g. "
        "pl.scan_parquet('PATH/**/*.parquet', hive_partitioning=True)."
    )
    p.epilog = (
        "example: netra-frames export out/traces --start 2026-11-01 --end 2026-12-01 "
        "--tenant AceTech"
    )
    o.add_connection(p)
    p.add_argument("path", metavar="PATH", help="root folder of the export")
    o.add_window(p)
    o.add_filters(p)
    p.add_argument(
        "--format",
        type=o.choice(EXPORT_FORMATS),
        choices=EXPORT_FORMATS,
        default="parquet",
        help="file format (default parquet)",
    )
    p.add_argument(
        "--partition-by",
        type=o.choice(PARTITION_BY),
        choices=PARTITION_BY,
        default="date",
        help="one folder per UTC day, or none (default date)",
    )
    p.add_argument(
        "--max-rows-per-file",
        type=o.positive_int,
        default=DEFAULT_MAX_ROWS_PER_FILE,
        metavar="N",
        help=f"start a new part file after N rows (default {DEFAULT_MAX_ROWS_PER_FILE})",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an export of another query (other filters, format or --partition-by) "
        "in PATH, and write beside files no export wrote (default: refuse such a folder, "
        "exit 2, before any request); files netra-frames did not write are never deleted",
    )
    o.add_csv_safe(p)
    o.add_progress(p)
    p.set_defaults(handler=_export)


COMMANDS: dict[str, Configure] = {
    "traces": _configure_traces,
    "spans": _configure_spans,
    "usage": _configure_usage,
    "export": _configure_export,
}
"""How each command of this module adds its options (see :mod:`._parser`)."""
