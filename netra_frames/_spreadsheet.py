"""Frames made ready for files and spreadsheets: what a user sees, plain decimals, joined
lists, ISO times, no formulas.

What the files of :mod:`netra_frames.output` (and of :mod:`netra_frames.export`) get:
:func:`writable` for every format (a pandas index or Series as the columns a user sees),
:func:`spreadsheet_ready` for CSV and TSV, :func:`excel_ready` for Excel, :func:`iso_times`
for JSON and NDJSON too.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import cast

import pandas as pd
import polars as pl

from .errors import InvalidParameterError

__all__ = [
    "EXCEL_MAX_ROWS",
    "FORMULA_PREFIXES",
    "LIST_SEPARATOR",
    "SERIES_VALUES",
    "SIGNIFICANT_DIGITS",
    "excel_ready",
    "iso_times",
    "joined_lists",
    "neutralise_formulas",
    "rounded",
    "spreadsheet_ready",
    "writable",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Cell starts that spreadsheets may execute as formulas (OWASP's CSV-injection list)."""
LIST_SEPARATOR = "; "
"""Joins the items of a list cell (``models``, ``violations``, ...) in CSV, TSV and Excel."""
SIGNIFICANT_DIGITS = 15
"""Significant digits of floats in CSV, TSV and tables (a spreadsheet keeps 15): no float noise."""
EXCEL_MAX_ROWS = 1_048_575
"""Data rows an Excel sheet holds below its header row."""
SERIES_VALUES = "value"
"""The column of a pandas or Polars Series' values when the Series has no name."""


def writable(frame: object) -> pl.DataFrame:
    """Return what a file of ``frame`` holds, as Polars: every column a user sees.

    * a Polars frame as it is; a Polars Series as one column (its name, else ``value``);
    * a pandas Series as a frame: its values as a column (its name, else ``value``);
    * a pandas index that holds data (a ``MultiIndex``, a named index, or labels that are
      not row numbers: what ``groupby``, ``pivot_table`` or ``set_index`` make) as
      columns before the others, named as ``reset_index()`` names them (``level_0``,
      ``index``, ...); an unnamed index of integers is row numbers and is not written;
    * column names that are not text (dates of a pivot) as their text.

    Raises
    ------
    InvalidParameterError
        For what a file cannot hold faithfully, saying why: columns on several levels,
        two columns of one name (an index named like a column counts, unless it holds the
        same values), or anything that is not a frame or a Series.

    Examples
    --------
    >>> s = pd.Series([3.5, 1.25], index=pd.Index(["ann", "bob"], name="user_id"), name="cost")
    >>> writable(s).columns
    ['user_id', 'cost']
    """
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.Series):
        return frame.to_frame(frame.name or SERIES_VALUES)
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(SERIES_VALUES if frame.name is None else frame.name)
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(
            f"expected a pandas or Polars DataFrame or Series, got {type(frame).__name__}."
        )
    if isinstance(frame.columns, pd.MultiIndex):
        raise InvalidParameterError(
            f"the frame's columns have {frame.columns.nlevels} levels, which one header row "
            "cannot hold; flatten them first, e.g. frame.columns = ['_'.join(map(str, c)) "
            "for c in frame.columns]."
        )
    frame = _with_index(frame)
    names = [str(c) for c in frame.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidParameterError(
            f"the column name(s) {', '.join(map(repr, twice))} appear more than once, and a "
            "file's columns need distinct names; rename them first."
        )
    if any(not isinstance(c, str) for c in frame.columns):
        frame = frame.set_axis(names, axis="columns")
    written: pl.DataFrame = pl.from_pandas(cast("pd.DataFrame", frame))
    return written


def _keeps_index(index: pd.Index) -> bool:
    """Whether ``index`` holds data (else it is row numbers, which a file does not need)."""
    if isinstance(index, pd.MultiIndex) or index.name is not None:
        return True
    return not pd.api.types.is_integer_dtype(index.dtype)


def _with_index(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its index as columns when it holds data (``reset_index()``)."""
    index = frame.index
    if not _keeps_index(index):
        return frame
    same = index.nlevels == 1 and index.name in frame.columns
    if same and pd.Index(frame[index.name]).equals(index):
        dropped: pd.DataFrame = frame.reset_index(drop=True)  # set_index(drop=False): once
        return dropped
    try:
        flat: pd.DataFrame = frame.reset_index()
    except ValueError as exc:  # an index named like a column, or a MultiIndex level
        raise InvalidParameterError(
            f"the frame's index would be written as a column, but {exc}; rename the index "
            "or the column first (frame.rename_axis(...), series.rename(...))."
        ) from None
    return flat


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


def joined_lists(frame: pl.DataFrame) -> pl.DataFrame:
    """Join list cells with :data:`LIST_SEPARATOR`; write structs and deeper nesting as JSON.

    Examples
    --------
    >>> joined_lists(pl.DataFrame({"models": [["a", "b"]]}))["models"][0]
    'a; b'
    """
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


def rounded(series: pl.Series) -> pl.Series:
    """Round floats to the digits a spreadsheet keeps, and write ``-0.0`` as ``0.0``.

    Examples
    --------
    >>> rounded(pl.Series([0.1 + 0.2, -0.0])).to_list()
    [0.3, 0.0]
    """
    digits = 7 if series.dtype == pl.Float32 else SIGNIFICANT_DIGITS
    rounded = series.round_sig_figs(digits)
    keep = (rounded != 0).fill_null(True)
    zeroed: pl.Series = rounded.zip_with(keep, pl.Series([0.0], dtype=series.dtype))
    return zeroed.alias(series.name)


def _decimal_text(series: pl.Series) -> pl.Series:
    """Floats as plain decimal text: ``0.0000243``, ``0.3``, ``12.0``; never ``2.43e-05``."""
    text: pl.Series = rounded(series).cast(pl.String)
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
    flat = iso_times(joined_lists(writable(frame)))
    return _floats_as_text(neutralise_formulas(flat) if csv_safe else flat)


def excel_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Join lists and make times naive UTC (Excel has no time zones); numbers stay numbers.

    Raises
    ------
    InvalidParameterError
        For more rows than an Excel sheet holds (:data:`EXCEL_MAX_ROWS`).
    """
    if frame.height > EXCEL_MAX_ROWS:
        raise InvalidParameterError(
            f"an Excel sheet holds at most {EXCEL_MAX_ROWS:,} rows, the frame has "
            f"{frame.height:,}; write Parquet or CSV instead."
        )
    zoned = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    naive = [pl.col(n).dt.convert_time_zone("UTC").dt.replace_time_zone(None) for n in zoned]
    return joined_lists(frame).with_columns(naive)
