"""Writing frames out: CSV and TSV for spreadsheets, Excel, Parquet, NDJSON, JSON, text tables.

Used by the CLI and the demo; usable on its own::

    from netra_frames.output import write_frame
    write_frame(nf.traces_frame(backend="polars"), "traces.csv")

CSV and TSV are written for spreadsheets (see :func:`spreadsheet_ready`): plain decimals,
list cells joined with :data:`LIST_SEPARATOR`, times as ``2026-11-01T12:00:00.123Z`` (the
same style as in JSON and NDJSON) and formula-like cells neutralised.

A file keeps what a user sees (:func:`writable`): a pandas Series, or a frame whose index
holds data (a ``groupby``, a ``pivot_table``, a ``MultiIndex``), is written with its index
as columns, named as ``reset_index()`` names them, and a Series' values as a column.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal, TypeVar, overload

import polars as pl

from ._atomic import save
from ._spreadsheet import (
    LIST_SEPARATOR,
    SERIES_VALUES,
    excel_ready,
    iso_times,
    joined_lists,
    neutralise_formulas,
    rounded,
    spreadsheet_ready,
    writable,
)
from .errors import InvalidParameterError

__all__ = [
    "FILE_EXTENSIONS",
    "FILE_FORMATS",
    "FORMATS",
    "HTML_EXTENSIONS",
    "LIST_SEPARATOR",
    "FileFormat",
    "Format",
    "SERIES_VALUES",
    "check_columns",
    "check_format",
    "check_target",
    "format_for_path",
    "named_format",
    "iso_times",
    "neutralise_formulas",
    "render",
    "select_columns",
    "spreadsheet_ready",
    "writable",
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
HTML_EXTENSIONS: dict[str, Literal["html"]] = {".html": "html", ".htm": "html"}
"""The extensions of an HTML page (:meth:`netra_frames.Report.write`)."""
F = TypeVar("F", bound=str)
_TABLE_STR_LENGTH = 40
"""Longer text is cut (with ``…``) in tables."""
_EXCEL_FORMATS: dict[Any, str] = {
    pl.Float64: "0.0#########",
    pl.Datetime: "yyyy-mm-dd hh:mm:ss.000",
}


def named_format(
    path: str | os.PathLike[str],
    format: F | None,
    extensions: Mapping[str, F],
    *,
    default: F,
) -> F:
    """Return the format a file is written in: the one rule of file names and formats.

    An extension of ``extensions`` names the format, and ``format``, when given, must be
    that one (``x.parquet`` is never written as CSV); any other extension (``.txt``) needs
    ``format``; a name without an extension is ``format``, else ``default``.
    :func:`write_frame`, :meth:`netra_frames.Report.write` and the command line's
    ``--output`` all follow it.

    Raises
    ------
    InvalidParameterError
        For a format the extension contradicts, or an extension that names no format
        when ``format`` is not given.

    Examples
    --------
    >>> named_format("out.pq", None, FILE_EXTENSIONS, default="csv")
    'parquet'
    >>> named_format("out.txt", "tsv", FILE_EXTENSIONS, default="csv")
    'tsv'
    """
    text, suffix = os.fspath(path), Path(path).suffix
    named = extensions.get(suffix.lower()) if suffix else None
    if named is not None and format is not None and format != named:
        own = [e for e, f in extensions.items() if f == format]
        rename = f"name it {' or '.join(own)}" if own else "choose another name"
        raise InvalidParameterError(
            f"{text!r} is named as {named} but format={format!r} asks for {format}; "
            f"{rename}, or leave format= out."
        )
    if suffix and named is None and format is None:
        kinds = set(extensions.values())
        if len(kinds) == 1:  # one format only (an HTML page): nothing to choose
            raise InvalidParameterError(
                f"{text!r} is named {suffix} but the file is {kinds.pop()}; name it "
                f"{' or '.join(extensions)}."
            )
        raise InvalidParameterError(
            f"cannot tell the format of {text!r} from its extension {suffix!r}; name the file "
            f"with one of {', '.join(extensions)}, or pass format=."
        )
    return named or format or default


def format_for_path(
    path: str | os.PathLike[str], format: str | None = None, *, default: FileFormat = "csv"
) -> FileFormat:
    """Return the format a frame is written to ``path`` in (:func:`named_format`'s rule).

    ``format`` is checked first: an unknown one, or ``"table"`` (a terminal view, never a
    file), is refused whatever the name.

    Raises
    ------
    InvalidParameterError
        For an unknown format, ``"table"``, a format the extension contradicts, or an
        extension not in :data:`FILE_EXTENSIONS` without ``format``.

    Examples
    --------
    >>> format_for_path("out/traces.parquet")
    'parquet'
    >>> format_for_path("out/traces")
    'csv'
    >>> format_for_path("out/traces", "tsv")
    'tsv'
    """
    fmt: FileFormat | None = None
    if format is not None:
        checked = check_format(format, to_file=True)
        assert checked != "table"  # refused with to_file
        fmt = checked
    return named_format(path, fmt, FILE_EXTENSIONS, default=default)


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
            "format='table' is a terminal view of at most 40 rows and is never written to a "
            "file; leave format= out (the file's extension picks the format) or pass one of "
            f"{', '.join(FILE_FORMATS)}."
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
    polars_frame = writable(frame)
    return polars_frame.select(check_columns(columns, polars_frame.columns))


def _table(frame: pl.DataFrame, max_rows: int) -> bytes:
    """A borderless text table; cells never wrap (an id stays whole on one line).

    It is as wide as the terminal when the columns fit there, else as wide as they need.
    """
    floats = [n for n, t in frame.schema.items() if t in (pl.Float32, pl.Float64)]
    shown = joined_lists(frame).with_columns(rounded(frame[n]) for n in floats)
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
        excel_ready(frame).write_excel(
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
    """Write a pandas or polars frame (or Series) to ``path`` (atomically) or to a byte stream.

    A file gets every row and column, and what a user sees of a pandas frame: an index
    that holds data (``groupby``, ``pivot_table``, ``MultiIndex``) becomes columns named as
    ``reset_index()`` names them, a Series' values a column of its name (see
    :func:`writable`). Its format is the one its name says (:func:`named_format`): the
    extension (:data:`FILE_EXTENSIONS`), which ``format`` must agree with; ``format`` for a
    name without one (else CSV) or with another extension (``.txt``, which without
    ``format`` is refused); ``"table"`` is never written to a file. Anything refused is
    refused before anything is written. CSV and
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
        For an unknown format or extension, a format the extension contradicts,
        ``format="table"`` with a ``path``, a ``path`` that is a folder, or a frame a file
        cannot hold faithfully (columns on several levels, two columns of one name);
        nothing is written.
    WriteError
        When the file cannot be written (a full disk, a read-only place, no permission),
        naming ``path``; no temporary file is left.
    ImportError
        For Excel without XlsxWriter.

    Examples
    --------
    >>> write_frame(pl.DataFrame({"a": [1]}), "out.parquet")
    PosixPath('out.parquet')
    >>> top = pd.DataFrame({"user_id": ["a", "b", "a"], "cost": [1.0, 2.0, 3.0]})
    >>> path = write_frame(top.groupby("user_id")["cost"].sum(), "top.csv")
    >>> path.read_text()
    'user_id,cost\\na,4.0\\nb,2.0\\n'
    """
    if path is None:
        fmt = check_format(format or "csv")
        data = render(writable(frame), fmt, csv_safe=csv_safe)
        out = stream if stream is not None else sys.stdout.buffer
        out.write(data)
        out.flush()
        return None
    fmt = check_format(format_for_path(path, format))  # (and XlsxWriter for .xlsx)
    target = check_target(path)
    return save(target, render(writable(frame), fmt, csv_safe=csv_safe))
