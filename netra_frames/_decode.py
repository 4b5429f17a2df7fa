"""Page bytes to columns: each page is parsed once, then built into Arrow columns.

``decode_traces_page`` / ``decode_spans_page`` are the ``decode=`` callbacks given to
``NetraClient.request``: they raise ``ValueError`` for a body they cannot use (the client
fetches it again). :func:`finish` turns the decoded pages of one result into the frame's
columns, once per frame: renames, time parsing and derived columns are vectorised there.

Speed (see ``benchmarks/``): the target is a frame in at most 1.3x the time of a bare
``json.loads`` of the same bytes.

* Fast path (both resources): a per-page parse costs more than ``json.loads`` (a
  ``pyarrow.json`` call has a fixed cost), so the decode callback only reads the
  envelope off the bytes and keeps the body: one line, the server's exact
  ``{"data":{"data":[{`` start and ``"}],"pageInfo":{"hasNextPage":...}}}`` end, the last
  item's ``cursor`` as its last field (a traces page also counts its items: as many
  ``"cursor":"`` as ``{"id":"``). :func:`finish` (or a drain packing its pages as it
  goes) parses the bodies of all consecutive such pages with ONE ``pyarrow.json`` call,
  one page per line, against the declared wire schema in the envelope, and checks every
  page's ``hasNextPage``, last cursor and item count against what paging used. Unknown
  fields are kept with the type Arrow infers. ``read="json"`` fields are not declared:
  strings stay strings; a field holding objects (or other non-strings) is read again as
  text by Polars' NDJSON reader (which renders a JSON value as text with ``", "`` and
  ``": "`` separators) and each distinct text is re-encoded once as compact JSON
  (``{"a":1}``), exactly as the slow path writes it. Anything else (a body with a line
  break, a value of another type than declared, a field mixing strings and objects, a
  float inside an object, an object in an unknown field, ...) takes the ``json.loads``
  path for those pages.
* A traces page off the fast path is parsed on its own by ``pyarrow.json`` (same schema,
  same checks); a spans page off it is parsed with ``json.loads`` and keeps its items
  for :func:`finish`, which builds the columns of consecutive such pages in one pass.
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
    "finish_parts",
    "pack_pages",
    "page_weight",
    "wire_schema",
]

_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


class DecodedPage:
    """One decoded page: its rows (an Arrow table of wire fields) and where the next page is.

    A page on the fast path keeps its body (:attr:`raw`; a traces page also its item
    count, read off the bytes) and a spans page off it its parsed ``items``, until
    :func:`finish` builds the columns of many pages at once; :attr:`table` builds (and
    caches) this page's own table on demand.
    """

    __slots__ = ("_columns", "_items", "_raw", "_rows", "_table", "has_next_page", "next_cursor")

    def __init__(
        self,
        table: pa.Table | None,
        has_next_page: bool,
        next_cursor: str | None,
        *,
        items: list[dict[str, Any]] | None = None,
        raw: bytes | None = None,
        rows: int | None = None,
        columns: Sequence[Column] = TRACES,
    ) -> None:
        if table is None and items is None and raw is None:
            raise ValueError("a DecodedPage needs a table, items or a raw body")
        self._table = table
        self._items = items
        self._raw = raw
        self._rows = rows
        self._columns = columns
        self.has_next_page = has_next_page
        self.next_cursor = next_cursor

    @property
    def table(self) -> pa.Table:
        """The page as an Arrow table of wire fields (built on first access)."""
        if self._table is None:
            if self._raw is not None:
                self._table = _raw_table([self], self._columns)
            else:
                assert self._items is not None
                self._table = _items_table(self._items, self._columns)
            self._items = self._raw = None
        return self._table

    @property
    def raw(self) -> bytes | None:
        """The body kept for a batched parse while no table has been built, else ``None``."""
        return self._raw if self._table is None else None

    @property
    def items(self) -> list[dict[str, Any]] | None:
        """The parsed items while no table has been built for them, else ``None``."""
        return self._items if self._table is None else None

    @property
    def num_rows(self) -> int:
        """Items on this page (a kept body without a count is parsed for this)."""
        if self._rows is not None:
            return self._rows
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
    envelope = _scan_envelope(content)
    if envelope is not None:
        rows = content.count(_CURSOR)
        if rows == content.count(b'{"id":"'):  # one cursor per item, nowhere else
            return DecodedPage(None, *envelope, raw=content, rows=rows, columns=TRACES)
    page = _native_page(content, TRACES, _TRACES_PARSE)
    return page if page is not None else _decode(content, TRACES)


def decode_spans_page(content: bytes) -> DecodedPage:
    """Decode the body of one ``GET /sdk/traces/{id}/spans`` page (columns built later).

    Examples
    --------
    >>> decode_spans_page(b'{"data":{"data":[],"pageInfo":{"hasNextPage":false}}}').num_rows
    0
    """
    envelope = _scan_envelope(content)
    if envelope is not None:
        return DecodedPage(None, *envelope, raw=content, columns=SPANS)
    items, has_next, cursor = parse_envelope(content)
    return DecodedPage(None, has_next, cursor, items=items, columns=SPANS)


_HEAD = b'{"data":{"data":[{'
_TAILS = {
    True: b'"}],"pageInfo":{"hasNextPage":true}}}',
    False: b'"}],"pageInfo":{"hasNextPage":false}}}',
}
_CURSOR = b'"cursor":"'
_MAX_CURSOR = 1024


def _scan_envelope(content: bytes) -> tuple[bool, str] | None:
    """``(hasNextPage, last cursor)`` read off the bytes of a one-line page, else ``None``.

    Only the server's exact form is accepted: the body starts with the envelope and a
    first item, ends with the last item's ``"cursor":"..."`` then ``}],"pageInfo":...}}}``,
    and holds no line break (pages are joined one per line). The batched parse in
    :func:`finish` checks both values again against the parsed pages.
    """
    if not content.startswith(_HEAD) or b"\n" in content or b"\r" in content:
        return None
    for has_next, tail in _TAILS.items():
        if content.endswith(tail):
            end = len(content) - len(tail)
            start = content.rfind(_CURSOR, max(0, end - _MAX_CURSOR), end)
            if start < 0:
                return None
            cursor = content[start + len(_CURSOR) : end]
            if b'"' in cursor or b"\\" in cursor or not cursor:
                return None
            try:
                return has_next, cursor.decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


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
    extra_fields = [pa.field(_extra_name(n, names), table.schema.field(n).type) for n in extra]
    fields = [*schema, *extra_fields]
    return DecodedPage(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), has_next, cursor)


def _raw_table(pages: Sequence[DecodedPage], columns: Sequence[Column]) -> pa.Table:
    """Build the wire table of pages kept as bodies: one batched parse, else ``json.loads``."""
    raws = [p._raw for p in pages if p._raw is not None]
    table = _batched_table(raws, columns) if len(raws) == len(pages) else None
    if table is not None and _pages_agree(table, pages):
        return _wire_columns(table.column("data").combine_chunks().field("data").flatten(), columns)
    items: list[dict[str, Any]] = []
    for page in pages:
        assert page._raw is not None
        page_items, has_next, cursor = parse_envelope(page._raw)
        if (has_next, cursor) != (page.has_next_page, page.next_cursor) or (
            page._rows is not None and page._rows != len(page_items)
        ):
            raise ValueError("a page's cursor or item count read off its bytes was wrong")
        items.extend(page_items)
    return _items_table(items, columns)


def _json_schema(columns: Sequence[Column]) -> pa.Schema:
    """The page envelope with every field declared except ``read="json"`` ones (inferred)."""
    declared = [f for c, f in zip(columns, _schema_of(columns), strict=True) if c.read != "json"]
    return _envelope(pa.schema(declared))


_BATCH_PARSE = {
    id(c): pa_json.ParseOptions(explicit_schema=_json_schema(c), unexpected_field_behavior="infer")
    for c in (TRACES, SPANS)
}


def _batched_table(raws: list[bytes], columns: Sequence[Column]) -> pa.Table | None:
    """Parse one-line page bodies in one call; ``None`` when the slow path must decide."""
    options = _BATCH_PARSE.get(id(columns))
    if options is None:
        options = pa_json.ParseOptions(
            explicit_schema=_json_schema(columns), unexpected_field_behavior="infer"
        )
    content = b"\n".join(raws)
    read = pa_json.ReadOptions(use_threads=False, block_size=len(content) + 64)
    try:
        parsed = pa_json.read_json(pa.py_buffer(content), read, options)
    except _ARROW_ERRORS:
        return None
    if parsed.num_rows != len(raws) or parsed.column("data").null_count:
        return None
    item = parsed.schema.field("data").type.field("data").type.value_type
    json_fields = {c.source for c in columns if c.read == "json"}
    texts = []
    for field in item:
        if field.name in json_fields:
            if not (pa.types.is_string(field.type) or pa.types.is_null(field.type)):
                if _has_float(field.type):
                    return None  # Polars' text of a float may differ from Python's
                texts.append(field.name)
        elif _has_struct(field.type):
            return None
    if texts:
        rendered = _rendered_objects(content, texts)
        if rendered is None:
            return None
        parsed = _replace_items(parsed, rendered)
    return parsed


def _has_float(arrow: pa.DataType) -> bool:
    if pa.types.is_floating(arrow) or pa.types.is_decimal(arrow):
        return True
    if pa.types.is_struct(arrow):
        return any(_has_float(arrow.field(i).type) for i in range(arrow.num_fields))
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return _has_float(arrow.value_type)
    return False


def _rendered_objects(content: bytes, names: list[str]) -> dict[str, pa.Array] | None:
    """The JSON text of non-string ``names`` fields, compact as :func:`_json_str` writes it.

    Polars' NDJSON reader renders a non-string value read as ``String`` as JSON text (with
    ``", "`` and ``": "`` separators); each distinct text is re-encoded once.
    """
    item = pl.Struct({n: pl.String for n in names})
    schema = {"data": pl.Struct({"data": pl.List(item)})}
    try:
        frame = pl.read_ndjson(content, schema=schema)
    except pl.exceptions.PolarsError:
        return None
    rows = frame.select(pl.col("data").struct.field("data").explode()).to_series()
    out = {}
    for name in names:
        column = rows.struct.field(name).to_arrow()
        encoded = pc.dictionary_encode(column)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        try:
            values = [
                _json_str(json.loads(v, strict=False)) for v in encoded.dictionary.to_pylist()
            ]
        except ValueError:
            return None
        out[name] = pc.take(pa.array(values, pa.string()), encoded.indices)
    return out


def _replace_items(parsed: pa.Table, rendered: dict[str, pa.Array]) -> pa.Table | None:
    """Put the rendered texts in place of the parsed object fields."""
    block = parsed.column("data").combine_chunks()
    lists = block.field("data")
    values = lists.values
    if any(len(a) != len(values) for a in rendered.values()):
        return None
    children = [rendered.get(f.name, values.field(i)) for i, f in enumerate(values.type)]
    names = [f.name for f in values.type]
    items = pa.StructArray.from_arrays(children, names=names, mask=values.is_null())
    new_lists = pa.ListArray.from_arrays(lists.offsets, items, mask=lists.is_null())
    new_block = pa.StructArray.from_arrays(
        [new_lists, block.field("pageInfo")], names=["data", "pageInfo"]
    )
    return pa.table({"data": new_block})


def _pages_agree(parsed: pa.Table, pages: Sequence[DecodedPage]) -> bool:
    """Whether every parsed page has the ``hasNextPage`` and last cursor paging used."""
    block = parsed.column("data").combine_chunks()
    has_next = block.field("pageInfo").field("hasNextPage").to_pylist()
    if has_next != [p.has_next_page for p in pages]:
        return False
    lists = block.field("data")
    offsets = lists.offsets.to_pylist()
    cursors = lists.values.field("cursor")
    pairs = list(zip(offsets, offsets[1:], strict=False))
    counted = [p._rows for p in pages]
    if any(
        n is not None and n != end - begin for n, (begin, end) in zip(counted, pairs, strict=True)
    ):
        return False
    last = [cursors[end - 1].as_py() if end > begin else None for begin, end in pairs]
    return last == [p.next_cursor for p in pages]


def _wire_columns(items: pa.Array, columns: Sequence[Column]) -> pa.Table:
    """The flattened items in wire order: declared fields, then unknown ones (renamed)."""
    table = pa.Table.from_struct_array(items)
    schema = _schema_of(columns)
    names = {c.name for c in columns}
    known = set(schema.names) | DROPPED_WIRE_FIELDS
    arrays = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    extra = [n for n in table.column_names if n not in known]
    arrays += [table.column(n) for n in extra]
    fields = [
        *schema,
        *(pa.field(_extra_name(n, names), table.schema.field(n).type) for n in extra),
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


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


def finish_parts(
    parts: Sequence[Sequence[DecodedPage] | pl.DataFrame], columns: Sequence[Column]
) -> pl.DataFrame:
    """Concatenate, in order, frames already finished and runs of pages (finished here).

    Frames of batches finished earlier are put together without a copy (one chunk per
    batch); a column only some batches have is null in the others.

    Examples
    --------
    >>> finish_parts([finish([], TRACES), []], TRACES).height
    0
    """
    frames: list[pl.DataFrame] = []
    pages: list[DecodedPage] = []
    for part in parts:
        if isinstance(part, pl.DataFrame):
            if pages:
                frames.append(finish(pages, columns))
                pages = []
            frames.append(part)
        else:
            pages.extend(part)
    if pages or not frames:
        frames.append(finish(pages, columns))
    if len(frames) == 1:
        return frames[0]
    same = all(f.schema == frames[0].schema for f in frames)
    return pl.concat(frames, how="vertical" if same else "diagonal_relaxed", rechunk=False)


def pack_pages(pages: Sequence[DecodedPage], columns: Sequence[Column]) -> DecodedPage:
    """One page holding the rows of consecutive ``pages`` as one wire table (less memory).

    It continues where the last of them does (same ``has_next_page`` / ``next_cursor``).
    """
    tables = _tables(pages, columns)
    if len(tables) == 1:
        table = tables[0]
    else:
        table = pa.concat_tables(tables, promote_options="permissive").combine_chunks()
    last = pages[-1]
    return DecodedPage(table, last.has_next_page, last.next_cursor, columns=columns)


def page_weight(pages: Sequence[DecodedPage] | pl.DataFrame) -> int:
    """Bytes (roughly) that pages hold before :func:`finish`: kept bodies, parsed items."""
    if isinstance(pages, pl.DataFrame):
        return 0
    weight = 0
    for page in pages:
        raw, items = page.raw, page.items
        weight += len(raw) if raw is not None else 1024 * len(items) if items is not None else 0
    return weight


def _tables(pages: Sequence[pa.Table | DecodedPage], columns: Sequence[Column]) -> list[pa.Table]:
    """Wire tables of ``pages``; runs of kept bodies / items are built in one pass each."""
    tables: list[pa.Table] = []
    raws: list[DecodedPage] = []
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if raws:
            tables.append(_raw_table(raws, columns))
            raws.clear()
        if pending:
            tables.append(_items_table(pending, columns))
            pending.clear()

    for page in pages:
        if isinstance(page, DecodedPage) and page.raw is not None:
            if pending:
                flush()
            raws.append(page)
            continue
        items = page.items if isinstance(page, DecodedPage) else None
        if items is not None:
            if raws:
                flush()
            pending.extend(items)
            continue
        flush()
        table = page.table if isinstance(page, DecodedPage) else page
        if table.num_rows or not tables:
            tables.append(table)
    flush()
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
