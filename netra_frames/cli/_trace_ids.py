"""Trace ids read back from what ``netra-frames traces`` wrote (for ``spans --from-traces``).

Accepted, from a file or standard input, recognised by content (not by file name):

* CSV or TSV whose header has a ``trace_id`` column (``--format csv``, ``-o t.tsv``);
* NDJSON: one JSON object with ``trace_id`` per line (``--format ndjson``);
* JSON: an array of objects with ``trace_id``, or of id strings (``--format json``);
* Parquet with a ``trace_id`` column (``-o t.parquet``);
* a bare list of ids, one per line.

Anything else (a text table, CSV without ``trace_id``, a line with spaces) is refused
with a one-line :class:`~netra_frames.errors.InvalidParameterError`.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import polars as pl

from ..errors import InvalidParameterError
from ..schema import SESSION_USAGE, SPANS, TENANT_USAGE, TRACES

__all__ = ["read_trace_ids"]

_PARQUET_MAGIC = b"PAR1"
_OTHER_COLUMNS = frozenset(
    c.name for schema in (TRACES, SPANS, SESSION_USAGE, TENANT_USAGE) for c in schema
) - {"trace_id"}
"""Headers of a one-column file written with ``-c NAME`` other than ``trace_id``: not ids."""
_BARE_ID = re.compile(r"[^\s,;\"'{}\[\]…]+")
"""One bare id: no blanks, separators, quotes, brackets or ``…`` (so CSV, JSON or a cut table
never passes)."""


def read_trace_ids(data: bytes, source: str) -> list[str]:
    """Return the trace ids in ``data`` (the bytes of file or stream ``source``), in order.

    Null and empty ids are skipped; duplicates are kept (the caller drops them).

    Raises
    ------
    InvalidParameterError
        When ``data`` is none of the accepted shapes, naming ``source`` and what to do.

    Examples
    --------
    >>> read_trace_ids(b"trace_id,name\\nabc,chat\\n", "t.csv")
    ['abc']
    >>> read_trace_ids(b'[{"trace_id": "abc"}]', "-")
    ['abc']
    """
    if data.startswith(_PARQUET_MAGIC):
        return _from_parquet(data, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(source, "is neither text nor Parquet") from None
    body = text.lstrip()
    if body.startswith("["):
        return _from_json(body, source)
    if body.startswith("{"):
        return _from_ndjson(body, source)
    header = body.split("\n", 1)[0].rstrip("\r")
    if "\t" in header or "," in header:
        return _from_delimited(body, header, source)
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if lines and lines[0] == "trace_id":  # the header of a one-column CSV (-c trace_id)
        lines = lines[1:]
    elif lines and lines[0] in _OTHER_COLUMNS:  # e.g. traces -c user_id: not trace ids
        raise _refuse(source, f"has no trace_id column (its one column is {lines[0]!r})")
    elif lines and "trace_id" in lines[0].split():
        raise _refuse(source, "is a text table (write it with --format csv)")
    for number, line in enumerate(lines, 1):
        if not _BARE_ID.fullmatch(line):
            raise _refuse(source, f"line {number} is not a trace id ({_clip(line)!r})")
    return lines


def _refuse(source: str, what: str) -> InvalidParameterError:
    name = "standard input" if source == "-" else repr(source)
    return InvalidParameterError(
        f"--from-traces: {name} {what}; expected CSV, TSV, NDJSON, JSON or Parquet with a "
        "trace_id column (what 'netra-frames traces' writes), or one trace id per line."
    )


def _clip(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _from_parquet(data: bytes, source: str) -> list[str]:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except pl.exceptions.PolarsError:
        raise _refuse(source, "is not readable Parquet") from None
    return _column(frame, source)


def _from_delimited(body: str, header: str, source: str) -> list[str]:
    separator = "\t" if "\t" in header else ","
    try:
        frame = pl.read_csv(io.StringIO(body), separator=separator, infer_schema=False)
    except pl.exceptions.PolarsError:
        kind = "TSV" if separator == "\t" else "CSV"
        raise _refuse(source, f"is not readable {kind}") from None
    return _column(frame, source)


def _column(frame: pl.DataFrame, source: str) -> list[str]:
    if "trace_id" not in frame.columns:
        shown = ", ".join(frame.columns[:8]) + (", ..." if frame.width > 8 else "")
        raise _refuse(source, f"has no trace_id column (columns: {_clip(shown, 80)})")
    values = frame["trace_id"].cast(pl.String).drop_nulls().to_list()
    return [v for v in values if v.strip()]


def _from_json(body: str, source: str) -> list[str]:
    try:
        items = json.loads(body)
    except ValueError:
        raise _refuse(source, "starts like JSON but is not valid JSON") from None
    if not isinstance(items, list):
        raise _refuse(source, "is JSON but not an array")
    return _ids(items, source, "array item")


def _from_ndjson(body: str, source: str) -> list[str]:
    items = []
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except ValueError:
            raise _refuse(source, f"line {number} is not a JSON object") from None
    return _ids(items, source, "line")


def _ids(items: list[Any], source: str, unit: str) -> list[str]:
    ids = []
    for number, item in enumerate(items, 1):
        value = item.get("trace_id", ...) if isinstance(item, dict) else item
        if value is ...:
            raise _refuse(source, f"{unit} {number} has no trace_id")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            raise _refuse(source, f"{unit} {number} is not a trace id ({_clip(str(value))!r})")
        ids.append(value)
    return ids
