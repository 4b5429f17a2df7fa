"""Fuzz the local server over raw HTTP: hostile bodies, queries, paths, cursors and sizes.

Whatever comes in, the answer is a 4xx JSON error ``{"error": {"message": ...}}`` or a 200
holding only the caller's organisation's data; never a 500 (``srv.errors`` stays empty).
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netra_frames.server import LocalNetra
from netra_frames.server.httpd import MAX_BODY_BYTES

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SQL = [
    "'",
    '"',
    "' OR '1'='1",
    "' OR 1=1 --",
    "'; DROP TABLE traces; --",
    '"; DELETE FROM spans; --',
    "' UNION SELECT * FROM traces --",
    "%",
    "_",
    "\\",
    "*",
    "/*",
    "x\x00y",
    "org_1' --",
    "1; ATTACH DATABASE '/tmp/x' AS x; --",
]
hostile_text = st.one_of(st.sampled_from(SQL), st.text(max_size=40))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


class _Connection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Raw:
    """A keep-alive HTTP/1.1 connection that sends exactly what it is given."""

    def __init__(self, srv: LocalNetra) -> None:
        parts = urlsplit(srv.base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.key = srv.api_key
        self.conn = _Connection(self.host, self.port, timeout=10)

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        key: str | None = None,
    ) -> tuple[int, Any]:
        sent = {"x-api-key": self.key if key is None else key, **(headers or {})}
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
                raw = response.read()
                if response.will_close:
                    self.reconnect()
                break
            except (ConnectionError, http.client.HTTPException):
                self.reconnect()
                if attempt:
                    raise
        status = response.status
        assert status < 500, (status, raw[:300])
        payload = json.loads(raw) if raw else None
        if status >= 400 and method != "HEAD":
            message = payload["error"]["message"]
            assert isinstance(message, str) and message, payload
        return status, payload

    def reconnect(self) -> None:
        self.conn.close()
        self.conn = _Connection(self.host, self.port, timeout=10)

    def close(self) -> None:
        self.conn.close()


SERVER = dict(
    seed=9, traces=200, default_page_size=100, anchor=datetime(2026, 1, 1, tzinfo=timezone.utc)
)


@pytest.fixture
def raw(srv: LocalNetra) -> Iterator[Raw]:
    conn = Raw(srv)
    yield conn
    conn.close()
    assert srv.errors == [], srv.errors


@pytest.fixture(scope="module")
def own_org(srv: LocalNetra) -> str:
    return srv.organisations[0].org_id


@pytest.fixture(scope="module")
def base_body(srv: LocalNetra) -> dict[str, Any]:
    return {
        "startTime": "2000-01-01T00:00:00.000Z",
        "endTime": "2100-01-01T00:00:00.000Z",
        "filters": [],
        "pagination": {"limit": 100, "direction": "down"},
    }


@pytest.fixture(scope="module")
def foreign_ids(srv: LocalNetra, base_body: dict[str, Any]) -> set[str]:
    """Every trace id of the other organisations."""
    ids: set[str] = set()
    conn = Raw(srv)
    try:
        for org in srv.organisations[1:]:
            status, payload = conn.send(
                "POST", "/sdk/traces", json.dumps(base_body).encode(), key=org.api_key
            )
            assert status == 200
            ids |= {t["id"] for t in payload["data"]["data"]}
    finally:
        conn.close()
    assert ids
    return ids


def assert_own_traces(payload: Any, own_org: str, foreign_ids: set[str]) -> None:
    items = payload["data"]["data"]
    assert isinstance(payload["data"]["pageInfo"]["hasNextPage"], bool)
    for item in items:
        assert item["organisation_id"] == own_org
        assert item["id"] not in foreign_ids


# -- POST /sdk/traces -------------------------------------------------------------------------


@FUZZ
@given(value=json_values)
def test_any_json_body(raw: Raw, own_org: str, foreign_ids: set[str], value: Any) -> None:
    status, payload = raw.send("POST", "/sdk/traces", json.dumps(value).encode())
    assert status in (200, 400)
    if status == 200:
        assert_own_traces(payload, own_org, foreign_ids)


PATHS = [
    ("startTime",),
    ("endTime",),
    ("filters",),
    ("pagination",),
    ("sortField",),
    ("sortOrder",),
    ("pagination", "limit"),
    ("pagination", "cursor"),
    ("pagination", "direction"),
    ("filters", 0),
    ("filters", 0, "field"),
    ("filters", 0, "value"),
    ("filters", 0, "operator"),
    ("filters", 0, "type"),
    ("unknownField",),
    ("pagination", "unknown"),
    ("filters", 0, "unknown"),
]


@FUZZ
@given(
    changes=st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3),
    field=st.sampled_from(["tenant_id", "user_id", "session_id", "trace_id", "organisation_id"]),
)
def test_mutated_valid_bodies(
    raw: Raw,
    base_body: dict[str, Any],
    own_org: str,
    foreign_ids: set[str],
    changes: list[tuple[tuple[Any, ...], Any]],
    field: str,
) -> None:
    body = json.loads(json.dumps(base_body))
    body["filters"] = [{"field": field, "operator": "equals", "type": "string", "value": "x"}]
    for path, value in changes:
        target = body
        for step in path[:-1]:
            target = target[step] if isinstance(target, dict | list) else None
            if not isinstance(target, dict | list):
                break
        else:
            if isinstance(target, dict):
                target[path[-1]] = value
            elif isinstance(target, list) and target and isinstance(path[-1], int):
                target[path[-1]] = value
    status, payload = raw.send("POST", "/sdk/traces", json.dumps(body).encode())
    assert status in (200, 400)
    if status == 200:
        assert_own_traces(payload, own_org, foreign_ids)


@FUZZ
@given(
    field=st.sampled_from(["tenant_id", "user_id", "session_id", "trace_id"]),
    value=hostile_text,
    sort=st.one_of(st.none(), hostile_text, st.sampled_from(["latency_ms", "name"])),
)
def test_sql_metacharacters_in_filters_and_sorts(
    raw: Raw,
    base_body: dict[str, Any],
    own_org: str,
    foreign_ids: set[str],
    field: str,
    value: str,
    sort: str | None,
) -> None:
    body = {
        **base_body,
        "filters": [{"field": field, "operator": "equals", "type": "string", "value": value}],
    }
    if sort is not None:
        body["sortField"] = sort
    status, payload = raw.send("POST", "/sdk/traces", json.dumps(body).encode())
    if sort in (None, "latency_ms", "name"):
        assert status == 200
        assert_own_traces(payload, own_org, foreign_ids)
        assert all(t.get(field) == value for t in payload["data"]["data"])
    else:
        assert status == 400


@FUZZ
@given(raw_body=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_arbitrary_bytes_bodies(
    raw: Raw, own_org: str, foreign_ids: set[str], raw_body: bytes
) -> None:
    status, payload = raw.send("POST", "/sdk/traces", raw_body)
    assert status in (200, 400)
    if status == 200:
        assert_own_traces(payload, own_org, foreign_ids)


def test_pathological_json(raw: Raw, base_body: dict[str, Any]) -> None:
    for body in (
        b"[" * 100_000 + b"]" * 100_000,  # nesting beyond the parser's recursion limit
        b'{"startTime": "' + b"9" * 5000 + b'"}',
        b'{"pagination": {"limit": ' + b"9" * 5000 + b"}}",  # int beyond str->int limit
        json.dumps({**base_body, "pagination": {"limit": 1e308 * 10}}).encode(),
        json.dumps({**base_body, "startTime": "9999-12-31T23:59:59.999-23:59"}).encode(),
        json.dumps({**base_body, "endTime": "0001-01-01T00:00:00+23:59"}).encode(),
        json.dumps({**base_body, "filters": [{"field": "tenant_id", "value": "\ud800"}]}).encode(),
        b"\xef\xbb\xbf" + json.dumps(base_body).encode(),  # UTF-8 BOM
        b"\xff\xfe" + json.dumps(base_body).encode("utf-16-le"),
        b"null",
        b"  ",
    ):
        status, _ = raw.send("POST", "/sdk/traces", body)
        assert status in (200, 400)


# -- sizes and framing --------------------------------------------------------------------------


def test_huge_and_lying_bodies(raw: Raw, base_body: dict[str, Any]) -> None:
    huge = json.dumps({**base_body, "pad": "x" * (MAX_BODY_BYTES + 10)}).encode()
    assert raw.send("POST", "/sdk/traces", huge)[0] == 413
    assert raw.send("POST", "/sdk/traces", json.dumps(base_body).encode())[0] == 200
    status, _ = raw.send(
        "POST", "/sdk/traces", b"{}", {"Content-Length": str(10**12)}
    )  # claims a terabyte: refused without reading it
    assert status == 413
    assert raw.send("POST", "/sdk/traces", b"{}", {"Content-Length": "-1"})[0] == 400
    assert raw.send("POST", "/sdk/traces", b"{}", {"Content-Length": "abc"})[0] == 400


# -- GET routes: paths, queries, ids --------------------------------------------------------------


@FUZZ
@given(
    kind=st.sampled_from(["sessions", "tenants"]),
    ident=hostile_text.filter(lambda s: s.strip("/") != ""),
    query=st.dictionaries(
        st.sampled_from(["startTime", "endTime", "x", "cursor", ""]), hostile_text, max_size=3
    ),
    well_formed=st.booleans(),
)
def test_usage_routes(
    raw: Raw, own_org: str, kind: str, ident: str, query: dict[str, str], well_formed: bool
) -> None:
    if well_formed:
        query = {**query, "startTime": "2000-01-01", "endTime": "2100-01-01"}
    path = f"/usage/{kind}/{quote(ident, safe='')}?{urlencode(query)}"
    status, payload = raw.send("GET", path)
    assert status in (200, 400, 404)
    if status == 200:
        data = payload["data"]
        assert data.get("organisation_id", own_org) == own_org
        if ident in SQL:
            assert data["tokenCount"] == 0 and data["requestsCount"] == 0


@FUZZ
@given(
    trace_id=hostile_text,
    query=st.dictionaries(
        st.sampled_from(["limit", "cursor", "direction", "spanName", "x"]), hostile_text, max_size=4
    ),
)
def test_spans_route(raw: Raw, trace_id: str, query: dict[str, str]) -> None:
    path = f"/sdk/traces/{quote(trace_id, safe='')}/spans?{urlencode(query)}"
    status, _ = raw.send("GET", path)
    assert status in (400, 404)  # no such trace in the caller's organisation, or bad input


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    segments=st.lists(hostile_text, max_size=5),
    query=st.text(max_size=60),
    key=st.one_of(st.none(), hostile_text.filter(lambda s: s.isprintable() and s.isascii())),
)
def test_random_routes(
    raw: Raw, method: str, segments: list[str], query: str, key: str | None
) -> None:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    if query:
        path += "?" + quote(query, safe="=&")
    status, _ = raw.send(method, path, b"" if method != "GET" else None, key=key)
    assert 200 <= status < 500


def test_foreign_trace_spans_are_not_found(raw: Raw, foreign_ids: set[str]) -> None:
    for trace_id in sorted(foreign_ids)[:10]:
        assert raw.send("GET", f"/sdk/traces/{trace_id}/spans")[0] == 404


# -- cursors -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cursors(srv: LocalNetra, base_body: dict[str, Any]) -> dict[str, str]:
    """Real cursors: own traces, another organisation's traces, own spans."""
    conn = Raw(srv)
    try:
        body = {**base_body, "pagination": {"limit": 2}}
        own = conn.send("POST", "/sdk/traces", json.dumps(body).encode())[1]["data"]["data"]
        other_key = srv.organisations[1].api_key
        foreign = conn.send("POST", "/sdk/traces", json.dumps(body).encode(), key=other_key)
        spans = conn.send("GET", f"/sdk/traces/{own[0]['id']}/spans?limit=1")[1]["data"]["data"]
    finally:
        conn.close()
    return {
        "own": own[-1]["cursor"],
        "foreign": foreign[1]["data"]["data"][-1]["cursor"],
        "span": spans[0]["cursor"],
        "trace_id": own[0]["id"],
    }


def test_misused_cursors_are_400(
    raw: Raw, base_body: dict[str, Any], cursors: dict[str, str]
) -> None:
    def traces(cursor: str, **extra: Any) -> int:
        body = {**base_body, **extra, "pagination": {"cursor": cursor}}
        return raw.send("POST", "/sdk/traces", json.dumps(body).encode())[0]

    assert traces(cursors["own"]) == 200
    assert traces(cursors["foreign"]) == 400  # another organisation's
    assert traces(cursors["span"]) == 400  # another listing's
    assert traces(cursors["own"], sortField="latency_ms") == 400  # another sort's
    assert traces(cursors["own"], sortOrder="asc") == 400
    spans = f"/sdk/traces/{cursors['trace_id']}/spans?"
    assert raw.send("GET", spans + urlencode({"cursor": cursors["own"]}))[0] == 400
    head, _, tail = cursors["own"].partition(".")
    for tampered in (head + "." + tail[::-1], head[::-1] + "." + tail, head, "." + tail):
        assert traces(tampered) == 400


@FUZZ
@given(cursor=st.one_of(hostile_text, json_values), spans=st.booleans())
def test_bogus_cursors_are_400(
    raw: Raw, base_body: dict[str, Any], cursors: dict[str, str], cursor: Any, spans: bool
) -> None:
    if spans:
        if not isinstance(cursor, str):
            cursor = json.dumps(cursor)
        path = f"/sdk/traces/{cursors['trace_id']}/spans?{urlencode({'cursor': cursor})}"
        status, _ = raw.send("GET", path)
    else:
        body = {**base_body, "pagination": {"cursor": cursor}}
        status, _ = raw.send("POST", "/sdk/traces", json.dumps(body).encode())
    # an empty or null cursor means "from the head", like no cursor at all
    assert status == (200 if cursor in ("", None) else 400)
