"""The SQL text of the server's database: its tables, indexes and wire JSON renderings.

Pure text builders, no connection: :mod:`netra_frames.server.store` runs them. Every sort key
is ``NOT NULL`` (tokens and costs are 0 when absent) so keyset pagination works on each;
costs are integer nano-USD (``*_cost_n``) that :data:`TRACE_JSON` and :data:`SPAN_JSON` turn
into float USD.

Examples
--------
>>> TRACES_TABLE.startswith("CREATE TABLE traces (org_id TEXT NOT NULL, id TEXT NOT NULL")
True
>>> TRACES_TABLE.endswith(", PRIMARY KEY (id))")
True
>>> len(INDEXES)
10
"""

from __future__ import annotations

from collections.abc import Sequence

from netra_frames.server import synth

__all__ = [
    "INDEXES", "SPANS_TABLE", "SPAN_INSERT", "SPAN_JSON", "TRACES_TABLE", "TRACE_INSERT",
    "TRACE_JSON",
]  # fmt: skip

_TEXT = "TEXT NOT NULL"
_INT = "INTEGER NOT NULL"
_TRACE_TYPES = {"session_id": "TEXT", "tenant_id": "TEXT", "user_id": "TEXT",
                "environment": "TEXT", "service": "TEXT"}  # fmt: skip
_SPAN_TYPES = {"parent_span_id": "TEXT", "model_name": "TEXT"}
_INT_COLUMNS = {"start_ms", "end_ms", "latency_ms", "created_ms", "has_pii", "has_violation",
                "has_error"}  # fmt: skip

#: The indexes built after the rows are inserted, one statement each.
INDEXES = (
    "CREATE INDEX traces_org_start ON traces (org_id, start_ms, id)",
    "CREATE INDEX traces_org_tenant ON traces (org_id, tenant_id, start_ms, id)",
    "CREATE INDEX traces_org_session ON traces (org_id, session_id, start_ms)",
    "CREATE INDEX traces_org_user ON traces (org_id, user_id, start_ms)",
    "CREATE INDEX traces_org_end ON traces (org_id, end_ms, id)",
    "CREATE INDEX traces_org_latency ON traces (org_id, latency_ms, id)",
    "CREATE INDEX traces_org_cost ON traces (org_id, total_cost_n, id)",
    "CREATE INDEX traces_org_tokens ON traces (org_id, total_tokens, id)",
    "CREATE INDEX traces_org_name ON traces (org_id, name, id)",
    "CREATE INDEX spans_org_trace ON spans (org_id, trace_id, start_ms, id)",
)


def _column_type(name: str, overrides: dict[str, str]) -> str:
    if name in overrides:
        return overrides[name]
    if name in _INT_COLUMNS or name.endswith(("_tokens", "_cost_n")):
        return _INT
    return _TEXT


def _create_table(name: str, fields: Sequence[str], overrides: dict[str, str], pk: str) -> str:
    cols = ", ".join(f"{f} {_column_type(f, overrides)}" for f in fields)
    key = f", PRIMARY KEY ({pk})" if pk else ""
    return f"CREATE TABLE {name} ({cols}{key})"


#: ``CREATE TABLE`` of the traces, one column per :data:`synth.TRACE_FIELDS` entry.
TRACES_TABLE = _create_table("traces", synth.TRACE_FIELDS, _TRACE_TYPES, "id")
#: ``CREATE TABLE`` of the spans, one column per :data:`synth.SPAN_FIELDS` entry.
SPANS_TABLE = _create_table("spans", synth.SPAN_FIELDS, _SPAN_TYPES, "")
TRACE_INSERT = f"INSERT INTO traces VALUES ({', '.join('?' * len(synth.TRACE_FIELDS))})"
SPAN_INSERT = f"INSERT INTO spans VALUES ({', '.join('?' * len(synth.SPAN_FIELDS))})"


def _iso(col: str) -> str:
    """SQL rendering epoch-ms column ``col`` as ISO 8601 UTC with milliseconds and ``Z``."""
    return (f"(strftime('%Y-%m-%dT%H:%M:%S', {col} / 1000, 'unixepoch')"
            f" || printf('.%03dZ', {col} % 1000))")  # fmt: skip


def _bool(col: str) -> str:
    return f"json(iif({col}, 'true', 'false'))"


def _usd(col: str) -> str:
    return f"{col} / 1e9"


#: SQL building one wire trace item (a JSON object without ``cursor``) from a ``traces`` row.
TRACE_JSON = f"""json_object(
    'id', id, 'name', name, 'kind', kind, 'latency_ms', latency_ms,
    'start_time', {_iso("start_ms")}, 'end_time', {_iso("end_ms")},
    'organisation_id', org_id, 'project_id', project_id, 'session_id', session_id,
    'tenant_id', tenant_id, 'user_id', user_id, 'environment', environment,
    'service', service, 'models', json(models),
    'prompt_tokens', prompt_tokens, 'completion_tokens', completion_tokens,
    'cached_tokens', cached_tokens, 'total_tokens', total_tokens,
    'prompt_tokens_cost', {_usd("prompt_cost_n")},
    'completion_tokens_cost', {_usd("completion_cost_n")},
    'cached_tokens_cost', {_usd("cached_cost_n")}, 'total_cost', {_usd("total_cost_n")},
    'has_pii', {_bool("has_pii")}, 'pii_entities', json(pii_entities),
    'has_violation', {_bool("has_violation")}, 'violations', json(violations),
    'has_error', {_bool("has_error")})"""

#: SQL building one wire span item from a ``spans s JOIN traces t`` row.
SPAN_JSON = f"""json_object(
    'id', s.id, 'trace_id', s.trace_id, 'name', s.name, 'kind', s.kind,
    'parent_span_id', s.parent_span_id, 'latency_ms', s.latency_ms,
    'start_time_ms', CAST(s.start_ms AS TEXT), 'end_time_ms', CAST(s.end_ms AS TEXT),
    'organisation_id', s.org_id, 'project_id', t.project_id, 'session_id', t.session_id,
    'tenant_id', t.tenant_id, 'user_id', t.user_id, 'environment', t.environment,
    'model_name', s.model_name,
    'prompt_tokens', s.prompt_tokens, 'completion_tokens', s.completion_tokens,
    'cached_tokens', s.cached_tokens, 'total_tokens', s.total_tokens,
    'prompt_tokens_cost', {_usd("s.prompt_cost_n")},
    'completion_tokens_cost', {_usd("s.completion_cost_n")},
    'cached_tokens_cost', {_usd("s.cached_cost_n")}, 'total_cost', {_usd("s.total_cost_n")},
    'has_pii', {_bool("s.has_pii")}, 'pii_entities', json(s.pii_entities),
    'pii_actions', json(s.pii_actions), 'has_violation', {_bool("s.has_violation")},
    'violations', json(s.violations), 'violation_actions', json(s.violation_actions),
    'status', s.status, 'attributes', s.attributes, 'events', s.events, 'links', s.links,
    'resources', s.resources, 'metadata', json(s.metadata), 'has_error', {_bool("s.has_error")},
    'created_at', {_iso("s.created_ms")})"""
