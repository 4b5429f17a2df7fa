"""Writing frames out: CSV (formula-safe by default), Parquet, NDJSON, JSON and text tables.

Used by the CLI and the demo; usable on its own::

    from netra_frames.output import write_frame
    write_frame(nf.traces_frame(backend="polars"), "traces.csv")
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import IO, Literal

import polars as pl

from ._convert import as_polars
from .errors import InvalidParameterError

__all__ = [
    "FORMATS",
    "Format",
    "format_for_path",
    "neutralise_formulas",
    "write_frame",
]

Format = Literal["table", "csv", "parquet", "ndjson", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "parquet", "ndjson", "json")
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".txt": "table",
}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Cell starts that spreadsheets may execute as formulas (OWASP's CSV-injection list)."""


def format_for_path(path: str | os.PathLike[str], default: Format = "csv") -> Format:
    """Guess the format from a file name's extension.

    Examples
    --------
    >>> format_for_path("out/traces.parquet")
    'parquet'
    """
    return _EXTENSIONS.get(Path(path).suffix.lower(), default)


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix string cells that a spreadsheet would run as a formula with ``'``.

    Examples
    --------
    >>> neutralise_formulas(pl.DataFrame({"x": ["=1+1", "ok"]}))["x"].to_list()
    ["'=1+1", 'ok']
    """
    risky = pl.col(pl.String).str.starts_with(FORMULA_PREFIXES[0])
    for prefix in FORMULA_PREFIXES[1:]:
        risky = risky | pl.col(pl.String).str.starts_with(prefix)
    return frame.with_columns(
        pl.when(risky)
        .then(pl.lit("'") + pl.col(pl.String))
        .otherwise(pl.col(pl.String))
        .name.keep()
    )


def _flatten(frame: pl.DataFrame) -> pl.DataFrame:
    """Encode nested columns as JSON text, for formats that hold only scalars."""
    nested = [n for n, t in frame.schema.items() if isinstance(t, pl.List | pl.Struct | pl.Array)]
    if not nested:
        return frame
    return frame.with_columns(
        pl.Series(
            n,
            [None if v is None else json.dumps(v, default=str) for v in frame[n].to_list()],
            pl.String,
        )
        for n in nested
    )


def render(frame: pl.DataFrame, fmt: Format, *, csv_safe: bool = True, max_rows: int = 40) -> bytes:
    """Serialise ``frame`` to bytes in ``fmt``.

    Nested columns (lists) become JSON text in CSV; ``table`` shows at most ``max_rows``
    rows, sized to the terminal.

    Examples
    --------
    >>> render(pl.DataFrame({"a": [1], "b": ["@x"]}), "csv")
    b"a,b\\n1,'@x\\n"
    """
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.write_parquet(buf)
        return buf.getvalue()
    if fmt == "csv":
        flat = _flatten(frame)
        return (neutralise_formulas(flat) if csv_safe else flat).write_csv().encode()
    if fmt == "ndjson":
        return frame.write_ndjson().encode()
    if fmt == "json":
        return (frame.write_json() + "\n").encode()
    if fmt == "table":
        width = shutil.get_terminal_size((160, 40)).columns
        with pl.Config(
            tbl_rows=max_rows,
            tbl_cols=12,
            fmt_str_lengths=36,
            tbl_width_chars=max(width, 80),
            tbl_hide_column_data_types=True,
        ):
            return (str(frame) + "\n").encode()
    raise InvalidParameterError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}.")


def write_frame(
    frame: object,
    path: str | os.PathLike[str] | None = None,
    *,
    format: Format | None = None,
    csv_safe: bool = True,
    stream: IO[bytes] | None = None,
) -> None:
    """Write a pandas or polars frame to ``path`` (atomically) or to a byte stream.

    The format is ``format``, else the path's extension, else CSV. CSV cells that
    start like a formula (``= + - @``) are prefixed with ``'`` unless ``csv_safe=False``.

    Examples
    --------
    >>> write_frame(pl.DataFrame({"a": [1]}), "out.parquet")  # doctest: +SKIP
    """
    fmt = format or (format_for_path(path) if path is not None else "csv")
    data = render(as_polars(frame), fmt, csv_safe=csv_safe)
    if path is None:
        out = stream if stream is not None else sys.stdout.buffer
        out.write(data)
        out.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    # os.open with 0o666 honours the umask (mkstemp would leave the file 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
