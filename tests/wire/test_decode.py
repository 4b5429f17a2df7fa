"""The fast decode paths give the same columns as the slow, coercing path."""

from __future__ import annotations

import json
from typing import Any

import pytest

import netra_frames as nf
from netra_frames import schema
from netra_frames._wire.convert import concat_frames
from netra_frames._wire.decode import (
    decode_spans_page,
    decode_traces_page,
    finish,
)


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


# -- batched fast paths: page bodies kept, parsed together in finish() -------------------


def _compact(items: list[dict[str, Any]], more: bool = False, **kw: Any) -> bytes:
    """A page as the server writes it: compact, one line, the cursor last in each item."""
    body = {"data": {"data": items, "pageInfo": {"hasNextPage": more}}}
    return json.dumps(body, separators=(",", ":"), **kw).encode()


SPAN = {
    "id": "s0",
    "trace_id": "t",
    "name": "llm",
    "latency_ms": 4,
    "start_time_ms": "1767225600000",
    "end_time_ms": "1767225600010",
    "pii_entities": ["EMAIL"],
    "pii_actions": {},
    "metadata": {"sdk": "netra-python", "v": [1, {"k": None}], "é": "x\u0001"},
    "attributes": '{"a": 1}',
    "has_pii": True,
    "total_cost": 0.25,
}


def _spans(*variants: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**SPAN, "id": f"s{i}", **v, "cursor": f"c{i}"} for i, v in enumerate(variants)]


def _slow(body: bytes) -> bytes:
    return body.replace(b'{"data":{"data":[', b'{"data": {"data": [', 1)  # not the fast form


@pytest.mark.parametrize(
    "variants",
    [
        ({}, {"metadata": None, "attributes": None}),  # nulls
        ({"new": 1}, {"new": None}, {}),  # unknown field, type inferred
        ({"tag": {"k": [1]}}, {}),  # object in an unknown field: JSON text (slow path)
        ({"metadata": {"f": 1.5}},),  # a float inside an object (slow path)
        ({"metadata": "as text"}, {"metadata": {"a": 1}}),  # strings and objects mixed
        ({"attributes": {"x": 1}, "events": [1, "a"], "links": 5},),  # non-strings in JSON fields
        ({"latency_ms": 3.0, "has_pii": 1, "name": 12},),  # wrong types: coerced
        ({"start_time": "collides"},),
    ],
)
def test_batched_spans_equal_one_by_one(variants: tuple[dict[str, Any], ...]) -> None:
    items = _spans(*variants)
    for drop in ((), ("name", "metadata", "pii_actions")):  # missing fields too
        rows = [{k: v for k, v in item.items() if k not in drop} for item in items]
        bodies = [
            _compact(rows[:1], more=True),
            _compact(rows[1:]),
            _compact(rows, ensure_ascii=False),
        ]
        pages = [decode_spans_page(b) for b in bodies]
        assert [p.raw is not None for p in pages] == [True, len(rows) > 1, True]  # [] is slow
        assert (pages[0].has_next_page, pages[0].next_cursor) == (True, "c0")
        fast = finish(pages, schema.SPANS)
        slow = finish([decode_spans_page(_slow(b)) for b in bodies], schema.SPANS)
        assert fast.equals(slow)
        by_page = finish([decode_spans_page(b).table for b in bodies], schema.SPANS)
        assert by_page.equals(slow)


def test_batched_spans_keep_compact_json_text() -> None:
    body = _compact(_spans({}, {"pii_actions": {"a": [1]}}))
    frame = finish([decode_spans_page(body)], schema.SPANS)
    assert (
        frame["metadata"].to_list()
        == ['{"sdk":"netra-python","v":[1,{"k":null}],"é":"x\\u0001"}'] * 2
    )
    assert frame["pii_actions"].to_list() == ["{}", '{"a":[1]}']
    assert frame["attributes"].to_list() == ['{"a": 1}'] * 2  # a string stays as sent


def test_spans_envelope_fast_path_only_for_the_exact_form() -> None:
    one_line = _compact(_spans({}), more=True)
    assert decode_spans_page(one_line).raw is not None
    newline = one_line.replace(b'"name":"llm"', b'"name":\n"llm"')
    cursor_not_last = _compact([{**_spans({})[0], "x": 1}], more=True)
    no_cursor = _compact([SPAN])
    for body in (newline, cursor_not_last, no_cursor, _compact([])):
        page = decode_spans_page(body)
        assert page.raw is None and page.items is not None
    with pytest.raises(ValueError):
        decode_spans_page(_compact([SPAN], more=True))  # a next page without a cursor
    pages = [decode_spans_page(newline), decode_spans_page(one_line)]
    assert finish(pages, schema.SPANS).height == 2
    bad = decode_spans_page(_compact(_spans({"latency_ms": "slow"})))
    with pytest.raises(nf.TransportError):
        finish([bad], schema.SPANS)


def test_batched_traces_count_rows_off_the_bytes() -> None:
    items = [{**TRACE, "cursor": "c1"}, {**TRACE, "id": "b" * 32, "models": None, "cursor": "c2"}]
    page = decode_traces_page(_compact(items, more=True))
    assert page.raw is not None and (page.num_rows, page.next_cursor) == (2, "c2")
    nested = [
        {**{k: v for k, v in TRACE.items() if k != "cursor"}, "x": {"id": "q"}, "cursor": "c"}
    ]
    assert decode_traces_page(_compact(nested)).raw is None  # counts disagree: parsed now
    pages = [decode_traces_page(_compact(items, more=True)), decode_traces_page(_compact(nested))]
    slow = [decode_traces_page(_page(items, more=True)), decode_traces_page(_page(nested))]
    assert finish(pages, schema.TRACES).equals(finish(slow, schema.TRACES))


def test_batches_put_together_equal_one_finish() -> None:
    bodies = [
        _compact(_spans({}, {"new": 1})),
        _compact(_spans({"tag": "x"})),
        _compact(_spans({})),
    ]
    pages = [decode_spans_page(b) for b in bodies]
    whole = finish(pages, schema.SPANS)
    parts = [finish(pages[n : n + 1], schema.SPANS) for n in range(3)]  # columns differ
    assert concat_frames(parts).equals(whole)
