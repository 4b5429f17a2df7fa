"""The ``netra-frames`` command: parse, call the library, print; one error boundary.

Exit codes: 0 success, 1 an API, transport or configuration error, 2 bad usage,
130 interrupted. Data goes to stdout or ``--output``; progress and errors to stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from .__about__ import __version__
from ._progress import Progress, want_progress
from ._trace_ids import read_trace_ids
from .config import ENV_API_KEY
from .errors import ConfigurationError, InvalidParameterError, NetraError, NetraWarning
from .output import (
    FORMATS,
    Format,
    check_columns,
    check_format,
    check_target,
    format_for_path,
    select_columns,
    write_frame,
)
from .query import FILTERS
from .schema import SESSION_USAGE, SPANS, TENANT_USAGE, TRACES, Column
from .times import parse_time

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad command-line usage found after parsing (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, then exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


# -- shared plumbing -------------------------------------------------------------------


def connect(args: argparse.Namespace) -> Any:
    """Build the client of a command from ``--base-url``/``--api-key-env`` or the environment.

    Examples
    --------
    >>> connect(build_parser().parse_args(["traces"]))  # doctest: +SKIP
    NetraClient(base_url='http://127.0.0.1:8765', api_key='[secure]')
    """
    from .client import NetraClient

    key_env = args.api_key_env
    api_key = os.environ.get(key_env) if key_env else None
    if key_env and not api_key:
        raise ConfigurationError(f"no API key: set {key_env} (named by --api-key-env).")
    return NetraClient(api_key, args.base_url)


def _progress(args: argparse.Namespace) -> bool | None:
    return False if args.no_progress else None


TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "traces": ("trace_id", "start_time", "name", "user_id", "total_tokens", "total_cost"),
    "spans": ("span_id", "trace_id", "name", "model_name", "total_tokens", "total_cost"),
}
"""Columns a terminal table shows by default (``-c``/``--all-columns`` choose others)."""


@dataclass(frozen=True)
class _Output:
    """Where and how a command writes its frame; settled before any request is sent."""

    fmt: Format
    columns: tuple[str, ...] | None  # None: every column
    is_default_table: bool = False


def _plan_output(
    args: argparse.Namespace, schema: Sequence[Column], table: Sequence[str] | None = None
) -> _Output:
    """Check ``--format``/``--output``/``--columns`` against ``schema`` before fetching."""
    fmt: Format
    if args.format:
        fmt = args.format
    elif args.output:
        fmt = format_for_path(args.output)
    else:
        fmt = "table" if sys.stdout.isatty() else "csv"
    check_format(fmt)
    if args.output:
        check_target(args.output)
    elif fmt in ("parquet", "xlsx") and sys.stdout.isatty():
        raise UsageError(f"refusing to write {fmt} to a terminal; pass --output FILE.")
    known = [c.name for c in schema]
    if args.columns is not None and args.all_columns:
        raise UsageError("--columns and --all-columns exclude each other; give one.")
    if args.columns is not None:
        names = [n.strip() for n in args.columns.split(",") if n.strip()]
        if not names:
            raise UsageError(f"--columns: give column names, e.g. {','.join(known[:3])}.")
        return _Output(fmt, tuple(check_columns(names, known)))
    if fmt == "table" and table and not args.all_columns:
        return _Output(fmt, tuple(table), is_default_table=True)
    return _Output(fmt, None)


def _emit(args: argparse.Namespace, frame: Any, out: _Output) -> int:
    shown = frame if out.columns is None else select_columns(frame, out.columns)
    write_frame(shown, args.output, format=out.fmt, csv_safe=not args.no_csv_safe)
    if args.output:
        bare = not args.format and not Path(args.output).suffix
        how = " as CSV (the name has no extension; --format chooses)" if bare else ""
        print(f"wrote {len(frame)} rows to {args.output}{how}", file=sys.stderr)
    elif out.is_default_table and shown.width < frame.width:
        print(
            f"{len(frame)} rows; {shown.width} of {frame.width} columns shown "
            "(-c a,b,... to choose, --all-columns for all)",
            file=sys.stderr,
        )
    return 0


def _connection_options() -> argparse.ArgumentParser:
    p = _Parser(add_help=False)
    g = p.add_argument_group("connection")
    g.add_argument("--base-url", help="API base URL (default: $NETRA_OTLP_ENDPOINT)")
    g.add_argument(
        "--api-key-env",
        default=ENV_API_KEY,
        metavar="NAME",
        help=f"environment variable holding the API key (default {ENV_API_KEY})",
    )
    return p


def _output_options() -> argparse.ArgumentParser:
    p = _Parser(add_help=False)
    g = p.add_argument_group("output")
    g.add_argument(
        "--format",
        choices=FORMATS,
        help="output format (default: from the --output extension, else table on a "
        "terminal and CSV when piped)",
    )
    g.add_argument("--output", "-o", metavar="PATH", help="write to PATH instead of stdout")
    g.add_argument(
        "--no-csv-safe",
        action="store_true",
        help="write CSV cells starting with = + - @ as they are (default: prefix them with ')",
    )
    g.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    # Not a mutually exclusive group: nested in an argument group of a parent parser, its
    # options vanish from --help. _plan_output refuses the pair instead.
    g.add_argument(
        "--columns",
        "-c",
        metavar="A,B,...",
        help="write only these columns, in this order (every format)",
    )
    g.add_argument(
        "--all-columns",
        action="store_true",
        help="show every column in a table (default for traces and spans: a few key ones)",
    )
    return p


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _window_options(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--start", help=f"window start, ISO 8601 (default: {default})")
    p.add_argument("--end", help="window end, exclusive, ISO 8601 (default: now)")


def _filter_flag(name: str) -> str:
    """``tenant_id`` -> ``--tenant`` (the CLI's short form of a traces filter)."""
    return "--" + name.removesuffix("_id").replace("_", "-")


def _filter_options(p: argparse.ArgumentParser) -> None:
    """One flag per traces filter of :data:`netra_frames.query.FILTERS` (and its long form)."""
    for name in FILTERS:
        what = name.removesuffix("_id").replace("_", " ")
        p.add_argument(
            _filter_flag(name),
            "--" + name.replace("_", "-"),
            dest=name,
            metavar="ID",
            help=f"only this {what} id (exact, case-sensitive)",
        )


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in FILTERS if getattr(args, name) is not None}


# -- commands --------------------------------------------------------------------------


def _traces(args: argparse.Namespace) -> int:
    from .frames import traces_frame

    out = _plan_output(args, TRACES, TABLE_COLUMNS["traces"])
    with connect(args) as client:
        frame = traces_frame(
            args.start,
            args.end,
            sort_field=args.sort_field,
            sort_order=args.sort_order,
            max_rows=args.limit,
            backend="polars",
            progress=_progress(args),
            client=client,
            **_filters(args),
        )
    return _emit(args, frame, out)


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
    from .frames import spans_frame

    out = _plan_output(args, SPANS, TABLE_COLUMNS["spans"])
    ids = list(args.trace_ids)
    if args.from_traces:
        ids += _read_trace_ids(args.from_traces)
    if not ids:
        raise UsageError("give at least one TRACE_ID or --from-traces FILE.")
    with connect(args) as client:
        frame = spans_frame(
            ids, span_name=args.span_name, backend="polars", progress=_progress(args), client=client
        )
    return _emit(args, frame, out)


def _usage(args: argparse.Namespace) -> int:
    from .frames import session_usage_frame, tenant_usage_frame

    build = session_usage_frame if args.kind == "session" else tenant_usage_frame
    out = _plan_output(args, SESSION_USAGE if args.kind == "session" else TENANT_USAGE)
    ids = args.ids[0] if len(args.ids) == 1 else list(args.ids)
    with connect(args) as client:
        frame = build(
            ids, args.start, args.end, backend="polars", progress=_progress(args), client=client
        )
    return _emit(args, frame, out)


def _serve(args: argparse.Namespace) -> int:
    from .server import LocalNetra

    srv = LocalNetra(
        seed=args.seed,
        traces=args.traces,
        days=args.days,
        shape=args.shape,
        anchor=parse_time(args.anchor, "--anchor") if args.anchor else None,
        host=args.host,
        port=args.port,
        db=args.db,
        faults=_fault_config(args.fault),
        progress=None if args.no_progress else _LoadReport(),
    )
    try:
        with _terminate_raises_interrupt():
            srv.start()
            _print_ready(srv)
            _wait_forever()
    except KeyboardInterrupt:
        print("netra-frames serve: stopped", file=sys.stderr, flush=True)
    finally:
        srv.stop()
    return 0


def _print_ready(srv: Any) -> None:
    """Print where ``srv`` listens and its keys; the last line starts with ``ready:``."""
    lines = [
        f"Local Netra server at {srv.base_url}",
        f"  export NETRA_OTLP_ENDPOINT={srv.base_url}",
        f"  export NETRA_API_KEY={srv.api_key}   # synthetic org owning AceTech",
        *(
            f"  other synthetic organisation {org}: {key}"
            for org, key in srv.api_keys.items()
            if key != srv.api_key
        ),
        f"ready: serving {srv.base_url} until Ctrl-C",
    ]
    print("\n".join(lines), flush=True)


def _wait_forever() -> NoReturn:
    """Sleep until a signal raises; in short timed waits, so Ctrl-C always gets through.

    After ``import polars`` an untimed ``Event.wait()`` (or ``join()``) is never
    interrupted by SIGINT; a timed one returns to the interpreter, which raises.
    """
    never = threading.Event()
    while True:
        never.wait(0.2)


@contextmanager
def _terminate_raises_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` as Ctrl-C does."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: Ctrl-C or the caller ends it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _LoadReport:
    """Shows ``serve``'s data generation on stderr: a bar on a terminal, else a few lines."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._stage, self._done = "", 0
        self._is_tty = want_progress(None)
        self._began = self._last_line = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self._start(stage, total)
        elif self._bar is not None:
            self._bar.update(done - self._done)
        elif time.monotonic() - self._last_line >= 5:
            what = "traces generated" if stage == "generate" else "indexing steps done"
            self._line(f"{done:,} of {total:,} {what}")
        self._done = done
        if stage == "index" and done == total:
            if self._bar is not None:
                self._bar.close()
            self._line(f"data ready in {time.monotonic() - self._began:.1f}s")

    def _start(self, stage: str, total: int) -> None:
        if self._bar is not None:
            self._bar.close()
        self._stage, self._done = stage, 0
        what = f"generating {total:,} synthetic traces" if stage == "generate" else "indexing"
        self._line(f"{what}...")
        if self._is_tty:
            unit = "trace" if stage == "generate" else "step"
            self._bar = Progress(True, f"serve: {stage}", unit, total)

    def _line(self, text: str) -> None:
        print(f"netra-frames serve: {text}", file=sys.stderr, flush=True)
        self._last_line = time.monotonic()


def _export(args: argparse.Namespace) -> int:
    from .export import export_traces

    with connect(args) as client:
        result = export_traces(
            args.path,
            args.start,
            args.end,
            format=args.format,
            partition_by=args.partition_by,
            max_rows_per_file=args.max_rows_per_file,
            csv_safe=not args.no_csv_safe,
            progress=_progress(args),
            client=client,
            **_filters(args),
        )
    print(
        f"exported {result.rows} rows in {result.files} file(s) to {result.root} "
        f"({result.partitions_written} partition(s) written, {len(result.skipped)} already "
        "complete)",
        file=sys.stderr,
    )
    return 0


def _cache(args: argparse.Namespace) -> int:
    from .cache import cache_clear, cache_info

    where = args.cache_dir or None
    if args.action == "clear":
        before = cache_info(where)
        removed = cache_clear(args.older_than, cache=where)
        freed = before.size - cache_info(where).size
        print(f"removed {removed} entries ({_size(freed)}) from {before.path}")
        return 0
    info = cache_info(where)
    newest = info.newest_slice.isoformat() if info.newest_slice else "-"
    oldest = info.oldest_slice.isoformat() if info.oldest_slice else "-"
    print(f"path          {info.path}")
    print(f"size          {_size(info.size)} in {info.files} files")
    kinds = f"{info.trace_slices} trace days, {info.span_packs} span packs"
    print(f"entries       {info.entries} ({kinds})")
    print(f"queries       {info.queries}")
    print(f"span traces   {info.span_traces}")
    print(f"newest slice  {newest}")
    print(f"oldest slice  {oldest}")
    return 0


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def _fault_config(specs: Sequence[str] | None) -> Any:
    if not specs:
        return None
    from dataclasses import fields

    from .server.faults import FaultConfig

    known = {f.name: f for f in fields(FaultConfig)}
    values: dict[str, Any] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in known:
            raise UsageError(
                f"--fault {spec!r}: expected NAME=VALUE with NAME one of {', '.join(known)}."
            )
        values[name] = _fault_value(spec, raw.strip(), str(known[name].type))
    try:
        config = FaultConfig(**values)
        config.validate()
    except ValueError as exc:
        raise UsageError(f"--fault: {exc}") from None
    return config


def _fault_value(spec: str, raw: str, annotation: str) -> Any:
    """Parse one ``--fault`` value by the type its :class:`FaultConfig` field declares.

    ``schedule`` is ``N:KIND,...`` (``3:429,7:truncate``), ``every`` is ``KIND:N,...``.
    """
    if "None" in annotation and raw.lower() in ("none", "off", ""):
        return None
    try:
        if annotation.startswith("dict"):
            pairs = [item.partition(":") for item in raw.split(",") if item.strip()]
            if any(not sep for _, sep, _ in pairs):
                raise ValueError(raw)
            if annotation.startswith("dict[int"):
                return {int(k): v.strip() for k, _, v in pairs}
            return {k.strip(): int(v) for k, _, v in pairs}
        if annotation.startswith("bool"):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes", "on")
        if annotation.startswith("tuple"):
            return tuple(int(s) for s in raw.split(","))
        if annotation.startswith("int"):
            return int(raw)
        return float(raw)
    except ValueError:
        kind = {"bool": "true or false", "dict[int": "N:KIND,N:KIND,... (request numbers)",
                "dict[str": "KIND:N,KIND:N,... (every Nth request)"}  # fmt: skip
        expected = next((v for k, v in kind.items() if annotation.startswith(k)), "a number")
        raise UsageError(f"--fault {spec!r}: {raw!r} is not {expected}.") from None


def _demo(args: argparse.Namespace) -> int:
    from .demo import print_report, run_demo

    report = run_demo(args.out, traces=args.traces, seed=args.seed, progress=_progress(args))
    print_report(report)
    return 0 if report.usage_agrees else 1


# -- parser ----------------------------------------------------------------------------


def _add_traces(sub: SubParsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "traces",
        parents=parents,
        help="every trace of a window, as a table or file",
        description="Drain every page of traces in [--start, --end) into one table.",
        epilog="example: netra-frames traces --tenant AceTech --start 2026-11-01 "
        "--end 2026-12-01 -o november.parquet",
    )
    _window_options(p, "7 days before --end")
    _filter_options(p)
    p.add_argument("--sort-field", default="start_time", help="sort field (default start_time)")
    p.add_argument("--sort-order", default="desc", choices=("asc", "desc"), help="default desc")
    p.add_argument("--limit", type=_positive_int, help="stop after this many traces")
    p.set_defaults(handler=_traces)


def _add_spans(sub: SubParsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "spans",
        parents=parents,
        help="every span of some traces",
        description="Fetch the spans of the given traces concurrently, in input order.",
        epilog="example: netra-frames traces --tenant AceTech -o t.csv && "
        "netra-frames spans --from-traces t.csv --span-name generation -o spans.parquet",
    )
    p.add_argument("trace_ids", nargs="*", metavar="TRACE_ID", help="trace ids")
    p.add_argument(
        "--from-traces",
        metavar="FILE",
        help="read trace ids from the output of 'netra-frames traces' (CSV, TSV, NDJSON, JSON, "
        "Parquet) or a list of ids, one per line; '-' reads standard input",
    )
    p.add_argument("--span-name", help="only spans whose name or kind matches")
    p.set_defaults(handler=_spans)


def _add_usage(sub: SubParsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "usage",
        help="token, request and cost totals of sessions or tenants",
        description="Usage totals of one or more sessions or tenants over a window.",
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind in ("session", "tenant"):
        k = kinds.add_parser(
            kind,
            parents=parents,
            help=f"usage of {kind}s",
            description=f"Usage of one row per {kind} id over [--start, --end).",
            epilog=f"example: netra-frames usage {kind} "
            f"{'AceTech Globex' if kind == 'tenant' else 'SESSION_ID'} --start 2026-11-01",
        )
        k.add_argument("ids", nargs="+", metavar="ID", help=f"{kind} id(s)")
        _window_options(k, "7 days before --end")
        k.set_defaults(handler=_usage)


def _add_export(sub: SubParsers, parents: list[argparse.ArgumentParser]) -> None:
    from .export import DEFAULT_MAX_ROWS_PER_FILE, EXPORT_FORMATS, PARTITION_BY

    p = sub.add_parser(
        "export",
        parents=parents,
        help="stream traces to hive-partitioned Parquet/NDJSON/CSV files (resumable)",
        description="Write the traces of [--start, --end) under PATH page by page, one "
        "date=YYYY-MM-DD folder per UTC day with a _SUCCESS marker written last. Running "
        "the same command again skips finished days. Read the result with e.g. "
        "pl.scan_parquet('PATH/**/*.parquet', hive_partitioning=True).",
        epilog="example: netra-frames export out/traces --start 2026-11-01 --end 2026-12-01 "
        "--tenant AceTech",
    )
    p.add_argument("path", metavar="PATH", help="root folder of the export")
    _window_options(p, "7 days before --end")
    _filter_options(p)
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
    p.set_defaults(handler=_export)


def _add_serve(sub: SubParsers) -> None:
    p = sub.add_parser(
        "serve",
        help="run the local Netra-compatible server with synthetic data",
        epilog="example: netra-frames serve --port 8765 --fault latency_ms=50 "
        "--fault error_rate=0.1",
        description="Run the local Netra-compatible server (synthetic data) until Ctrl-C. "
        "The keys it prints are synthetic keys of this local server only.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    p.add_argument("--traces", type=int, default=2000, help="number of traces (default 2000)")
    p.add_argument("--days", type=float, default=30, help="days of history (default 30)")
    p.add_argument(
        "--shape",
        choices=("uniform", "skewed", "bursty"),
        default="uniform",
        help="how traces spread over the days: uniform (default), skewed (all in the last "
        "quarter) or bursty (half of them in one day)",
    )
    p.add_argument(
        "--anchor",
        metavar="TIME",
        help="end of the data window, ISO 8601 (default: now); fix it for reproducible data",
    )
    p.add_argument("--db", default=None, help="SQLite file to keep the data in (default memory)")
    p.add_argument(
        "--fault",
        action="append",
        metavar="NAME=VALUE",
        help="inject faults, e.g. --fault latency_ms=50 --fault error_rate=0.1, or on set "
        "requests: --fault schedule=3:429,7:truncate --fault every=503:10 (repeatable)",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="say nothing on stderr while making the data"
    )
    p.set_defaults(handler=_serve)


def _add_cache(sub: SubParsers) -> None:
    p = sub.add_parser(
        "cache",
        help="show or clear the local cache of traces and spans",
        description="Show what the local cache holds, or remove entries from it.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = actions.add_parser(
        "info",
        help="size, entries and newest day of the cache",
        description="Show the cache's directory, size, entries and newest day stored.",
        epilog="example: netra-frames cache info --cache-dir ~/.cache/netra-frames",
    )
    clear = actions.add_parser(
        "clear",
        help="remove cached entries",
        description="Remove every cached entry, or those stored longer ago than a duration.",
        epilog="example: netra-frames cache clear --older-than 30d",
    )
    clear.add_argument(
        "--older-than",
        metavar="DURATION",
        help="only entries stored more than this long ago: seconds or 90m, 12h, 30d, 2w",
    )
    for a in (info, clear):
        a.add_argument(
            "--cache-dir",
            metavar="DIR",
            help="the cache directory (default: $NETRA_FRAMES_CACHE, else the user cache dir)",
        )
        a.set_defaults(handler=_cache)


def _add_demo(sub: SubParsers) -> None:
    p = sub.add_parser(
        "demo",
        help="the tour: local server, AceTech's last 30 days, files and a chart",
        epilog="example: netra-frames demo --out /tmp/netra-demo",
        description="Start an embedded local server with synthetic data, drain tenant "
        "AceTech's last 30 days, fetch spans, and write Parquet, CSV and a PNG chart.",
    )
    p.add_argument("--out", default="netra-demo", help="output folder (default ./netra-demo)")
    p.add_argument("--traces", type=int, default=5000, help="synthetic traces (default 5000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    p.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    p.set_defaults(handler=_demo)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of every subcommand.

    Examples
    --------
    >>> build_parser().parse_args(["serve", "--port", "0"]).port
    0
    """
    parser = _Parser(
        prog="netra-frames",
        description="Netra usage and traces as typed data frames, from the command line. "
        "Connects with NETRA_API_KEY and NETRA_OTLP_ENDPOINT, like the Netra SDK.",
    )
    parser.add_argument("--version", action="version", version=f"netra-frames {__version__}")
    sub = cast(
        "SubParsers", parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    )
    parents: list[argparse.ArgumentParser] = [_connection_options(), _output_options()]
    _add_traces(sub, parents)
    _add_spans(sub, parents)
    _add_usage(sub, parents)
    _add_serve(sub)
    _add_demo(sub)
    _add_export(sub, [_connection_options()])
    _add_cache(sub)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Print a warning as one line on stderr (our own as ``netra-frames: warning: ...``)."""
    text = str(message).splitlines()[0] if str(message) else category.__name__
    print(f"netra-frames: warning: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Examples
    --------
    >>> main(["usage", "tenant", "AceTech", "--format", "csv"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return _run(handler, args)
    except KeyboardInterrupt:  # a second one: Polars raises its own, then Python's handler
        _ignore_sigint()
        print("netra-frames: interrupted", file=sys.stderr)
        return 130


def _ignore_sigint() -> None:
    """Ctrl-C again while we leave is ignored (the command is already stopping)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to ignore
        pass


def _run(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command; turn every failure into one line on stderr and an exit code."""
    try:
        with warnings.catch_warnings():
            # our warnings are one line on stderr, never a traceback (even under -W error)
            warnings.simplefilter("default", NetraWarning)
            warnings.showwarning = _show_warning
            return handler(args)
    except (UsageError, InvalidParameterError) as exc:
        print(f"netra-frames: error: {exc}", file=sys.stderr)
        return 2
    except NetraError as exc:
        print(f"netra-frames: error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:  # an optional extra is missing; the message names it
        print(f"netra-frames: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file we were asked to read or write
        print(f"netra-frames: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _ignore_sigint()
        print("netra-frames: interrupted", file=sys.stderr)
        return 130
