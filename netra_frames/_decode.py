"""Page bytes to columns: each page is parsed once into an Arrow table of wire fields.

``decode_traces_page`` / ``decode_spans_page`` are the ``decode=`` callbacks given to
``NetraClient.request``: they raise ``ValueError`` for a body they cannot use (the client
fetches it again). :func:`finish` turns the decoded pages of one result into the frame's
columns, once per frame: renames, time parsing and derived columns are vectorised there.

Fast path: ``json.loads`` then ``pa.Table.from_pylist`` with the declared wire schema (the
conversion runs in C++). A page with values of unexpected shape (an object inside a list,
a number where a string is declared, ...) takes the slow path, which coerces column by
column in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from ._pages import parse_envelope
from .errors import TransportError
from .schema import DROPPED_WIRE_FIELDS, SPANS, STRINGS, TRACES, Column, arrow_type

__all__ = [
    "DecodedPage",
    "decode_spans_page",
    "decode_traces_page",
    "empty_table",
    "finish",
    "wire_schema",
]


@dataclass(frozen=True)
class DecodedPage:
    """One page as columns: an Arrow table of wire fields plus where the next page is."""

    table: pa.Table
    has_next_page: bool
    next_cursor: str | None

    @property
    def num_rows(self) -> int:
        """Items on this page."""
        return int(self.table.num_rows)


def wire_schema(columns: Sequence[Column]) -> pa.Schema:
    """Return the Arrow schema of the wire fields a column table reads.

    Examples
    --------
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


_TRACES_WIRE = wire_schema(TRACES)
_SPANS_WIRE = wire_schema(SPANS)


def empty_table(columns: Sequence[Column]) -> pa.Table:
    """Return an empty table of the wire fields of ``columns``."""
    return wire_schema(columns).empty_table()


def decode_traces_page(content: bytes) -> DecodedPage:
    """Decode the body of one ``POST /sdk/traces`` page into columns.

    Examples
    --------
    >>> page = decode_traces_page(b'{"data":{"data":[],"pageInfo":{"hasNextPage":false}}}')
    >>> page.num_rows, page.has_next_page
    (0, False)
    """
    return _decode(content, TRACES, _TRACES_WIRE)


def decode_spans_page(content: bytes) -> DecodedPage:
    """Decode the body of one ``GET /sdk/traces/{id}/spans`` page into columns.

    Examples
    --------
    >>> decode_spans_page(b'{"data":{"data":[],"pageInfo":{"hasNextPage":false}}}').num_rows
    0
    """
    return _decode(content, SPANS, _SPANS_WIRE)


def _decode(content: bytes, columns: Sequence[Column], schema: pa.Schema) -> DecodedPage:
    items, has_next, cursor = parse_envelope(content)
    if not items:
        return DecodedPage(schema.empty_table(), has_next, cursor)
    for c in columns:
        if c.read == "json":
            _objects_to_json(items, c.source)
    try:
        table = pa.Table.from_pylist(items, schema=schema)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        table = _slow_table(items, columns, schema)
    known = set(schema.names) | DROPPED_WIRE_FIELDS
    extra = [k for k in dict.fromkeys(k for item in items for k in item) if k not in known]
    if extra:
        names = {c.name for c in columns}
        for key in extra:
            name = f"{key}_raw" if key in names else key
            table = table.append_column(name, _infer_array([item.get(key) for item in items]))
    return DecodedPage(table, has_next, cursor)


def _objects_to_json(items: list[dict[str, Any]], key: str) -> None:
    for item in items:
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            item[key] = "{}" if value == {} else _dumps(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _slow_table(
    items: list[dict[str, Any]], columns: Sequence[Column], schema: pa.Schema
) -> pa.Table:
    arrays = []
    for c, field in zip(columns, schema, strict=True):
        coerce = _COERCERS.get(c.dtype, _to_str) if c.read == "plain" else _to_str
        try:
            values = [None if (v := item.get(c.source)) is None else coerce(v) for item in items]
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            raise ValueError(
                f"field {c.source!r} has a value of an unexpected type ({exc})"
            ) from None
    return pa.Table.from_arrays(arrays, schema=schema)


def _to_str(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


def _to_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
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
    if array is None or _has_struct(array.type):
        array = pa.array([None if v is None else _to_str(v) for v in values], type=pa.string())
    return array


def _has_struct(arrow: pa.DataType) -> bool:
    if pa.types.is_struct(arrow) or pa.types.is_map(arrow):
        return True
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return _has_struct(arrow.value_type)
    return False


def finish(tables: Sequence[pa.Table], columns: Sequence[Column]) -> pl.DataFrame:
    """Concatenate decoded pages and build the frame's declared columns (vectorised).

    Examples
    --------
    >>> finish([], TRACES).columns[:2]
    ['trace_id', 'name']
    """
    if not tables:
        table = empty_table(columns)
    elif len(tables) == 1:
        table = tables[0]
    else:
        table = pa.concat_tables(tables, promote_options="permissive")
    raw = pl.from_arrow(table, rechunk=True)
    assert isinstance(raw, pl.DataFrame)
    known = {c.source for c in columns}
    exprs = [_column_expr(c) for c in columns]
    extra = [pl.col(n) for n in raw.columns if n not in known]
    try:
        frame = raw.select(*exprs, *extra)
    except pl.exceptions.PolarsError as exc:
        raise TransportError(f"the server sent a value that does not parse: {exc}") from exc
    if columns is SPANS:
        elapsed = (pl.col("end_time") - pl.col("start_time")).dt.total_milliseconds()
        frame = frame.with_columns(pl.coalesce("latency_ms", elapsed).alias("latency_ms"))
    return frame


def _column_expr(c: Column) -> pl.Expr:
    col = pl.col(c.source)
    if c.read == "iso":
        expr = col.str.to_datetime(time_unit="us", time_zone="UTC")
    elif c.read == "epoch_ms":
        expr = col.cast(pl.Int64).cast(pl.Datetime("ms", "UTC")).dt.cast_time_unit("us")
    else:
        expr = col.cast(c.dtype)
    return expr.alias(c.name)
