"""Writing frames out: CSV and TSV for spreadsheets, Excel, Parquet, NDJSON, JSON, text tables.

Used by the CLI and the demo; usable on its own::

    from netra_frames.output import write_frame
    write_frame(nf.traces_frame(backend="polars"), "traces.csv")

CSV and TSV are written for spreadsheets (see :func:`spreadsheet_ready`): plain decimals,
list cells joined with :data:`LIST_SEPARATOR`, times as ``2026-11-01T12:00:00.123Z`` (the
same style as in JSON and NDJSON) and formula-like cells neutralised.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import secrets
import shutil
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, overload

import polars as pl

from ._wire.convert import as_polars
from .errors import InvalidParameterError

__all__ = [
    "FILE_EXTENSIONS",
    "FILE_FORMATS",
    "FORMATS",
    "LIST_SEPARATOR",
    "FileFormat",
    "Format",
    "check_columns",
    "check_format",
    "check_target",
    "format_for_path",
    "iso_times",
    "neutralise_formulas",
    "render",
    "select_columns",
    "spreadsheet_ready",
    "write_frame",
]

Format = Literal["table", "csv", "tsv", "parquet", "ndjson", "json", "xlsx"]
FileFormat = Literal["csv", "tsv", "parquet", "ndjson", "json", "xlsx"]
FILE_FORMATS: tuple[FileFormat, ...] = ("csv", "tsv", "parquet", "ndjson", "json", "xlsx")
"""The formats a file is written in: each one holds every row and column of the frame."""
FORMATS: tuple[Format, ...] = ("table", *FILE_FORMATS)
"""Every format: :data:`FILE_FORMATS` and ``"table"``, a terminal view (at most 40 rows, long
text cut) that is only ever written to a stream, never to a file."""
FILE_EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".xlsx": "xlsx",
}
"""The file name extensions :func:`write_frame` knows, and the format each one asks for."""
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Cell starts that spreadsheets may execute as formulas (OWASP's CSV-injection list)."""
LIST_SEPARATOR = "; "
"""Joins the items of a list cell (``models``, ``violations``, ...) in CSV, TSV and Excel."""
SIGNIFICANT_DIGITS = 15
"""Significant digits of floats in CSV, TSV and tables (a spreadsheet keeps 15): no float noise."""
EXCEL_MAX_ROWS = 1_048_575
"""Data rows an Excel sheet holds below its header row."""
_TABLE_STR_LENGTH = 40
"""Longer text is cut (with ``…``) in tables."""
_EXCEL_FORMATS: dict[Any, str] = {
    pl.Float64: "0.0#########",
    pl.Datetime: "yyyy-mm-dd hh:mm:ss.000",
}


def format_for_path(path: str | os.PathLike[str], default: FileFormat = "csv") -> FileFormat:
    """Return the format a file name's extension asks for; ``default`` when it has none.

    Raises
    ------
    InvalidParameterError
        For an extension that is not one of :data:`FILE_EXTENSIONS` (``.txt``, ``.csv.gz``,
        ... would otherwise be written as something else than their name says).

    Examples
    --------
    >>> format_for_path("out/traces.parquet")
    'parquet'
    >>> format_for_path("out/traces")
    'csv'
    """
    suffix = Path(path).suffix
    if not suffix:
        return default
    fmt = FILE_EXTENSIONS.get(suffix.lower())
    if fmt is None:
        raise InvalidParameterError(
            f"cannot tell the format of {os.fspath(path)!r} from its extension {suffix!r}; "
            f"name the file with one of {', '.join(FILE_EXTENSIONS)}, or pass the format "
            f"(format=, --format): one of {', '.join(FILE_FORMATS)}."
        )
    return fmt


def check_format(fmt: str, *, to_file: bool = False) -> Format:
    """Return ``fmt`` if it is one of :data:`FORMATS` and writable here, else raise.

    With ``to_file``, only :data:`FILE_FORMATS` pass: a ``"table"`` shows at most 40 rows,
    so a file written as one would silently lose rows.

    Raises
    ------
    InvalidParameterError
        For an unknown format, or ``"table"`` with ``to_file``.
    ImportError
        For ``"xlsx"`` without XlsxWriter, saying which extra to install.

    Examples
    --------
    >>> check_format("tsv")
    'tsv'
    """
    if to_file and fmt == "table":
        raise InvalidParameterError(
            "format 'table' is a terminal view of at most 40 rows and is never written to a "
            f"file; pass the format (format=, --format) as one of {', '.join(FILE_FORMATS)}, "
            f"or name the file with one of {', '.join(FILE_EXTENSIONS)}."
        )
    for known in FORMATS:
        if fmt == known:
            if known == "xlsx":
                _require_xlsxwriter()
            return known
    raise InvalidParameterError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}.")


def _require_xlsxwriter() -> None:
    if importlib.util.find_spec("xlsxwriter") is None:
        raise ImportError(
            'writing Excel (.xlsx) files needs XlsxWriter: pip install "netra-frames[excel]".'
        )


def check_target(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if a file can be written there.

    Raises
    ------
    InvalidParameterError
        When ``path`` names a folder (an existing one, or one written with a trailing
        ``/``), so the error names the user's path, not a temporary file.

    Examples
    --------
    >>> check_target("out/traces.csv")
    PosixPath('out/traces.csv')
    """
    text = os.fspath(path)
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        raise InvalidParameterError(
            f"{text!r} is a folder; give a file path such as {os.path.join(text, 'traces.csv')!r}."
        )
    return Path(text)


def check_columns(columns: Sequence[str], known: Sequence[str]) -> list[str]:
    """Return ``columns`` without repeats if each is in ``known``, else raise.

    Raises
    ------
    InvalidParameterError
        Naming every unknown column and listing the known ones.

    Examples
    --------
    >>> check_columns(["b", "a", "b"], ["a", "b"])
    ['b', 'a']
    """
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise InvalidParameterError(
            f"unknown column(s) {', '.join(unknown)}; known: {', '.join(known)}."
        )
    return list(dict.fromkeys(columns))


def select_columns(frame: object, columns: Sequence[str]) -> pl.DataFrame:
    """Return a pandas or polars frame as polars with only ``columns``, in that order.

    Raises
    ------
    InvalidParameterError
        Naming every unknown column and listing the known ones.

    Examples
    --------
    >>> select_columns(pl.DataFrame({"a": [1], "b": [2]}), ["b"]).columns
    ['b']
    """
    polars_frame = as_polars(frame)
    return polars_frame.select(check_columns(columns, polars_frame.columns))


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


def iso_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Write every datetime column as ISO 8601 UTC text: ``2026-11-01T12:00:00.123Z``.

    Times are converted to UTC (a naive time is taken as UTC, as everywhere in this
    package). A column gets 3 fraction digits, or 6 or 9 when some value needs them.

    Examples
    --------
    >>> from datetime import datetime
    >>> iso_times(pl.DataFrame({"t": [datetime(2026, 11, 1, 12, 0, 0, 123000)]}))["t"][0]
    '2026-11-01T12:00:00.123Z'
    """
    exprs = []
    for name, dtype in frame.schema.items():
        if not isinstance(dtype, pl.Datetime):
            continue
        col = pl.col(name)
        utc = col.dt.convert_time_zone("UTC") if dtype.time_zone else col
        nanos = frame[name].dt.nanosecond()
        digits = 9 if (nanos % 1000 != 0).any() else 6 if (nanos % 1_000_000 != 0).any() else 3
        exprs.append(utc.dt.strftime(f"%Y-%m-%dT%H:%M:%S%.{digits}fZ"))
    return frame.with_columns(exprs) if exprs else frame


def _joined_lists(frame: pl.DataFrame) -> pl.DataFrame:
    """List cells joined with :data:`LIST_SEPARATOR`; structs and deeper nesting as JSON."""
    exprs: list[pl.Expr | pl.Series] = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List | pl.Array) and not dtype.inner.is_nested():
            items = pl.col(name).cast(pl.List(dtype.inner))
            if dtype.inner != pl.String:
                items = items.list.eval(pl.element().cast(pl.String))
            exprs.append(items.list.join(LIST_SEPARATOR, ignore_nulls=True))
        elif dtype.is_nested():
            values = frame[name].to_list()
            text = [None if v is None else json.dumps(v, default=str) for v in values]
            exprs.append(pl.Series(name, text, pl.String))
    return frame.with_columns(exprs) if exprs else frame


def _rounded(series: pl.Series) -> pl.Series:
    """Floats rounded to the digits a spreadsheet keeps, and ``-0.0`` as ``0.0``."""
    digits = 7 if series.dtype == pl.Float32 else SIGNIFICANT_DIGITS
    rounded = series.round_sig_figs(digits)
    keep = (rounded != 0).fill_null(True)
    zeroed: pl.Series = rounded.zip_with(keep, pl.Series([0.0], dtype=series.dtype))
    return zeroed.alias(series.name)


def _decimal_text(series: pl.Series) -> pl.Series:
    """Floats as plain decimal text: ``0.0000243``, ``0.3``, ``12.0``; never ``2.43e-05``."""
    text: pl.Series = _rounded(series).cast(pl.String)
    scientific = text.str.contains("e", literal=True).fill_null(False)
    if scientific.any():
        where = scientific.arg_true()
        text = text.scatter(where, [_positional(t) for t in text.gather(where).to_list()])
    return text


def _positional(text: str) -> str:
    plain = format(Decimal(text), "f")
    return plain if "." in plain else plain + ".0"


def _floats_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [n for n, t in frame.schema.items() if t in (pl.Float32, pl.Float64)]
    return frame.with_columns(_decimal_text(frame[n]) for n in floats) if floats else frame


def spreadsheet_ready(frame: object, *, csv_safe: bool = True) -> pl.DataFrame:
    """Return a pandas or polars frame as a polars frame of text and numbers for CSV/TSV.

    What a spreadsheet (or a reader of CSV) gets:

    * floats as plain decimal text with up to 15 significant digits, as a spreadsheet
      keeps them: ``0.0000243`` (not ``2.43e-05``), ``0.3`` (not ``0.30000000000000004``),
      ``12.0`` (a float column stays a float column when read back);
    * list cells as one text cell, items joined with :data:`LIST_SEPARATOR`
      (``"gpt-4o; gpt-4o-mini"``; an empty list is ``""``, a missing one stays empty);
      structs and lists of lists as JSON text;
    * times as ISO 8601 UTC text, ``2026-11-01T12:00:00.123Z``, as in JSON and NDJSON
      (:func:`iso_times`);
    * with ``csv_safe`` (the default), text cells a spreadsheet would run as a formula
      prefixed with ``'`` (:func:`neutralise_formulas`); numbers are never touched.

    Integers, booleans and dates are left as they are.

    Examples
    --------
    >>> out = spreadsheet_ready(pl.DataFrame({"cost": [2.43e-05], "models": [["a", "b"]]}))
    >>> out.write_csv()
    'cost,models\\n0.0000243,a; b\\n'
    """
    flat = iso_times(_joined_lists(as_polars(frame)))
    return _floats_as_text(neutralise_formulas(flat) if csv_safe else flat)


def _excel_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists joined, times as naive UTC (Excel has no time zones); numbers stay numbers."""
    if frame.height > EXCEL_MAX_ROWS:
        raise InvalidParameterError(
            f"an Excel sheet holds at most {EXCEL_MAX_ROWS:,} rows, the frame has "
            f"{frame.height:,}; write Parquet or CSV instead."
        )
    zoned = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    naive = [pl.col(n).dt.convert_time_zone("UTC").dt.replace_time_zone(None) for n in zoned]
    return _joined_lists(frame).with_columns(naive)


def _table(frame: pl.DataFrame, max_rows: int) -> bytes:
    """A borderless text table; cells never wrap (an id stays whole on one line).

    It is as wide as the terminal when the columns fit there, else as wide as they need.
    """
    floats = [n for n, t in frame.schema.items() if t in (pl.Float32, pl.Float64)]
    shown = _joined_lists(frame).with_columns(_rounded(frame[n]) for n in floats)
    shown = shown.with_columns(
        (pl.col(n).dt.convert_time_zone("UTC") if t.time_zone else pl.col(n)).dt.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        for n, t in frame.schema.items()
        if isinstance(t, pl.Datetime)
    )
    lengths = shown.select(pl.all().cast(pl.String).str.len_chars().max()).row(0)
    widths = [
        max(len(name), min(length or 4, _TABLE_STR_LENGTH + 1))
        for name, length in zip(shown.columns, lengths, strict=True)
    ]
    needed = 1 + sum(w + 3 for w in widths)
    terminal = max(shutil.get_terminal_size((160, 40)).columns, 80)
    with pl.Config(
        tbl_rows=max_rows,
        tbl_cols=-1,
        fmt_str_lengths=_TABLE_STR_LENGTH,
        fmt_float="full",
        tbl_width_chars=max(terminal, needed),
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_formatting="NOTHING",
    ):
        return (str(shown) + "\n").encode()


def render(frame: pl.DataFrame, fmt: Format, *, csv_safe: bool = True, max_rows: int = 40) -> bytes:
    """Serialise ``frame`` to bytes in ``fmt``.

    CSV and TSV go through :func:`spreadsheet_ready`; JSON and NDJSON keep lists and
    numbers as JSON but write times in the same ISO UTC style; Excel keeps numbers and
    times typed. ``table`` shows at most ``max_rows`` rows, sized to the terminal.

    Examples
    --------
    >>> render(pl.DataFrame({"a": [1], "b": ["@x"]}), "csv")
    b"a,b\\n1,'@x\\n"
    """
    if fmt in ("csv", "tsv"):
        ready = spreadsheet_ready(frame, csv_safe=csv_safe)
        return ready.write_csv(separator="," if fmt == "csv" else "\t").encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.write_parquet(buf)
        return buf.getvalue()
    if fmt == "ndjson":
        return iso_times(frame).write_ndjson().encode()
    if fmt == "json":
        return (iso_times(frame).write_json() + "\n").encode()
    if fmt == "xlsx":
        _require_xlsxwriter()
        buf = io.BytesIO()
        _excel_ready(frame).write_excel(
            buf,
            dtype_formats=_EXCEL_FORMATS,
            autofit=frame.height <= 10_000,
        )
        return buf.getvalue()
    if fmt == "table":
        return _table(frame, max_rows)
    raise InvalidParameterError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}.")


@overload
def write_frame(
    frame: object,
    path: str | os.PathLike[str],
    *,
    format: Format | None = ...,
    csv_safe: bool = ...,
    stream: IO[bytes] | None = ...,
) -> Path: ...
@overload
def write_frame(
    frame: object,
    path: None = ...,
    *,
    format: Format | None = ...,
    csv_safe: bool = ...,
    stream: IO[bytes] | None = ...,
) -> None: ...
def write_frame(
    frame: object,
    path: str | os.PathLike[str] | None = None,
    *,
    format: Format | None = None,
    csv_safe: bool = True,
    stream: IO[bytes] | None = None,
) -> Path | None:
    """Write a pandas or polars frame to ``path`` (atomically) or to a byte stream.

    A file gets every row and column: its format is ``format``, else the path's extension
    (:data:`FILE_EXTENSIONS`; a path without an extension is CSV), and ``"table"`` or an
    unknown extension (``.txt``, ...) is refused before anything is written. CSV and
    TSV are ready for spreadsheets (:func:`spreadsheet_ready`): plain decimals, lists
    joined with ``"; "``, times like ``2026-11-01T12:00:00.123Z``, and cells that start
    like a formula (``= + - @``) prefixed with ``'`` unless ``csv_safe=False``. Excel
    (``.xlsx``) needs the ``excel`` extra. Without ``path``, the frame goes to ``stream``
    (default: standard output) in ``format`` (default CSV; ``"table"`` is allowed there).

    Returns
    -------
    pathlib.Path or None
        The path written, or ``None`` when writing to a stream.

    Raises
    ------
    InvalidParameterError
        For an unknown format or extension, ``format="table"`` with a ``path``, or a
        ``path`` that is a folder; nothing is written.
    ImportError
        For Excel without XlsxWriter.

    Examples
    --------
    >>> write_frame(pl.DataFrame({"a": [1]}), "out.parquet")  # doctest: +SKIP
    PosixPath('out.parquet')
    """
    if path is None:
        fmt = check_format(format or "csv")
        data = render(as_polars(frame), fmt, csv_safe=csv_safe)
        out = stream if stream is not None else sys.stdout.buffer
        out.write(data)
        out.flush()
        return None
    fmt = check_format(format or format_for_path(path), to_file=True)
    target = check_target(path)
    data = render(as_polars(frame), fmt, csv_safe=csv_safe)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        # os.open with 0o666 honours the umask (mkstemp would leave the file 0600).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o666)
    except OSError as exc:  # name the user's path, not the temporary one
        raise type(exc)(exc.errno, exc.strerror, os.fspath(target)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
