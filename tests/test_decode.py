"""The fast decode paths give the same columns as the slow, coercing path."""

from __future__ import annotations

import json
from typing import Any

import pytest

import netra_frames as nf
from netra_frames import schema
from netra_frames._decode import decode_spans_page, decode_traces_page, finish


def _page(items: list[dict[str, Any]], more: bool = False, indent: int | None = None) -> bytes:
    body = {"data": {"data": items, "pageInfo": {"hasNextPage": more}}}
    return json.dumps(body, indent=indent).encode()


TRACE = {"id": "a" * 32, "name": "chat", "kind": "workflow", "latency_ms": 5,
         "start_time": "2026-01-01T00:00:00.250Z", "end_time": "2026-01-01T00:00:01.000Z",
         "models": ["gpt-4o"], "total_cost": 0.5, "has_pii": False, "cursor": "c1"}  # fmt: skip


def test_native_traces_page_matches_slow_path() -> None:
    items = [TRACE, {**TRACE, "id": "b" * 32, "cursor": "c2", "models": None, "extra": 7}]
    fast = finish([decode_traces_page(_page(items, more=True))], schema.TRACES)
    slow = finish([decode_traces_page(_page(items, more=True, indent=1))], schema.TRACES)
    assert fast.equals(slow)
    assert fast["extra"].to_list() == [None, 7]  # unknown field kept, type inferred
    assert fast["start_time"][0].microsecond == 250_000
    page = decode_traces_page(_page(items, more=True))
    assert (page.num_rows, page.has_next_page, page.next_cursor) == (2, True, "c2")


def test_nulls_missing_fields_and_collisions() -> None:
    items = [{"id": "x", "cursor": "c", "latency_ms": None, "trace_id": "collides"}]
    frame = finish([decode_traces_page(_page(items))], schema.TRACES)
    row = frame.row(0, named=True)
    assert row["latency_ms"] is None and row["tenant_id"] is None and row["models"] is None
    assert row["trace_id"] == "x" and row["trace_id_raw"] == "collides"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("latency_ms", 3.0, 3), ("has_pii", 1, True), ("name", 12, "12"),
     ("models", ["m", {"x": 1}], ["m", '{"x":1}'])],
)  # fmt: skip
def test_wrong_types_fall_back_and_coerce(field: str, value: Any, expected: Any) -> None:
    frame = finish([decode_traces_page(_page([{**TRACE, field: value}]))], schema.TRACES)
    assert frame[field].to_list() == [expected]


def test_object_in_unknown_field_becomes_json() -> None:
    frame = finish([decode_traces_page(_page([{**TRACE, "tag": {"k": [1]}}]))], schema.TRACES)
    assert frame["tag"].to_list() == ['{"k":[1]}']


def test_uncoercible_values_raise() -> None:
    with pytest.raises(ValueError):
        decode_traces_page(_page([{**TRACE, "latency_ms": "slow"}]))
    with pytest.raises(ValueError):
        decode_traces_page(_page([TRACE], more=True)[:-10] + b"<html>")
    page = decode_spans_page(_page([{"id": "s", "latency_ms": "slow"}]))
    with pytest.raises(nf.TransportError):
        finish([page], schema.SPANS)


def test_spans_objects_batched_across_pages() -> None:
    spans = [{"id": f"s{i}", "trace_id": "t", "metadata": {"i": i}, "pii_actions": {},
              "violation_actions": None, "start_time_ms": "1767225600000",
              "end_time_ms": "1767225600010", "cursor": f"c{i}"} for i in range(3)]  # fmt: skip
    pages = [decode_spans_page(_page(spans[:2])), decode_spans_page(_page(spans[2:]))]
    assert [p.num_rows for p in pages] == [2, 1]
    frame = finish(pages, schema.SPANS)
    assert frame["metadata"].to_list() == ['{"i":0}', '{"i":1}', '{"i":2}']
    assert frame["pii_actions"].to_list() == ["{}"] * 3
    assert frame["violation_actions"].to_list() == [None] * 3
    assert frame["latency_ms"].to_list() == [10] * 3
    one_by_one = finish([p.table for p in pages], schema.SPANS)
    assert one_by_one.equals(frame)
