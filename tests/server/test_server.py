"""Tests of the local Netra server over real HTTP (http.client on loopback)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from netra_frames.server import FaultConfig, LocalNetra, ServerStats

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
START = "2025-12-01T00:00:00.000Z"
END = "2026-01-01T00:00:00.000Z"
ALL = {"startTime": START, "endTime": END}

Reply = tuple[int, dict[str, str], Any]


class _Connection(http.client.HTTPConnection):
    """http.client sends headers and body in two writes: disable Nagle like urllib3 does."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Api:
    """One keep-alive HTTP connection to the server, JSON in and out."""

    def __init__(self, srv: LocalNetra, key: str | None = None) -> None:
        self.srv = srv
        self.key = srv.api_key if key is None else key
        parts = urlsplit(srv.base_url)
        assert parts.hostname is not None and parts.port is not None
        self.conn = _Connection(parts.hostname, parts.port, timeout=10)

    def close(self) -> None:
        self.conn.close()

    def raw(
        self, method: str, path: str, body: bytes | None = None, key: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"}
        key = self.key if key is None else key
        if key:
            headers["x-api-key"] = key
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except BaseException:
            self.conn.close()  # never leave the shared connection mid-request
            raise
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Reply:
        raw = None if body is None else json.dumps(body).encode()
        status, headers, data = self.raw(method, path, raw, key)
        assert headers["content-type"] == "application/json"
        assert int(headers["content-length"]) == len(data)
        return status, headers, json.loads(data)

    def traces(self, key: str | None = None, **body: Any) -> Reply:
        return self.call("POST", "/sdk/traces", {**ALL, "filters": [], **body}, key)

    def drain(self, key: str | None = None, limit: int = 100, direction: str = "down",
              cursor: str | None = None, **body: Any) -> list[dict[str, Any]]:  # fmt: skip
        items: list[dict[str, Any]] = []
        while True:
            page: dict[str, Any] = {"limit": limit, "direction": direction}
            if cursor:
                page["cursor"] = cursor
            status, _, out = self.traces(key, pagination=page, **body)
            assert status == 200, out
            data = out["data"]["data"]
            assert len(data) <= limit
            items.extend(data)
            if not out["data"]["pageInfo"]["hasNextPage"]:
                return items
            assert len(data) == limit
            cursor = data[-1]["cursor"]

    def spans(self, trace_id: str, **params: Any) -> Reply:
        query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
        path = f"/sdk/traces/{quote(trace_id, safe='')}/spans"
        return self.call("GET", path + (f"?{query}" if query else ""))

    def drain_spans(self, trace_id: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            status, _, out = self.spans(trace_id, **params)
            assert status == 200, out
            items.extend(out["data"]["data"])
            if not out["data"]["pageInfo"]["hasNextPage"]:
                return items
            params["cursor"] = out["data"]["data"][-1]["cursor"]

    def usage(
        self, kind: str, ident: str, start: str = START, end: str = END, key: str | None = None
    ) -> Reply:
        q = f"startTime={quote(start)}&endTime={quote(end)}"
        return self.call("GET", f"/usage/{kind}/{quote(ident, safe='')}?{q}", key=key)


@pytest.fixture(scope="session")
def srv(server: LocalNetra) -> LocalNetra:
    """The session server (conftest): 2000 traces of seed 0 over [ANCHOR - 30 days, ANCHOR)."""
    assert server.anchor == ANCHOR
    return server


@pytest.fixture(scope="session")
def api(srv: LocalNetra) -> Iterator[Api]:
    client = Api(srv)
    yield client
    client.close()


@pytest.fixture
def other(srv: LocalNetra) -> Iterator[Api]:
    """A client of the second organisation (which also has a tenant 'AceTech')."""
    client = Api(srv, srv.organisations[1].api_key)
    yield client
    client.close()


@pytest.fixture(scope="session")
def all_traces(api: Api) -> list[dict[str, Any]]:
    """Every trace of the first organisation in the default order (start_time desc)."""
    return api.drain()


@pytest.fixture
def faults(srv: LocalNetra) -> Iterator[LocalNetra]:
    """The server, with zeroed counters; its faults are off again after the test."""
    srv.reset_stats()
    yield srv
    srv.set_faults()


def as_nanos(usd: float) -> int:
    return round(usd * 1e9)


# -- auth and routing --------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "nk_wrong"])
def test_missing_or_unknown_key_is_401(api: Api, key: str) -> None:
    status, _, out = api.traces(key=key)
    assert status == 401
    assert api.usage("tenants", "AceTech", key=key or "")[0] == 401
    assert "x-api-key" in out["error"]["message"]
    assert api.usage("tenants", "AceTech")[0] == 200  # the good key still works


def test_authorization_header_alone_is_ignored(srv: LocalNetra) -> None:
    parts = urlsplit(srv.base_url)
    with closing(http.client.HTTPConnection(parts.hostname or "", parts.port or 0)) as conn:
        conn.request("POST", "/sdk/traces", b"{}", {"Authorization": f"Bearer {srv.api_key}"})
        assert conn.getresponse().status == 401


def test_unknown_route_404_and_wrong_method_405(api: Api) -> None:
    assert api.call("GET", "/nope")[0] == 404
    assert api.call("GET", "/usage/tenants/")[0] == 404
    status, headers, out = api.call("GET", "/sdk/traces")
    assert status == 405 and headers["allow"] == "POST" and out["error"]["message"]
    assert api.call("POST", "/usage/tenants/AceTech", {})[0] == 405
    assert api.call("DELETE", "/sdk/traces/abc/spans")[0] == 405


# -- wire shape --------------------------------------------------------------------------------

TRACE_REQUIRED = {
    "id": str,
    "name": str,
    "kind": str,
    "latency_ms": int,
    "start_time": str,
    "end_time": str,
    "cursor": str,
    "organisation_id": str,
    "project_id": str,
}
TRACE_OPTIONAL = {
    "session_id": str,
    "tenant_id": str,
    "user_id": str,
    "environment": str,
    "service": str,
    "models": list,
    "prompt_tokens": int,
    "completion_tokens": int,
    "cached_tokens": int,
    "total_tokens": int,
    "prompt_tokens_cost": float,
    "completion_tokens_cost": float,
    "cached_tokens_cost": float,
    "total_cost": float,
    "has_pii": bool,
    "pii_entities": list,
    "has_violation": bool,
    "violations": list,
    "has_error": bool,
}
SPAN_REQUIRED = {
    "id": str,
    "trace_id": str,
    "name": str,
    "kind": str,
    "organisation_id": str,
    "project_id": str,
    "created_at": str,
    "cursor": str,
}
SPAN_OPTIONAL = {"parent_span_id": str, "latency_ms": int, "start_time_ms": str,
                 "end_time_ms": str, "session_id": str, "tenant_id": str, "user_id": str,
                 "environment": str, "model_name": str, "prompt_tokens": int,
                 "completion_tokens": int, "cached_tokens": int, "total_tokens": int,
                 "prompt_tokens_cost": float, "completion_tokens_cost": float,
                 "cached_tokens_cost": float, "total_cost": float, "has_pii": bool,
                 "pii_entities": list, "pii_actions": dict, "has_violation": bool,
                 "violations": list, "violation_actions": dict, "status": str,
                 "attributes": str, "events": str, "links": str, "resources": str,
                 "metadata": dict, "has_error": bool}  # fmt: skip


def check_fields(
    item: dict[str, Any], required: Mapping[str, type], optional: Mapping[str, type]
) -> None:
    for name, typ in required.items():
        assert type(item[name]) is typ, name
    for name, typ in optional.items():
        assert name in item and (item[name] is None or type(item[name]) is typ), name


def test_trace_and_span_items_carry_every_sdk_field(
    api: Api, all_traces: list[dict[str, Any]]
) -> None:
    for trace in all_traces:
        check_fields(trace, TRACE_REQUIRED, TRACE_OPTIONAL)
        assert len(trace["id"]) == 32 and int(trace["id"], 16) >= 0
    spans = api.drain_spans(all_traces[0]["id"]) + api.drain_spans(all_traces[1]["id"])
    for span in spans:
        check_fields(span, SPAN_REQUIRED, SPAN_OPTIONAL)
        assert len(span["id"]) == 16
        for name in ("attributes", "resources"):
            assert isinstance(json.loads(span[name]), dict)
        for name in ("events", "links"):
            assert isinstance(json.loads(span[name]), list)
    assert any(t["tenant_id"] is None for t in all_traces)
    assert any(t["session_id"] is None for t in all_traces)
    assert any(t["has_error"] for t in all_traces)
    assert any(t["has_pii"] and t["pii_entities"] for t in all_traces)


# -- pagination --------------------------------------------------------------------------------


def test_drain_down_and_up_give_every_item_once(api: Api, all_traces: list[dict[str, Any]]) -> None:
    down = api.drain(limit=37)
    up = api.drain(limit=37, direction="up")
    ids = [t["id"] for t in down]
    assert len(ids) == len(set(ids)) > 1000
    assert [t["id"] for t in up] == ids[::-1]
    assert ids == [t["id"] for t in all_traces]
    starts = [t["start_time"] for t in down]
    assert starts == sorted(starts, reverse=True)
    assert all(START <= s < END for s in starts)


def test_default_page_size_and_ignored_keys(api: Api) -> None:
    status, _, out = api.call("POST", "/sdk/traces", {**ALL, "filters": [], "extra": {"x": 1}})
    assert status == 200 and len(out["data"]["data"]) == 10
    assert out["data"]["pageInfo"]["hasNextPage"] is True
    status, _, out = api.call("POST", "/sdk/traces", {**ALL, "pagination": None})
    assert status == 200 and len(out["data"]["data"]) == 10


SORT_KEYS = {
    "start_time": lambda t: t["start_time"],
    "end_time": lambda t: t["end_time"],
    "latency_ms": lambda t: t["latency_ms"],
    "total_cost": lambda t: t["total_cost"],
    "total_tokens": lambda t: t["total_tokens"],
    "name": lambda t: t["name"],
}


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("field", sorted(SORT_KEYS))
def test_every_sort_field_and_order(
    api: Api, all_traces: list[dict[str, Any]], field: str, order: str
) -> None:
    items = api.drain(limit=100, sortField=field, sortOrder=order)
    keys = [(SORT_KEYS[field](t), t["id"]) for t in items]
    assert keys == sorted(keys, reverse=order == "desc")
    if field != "end_time":  # ties exist, so the id tie-break is exercised
        assert len({k for k, _ in keys}) < len(keys)
    assert sorted(t["id"] for t in items) == sorted(t["id"] for t in all_traces)
    up = api.drain(limit=100, direction="up", sortField=field, sortOrder=order)
    assert [t["id"] for t in up] == [t["id"] for t in reversed(items)]


def test_ties_across_a_page_boundary(api: Api, all_traces: list[dict[str, Any]]) -> None:
    starts = [t["start_time"] for t in all_traces]
    tied = [i for i in range(len(starts) - 1) if starts[i] == starts[i + 1]]
    assert len(tied) >= 5
    for i in tied:
        page = {"limit": 3, "cursor": all_traces[i]["cursor"], "direction": "down"}
        out = api.traces(pagination=page)[2]["data"]["data"]
        assert [t["id"] for t in out] == [t["id"] for t in all_traces[i + 1 : i + 4]]
        page = {"limit": 2, "cursor": all_traces[i + 1]["cursor"], "direction": "up"}
        out = api.traces(pagination=page)[2]["data"]["data"]
        assert [t["id"] for t in out] == [t["id"] for t in all_traces[max(0, i - 1) : i + 1][::-1]]


def test_has_next_page_at_both_ends(api: Api, all_traces: list[dict[str, Any]]) -> None:
    last = {"limit": 5, "cursor": all_traces[-6]["cursor"]}
    out = api.traces(pagination=last)[2]["data"]
    assert len(out["data"]) == 5 and out["pageInfo"]["hasNextPage"] is False
    first = {"limit": 5, "cursor": all_traces[0]["cursor"], "direction": "up"}
    out = api.traces(pagination=first)[2]["data"]
    assert out["data"] == [] and out["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("field", ["tenant_id", "user_id", "session_id", "trace_id"])
def test_each_filter(api: Api, all_traces: list[dict[str, Any]], field: str) -> None:
    source = "id" if field == "trace_id" else field
    value = next(t[source] for t in all_traces[7:] if t[source] is not None)
    flt = [{"field": field, "operator": "equals", "type": "string", "value": value}]
    got = api.drain(limit=7, filters=flt)
    assert [t["id"] for t in got] == [t["id"] for t in all_traces if t[source] == value]
    assert got


def test_filters_combine_with_and(api: Api, all_traces: list[dict[str, Any]]) -> None:
    t = next(t for t in all_traces if t["user_id"] and t["tenant_id"])
    flt = [
        {"field": "tenant_id", "operator": "equals", "type": "string", "value": t["tenant_id"]},
        {"field": "user_id", "operator": "equals", "type": "string", "value": t["user_id"]},
    ]
    got = api.drain(filters=flt)
    expected = [x["id"] for x in all_traces
                if (x["tenant_id"], x["user_id"]) == (t["tenant_id"], t["user_id"])]  # fmt: skip
    assert [x["id"] for x in got] == expected


# -- usage -------------------------------------------------------------------------------------


def test_tenant_usage_equals_sums_over_traces(api: Api) -> None:
    start, end = "2025-12-10T03:17:00.250Z", "2025-12-24T11:00:00.001Z"
    flt = [{"field": "tenant_id", "operator": "equals", "type": "string", "value": "AceTech"}]
    items = api.drain(limit=50, filters=flt, startTime=start, endTime=end)
    status, _, out = api.usage("tenants", "AceTech", start, end)
    assert status == 200
    data = out["data"]
    assert data["tenant_id"] == "AceTech"
    assert data["organisation_id"] == api.srv.organisations[0].org_id
    assert data["requestsCount"] == len(items) > 50
    assert data["tokenCount"] == sum(t["total_tokens"] for t in items)
    assert data["sessionsCount"] == len({t["session_id"] for t in items} - {None})
    assert as_nanos(data["totalCost"]) == sum(as_nanos(t["total_cost"]) for t in items)
    assert isinstance(data["totalCost"], float) and isinstance(data["tokenCount"], int)


def test_session_usage_equals_sums_over_traces(api: Api, all_traces: list[dict[str, Any]]) -> None:
    counts: dict[str, int] = {}
    for t in all_traces:
        if t["session_id"]:
            counts[t["session_id"]] = counts.get(t["session_id"], 0) + 1
    session = max(counts, key=lambda s: (counts[s], s))
    flt = [{"field": "session_id", "operator": "equals", "type": "string", "value": session}]
    items = api.drain(limit=2, filters=flt)
    assert len(items) == counts[session] >= 3
    out = api.usage("sessions", session)[2]["data"]
    assert out == {
        "session_id": session,
        "tokenCount": sum(t["total_tokens"] for t in items),
        "requestsCount": len(items),
        "totalCost": out["totalCost"],
    }
    assert as_nanos(out["totalCost"]) == sum(as_nanos(t["total_cost"]) for t in items)
    # a window that ends at the session's first trace holds none of them
    first = min(t["start_time"] for t in items)
    out = api.usage("sessions", session, START, first)[2]["data"]
    assert (out["requestsCount"], out["tokenCount"], out["totalCost"]) == (0, 0, 0.0)


def test_unknown_or_foreign_session_is_zero(api: Api, other: Api) -> None:
    foreign = next(t["session_id"] for t in other.drain() if t["session_id"])
    for ident in ("sess_does_not_exist", foreign):
        status, _, out = api.usage("sessions", ident)
        assert status == 200
        assert out["data"] == {"session_id": ident, "tokenCount": 0, "requestsCount": 0,
                               "totalCost": 0.0}  # fmt: skip
    assert other.usage("sessions", foreign)[2]["data"]["requestsCount"] > 0


def test_time_formats_are_equivalent(api: Api) -> None:
    ref = api.usage("tenants", "Globex", "2025-12-05T10:00:00.000Z", "2025-12-20T00:00:00Z")
    for start, end in [
        ("2025-12-05T10:00:00Z", "2025-12-20T00:00:00.000000Z"),
        ("2025-12-05T12:00:00+02:00", "2025-12-19T19:00:00-05:00"),
        ("2025-12-05T10:00:00.000000000Z", "2025-12-20T00:00:00"),
    ]:
        assert api.usage("tenants", "Globex", start, end)[2] == ref[2]
    assert ref[2]["data"]["requestsCount"] > 0


def test_window_is_half_open_to_the_millisecond(api: Api, all_traces: list[dict[str, Any]]) -> None:
    t = next(t for t in all_traces if t["session_id"])
    sess, at = t["session_id"], t["start_time"]
    n = sum(1 for x in all_traces if x["session_id"] == sess and x["start_time"] == at)
    assert api.usage("sessions", sess, at, "2026-01-01T00:00:00Z")[2]["data"]["requestsCount"] >= n
    just_after = at[:-1] + "0001Z"  # 1 microsecond later: the trace is outside [start, end)
    inside = api.usage("sessions", sess, START, at)[2]["data"]["requestsCount"]
    assert api.usage("sessions", sess, START, just_after)[2]["data"]["requestsCount"] == inside + n


@pytest.mark.parametrize(
    "tenant", ["Stark/Industries", "Zürich AG", "Q?Labs #7 100%", "Umbrella Corp"]
)
def test_tenant_ids_with_special_characters_round_trip(
    api: Api, all_traces: list[dict[str, Any]], tenant: str
) -> None:
    status, _, out = api.usage("tenants", tenant)
    assert status == 200
    assert out["data"]["tenant_id"] == tenant
    expected = sum(1 for t in all_traces if t["tenant_id"] == tenant)
    assert out["data"]["requestsCount"] == expected > 0


def test_organisations_are_isolated(api: Api, other: Api) -> None:
    mine = api.usage("tenants", "AceTech")[2]["data"]
    theirs = other.usage("tenants", "AceTech")[2]["data"]
    assert mine["organisation_id"] != theirs["organisation_id"]
    assert mine["requestsCount"] > theirs["requestsCount"] > 0
    flt = [{"field": "tenant_id", "operator": "equals", "type": "string", "value": "AceTech"}]
    a, b = api.drain(filters=flt), other.drain(filters=flt)
    assert len(a) == mine["requestsCount"] and len(b) == theirs["requestsCount"]
    assert {t["organisation_id"] for t in a} == {mine["organisation_id"]}
    assert {t["organisation_id"] for t in b} == {theirs["organisation_id"]}
    assert not {t["id"] for t in a} & {t["id"] for t in b}
    # another organisation's trace looks exactly like a missing one
    status, _, out = api.spans(b[0]["id"])
    assert status == 404 and b[0]["id"] in out["error"]["message"]
    flt = [{"field": "trace_id", "operator": "equals", "type": "string", "value": b[0]["id"]}]
    assert api.traces(filters=flt)[2]["data"]["data"] == []


# -- spans -------------------------------------------------------------------------------------


def test_spans_sum_to_their_trace(api: Api, all_traces: list[dict[str, Any]]) -> None:
    picked = sorted(all_traces, key=lambda t: (-len(t["models"]), t["id"]))[:4]
    picked += [t for t in all_traces if t["has_error"]][:2]
    for trace in picked:
        spans = api.drain_spans(trace["id"], limit=3)
        assert len({s["id"] for s in spans}) == len(spans) >= 2
        assert {s["trace_id"] for s in spans} == {trace["id"]}
        for name in ("prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens"):
            assert sum(s[name] for s in spans) == trace[name]
        for name in ("prompt_tokens_cost", "completion_tokens_cost", "total_cost"):
            assert sum(s[name] for s in spans) == pytest.approx(trace[name], abs=1e-9)
        assert sorted({s["model_name"] for s in spans} - {None}) == trace["models"]
        assert any(s["status"] == "error" for s in spans) == trace["has_error"]
        roots = [s for s in spans if s["parent_span_id"] is None]
        assert len(roots) == 1 and roots[0]["latency_ms"] == trace["latency_ms"]
        keys = [(int(s["start_time_ms"]), s["id"]) for s in spans]
        assert keys == sorted(keys)
        up = api.drain_spans(trace["id"], limit=2, direction="up")
        assert [s["id"] for s in up] == [s["id"] for s in reversed(spans)]
        by_id = {s["id"]: s for s in spans}
        for s in spans:
            if s["parent_span_id"]:
                parent = by_id[s["parent_span_id"]]
                assert int(parent["start_time_ms"]) <= int(s["start_time_ms"])
                assert int(s["end_time_ms"]) <= int(parent["end_time_ms"])


def test_span_name_filter(api: Api, all_traces: list[dict[str, Any]]) -> None:
    trace = max(all_traces[:200], key=lambda t: (len(t["models"]), t["id"]))
    spans = api.drain_spans(trace["id"])
    got = api.drain_spans(trace["id"], spanName="OPENAI")
    assert [s["id"] for s in got] == [s["id"] for s in spans if "openai" in s["name"]]
    got = api.drain_spans(trace["id"], spanName="generation", limit=1)
    assert [s["id"] for s in got] == [s["id"] for s in spans if s["kind"] == "generation"]
    assert got
    assert api.drain_spans(trace["id"], spanName="no-such-span") == []


def test_span_listing_errors(api: Api, all_traces: list[dict[str, Any]]) -> None:
    a, b = all_traces[0]["id"], all_traces[1]["id"]
    assert api.spans("0" * 32)[0] == 404
    assert api.spans("x' OR '1'='1")[0] == 404
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "abc"}, {"limit": "-1"},
                   {"direction": "sideways"}, {"cursor": "garbage"},
                   {"cursor": all_traces[0]["cursor"]}):  # fmt: skip
        status, _, out = api.spans(a, **params)
        assert status == 400, params
        assert out["error"]["message"]
    cursor = api.spans(b, limit=1)[2]["data"]["data"][0]["cursor"]
    status, _, out = api.spans(a, cursor=cursor)
    assert status == 400 and "invalid cursor" in out["error"]["message"]


# -- bad input ---------------------------------------------------------------------------------

F = {"field": "tenant_id", "operator": "equals", "type": "string", "value": "AceTech"}
BAD_BODIES: list[tuple[str, Any, str]] = [
    ("limit zero", {"pagination": {"limit": 0}}, "limit"),
    ("limit too big", {"pagination": {"limit": 101}}, "limit"),
    ("limit string", {"pagination": {"limit": "10"}}, "limit"),
    ("limit float", {"pagination": {"limit": 1.5}}, "limit"),
    ("limit bool", {"pagination": {"limit": True}}, "limit"),
    ("direction", {"pagination": {"direction": "left"}}, "direction"),
    ("pagination list", {"pagination": [1]}, "pagination"),
    ("cursor garbage", {"pagination": {"cursor": "not-a-cursor"}}, "cursor"),
    ("cursor number", {"pagination": {"cursor": 5}}, "cursor"),
    ("sort field", {"sortField": "id; DROP TABLE traces"}, "sortField"),
    ("sort order", {"sortOrder": "sideways"}, "sortOrder"),
    ("filter field", {"filters": [{**F, "field": "model"}]}, "field"),
    ("filter operator", {"filters": [{**F, "operator": "contains"}]}, "operator"),
    ("filter type", {"filters": [{**F, "type": "number"}]}, "type"),
    ("filter value", {"filters": [{**F, "value": 3}]}, "value"),
    ("filter item", {"filters": ["tenant_id"]}, "filters"),
    ("filters object", {"filters": {"tenant_id": "x"}}, "filters"),
    ("missing start", {"startTime": None}, "startTime"),
    ("bad start", {"startTime": "yesterday"}, "startTime"),
    ("bad month", {"startTime": "2025-13-01T00:00:00Z"}, "startTime"),
    ("number end", {"endTime": 1767225600}, "endTime"),
    ("end before start", {"startTime": END, "endTime": START}, "endTime"),
    ("empty window", {"startTime": END, "endTime": END}, "endTime"),
]


@pytest.mark.parametrize("change,word", [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES])
def test_bad_trace_requests_are_400(api: Api, change: dict[str, Any], word: str) -> None:
    body = {**ALL, "filters": [], **change}
    body = {k: v for k, v in body.items() if v is not None}
    status, _, out = api.call("POST", "/sdk/traces", body)
    assert status == 400
    assert word in out["error"]["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe", b"null"])
def test_malformed_or_non_object_bodies_are_400(api: Api, raw: bytes) -> None:
    status, _, data = api.raw("POST", "/sdk/traces", raw)
    assert status == 400
    assert json.loads(data)["error"]["message"]


def test_tampered_foreign_and_other_sort_cursors_are_400(api: Api, other: Api) -> None:
    mine = api.traces(pagination={"limit": 1})[2]["data"]["data"][0]["cursor"]
    theirs = other.traces(pagination={"limit": 1})[2]["data"]["data"][0]["cursor"]
    head, _, mac = mine.partition(".")
    tampered = [head[:-2] + ("A" if head[-2] != "A" else "B") + head[-1] + "." + mac,
                head + "." + mac[::-1], head, "." + mac, mine + "x"]  # fmt: skip
    for cursor in [*tampered, theirs]:
        status, _, out = api.traces(pagination={"cursor": cursor})
        assert status == 400 and "invalid cursor" in out["error"]["message"], cursor
    status, _, out = api.traces(pagination={"cursor": mine}, sortField="latency_ms")
    assert status == 400 and "invalid cursor" in out["error"]["message"]
    assert api.traces(pagination={"cursor": mine})[0] == 200


@pytest.mark.parametrize("kind", ["sessions", "tenants"])
def test_bad_usage_windows_are_400(api: Api, kind: str) -> None:
    for query, word in [("endTime=2026-01-01T00:00:00Z", "startTime"),
                        ("startTime=2025-12-01T00:00:00Z", "endTime"),
                        ("startTime=2025-12-01&endTime=soon", "endTime"),
                        (f"startTime={END}&endTime={START}", "endTime")]:  # fmt: skip
        status, _, out = api.call("GET", f"/usage/{kind}/AceTech?{query}")
        assert status == 400 and word in out["error"]["message"], query


@pytest.mark.parametrize("value", ["' OR 1=1 --", '"; DROP TABLE traces; --', "%", "_", "\\"])
def test_sql_metacharacters_are_plain_values(api: Api, value: str) -> None:
    flt = [{"field": "tenant_id", "operator": "equals", "type": "string", "value": value}]
    status, _, out = api.traces(filters=flt)
    assert status == 200 and out["data"]["data"] == []
    for kind in ("sessions", "tenants"):
        status, _, out = api.usage(kind, value)
        assert status == 200 and out["data"]["requestsCount"] == 0
    assert api.spans(value, spanName=value)[0] == 404


def test_huge_body_is_413_and_connection_survives(api: Api) -> None:
    status, _, data = api.raw("POST", "/sdk/traces", b" " * ((1 << 20) + 1))
    assert status == 413 and json.loads(data)["error"]["message"]
    assert api.traces()[0] == 200


# -- connections, stats, faults ----------------------------------------------------------------


def test_keep_alive_uses_one_connection(srv: LocalNetra) -> None:
    srv.reset_stats()
    client = Api(srv)
    try:
        for _ in range(5):
            assert client.traces(pagination={"limit": 3})[0] == 200
        assert client.usage("tenants", "AceTech")[0] == 200
    finally:
        client.close()
    stats = srv.stats
    assert isinstance(stats, ServerStats)
    assert stats.connections_opened == 1
    assert stats.requests == 6 and stats.by_status == {200: 6}


def test_concurrent_clients(srv: LocalNetra) -> None:
    failures: list[BaseException] = []

    def work() -> None:
        client = Api(srv)
        try:
            assert len(client.drain(limit=100)) > 1000
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
            failures.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and srv.errors == []


def test_latency_fault_adds_delay(api: Api, faults: LocalNetra) -> None:
    faults.set_faults(latency_ms=150)
    began = time.perf_counter()
    assert api.traces(pagination={"limit": 1})[0] == 200
    assert time.perf_counter() - began >= 0.15  # a lower bound: a slow machine only adds


def test_error_and_429_faults_are_seeded(api: Api, faults: LocalNetra) -> None:
    def statuses() -> list[int]:
        return [api.traces(pagination={"limit": 1})[0] for _ in range(30)]

    faults.set_faults(error_rate=0.3, rate_429=0.2, seed=7)
    first = statuses()
    faults.set_faults(error_rate=0.3, rate_429=0.2, seed=7)
    assert statuses() == first
    assert {500, 502, 503} & set(first) and 429 in first and 200 in first
    injected = faults.stats.faults
    assert injected["error"] + injected["429"] == 2 * sum(s != 200 for s in first)
    faults.set_faults(rate_429=1.0, retry_after=0)
    status, headers, out = api.usage("tenants", "AceTech")
    assert status == 429 and headers["retry-after"] == "0" and "fault" in out["error"]["message"]
    assert api.call("GET", "/nope")[0] == 404  # non-API routes are never faulted


def test_token_bucket_rate_limit(api: Api, faults: LocalNetra) -> None:
    # one token per 1000 s: the bucket surely stays empty while the test runs
    faults.set_faults(rate_limit_rps=0.001, rate_limit_burst=2)
    got = [api.usage("tenants", "AceTech") for _ in range(3)]
    assert [g[0] for g in got] == [200, 200, 429]
    assert 990 <= int(got[2][1]["retry-after"]) <= 1000  # the whole seconds to the next token
    assert faults.stats.faults == {"rate_limit": 1}


def test_token_bucket_can_start_empty(srv: LocalNetra, api: Api, faults: LocalNetra) -> None:
    faults.set_faults(rate_limit_rps=0.001, rate_limit_burst=2, rate_limit_initial_tokens=1)
    other = Api(srv, srv.organisations[1].api_key)
    try:
        mine = [api.usage("tenants", "AceTech")[0] for _ in range(2)]
        theirs = [other.usage("tenants", "AceTech")[0] for _ in range(2)]
        faults.set_faults(rate_limit_rps=0.001, rate_limit_initial_tokens=0)
        empty = [api.usage("tenants", "AceTech")[0], other.usage("tenants", "AceTech")[0]]
    finally:
        other.close()
    assert mine == theirs == [200, 429]  # one bucket per key, each holding 1 token at first
    assert empty == [429, 429]  # set_faults starts every bucket again, here empty


def test_scheduled_faults_hit_exactly_the_numbered_requests(
    srv: LocalNetra, api: Api, faults: LocalNetra
) -> None:
    faults.set_faults(schedule={2: "429", 3: "504", 5: "error"}, every={"418": 4},
                      error_statuses=(502,), retry_after=0)  # fmt: skip
    other = Api(srv, srv.organisations[1].api_key)
    try:
        # numbers count every API request, whatever its key; non-API routes are not counted
        replies = [
            api.traces(pagination={"limit": 1}),  # 1
            other.usage("tenants", "AceTech"),  # 2
            api.call("GET", "/nope"),
            api.usage("sessions", "s"),  # 3
            api.traces(pagination={"limit": 1}),  # 4
            other.traces(pagination={"limit": 1}),  # 5
            *(api.usage("tenants", "AceTech") for _ in range(3)),  # 6, 7, 8
        ]
    finally:
        other.close()
    assert [r[0] for r in replies] == [200, 429, 404, 504, 418, 502, 200, 200, 418]
    assert replies[1][1]["retry-after"] == "0" and "fault" in replies[3][2]["error"]["message"]
    assert faults.stats.faults == {"429": 1, "error": 4}
    faults.set_faults(schedule={1: "truncate"})  # a new count: request 1 again
    with pytest.raises(http.client.IncompleteRead):
        api.raw("POST", "/sdk/traces", json.dumps(ALL).encode())


BAD_FAULTS = {
    "request 0": FaultConfig(schedule={0: "429"}),
    "unknown kind": FaultConfig(schedule={1: "teapot"}),
    "status 399": FaultConfig(schedule={1: "399"}),
    "every 0": FaultConfig(every={"error": 0}),
    "the bucket's kind": FaultConfig(every={"rate_limit": 2}),
    "more tokens than the burst": FaultConfig(rate_limit_initial_tokens=11),
    "negative stall": FaultConfig(stall_ms=-1),
}


@pytest.mark.parametrize("config", BAD_FAULTS.values(), ids=BAD_FAULTS)
def test_bad_fault_schedules_are_refused(config: FaultConfig) -> None:
    with pytest.raises(ValueError):
        LocalNetra(traces=1, anchor=ANCHOR, faults=config)


def test_fault_schedule_wins_over_bucket_and_rates(api: Api, faults: LocalNetra) -> None:
    faults.set_faults(schedule={1: "404"}, every={"401": 2}, rate_limit_rps=0.001,
                      rate_limit_burst=1, error_rate=1.0, error_statuses=(503,))  # fmt: skip
    statuses = [api.usage("tenants", "AceTech")[0] for _ in range(4)]
    assert statuses == [404, 401, 429, 401]  # request 3: the empty bucket wins over the rates
    faults.set_faults(fail_after_requests=1, schedule={2: "429"})
    assert [api.usage("tenants", "AceTech")[0] for _ in range(2)] == [200, 503]


def test_broken_body_faults(srv: LocalNetra, faults: LocalNetra) -> None:
    faults.set_faults(every={"malformed": 1})
    client = Api(srv)
    try:
        status, _, data = client.raw("POST", "/sdk/traces", json.dumps(ALL).encode())
        assert status == 200
        with pytest.raises(ValueError):
            json.loads(data)
        broken: list[tuple[str, tuple[type[Exception], ...]]] = [
            ("truncate", (http.client.IncompleteRead,)),
            ("reset_mid", (http.client.IncompleteRead, ConnectionError)),
            ("reset_before", (ConnectionError,)),
        ]
        for kind, error in broken:
            faults.set_faults(every={kind: 1})
            with pytest.raises(error):
                client.raw("POST", "/sdk/traces", json.dumps(ALL).encode())
            client.close()
        faults.set_faults(every={"slow": 1}, slow_body_ms=100)
        began = time.perf_counter()
        assert client.raw("POST", "/sdk/traces", json.dumps(ALL).encode())[0] == 200
        assert time.perf_counter() - began >= 0.1  # a lower bound: a slow machine only adds
    finally:
        client.close()


def test_a_stalled_request_is_dropped_when_its_client_hangs_up(
    srv: LocalNetra, faults: LocalNetra
) -> None:
    """The server stops waiting (and never answers) once the client has gone away."""
    faults.set_faults(every={"stall": 1}, stall_ms=600_000)
    srv.reset_stats()
    parts = urlsplit(srv.base_url)
    body = json.dumps(ALL).encode()
    request = (
        f"POST /sdk/traces HTTP/1.1\r\nHost: x\r\nx-api-key: {srv.api_key}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=30) as sock:
        sock.sendall(request)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # stalled: nothing comes
    faults.set_faults(None)
    with closing(Api(srv)) as api:  # the server answers on, and the dropped request never did
        assert api.usage("tenants", "AceTech")[0] == 200
    assert srv.stats.faults == {"stall": 1} and srv.stats.by_status == {200: 1}


# -- lifecycle ---------------------------------------------------------------------------------


def first_page(server: LocalNetra) -> list[dict[str, Any]]:
    client = Api(server)
    try:
        items = client.traces(pagination={"limit": 20}, sortField="name")[2]["data"]["data"]
    finally:
        client.close()
    return [{k: v for k, v in t.items() if k != "cursor"} for t in items]


def test_same_seed_same_data(tmp_path: Any) -> None:
    with LocalNetra(seed=3, traces=300, anchor=ANCHOR) as a:
        page = first_page(a)
    with LocalNetra(seed=3, traces=300, anchor=ANCHOR, shape="uniform") as u:
        assert first_page(u) == page  # "uniform" is the default
    db = str(tmp_path / "netra.sqlite")
    with LocalNetra(seed=3, traces=300, anchor=ANCHOR, db=db) as b:
        assert first_page(b) == page
    with LocalNetra(seed=3, traces=300, anchor=ANCHOR, db=db) as c:  # reuses the file
        assert first_page(c) == page
        assert c.data_reused and not b.data_reused
    with LocalNetra(seed=4, traces=300, anchor=ANCHOR, db=db) as d:  # regenerates
        assert first_page(d) != page and not d.data_reused
        assert d.api_key != a.api_key
    with LocalNetra(seed=4, traces=300, anchor=ANCHOR, db=db, shape="skewed") as e:
        assert not e.data_reused  # another shape is other data


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("shape", ["uniform", "skewed", "bursty"])
def test_data_shapes(shape: str) -> None:
    """Where each shape puts the traces; every shape keeps the data's invariants."""
    days = 40
    lo, hi = ANCHOR - timedelta(days=days), ANCHOR
    with LocalNetra(seed=2, traces=1000, days=days, anchor=ANCHOR, shape=shape) as shaped:
        clients = [Api(shaped, org.api_key) for org in shaped.organisations]
        try:
            window = {"startTime": lo.isoformat(), "endTime": hi.isoformat()}
            every = [t for c in clients for t in c.drain(**window)]
            sample = sorted(every, key=lambda t: t["id"])[:5]
            spans = {t["id"]: clients[0].drain_spans(t["id"]) for t in sample if
                     t["organisation_id"] == shaped.organisations[0].org_id}  # fmt: skip
        finally:
            for c in clients:
                c.close()
    starts = [_parse(t["start_time"]) for t in every]
    assert len(every) == 1000 and all(lo <= s < hi for s in starts)

    def share(a: datetime, b: datetime) -> float:
        return sum(a <= s < b for s in starts) / len(starts)

    last_quarter = share(hi - timedelta(days=days / 4), hi)
    burst_day = share(lo + timedelta(days=days // 2), lo + timedelta(days=days // 2 + 1))
    if shape == "uniform":
        assert 0.2 < last_quarter < 0.3 and burst_day < 0.06
    elif shape == "skewed":
        assert last_quarter == 1.0
    else:
        assert 0.5 <= burst_day <= 0.56 and 0.08 < last_quarter < 0.17
    ties = len(starts) - len(set(starts))
    assert 0.005 < ties / len(starts) < 0.04  # ~2 % of traces share a start time
    assert spans
    for trace_id, items in spans.items():
        trace = next(t for t in every if t["id"] == trace_id)
        for name in ("prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens"):
            assert sum(s[name] for s in items) == trace[name]
        assert sum(s["total_cost"] for s in items) == pytest.approx(trace["total_cost"], abs=1e-9)


def test_lifecycle_and_config(srv: LocalNetra) -> None:
    server = LocalNetra(traces=10)
    assert not server.is_running and server.stats.requests == 0
    with pytest.raises(RuntimeError):
        _ = server.base_url
    server.start()
    try:
        assert server.url_for("/x") == server.base_url + "/x"
        assert server.anchor.second == 0 and server.anchor.tzinfo is not None
        with pytest.raises(RuntimeError):
            server.start()
    finally:
        server.stop()
        server.stop()
    assert srv.api_keys[srv.organisations[0].org_id] == srv.api_key
    assert len(set(srv.api_keys.values())) == 3
    with pytest.raises(ValueError):
        LocalNetra(max_page_size=5, default_page_size=10)
    with pytest.raises(ValueError):
        FaultConfig(error_rate=0.7, rate_429=0.7).validate()


def test_protocol_errors_are_json(srv: LocalNetra) -> None:
    parts = urlsplit(srv.base_url)
    chunked = b"POST /sdk/traces HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    for raw, status in [
        (b"GARBAGE\r\n\r\n", 400),
        (b"BREW /x HTTP/1.1\r\n\r\n", 501),
        (chunked, 411),
    ]:
        with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=5) as sock:
            sock.sendall(raw)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode())
        assert b"Content-Type: application/json" in head
        assert json.loads(body)["error"]["message"]
