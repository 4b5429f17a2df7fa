"""Page bytes to columns: each page is parsed once, then built into Arrow columns.

``decode_traces_page`` / ``decode_spans_page`` are the ``decode=`` callbacks given to
``NetraClient.request``: they raise ``ValueError`` for a body they cannot use (the client
fetches it again). :func:`finish` turns the decoded pages of one result into the frame's
columns, once per frame: renames, time parsing and derived columns are vectorised there.

Speed (see ``benchmarks/``): the target is a frame in at most 1.3x the time of a bare
``json.loads`` of the same bytes.

* Fast path (both resources, :mod:`._decode_batch`): the decode callback only reads the
  envelope off the bytes and keeps the body; :func:`finish` (or a drain packing its pages
  as it goes) parses the bodies of all consecutive such pages with ONE ``pyarrow.json``
  call and checks them against what paging used.
* A traces page off the fast path is parsed on its own by ``pyarrow.json`` (same schema,
  same checks); a spans page off it is parsed with ``json.loads`` and keeps its items
  for :func:`finish`, which builds the columns of consecutive such pages in one pass.
* The slow path (:mod:`._decode_items`) coerces column by column in Python and raises
  ``ValueError`` for values that cannot be coerced.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import TransportError
from ..schema import SPANS, TRACES, Column
from ..times import from_iso
from .bulk import CURSOR, TRACES_PARSE, KeptBody, native_page, raw_table, scan_envelope
from .checks import Expect
from .items import ARROW_ERRORS, items_table, schema_of, wire_schema
from .pages import parse_envelope
from .request import Request

__all__ = [
    "DecodedPage",
    "clip_start_times",
    "decode_spans_page",
    "decode_traces_page",
    "empty_table",
    "finish",
    "first_start_time",
    "last_start_time",
    "last_trace_id",
    "page_weight",
    "wire_schema",
]


class DecodedPage:
    """One decoded page: its rows (an Arrow table of wire fields) and where the next page is.

    A page on the fast path keeps its body (:attr:`raw`; a traces page also its item
    count, read off the bytes) and a spans page off it its parsed ``items``, until
    :func:`finish` builds the columns of many pages at once; :attr:`table` builds (and
    caches) this page's own table on demand.
    """

    __slots__ = (
        "_columns", "_items", "_raw", "_rows", "_table", "clip", "expect", "has_next_page",
        "next_cursor", "request",
    )  # fmt: skip

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
        self.expect: Expect | None = None
        """What its rows must answer (set by the engine; see :mod:`._wire.checks`)."""
        self.request: Request | None = None
        """The request that fetched it (to fetch it once more when it is not trusted)."""
        self.clip: tuple[datetime | None, datetime | None] | None = None
        """The range its rows were clipped to (:func:`clip_start_times`), if any."""

    @property
    def table(self) -> pa.Table:
        """The page as an Arrow table of wire fields (built on first access)."""
        if self._table is None:
            if self._raw is not None:
                self._table = _raw_table([self], self._columns)
            else:
                assert self._items is not None
                self._table = items_table(self._items, self._columns)
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
    def known_rows(self) -> int | None:
        """Items on this page when known without a parse (a kept spans body: ``None``)."""
        if self._rows is not None:
            return self._rows
        if self._items is not None and self._table is None:
            return len(self._items)
        return int(self._table.num_rows) if self._table is not None else None

    def marked(self, like: DecodedPage) -> DecodedPage:
        """This page with the expectation, request and clip of ``like`` (a new copy)."""
        self.expect, self.request, self.clip = like.expect, like.request, like.clip
        if like.clip is not None:
            return clip_start_times(self, *like.clip)
        return self

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


def empty_table(columns: Sequence[Column]) -> pa.Table:
    """Return an empty table of the wire fields of ``columns``.

    Examples
    --------
    >>> empty_table(TRACES).num_rows
    0
    """
    return schema_of(columns).empty_table()


def decode_traces_page(content: bytes) -> DecodedPage:
    """Decode the body of one ``POST /sdk/traces`` page into columns.

    Examples
    --------
    >>> page = decode_traces_page(b'{"data":{"data":[],"pageInfo":{"hasNextPage":false}}}')
    >>> page.num_rows, page.has_next_page
    (0, False)
    """
    envelope = scan_envelope(content)
    if envelope is not None:
        rows = content.count(CURSOR)
        if rows == content.count(b'{"id":"'):  # one cursor per item, nowhere else
            return DecodedPage(None, *envelope, raw=content, rows=rows, columns=TRACES)
    parsed = native_page(content, TRACES, TRACES_PARSE)
    return DecodedPage(*parsed) if parsed is not None else _decode(content, TRACES)


def decode_spans_page(content: bytes) -> DecodedPage:
    """Decode the body of one ``GET /sdk/traces/{id}/spans`` page (columns built later).

    Examples
    --------
    >>> decode_spans_page(b'{"data":{"data":[],"pageInfo":{"hasNextPage":false}}}').num_rows
    0
    """
    envelope = scan_envelope(content)
    if envelope is not None:
        return DecodedPage(None, *envelope, raw=content, columns=SPANS)
    items, has_next, cursor = parse_envelope(content)
    return DecodedPage(None, has_next, cursor, items=items, columns=SPANS)


def _decode(content: bytes, columns: Sequence[Column]) -> DecodedPage:
    items, has_next, cursor = parse_envelope(content)
    return DecodedPage(items_table(items, columns), has_next, cursor)


def _raw_table(pages: Sequence[DecodedPage], columns: Sequence[Column]) -> pa.Table:
    """Build the wire table of pages kept as bodies (see :func:`raw_table`)."""
    kept = []
    for page in pages:
        assert page._raw is not None
        kept.append(KeptBody(page._raw, page.has_next_page, page.next_cursor, page._rows))
    return raw_table(kept, columns)


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
    _refuse_non_numbers(frame, columns)
    derived = [c.name for c in columns if c.elapsed_fallback]
    if derived:
        elapsed = (pl.col("end_time") - pl.col("start_time")).dt.total_milliseconds()
        frame = frame.with_columns(pl.coalesce(name, elapsed).alias(name) for name in derived)
    return frame


def _refuse_non_numbers(frame: pl.DataFrame, columns: Sequence[Column]) -> None:
    """Raise for ``NaN`` or an infinity in a number column: not JSON (RFC 8259), and a cost
    of ``NaN`` would vanish from every sum (``pyarrow.json`` reads them; the rule of
    docs/api-contract.md is to refuse the page)."""
    floats = [c.name for c in columns if c.dtype == pl.Float64 and c.name in frame.columns]
    if not floats or not frame.height:
        return
    bad = frame.select(pl.any_horizontal(pl.col(floats).is_nan() | pl.col(floats).is_infinite()))
    if not bad.to_series().any():
        return
    for name in floats:
        wrong = frame[name].is_nan() | frame[name].is_infinite()
        if wrong.any():
            value = frame[name].filter(wrong)[0]
            raise TransportError(
                f"the server sent a value that does not parse: field {name!r} holds {value}, "
                "which is not JSON (RFC 8259 has no NaN or Infinity)"
            )


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
            tables.append(items_table(pending, columns))
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
        except ARROW_ERRORS:
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


_START = b'"start_time":"'
_START_COLUMN = [c for c in TRACES if c.name == "start_time"]


def _as_utc(text: str) -> datetime | None:
    try:
        moment = from_iso(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def last_start_time(page: DecodedPage) -> datetime | None:
    """The ``start_time`` of a traces page's last item, or ``None`` if it has none or is odd.

    Read off the kept body when there is one (no parse): the last ``"start_time":"`` of
    the body is the last item's (a quote inside a string value is escaped, so it never
    matches).

    Examples
    --------
    >>> body = b'{"data":{"data":[{"id":"a","start_time":"2026-01-01T00:00:00.000Z",'
    >>> body += b'"cursor":"c"}],"pageInfo":{"hasNextPage":false}}}'
    >>> last_start_time(decode_traces_page(body)).isoformat()
    '2026-01-01T00:00:00+00:00'
    """
    return _edge_start_time(page, last=True)


def first_start_time(page: DecodedPage) -> datetime | None:
    """The ``start_time`` of a traces page's first item (as :func:`last_start_time`).

    Examples
    --------
    >>> body = b'{"data":{"data":[{"id":"a","start_time":"2026-01-01T00:00:00.000Z",'
    >>> body += b'"cursor":"c"}],"pageInfo":{"hasNextPage":false}}}'
    >>> first_start_time(decode_traces_page(body)).isoformat()
    '2026-01-01T00:00:00+00:00'
    """
    return _edge_start_time(page, last=False)


def _edge_start_time(page: DecodedPage, *, last: bool) -> datetime | None:
    if page.num_rows == 0:
        return None
    raw = page.raw
    if raw is not None:
        at = raw.rfind(_START) if last else raw.find(_START)
        end = raw.find(b'"', at + len(_START)) if at >= 0 else -1
        if end > 0:
            moment = _as_utc(raw[at + len(_START) : end].decode("utf-8", "replace"))
            if moment is not None:
                return moment
    times = finish([page.table], _START_COLUMN)["start_time"]
    value = times[-1 if last else 0] if len(times) else None
    return value if isinstance(value, datetime) else None


_TRACE = b'"trace_id":"'


def last_trace_id(page: DecodedPage) -> str | None:
    """The ``trace_id`` of a spans page's last item (``None``: no item, or none readable).

    Read off the kept body when there is one, as :func:`last_start_time` does.

    Examples
    --------
    >>> body = b'{"data":{"data":[{"id":"s","trace_id":"t1","cursor":"c"}],'
    >>> last_trace_id(decode_spans_page(body + b'"pageInfo":{"hasNextPage":false}}}'))
    't1'
    """
    raw = page.raw
    if raw is not None:
        at = raw.rfind(_TRACE)
        end = raw.find(b'"', at + len(_TRACE)) if at >= 0 else -1
        return raw[at + len(_TRACE) : end].decode("utf-8", "replace") if end > 0 else None
    items = page.items
    if items is not None:
        value = items[-1].get("trace_id") if items else None
        return value if isinstance(value, str) else None
    table = page.table
    if table.num_rows == 0 or "trace_id" not in table.column_names:
        return None
    value = table.column("trace_id")[-1].as_py()
    return value if isinstance(value, str) else None


def clip_start_times(
    page: DecodedPage, lo: datetime | None = None, hi: datetime | None = None
) -> DecodedPage:
    """The page with only the items whose ``start_time`` lies in ``[lo, hi)``.

    Raises
    ------
    TransportError
        When a ``start_time`` does not parse.
    """
    table = page.table
    if table.num_rows == 0:
        return page
    times = finish([table], _START_COLUMN)["start_time"]
    keep = pl.Series([True] * table.num_rows)
    if lo is not None:
        keep = keep & (times >= lo)
    if hi is not None:
        keep = keep & (times < hi)
    mask = keep.fill_null(False).to_arrow()
    clipped = DecodedPage(table.filter(mask), page.has_next_page, page.next_cursor)
    clipped.expect, clipped.request = page.expect, page.request
    before = page.clip or (None, None)  # both clips hold: the narrower edges
    clipped.clip = (_later(lo, before[0]), _earlier(hi, before[1]))
    return clipped


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)
