"""Where and how a data command writes its frame, settled before any request is sent."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import DrainError
from ..output import (
    Format,
    check_columns,
    check_format,
    check_target,
    format_for_path,
    select_columns,
    write_frame,
)
from ..schema import Column
from ._parser import CommandFailed, UsageError, rows

__all__ = ["TABLE_COLUMNS", "Output", "check_folder", "emit", "fetch", "plan_output", "rows"]

T = TypeVar("T")

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "traces": ("trace_id", "start_time", "name", "user_id", "total_tokens", "total_cost"),
    "spans": ("span_id", "trace_id", "name", "model_name", "total_tokens", "total_cost"),
}
"""Columns a terminal table shows by default (``-c``/``--all-columns`` choose others)."""


@dataclass(frozen=True)
class Output:
    """Where and how a command writes its frame."""

    fmt: Format
    path: str | None  # None: standard output
    columns: tuple[str, ...] | None  # None: every column
    is_default_table: bool = False


def check_folder(path: Path, flag: str, *, is_file: bool) -> None:
    """Refuse ``path`` before any request when it cannot be written, naming ``flag``.

    ``is_file``: ``path`` is a file to write (its folder must be writable); else a folder
    to fill, which must not be an existing file. Writable means a file can be made there
    (one is, and removed at once), in the nearest folder that exists.

    Examples
    --------
    >>> check_folder(Path("out/t.csv"), "--output", is_file=True)  # doctest: +SKIP
    """
    if not is_file and path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {str(path)!r} is an existing file; give a folder.")
    ancestor = path.parent if is_file else path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag} {str(path)!r}: {str(ancestor)!r} is a file, not a folder.")
    try:  # a file made and removed there: os.access says yes to root, even in /proc
        probe = ancestor / f".netra-frames-probe-{secrets.token_hex(4)}"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"{flag} {str(path)!r}: cannot write in the folder {str(ancestor)!r} "
            f"({exc.strerror or exc}); choose another place."
        ) from None


def plan_output(
    args: argparse.Namespace, schema: Sequence[Column], table: Sequence[str] | None = None
) -> Output:
    """Check ``--format``/``--output``/``--columns`` against ``schema`` before fetching."""
    path = None if args.output in (None, "-") else args.output
    fmt: Format
    if path:  # the library's rule of names and formats (its words said as flags)
        fmt = check_format(format_for_path(path, args.format))
        check_folder(check_target(path), "--output", is_file=True)
    else:
        fmt = check_format(args.format or ("table" if sys.stdout.isatty() else "csv"))
    if not path and fmt in ("parquet", "xlsx") and sys.stdout.isatty():
        raise UsageError(f"refusing to write {fmt} to a terminal; pass --output FILE.")
    known = [c.name for c in schema]
    if args.columns is not None and args.all_columns:
        raise UsageError("--columns and --all-columns exclude each other; give one.")
    if args.columns is not None:
        names = [n.strip() for n in args.columns.split(",") if n.strip()]
        if not names:
            raise UsageError(f"--columns: give column names, e.g. {','.join(known[:3])}.")
        return Output(fmt, path, tuple(check_columns(names, known)))
    if fmt == "table" and table and not args.all_columns:
        return Output(fmt, path, tuple(table), is_default_table=True)
    return Output(fmt, path, None)


def _write(args: argparse.Namespace, frame: Any, out: Output, path: str | None) -> Any:
    shown = frame if out.columns is None else select_columns(frame, out.columns)
    write_frame(shown, path, format=out.fmt, csv_safe=not args.no_csv_safe)
    return shown


def fetch(args: argparse.Namespace, out: Output, what: str, call: Callable[[], T]) -> T:
    """Run the library ``call``; when it fails part way, keep its rows if ``--keep-partial``.

    The failure becomes a :class:`CommandFailed` naming the command line's way out.
    """
    try:
        return call()
    except DrainError as exc:
        reason = str(exc.cause or exc).rstrip(".")
        kept = len(exc.partial) if exc.partial is not None else 0
        if not args.keep_partial:
            raise CommandFailed(
                f"{what} stopped part way ({reason}); {rows(kept)} fetched were not written "
                "(pass --keep-partial to keep them, or run the command again)."
            ) from exc
        path = f"{out.path}.partial" if out.path else None
        _write(args, exc.partial, out, path)
        where = path or "standard output"
        raise CommandFailed(
            f"{what} stopped part way ({reason}); wrote the {rows(kept)} fetched so far to "
            f"{where} (incomplete)."
        ) from exc


def emit(args: argparse.Namespace, frame: Any, out: Output) -> int:
    """Write ``frame`` as planned; say on stderr what was written."""
    shown = _write(args, frame, out, out.path)
    if out.path:
        bare = not args.format and not Path(out.path).suffix
        how = " as CSV (the name has no extension; --format chooses)" if bare else ""
        print(f"wrote {rows(len(frame))} to {out.path}{how}", file=sys.stderr)
    elif out.is_default_table and shown.width < frame.width:
        print(
            f"{rows(len(frame))}; {shown.width} of {frame.width} columns shown "
            "(-c a,b,... to choose, --all-columns for all)",
            file=sys.stderr,
        )
    return 0
