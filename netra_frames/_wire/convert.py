"""Frame plumbing shared by the frame builders: id inputs, backend conversion, attributes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa

from .._validate import check_id
from ..config import Backend
from ..errors import InvalidParameterError
from ..schema import arrow_to_pandas_dtype, arrow_type

__all__ = [
    "as_polars",
    "concat_frames",
    "expand_attributes_polars",
    "normalise_ids",
    "pandas_ready",
    "tables_to_pandas",
    "to_backend",
]


def normalise_ids(
    value: object, name: str, *, column: str | None = None, skip_missing: bool = False
) -> list[str]:
    """Turn one id, an iterable of ids, a Series or a frame into unique ids in input order.

    Duplicates are dropped (first occurrence kept). Every id is validated here, before any
    request; a frame must have the column ``column``. With ``skip_missing``, missing values
    of an iterable or Series (``None``, ``pd.NA``, NaN: a trace without a session) are
    left out instead of refused.

    Examples
    --------
    >>> normalise_ids(pd.Series(["s1", None, "s2", "s1"]), "session_id", skip_missing=True)
    ['s1', 's2']
    """
    if isinstance(value, str):
        return [check_id(value, name)]
    if isinstance(value, pd.DataFrame | pl.DataFrame):
        if column is None or column not in value.columns:
            raise InvalidParameterError(
                f"{name}: the frame has no {column!r} column; pass a frame from "
                "traces_frame() or a list of ids."
            )
        value = value[column]
    if isinstance(value, pd.Series | pl.Series):
        value = value.to_list()
    if isinstance(value, bytes | bytearray | dict) or not isinstance(value, Iterable):
        raise InvalidParameterError(
            f"{name} must be an id (str), an iterable of ids, a Series or a frame, got "
            f"{type(value).__name__}."
        )
    ids = [check_id(v, name) for v in value if not (skip_missing and _is_missing(v))]
    return list(dict.fromkeys(ids))


def _is_missing(value: object) -> bool:
    """``None``, ``pd.NA`` or a float NaN: how pandas and Polars hold a missing id."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def to_backend(frame: pl.DataFrame, backend: Backend) -> pd.DataFrame | pl.DataFrame:
    """Return ``frame`` as the requested backend; pandas gets nullable, never-object dtypes."""
    if backend == "polars":
        return frame
    return tables_to_pandas([pandas_ready(frame)])


def pandas_ready(frame: pl.DataFrame) -> pa.Table:
    """Return ``frame`` as the Arrow table :func:`tables_to_pandas` converts.

    Strings stay ``large_string`` (what Polars exports and ``string[pyarrow]`` stores),
    so neither step copies them again.
    """
    fields = []
    for name, dtype in frame.schema.items():
        arrow = arrow_type(dtype)
        fields.append(pa.field(name, pa.large_string() if arrow == pa.string() else arrow))
    return frame.to_arrow().cast(pa.schema(fields))


def tables_to_pandas(tables: list[pa.Table]) -> pd.DataFrame:
    """Concatenate tables of :func:`pandas_ready` (in order) into one pandas frame.

    The list is emptied: Arrow buffers no other table holds are released column by column
    as pandas takes them over (``self_destruct``), so the peak stays near one copy.
    """
    same = all(t.schema.equals(tables[0].schema) for t in tables)
    # A new table (no copy) even for one: ``self_destruct`` must not break a table the
    # caller still holds (a DrainError's ``resume`` builds from the same batches again).
    table = pa.concat_tables(tables, promote_options="none" if same else "permissive")
    tables.clear()
    result: pd.DataFrame = table.to_pandas(
        types_mapper=_pandas_type, split_blocks=True, self_destruct=True
    )
    return result


def _pandas_type(arrow: pa.DataType) -> Any:
    if arrow == pa.large_string():
        return pd.StringDtype("pyarrow")
    if pa.types.is_timestamp(arrow):
        return None  # pyarrow's own conversion gives datetime64[us, UTC]
    return arrow_to_pandas_dtype(arrow)


def as_polars(frame: object) -> pl.DataFrame:
    """Return a pandas or polars frame as polars."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pd.DataFrame):
        return pl.from_pandas(frame)
    raise InvalidParameterError(
        f"expected a pandas or polars DataFrame, got {type(frame).__name__}."
    )


def expand_attributes_polars(frame: pl.DataFrame, column: str = "attributes") -> pl.DataFrame:
    """Append one ``<prefix><key>`` column per key found in ``column``'s JSON objects.

    The prefix is ``attr.`` for ``attributes`` (the documented spans columns), else the
    column's name and a dot (``resources.service.name``).

    Values keep their JSON type when a key has one type throughout (else they become JSON
    strings); nested objects and arrays become JSON strings.
    """
    if column not in frame.columns:
        raise InvalidParameterError(f"the frame has no {column!r} column to expand.")
    parsed = [_parse_object(text) for text in frame[column].to_list()]
    keys = list(dict.fromkeys(k for obj in parsed for k in obj))
    prefix = "attr." if column == "attributes" else f"{column}."
    series = [_attribute_series(prefix + key, [obj.get(key) for obj in parsed]) for key in keys]
    return frame.with_columns(series) if series else frame


def _parse_object(text: object) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _attribute_series(name: str, values: list[Any]) -> pl.Series:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int} or kinds <= {float, int} or kinds <= {bool} or kinds == {str}:
        return pl.Series(name, values)
    return pl.Series(
        name,
        [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values],
        dtype=pl.String,
    )


def concat_frames(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate frames in order without a copy; columns only some have are null elsewhere.

    Examples
    --------
    >>> concat_frames([pl.DataFrame({"a": [1]}), pl.DataFrame({"b": ["x"]})]).columns
    ['a', 'b']
    """
    if len(frames) == 1:
        return frames[0]
    try:
        return pl.concat(frames, how="vertical", rechunk=False)
    except (pl.exceptions.ShapeError, pl.exceptions.SchemaError):
        return pl.concat(frames, how="diagonal_relaxed", rechunk=False)
