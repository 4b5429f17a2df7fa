"""The column tables of every frame, declared once for Polars, pandas and Arrow.

Each resource (traces, spans, session usage, tenant usage) is a tuple of :class:`Column`:
the frame's column name, its Polars dtype, the wire field it comes from and how the wire
value is read. The pandas and Arrow types are derived from the Polars dtype:

=========================  ==========================  ==============================
Polars                     pandas                      kind of field
=========================  ==========================  ==============================
``String``                 ``string[pyarrow]``         ids, names, JSON strings
``Int64``                  ``Int64``                   token counts, ``latency_ms``
``Float64``                ``Float64``                 costs (USD)
``Boolean``                ``boolean``                 ``has_*`` flags
``Datetime("us", "UTC")``  ``datetime64[us, UTC]``     times
``List(String)``           ``list<string>[pyarrow]``   ``models``, entities, violations
=========================  ==========================  ==============================

Decisions, all in one place:

* Names are snake_case; the wire's ``id`` becomes ``trace_id`` on traces and ``span_id``
  on spans, so traces and spans join on ``trace_id``.
* Every item's ``cursor`` is a transport detail and is dropped.
* Trace ``start_time``/``end_time`` (ISO strings) become UTC datetimes. Span
  ``start_time_ms``/``end_time_ms`` (epoch milliseconds, sent as strings) are *replaced*
  by the datetime columns ``start_time``/``end_time``; span ``created_at`` is a datetime.
* ``latency_ms`` is always present; on spans it is computed from the times when the wire
  omits it.
* Span ``attributes``, ``events``, ``links`` and ``resources`` stay the JSON strings the
  wire sent (``parse_json=True`` or :func:`netra_frames.expand_attributes` decode them);
  object fields (``metadata``, ``pii_actions``, ``violation_actions``) become JSON strings;
  list items that are objects become their JSON string.
* A known field missing from the wire is a null column of its declared type; a field the
  schema does not know is kept, with an inferred type, after the known columns (if its
  name collides with a declared column it is kept as ``<name>_raw``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "DROPPED_WIRE_FIELDS",
    "SESSIONS",
    "SESSION_USAGE",
    "SPANS",
    "SPAN_TREE",
    "STRINGS",
    "TENANT_USAGE",
    "TRACES",
    "USAGE",
    "USAGE_KEYS",
    "Column",
    "arrow_to_pandas_dtype",
    "arrow_type",
    "pandas_dtypes",
    "polars_schema",
]

Read = Literal["plain", "iso", "epoch_ms", "json"]
"""How a wire value is read: as is, an ISO time, epoch milliseconds, or an object as JSON."""

STRING = pl.String()
INT = pl.Int64()
FLOAT = pl.Float64()
BOOL = pl.Boolean()
TIME = pl.Datetime("us", "UTC")
STRINGS = pl.List(pl.String())


@dataclass(frozen=True)
class Column:
    """One declared column: frame name, Polars dtype, wire field and how it is read."""

    name: str
    dtype: pl.DataType
    wire: str | None = None
    read: Read = "plain"
    elapsed_fallback: bool = False
    """Fill a missing value with ``end_time - start_time`` in milliseconds (span latency)."""

    @property
    def source(self) -> str:
        """The wire field this column is read from."""
        return self.wire or self.name


def _cols(dtype: pl.DataType, *names: str) -> tuple[Column, ...]:
    return tuple(Column(n, dtype) for n in names)


_TOKENS = _cols(INT, "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens")
_COSTS = _cols(
    FLOAT, "prompt_tokens_cost", "completion_tokens_cost", "cached_tokens_cost", "total_cost"
)

TRACES: tuple[Column, ...] = (
    Column("trace_id", STRING, wire="id"),
    *_cols(STRING, "name", "kind"),
    Column("start_time", TIME, read="iso"),
    Column("end_time", TIME, read="iso"),
    Column("latency_ms", INT),
    *_cols(STRING, "organisation_id", "project_id", "session_id", "tenant_id", "user_id"),
    *_cols(STRING, "environment", "service"),
    Column("models", STRINGS),
    *_TOKENS,
    *_COSTS,
    Column("has_pii", BOOL),
    Column("pii_entities", STRINGS),
    Column("has_violation", BOOL),
    Column("violations", STRINGS),
    Column("has_error", BOOL),
)
"""Columns of :func:`netra_frames.traces_frame`, in order."""

SPANS: tuple[Column, ...] = (
    Column("span_id", STRING, wire="id"),
    *_cols(STRING, "trace_id", "parent_span_id", "name", "kind"),
    Column("start_time", TIME, wire="start_time_ms", read="epoch_ms"),
    Column("end_time", TIME, wire="end_time_ms", read="epoch_ms"),
    Column("latency_ms", INT, elapsed_fallback=True),
    *_cols(STRING, "organisation_id", "project_id", "session_id", "tenant_id", "user_id"),
    *_cols(STRING, "environment", "model_name"),
    *_TOKENS,
    *_COSTS,
    Column("has_pii", BOOL),
    Column("pii_entities", STRINGS),
    Column("pii_actions", STRING, read="json"),
    Column("has_violation", BOOL),
    Column("violations", STRINGS),
    Column("violation_actions", STRING, read="json"),
    Column("status", STRING),
    *(Column(n, STRING, read="json") for n in ("attributes", "events", "links", "resources")),
    Column("metadata", STRING, read="json"),
    Column("has_error", BOOL),
    Column("created_at", TIME, read="iso"),
)
"""Columns of :func:`netra_frames.spans_frame`, in order."""

SESSION_USAGE: tuple[Column, ...] = (
    Column("session_id", STRING),
    *_cols(INT, "token_count", "request_count"),
    Column("total_cost", FLOAT),
    *_cols(TIME, "start", "end"),
)
"""Columns of :func:`netra_frames.session_usage_frame`, in order."""

TENANT_USAGE: tuple[Column, ...] = (
    *_cols(STRING, "tenant_id", "organisation_id"),
    *_cols(INT, "token_count", "request_count", "session_count"),
    Column("total_cost", FLOAT),
    *_cols(TIME, "start", "end"),
)
"""Columns of :func:`netra_frames.tenant_usage_frame`, in order."""

SPAN_TREE: tuple[Column, ...] = (
    Column("depth", INT),
    Column("root_span_id", STRING),
    Column("path", STRINGS),
    Column("child_count", INT),
    Column("self_ms", FLOAT),
    *_cols(INT, "subtree_tokens"),
    Column("subtree_cost", FLOAT),
    Column("subtree_spans", INT),
    *_cols(BOOL, "orphan", "cycle"),
)
"""Columns :func:`netra_frames.span_tree` adds after a spans frame's own, in order (computed,
not read from the wire)."""

SESSIONS: tuple[Column, ...] = (
    *_cols(STRING, "session_id", "tenant_id"),
    Column("user_ids", STRINGS),
    *_cols(TIME, "start_time", "end_time"),
    Column("duration_ms", INT),
    Column("traces", INT),
    *_TOKENS,
    Column("total_cost", FLOAT),
    Column("errors", INT),
    Column("trace_names", STRINGS),
)
"""Columns of :func:`netra_frames.sessions_frame`, in order (computed from the traces)."""

USAGE_KEYS: tuple[Column, ...] = (
    Column("period", TIME),
    *_cols(STRING, "tenant_id", "user_id", "session_id", "name", "environment", "service"),
    Column("model", STRING),
)
"""The grouping columns :func:`netra_frames.usage_frame` can lead with (``period`` with
``freq=``, the others as named in ``by=``), in this order of declaration."""

USAGE: tuple[Column, ...] = (
    *_TOKENS,
    *_COSTS,
    *_cols(INT, "requests", "sessions", "users", "errors", "pii", "violations"),
)
"""Columns of :func:`netra_frames.usage_frame` after its grouping columns, in order."""

DROPPED_WIRE_FIELDS = frozenset({"cursor"})
"""Wire fields dropped from every frame (transport details)."""


def polars_schema(columns: Sequence[Column]) -> pl.Schema:
    """Return the Polars schema of a column table.

    Examples
    --------
    >>> polars_schema(TRACES)["start_time"]
    Datetime(time_unit='us', time_zone='UTC')
    """
    return pl.Schema([(c.name, c.dtype) for c in columns])


_SCALARS: dict[pa.DataType, Any] = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype("pyarrow"),
    pa.large_string(): pd.StringDtype("pyarrow"),
}


def arrow_to_pandas_dtype(arrow_type: pa.DataType) -> Any:
    """Map an Arrow type to the nullable pandas dtype this package uses (never ``object``).

    Datetimes map to ``datetime64[us, UTC]``; other nested types to ``pd.ArrowDtype``.

    Examples
    --------
    >>> arrow_to_pandas_dtype(pa.int64())
    Int64Dtype()
    """
    if arrow_type in _SCALARS:
        return _SCALARS[arrow_type]
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None:
        return pd.DatetimeTZDtype(arrow_type.unit, arrow_type.tz)
    return pd.ArrowDtype(arrow_type)


def arrow_type(dtype: pl.DataType) -> pa.DataType:
    """Return the Arrow type a Polars dtype is stored as in pandas frames."""
    if dtype == STRINGS:
        return pa.list_(pa.string())
    if dtype == STRING:
        return pa.string()
    empty: pa.DataType = pl.Series([], dtype=dtype).to_arrow().type
    return empty


def pandas_dtypes(columns: Sequence[Column]) -> dict[str, Any]:
    """Return the pandas dtype of every column of a column table.

    Examples
    --------
    >>> str(pandas_dtypes(TRACES)["models"])
    'list<item: string>[pyarrow]'
    """
    return {c.name: arrow_to_pandas_dtype(arrow_type(c.dtype)) for c in columns}
