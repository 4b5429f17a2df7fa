"""Page bytes to columns: each page is parsed once, then built into Arrow columns.

``decode_traces_page`` / ``decode_spans_page`` are the ``decode=`` callbacks given to
``NetraClient.request``: they raise ``ValueError`` for a body they cannot use (the client
fetches it again). :func:`finish` turns the decoded pages of one result into the frame's
columns, once per frame: renames, time parsing and derived columns are vectorised there.

Speed (see ``benchmarks/``): the target is a frame in at most 1.3x the time of a bare
``json.loads`` of the same bytes.

* Traces pages (up to 100 items) are parsed natively by ``pyarrow.json`` against the
  declared wire schema wrapped in the page envelope: no Python object per value. Unknown
  fields are kept with the type Arrow infers. A page the native reader refuses (a value of
  another type than declared, an object in an unknown field, a body spread over several
  lines, ...) takes the slow, correct path below.
* Spans pages are tiny (one trace's spans each), so a per-page Arrow build would cost more
  than the parse. They are parsed with ``json.loads`` and keep their items; :func:`finish`
  builds the columns of all consecutive such pages in one pass (one list comprehension
  and one ``pa.array`` per field). Objects in ``read="json"`` fields become compact JSON
  strings there; wrong types surface as :class:`~netra_frames.TransportError`.
* The slow path coerces column by column in Python (``3.0`` for an int, ``1`` for a
  boolean, a number for a string, an object inside a list of strings) and raises
  ``ValueError`` for values that cannot be coerced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

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

_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


class DecodedPage:
    """One decoded page: its rows (an Arrow table of wire fields) and where the next page is.

    A page decoded with ``json.loads`` keeps its ``items`` until :func:`finish` builds the
    columns of many pages at once; :attr:`table` builds (and caches) this page's own table
    on demand.
    """

    __slots__ = ("_columns", "_items", "_table", "has_next_page", "next_cursor")

    def __init__(
        self,
        table: pa.Table | None,
        has_next_page: bool,
        next_cursor: str | None,
        *,
        items: list[dict[str, Any]] | None = None,
        columns: Sequence[Column] = TRACES,
    ) -> None:
        if table is None and items is None:
            raise ValueError("a DecodedPage needs a table or items")
        self._table = table
        self._items = items
        self._columns = columns
        self.has_next_page = has_next_page
        self.next_cursor = next_cursor

    @property
    def table(self) -> pa.Table:
        """The page as an Arrow table of wire fields (built on first access)."""
        if self._table is None:
            assert self._items is not None
            self._table = _items_table(self._items, self._columns)
            self._items = None
        return self._table

    @property
    def items(self) -> list[dict[str, Any]] | None:
        """The parsed items while no table has been built for them, else ``None``."""
        return self._items if self._table is None else None

    @property
    def num_rows(self) -> int:
        """Items on this page."""
        items = self.items
        return len(items) if items is not None else int(self.table.num_rows)

    def __repr__(self) -> str:
        return (
            f"DecodedPage(num_rows={self.num_rows}, has_next_page={self.has_next_page}, "
            f"next_cursor={self.next_cursor!r})"
        )


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
_WIRE = {id(TRACES): _TRACES_WIRE, id(SPANS): _SPANS_WIRE}


def _schema_of(columns: Sequence[Column]) -> pa.Schema:
    schema = _WIRE.get(id(columns))
    return schema if schema is not None else wire_schema(columns)


def _envelope(schema: pa.Schema) -> pa.Schema:
    item = pa.struct([*schema, pa.field("cursor", pa.string())])
    info = pa.struct([pa.field("hasNextPage", pa.bool_())])
    return pa.schema([pa.field("data", pa.struct([("data", pa.list_(item)), ("pageInfo", info)]))])


_TRACES_PARSE = pa_json.ParseOptions(
    explicit_schema=_envelope(_TRACES_WIRE), unexpected_field_behavior="infer"
)


def empty_table(columns: Sequence[Column]) -> pa.Table:
    """Return an empty table of the wire fields of ``columns``.

    Examples
    --------
    >>> empty_table(TRACES).num_rows
    0
    """
    return _schema_of(columns).empty_table()


def decode_traces_page(content: bytes) -> DecodedPage:
    """Decode the body of one ``POST /sdk/traces`` page into columns.

    Examples
    --------
    >>> page = decode_traces_page(b'{"data":{"data":[],"pageInfo":{"hasNextPage":false}}}')
    >>> page.num_rows, page.has_next_page
    (0, False)
    """
    page = _native_page(content, TRACES, _TRACES_PARSE)
    return page if page is not None else _decode(content, TRACES)


def decode_spans_page(content: bytes) -> DecodedPage:
    """Decode the body of one ``GET /sdk/traces/{id}/spans`` page (columns built later).

    Examples
    --------
    >>> decode_spans_page(b'{"data":{"data":[],"pageInfo":{"hasNextPage":false}}}').num_rows
    0
    """
    items, has_next, cursor = parse_envelope(content)
    return DecodedPage(None, has_next, cursor, items=items, columns=SPANS)


def _native_page(
    content: bytes, columns: Sequence[Column], options: pa_json.ParseOptions
) -> DecodedPage | None:
    """Parse a page with ``pyarrow.json``; ``None`` when the slow path must decide."""
    read = pa_json.ReadOptions(use_threads=False, block_size=len(content) + 64)
    try:
        parsed = pa_json.read_json(pa.py_buffer(content), read, options)
    except _ARROW_ERRORS:
        return None
    if parsed.num_rows != 1 or parsed.column("data").null_count:
        return None
    block = parsed.column("data").chunk(0)
    has_next = block.field("pageInfo").field("hasNextPage")[0].as_py()
    data = block.field("data")
    if not isinstance(has_next, bool) or data.null_count:
        return None
    table = pa.Table.from_struct_array(data.flatten())
    if any(_has_struct(f.type) for f in table.schema):
        return None
    cursors = table.column("cursor")
    cursor = cursors[-1].as_py() if len(cursors) else None
    if has_next and not cursor:
        raise ValueError("hasNextPage is true but the last item has no cursor")
    schema = _schema_of(columns)
    names = {c.name for c in columns}
    known = set(schema.names) | DROPPED_WIRE_FIELDS
    extra = [n for n in table.column_names if n not in known]
    arrays = [table.column(n) for n in schema.names] + [table.column(n) for n in extra]
    fields = [*schema, *(pa.field(_extra_name(n, names), table.schema.field(n).type)
                         for n in extra)]  # fmt: skip
    return DecodedPage(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), has_next, cursor)


def _extra_name(key: str, names: set[str]) -> str:
    return f"{key}_raw" if key in names else key


def _decode(content: bytes, columns: Sequence[Column]) -> DecodedPage:
    items, has_next, cursor = parse_envelope(content)
    return DecodedPage(_items_table(items, columns), has_next, cursor)


def _items_table(items: list[dict[str, Any]], columns: Sequence[Column]) -> pa.Table:
    """Build the wire table of ``items``: one comprehension and one array per field."""
    schema = _schema_of(columns)
    if not items:
        return schema.empty_table()
    arrays = []
    for c, field in zip(columns, schema, strict=True):
        values = [item.get(c.source) for item in items]
        if c.read == "json":
            values = [v if v is None or v.__class__ is str else _json_str(v) for v in values]
        try:
            arrays.append(pa.array(values, type=field.type))
        except _ARROW_ERRORS:
            arrays.append(_coerced_array(values, c, field.type))
    table = pa.Table.from_arrays(arrays, schema=schema)
    known = frozenset(schema.names) | DROPPED_WIRE_FIELDS
    odd = [item for item in items if not known.issuperset(item)]
    if odd:
        names = {c.name for c in columns}
        for key in dict.fromkeys(k for item in odd for k in item if k not in known):
            values = [item.get(key) for item in items]
            table = table.append_column(_extra_name(key, names), _infer_array(values))
    return table


def _coerced_array(values: list[Any], c: Column, arrow: pa.DataType) -> pa.Array:
    coerce = _COERCERS.get(c.dtype, _to_str) if c.read == "plain" else _to_str
    try:
        return pa.array([None if v is None else coerce(v) for v in values], type=arrow)
    except _ARROW_ERRORS as exc:
        raise ValueError(f"field {c.source!r} has a value of an unexpected type ({exc})") from None


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _dumps(value: Any) -> str:
    return _ENCODE(value)


def _json_str(value: Any) -> str:
    """An object field as compact JSON (``{}`` without calling the encoder)."""
    return "{}" if value.__class__ is dict and not value else _ENCODE(value)


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


def finish(pages: Sequence[pa.Table | DecodedPage], columns: Sequence[Column]) -> pl.DataFrame:
    """Concatenate decoded pages and build the frame's declared columns (vectorised).

    ``pages`` may mix Arrow tables and :class:`DecodedPage`; the items of consecutive
    pages that have not built a table yet are built together, in one pass.

    Raises
    ------
    TransportError
        When a value does not parse as its declared type.

    Examples
    --------
    >>> finish([], TRACES).columns[:2]
    ['trace_id', 'name']
    """
    try:
        tables = _tables(pages, columns)
    except ValueError as exc:
        raise TransportError(f"the server sent a value that does not parse: {exc}") from exc
    if not tables:
        table = empty_table(columns)
    elif len(tables) == 1:
        table = tables[0]
    elif all(t.schema.equals(tables[0].schema) for t in tables):
        table = pa.concat_tables(tables)
    else:
        table = pa.concat_tables(tables, promote_options="permissive")
    table = _cast_times(table.combine_chunks(), columns)
    raw = pl.from_arrow(table, rechunk=False)
    assert isinstance(raw, pl.DataFrame)
    known = {c.source for c in columns}
    exprs = [_column_expr(c, raw.schema[c.source]) for c in columns]
    extra = [pl.col(n) for n in raw.columns if n not in known]
    try:
        frame = raw.select(*exprs, *extra)
    except pl.exceptions.PolarsError as exc:
        raise TransportError(f"the server sent a value that does not parse: {exc}") from exc
    if columns is SPANS:
        elapsed = (pl.col("end_time") - pl.col("start_time")).dt.total_milliseconds()
        frame = frame.with_columns(pl.coalesce("latency_ms", elapsed).alias("latency_ms"))
    return frame


def _tables(pages: Sequence[pa.Table | DecodedPage], columns: Sequence[Column]) -> list[pa.Table]:
    tables: list[pa.Table] = []
    pending: list[dict[str, Any]] = []
    for page in pages:
        items = page.items if isinstance(page, DecodedPage) else None
        if items is not None:
            pending.extend(items)
            continue
        if pending:
            tables.append(_items_table(pending, columns))
            pending = []
        table = page.table if isinstance(page, DecodedPage) else page
        if table.num_rows or not tables:
            tables.append(table)
    if pending:
        tables.append(_items_table(pending, columns))
    return tables


_TIME = pa.timestamp("us", tz="UTC")


def _cast_times(table: pa.Table, columns: Sequence[Column]) -> pa.Table:
    """Parse ISO time columns in Arrow (C++), leaving odd forms to Polars' parser."""
    for c in columns:
        if c.read != "iso" or c.source not in table.column_names:
            continue
        index = table.column_names.index(c.source)
        column = table.column(index)
        if not pa.types.is_string(column.type):
            continue
        try:
            parsed = pc.cast(column, _TIME)
        except _ARROW_ERRORS:
            continue
        table = table.set_column(index, c.source, parsed)
    return table


def _column_expr(c: Column, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(c.source)
    if c.read == "iso" and dtype == pl.String():
        expr = col.str.to_datetime(time_unit="us", time_zone="UTC")
    elif c.read == "epoch_ms":
        expr = col.cast(pl.Int64).cast(pl.Datetime("ms", "UTC")).dt.cast_time_unit("us")
    else:
        expr = col.cast(c.dtype)
    return expr.alias(c.name)
