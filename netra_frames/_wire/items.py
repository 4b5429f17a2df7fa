"""The exact slow path: the wire table of pages parsed with ``json.loads``.

It coerces column by column in Python (``3.0`` for an int, ``1`` for a boolean, a number
for a string, an object inside a list of strings) and raises ``ValueError`` for values
that cannot be coerced. An object in a ``read="json"`` field (or in an unknown field) is
written as compact JSON (``{"a":1}``). It also holds what both paths share: the wire
schema of a column table, the name of an unknown field, and the Arrow errors to catch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import polars as pl
import pyarrow as pa

from ..schema import DROPPED_WIRE_FIELDS, STRINGS, Column, arrow_type

__all__ = [
    "ARROW_ERRORS",
    "extra_name",
    "has_struct",
    "items_table",
    "json_str",
    "schema_of",
    "wire_schema",
]

ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


def wire_schema(columns: Sequence[Column]) -> pa.Schema:
    """Return the Arrow schema of the wire fields a column table reads.

    Examples
    --------
    >>> from netra_frames.schema import TRACES
    >>> wire_schema(TRACES).field("id").type
    DataType(string)
    """
    fields = []
    for c in columns:
        if c.read == "plain":
            fields.append(pa.field(c.source, arrow_type(c.dtype)))
        else:
            fields.append(pa.field(c.source, pa.string()))
    return pa.schema(fields)


@lru_cache(maxsize=64)
def _wire_schema_of(columns: tuple[Column, ...]) -> pa.Schema:
    return wire_schema(columns)


def schema_of(columns: Sequence[Column]) -> pa.Schema:
    """:func:`wire_schema`, computed once per column table (keyed by value)."""
    return _wire_schema_of(tuple(columns))


def items_table(items: list[dict[str, Any]], columns: Sequence[Column]) -> pa.Table:
    """Build the wire table of ``items``: one comprehension and one array per field."""
    schema = schema_of(columns)
    if not items:
        return schema.empty_table()
    arrays = []
    for c, field in zip(columns, schema, strict=True):
        values = [item.get(c.source) for item in items]
        if c.dtype == STRINGS:  # Arrow would read a string as a list of its characters
            _lists_only(values, c.source)
        if c.read == "json":
            values = [v if v is None or v.__class__ is str else json_str(v) for v in values]
        try:
            arrays.append(pa.array(values, type=field.type))
        except ARROW_ERRORS:
            arrays.append(_coerced_array(values, c, field.type))
    table = pa.Table.from_arrays(arrays, schema=schema)
    known = frozenset(schema.names) | DROPPED_WIRE_FIELDS
    odd = [item for item in items if not known.issuperset(item)]
    if odd:
        names = {c.name for c in columns}
        for key in dict.fromkeys(k for item in odd for k in item if k not in known):
            values = [item.get(key) for item in items]
            table = table.append_column(extra_name(key, names), _infer_array(values))
    return table


def _coerced_array(values: list[Any], c: Column, arrow: pa.DataType) -> pa.Array:
    coerce = _COERCERS.get(c.dtype, _to_str) if c.read == "plain" else _to_str
    try:
        return pa.array([None if v is None else coerce(v) for v in values], type=arrow)
    except ARROW_ERRORS as exc:
        raise ValueError(f"field {c.source!r} has a value of an unexpected type ({exc})") from None


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _dumps(value: Any) -> str:
    return _ENCODE(value)


def json_str(value: Any) -> str:
    """An object field as compact JSON (``{}`` without calling the encoder)."""
    return "{}" if value.__class__ is dict and not value else _ENCODE(value)


def _to_str(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


def _lists_only(values: list[Any], name: str) -> None:
    """Refuse a value of a list field that is not a list (or null), naming the field."""
    for value in values:
        if value is not None and value.__class__ is not list:
            raise ValueError(
                f"field {name!r} holds {value!r} where the contract has a list "
                f"(such as [{json.dumps(value)}])"
            )


def _to_strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return [_to_str(v) for v in value]


def _to_int(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool | float):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise ValueError(f"expected a boolean, got {value!r}")


_COERCERS: dict[pl.DataType, Callable[[Any], Any]] = {
    pl.String(): _to_str,
    pl.Int64(): _to_int,
    pl.Float64(): _to_float,
    pl.Boolean(): _to_bool,
    STRINGS: _to_strings,
}


def _infer_array(values: list[Any]) -> pa.Array:
    """An unknown field: infer its type; objects (anywhere) become JSON strings."""
    try:
        array = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        array = None
    if array is None or has_struct(array.type):
        array = pa.array([None if v is None else _to_str(v) for v in values], type=pa.string())
    return array


def has_struct(arrow: pa.DataType) -> bool:
    if pa.types.is_struct(arrow) or pa.types.is_map(arrow):
        return True
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return has_struct(arrow.value_type)
    return False


def extra_name(key: str, names: set[str]) -> str:
    return f"{key}_raw" if key in names else key
