"""The fast path: read a page's envelope off its bytes, parse many kept bodies at once.

A per-page parse costs more than ``json.loads`` (a ``pyarrow.json`` call has a fixed
cost), so the decode callback only reads the envelope off the bytes and keeps the body:
one line, the server's exact ``{"data":{"data":[{`` start and
``"}],"pageInfo":{"hasNextPage":...}}}`` end, the last item's ``cursor`` as its last field
(a traces page also counts its items: as many ``"cursor":"`` as ``{"id":"``). The bodies
of all consecutive such pages are then parsed with ONE ``pyarrow.json`` call, one page
per line, against the declared wire schema in the envelope, and every page's
``hasNextPage``, last cursor and item count is checked against what paging used. Unknown
fields are kept with the type Arrow infers. ``read="json"`` fields are not declared:
strings stay strings; a field holding objects (or other non-strings) is read again as
text by Polars' NDJSON reader (which renders a JSON value as text with ``", "`` and
``": "`` separators) and each distinct text is re-encoded once as compact JSON
(``{"a":1}``), exactly as the slow path writes it. Anything else (a body with a line
break, a value of another type than declared, a field mixing strings and objects, a
float inside an object, an object in an unknown field, ...) takes the ``json.loads``
path for those pages.

A traces page off the fast path is parsed on its own by ``pyarrow.json`` (same schema,
same checks): :func:`native_page`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ..schema import DROPPED_WIRE_FIELDS, SPANS, TRACES, Column
from .items import ARROW_ERRORS, extra_name, has_struct, items_table, json_str, schema_of
from .pages import parse_envelope

__all__ = [
    "CURSOR",
    "TRACES_PARSE",
    "KeptBody",
    "native_page",
    "raw_table",
    "scan_envelope",
]


class KeptBody(NamedTuple):
    """A page kept as its body, with what paging read off its bytes."""

    raw: bytes
    has_next_page: bool
    next_cursor: str | None
    rows: int | None


def _envelope(schema: pa.Schema) -> pa.Schema:
    item = pa.struct([*schema, pa.field("cursor", pa.string())])
    info = pa.struct([pa.field("hasNextPage", pa.bool_())])
    return pa.schema([pa.field("data", pa.struct([("data", pa.list_(item)), ("pageInfo", info)]))])


TRACES_PARSE = pa_json.ParseOptions(
    explicit_schema=_envelope(schema_of(TRACES)), unexpected_field_behavior="infer"
)


_HEAD = b'{"data":{"data":[{'
_TAILS = {
    True: b'"}],"pageInfo":{"hasNextPage":true}}}',
    False: b'"}],"pageInfo":{"hasNextPage":false}}}',
}
CURSOR = b'"cursor":"'
_MAX_CURSOR = 1024


def scan_envelope(content: bytes) -> tuple[bool, str] | None:
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
            start = content.rfind(CURSOR, max(0, end - _MAX_CURSOR), end)
            if start < 0:
                return None
            cursor = content[start + len(CURSOR) : end]
            if b'"' in cursor or b"\\" in cursor or not cursor:
                return None
            try:
                return has_next, cursor.decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


def native_page(
    content: bytes, columns: Sequence[Column], options: pa_json.ParseOptions
) -> tuple[pa.Table, bool, str | None] | None:
    """Parse a page with ``pyarrow.json``: ``(table, hasNextPage, last cursor)``.

    ``None`` when the slow path must decide.
    """
    read = pa_json.ReadOptions(use_threads=False, block_size=len(content) + 64)
    try:
        parsed = pa_json.read_json(pa.py_buffer(content), read, options)
    except ARROW_ERRORS:
        return None
    if parsed.num_rows != 1 or parsed.column("data").null_count:
        return None
    block = parsed.column("data").chunk(0)
    has_next = block.field("pageInfo").field("hasNextPage")[0].as_py()
    data = block.field("data")
    if not isinstance(has_next, bool) or data.null_count:
        return None
    table = pa.Table.from_struct_array(data.flatten())
    if any(has_struct(f.type) for f in table.schema):
        return None
    cursors = table.column("cursor")
    cursor = cursors[-1].as_py() if len(cursors) else None
    if has_next and not cursor:
        raise ValueError("hasNextPage is true but the last item has no cursor")
    schema = schema_of(columns)
    names = {c.name for c in columns}
    known = set(schema.names) | DROPPED_WIRE_FIELDS
    extra = [n for n in table.column_names if n not in known]
    arrays = [table.column(n) for n in schema.names] + [table.column(n) for n in extra]
    extra_fields = [pa.field(extra_name(n, names), table.schema.field(n).type) for n in extra]
    fields = [*schema, *extra_fields]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), has_next, cursor


def raw_table(pages: Sequence[KeptBody], columns: Sequence[Column]) -> pa.Table:
    """Build the wire table of pages kept as bodies: one batched parse, else ``json.loads``."""
    table = _batched_table([p.raw for p in pages], columns)
    if table is not None and _pages_agree(table, pages):
        return _wire_columns(table.column("data").combine_chunks().field("data").flatten(), columns)
    items: list[dict[str, Any]] = []
    for page in pages:
        page_items, has_next, cursor = parse_envelope(page.raw)
        if (has_next, cursor) != (page.has_next_page, page.next_cursor) or (
            page.rows is not None and page.rows != len(page_items)
        ):
            raise ValueError("a page's cursor or item count read off its bytes was wrong")
        items.extend(page_items)
    return items_table(items, columns)


def _json_schema(columns: Sequence[Column]) -> pa.Schema:
    """The page envelope with every field declared except ``read="json"`` ones (inferred)."""
    declared = [f for c, f in zip(columns, schema_of(columns), strict=True) if c.read != "json"]
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
    except ARROW_ERRORS:
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
        elif has_struct(field.type):
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
    """The JSON text of non-string ``names`` fields, compact as :func:`json_str` writes it.

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
            values = [json_str(json.loads(v, strict=False)) for v in encoded.dictionary.to_pylist()]
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


def _pages_agree(parsed: pa.Table, pages: Sequence[KeptBody]) -> bool:
    """Whether every parsed page has the ``hasNextPage`` and last cursor paging used."""
    block = parsed.column("data").combine_chunks()
    has_next = block.field("pageInfo").field("hasNextPage").to_pylist()
    if has_next != [p.has_next_page for p in pages]:
        return False
    lists = block.field("data")
    offsets = lists.offsets.to_pylist()
    cursors = lists.values.field("cursor")
    pairs = list(zip(offsets, offsets[1:], strict=False))
    counted = [p.rows for p in pages]
    if any(
        n is not None and n != end - begin for n, (begin, end) in zip(counted, pairs, strict=True)
    ):
        return False
    last = [cursors[end - 1].as_py() if end > begin else None for begin, end in pairs]
    return last == [p.next_cursor for p in pages]


def _wire_columns(items: pa.Array, columns: Sequence[Column]) -> pa.Table:
    """The flattened items in wire order: declared fields, then unknown ones (renamed)."""
    table = pa.Table.from_struct_array(items)
    schema = schema_of(columns)
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
        *(pa.field(extra_name(n, names), table.schema.field(n).type) for n in extra),
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
