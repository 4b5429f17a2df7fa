"""Hostile input on the client side: each bad argument is a typed error, before any request.

"Before any request" is proven by the server itself: every test runs against a LocalNetra
whose request and connection counters must still be 0 afterwards. Ids with ``/ ? # %``
and unicode are *valid* ids: they must reach the server percent-encoded and come back
unchanged, never be routed elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import netra_frames as nf
from netra_frames import ConfigurationError, InvalidParameterError, NetraClient, NotFoundError
from netra_frames.query import SORT_FIELDS, Request
from netra_frames.server import LocalNetra
from netra_frames.server.store import SORT_FIELDS as SERVER_SORT_FIELDS

UTC = timezone.utc
START, END = "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"

BAD_TIMES: list[Any] = [
    "",
    "   ",
    "yesterday",
    "2026-13-01",
    "2026-02-30",
    "2026-01-01T25:00:00Z",
    "2026-01-01T00:00:00+25:00",
    "2026-01-01 00:00:00 PST",
    "1e9",
    12345,
    1.5,
    b"2026-01-01",
    ["2026-01-01"],
    object(),
    pd.NaT,
    np.datetime64("NaT", "us"),
]
BAD_WINDOWS: list[tuple[Any, Any]] = [
    (END, START),  # end before start
    (START, START),  # empty
    ("2026-01-01T00:00:00.0001Z", "2026-01-01T00:00:00.0009Z"),  # empty at ms resolution
    (datetime(2026, 1, 8), datetime(2026, 1, 8, tzinfo=UTC)),  # naive is UTC: empty
    (pd.Timestamp("2026-01-08T01:00", tz="Europe/Paris"), np.datetime64("2026-01-08")),
    (date(2026, 1, 8), date(2026, 1, 1)),
]
BAD_IDS: list[Any] = ["", " ", "\t\n", "a\x00b", None, 5, 1.0, b"abc", ["a"], {"a": 1}, True]
BAD_LIMITS: list[Any] = [0, -1, -(10**9), 10**9, 10**30, 1.5, "10", True, float("nan"), [10]]
BAD_DIRECTIONS: list[Any] = ["sideways", "DOWN", "Up", "", " down", 1, True, ["up"]]
BAD_ORDERS: list[Any] = ["descending", "ASC", "", 0, ["asc"]]
BAD_SORT_FIELDS: list[Any] = ["", "   ", 7, ["start_time"], "cost", "id", "START_TIME", "name "]


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalNetra]:
    with LocalNetra(seed=5, traces=20, anchor=datetime(2026, 1, 1, tzinfo=UTC)) as server:
        yield server


@pytest.fixture
def c(srv: LocalNetra) -> Iterator[NetraClient]:
    """A client whose test must leave the server untouched (0 requests, 0 connections)."""
    srv.reset_stats()
    with NetraClient(srv.api_key, srv.base_url, max_retries=0) as client:
        yield client
    stats = srv.stats
    assert (stats.requests, stats.connections_opened) == (0, 0), stats


def refused(call: Callable[[], object], *words: str) -> InvalidParameterError:
    """``call`` raises InvalidParameterError (a ValueError) with a one-sentence message."""
    with pytest.raises(InvalidParameterError) as info:
        result = call()
        if isinstance(result, Iterator):
            next(result)  # a lazy iterator must have failed before this point
    err = info.value
    assert isinstance(err, ValueError)
    text = str(err)
    assert text[:1].isalpha() and text.rstrip().endswith("."), text
    for word in words:
        assert word in text, (word, text)
    return err


# -- times and windows ------------------------------------------------------------------------


def _id(value: Any) -> str:
    """A test id that is the same in every process (``object()``'s repr holds an address)."""
    return "object()" if type(value) is object else repr(value)


@pytest.mark.parametrize("bad", BAD_TIMES, ids=_id)
def test_bad_times(c: NetraClient, bad: Any) -> None:
    for call in (
        lambda: c.list_traces(bad, END),
        lambda: c.list_traces(START, bad),
        lambda: c.iter_traces(bad, END),
        lambda: c.get_session_usage("s", bad, END),
        lambda: c.get_tenant_usage("t", START, bad),
        lambda: nf.scan_traces(bad, END, client=c),
        lambda: nf.traces_frame(bad, END, client=c),
        lambda: nf.traces_frame(START, bad, client=c),
        lambda: nf.session_usage_frame(["s"], bad, END, client=c),
        lambda: nf.tenant_usage_frame("t", START, bad, client=c),
    ):
        refused(call)


@pytest.mark.parametrize(("start", "end"), BAD_WINDOWS, ids=repr)
def test_bad_windows(c: NetraClient, start: Any, end: Any) -> None:
    for call in (
        lambda: c.list_traces(start, end),
        lambda: c.iter_traces(start, end),
        lambda: c.get_session_usage("s", start, end),
        lambda: c.get_tenant_usage("t", start, end),
        lambda: nf.traces_frame(start, end, client=c),
        lambda: nf.session_usage_frame("s", start, end, client=c),
        lambda: nf.tenant_usage_frame(["t"], start, end, client=c),
    ):
        refused(call)


def test_missing_window_ends(c: NetraClient) -> None:
    refused(lambda: c.list_traces(None, END))  # type: ignore[arg-type]
    refused(lambda: c.get_tenant_usage("t", START, None))  # type: ignore[arg-type]
    # the default end is "now": a start in the future leaves an empty window
    refused(lambda: nf.traces_frame(start=datetime.now(UTC) + timedelta(days=1), client=c))


# -- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_bad_ids(c: NetraClient, bad: Any) -> None:
    for call in (
        lambda: c.get_session_usage(bad, START, END),
        lambda: c.get_tenant_usage(bad, START, END),
        lambda: c.list_spans_by_trace_id(bad),
        lambda: c.iter_spans_by_trace_id(bad),
    ):
        refused(call)
    if bad is not None:
        for call in (
            lambda: c.list_traces(START, END, tenant_id=bad),
            lambda: c.list_traces(START, END, user_id=bad),
            lambda: c.iter_traces(START, END, session_id=bad),
            lambda: c.list_traces(START, END, trace_id=bad),
            lambda: c.list_traces(START, END, cursor=bad),
            lambda: c.list_spans_by_trace_id("a" * 32, cursor=bad),
            lambda: c.list_spans_by_trace_id("a" * 32, span_name=bad),
            lambda: nf.traces_frame(START, END, tenant_id=bad, client=c),
            lambda: nf.traces_frame(START, END, user_id=bad, client=c),
            lambda: nf.traces_frame(START, END, session_id=bad, client=c),
            lambda: nf.spans_frame(["a" * 32], span_name=bad, client=c),
        ):
            refused(call)
    # one bad id among good ones refuses the whole call, before the good ones are fetched
    # (the usage frames skip a missing id, None: tests/doors/test_usage_missing_ids.py)
    refused(lambda: nf.spans_frame(["a" * 32, bad], client=c))
    if bad is not None:
        for call in (
            lambda: nf.session_usage_frame(["s1", bad, "s2"], START, END, client=c),
            lambda: nf.tenant_usage_frame(
                pd.Series(["t1", bad], dtype=object), START, END, client=c
            ),
        ):
            refused(call)


@pytest.mark.parametrize(
    "bad",
    [None, 5, b"abc", {"trace_id": "a"}, pl.DataFrame({"id": ["a"]}), pd.DataFrame({"x": [1]})],
    ids=lambda v: type(v).__name__,
)
def test_bad_id_collections(c: NetraClient, bad: Any) -> None:
    refused(lambda: nf.spans_frame(bad, client=c))
    refused(lambda: nf.session_usage_frame(bad, START, END, client=c))
    refused(lambda: nf.tenant_usage_frame(bad, START, END, client=c))


# -- paging and sorting knobs ----------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_LIMITS, ids=repr)
def test_bad_limits(c: NetraClient, bad: Any) -> None:
    for call in (
        lambda: c.list_traces(START, END, limit=bad),
        lambda: c.iter_traces(START, END, limit=bad),
        lambda: c.list_spans_by_trace_id("a" * 32, limit=bad),
        lambda: c.iter_spans_by_trace_id("a" * 32, limit=bad),
    ):
        refused(call, "limit")


@pytest.mark.parametrize("bad", [*BAD_LIMITS, None], ids=repr)
def test_bad_page_sizes(c: NetraClient, bad: Any) -> None:
    for call in (
        lambda: nf.traces_frame(START, END, page_size=bad, client=c),
        lambda: nf.spans_frame("a" * 32, page_size=bad, client=c),
        lambda: nf.scan_traces(START, END, page_size=bad, client=c),
        lambda: nf.export_traces("unused-dir", START, END, page_size=bad, client=c),
    ):
        refused(call, "page_size")


@pytest.mark.parametrize("bad", [-1, -100, 1.5, "10", True], ids=repr)
def test_bad_max_rows_workers_and_shards(c: NetraClient, bad: Any) -> None:
    refused(lambda: nf.traces_frame(START, END, max_rows=bad, client=c), "max_rows")
    refused(lambda: nf.traces_frame(START, END, shards=bad, client=c), "shards")
    refused(lambda: nf.traces_frame(START, END, max_workers=bad, client=c), "max_workers")
    refused(lambda: nf.spans_frame("a" * 32, max_workers=bad, client=c), "max_workers")
    refused(lambda: nf.session_usage_frame("s", START, END, max_workers=bad, client=c))


@pytest.mark.parametrize("bad", BAD_DIRECTIONS, ids=repr)
def test_bad_directions(c: NetraClient, bad: Any) -> None:
    for call in (
        lambda: c.list_traces(START, END, direction=bad),
        lambda: c.iter_traces(START, END, direction=bad),
        lambda: c.list_spans_by_trace_id("a" * 32, direction=bad),
        lambda: c.iter_spans_by_trace_id("a" * 32, direction=bad),
    ):
        refused(call, "direction")


@pytest.mark.parametrize("bad", BAD_ORDERS, ids=repr)
def test_bad_sort_orders(c: NetraClient, bad: Any) -> None:
    refused(lambda: c.list_traces(START, END, sort_order=bad), "sort_order")
    refused(lambda: nf.traces_frame(START, END, sort_order=bad, client=c), "sort_order")


@pytest.mark.parametrize("bad", BAD_SORT_FIELDS, ids=repr)
def test_bad_sort_fields(c: NetraClient, bad: Any) -> None:
    choices = [repr(f) for f in SORT_FIELDS]
    refused(lambda: c.list_traces(START, END, sort_field=bad), "sort_field", *choices)
    refused(lambda: nf.traces_frame(START, END, sort_field=bad, shards=1, client=c), *choices)
    refused(lambda: nf.scan_traces(START, END, sort_field=bad, client=c), "sort_field")


def test_the_server_sorts_on_exactly_our_sort_fields(srv: LocalNetra) -> None:
    assert set(SORT_FIELDS) == set(SERVER_SORT_FIELDS)
    with NetraClient(srv.api_key, srv.base_url, max_retries=0) as client:
        for sort_field in SORT_FIELDS:
            page = client.list_traces("2025-12-01", "2026-01-01", sort_field=sort_field, limit=1)
            assert page.items, sort_field
        body = b'{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-08T00:00:00Z",'
        with pytest.raises(nf.APIError) as caught:  # the server keeps its own check
            client.transport.send(
                Request("POST", "/sdk/traces", body + b'"sortField":"cost"}'), bytes
            )
    assert caught.value.status == 400 and "sortField" in str(caught.value.server_message)


@pytest.mark.parametrize("bad", ["numpy", "", "PANDAS ", 1])
def test_bad_backend(c: NetraClient, bad: Any) -> None:
    refused(lambda: nf.traces_frame(START, END, backend=bad, client=c))
    refused(lambda: nf.spans_frame("a" * 32, backend=bad, client=c))
    refused(lambda: nf.tenant_usage_frame("t", START, END, backend=bad, client=c))


def test_sharding_conflicts(c: NetraClient) -> None:
    refused(lambda: nf.traces_frame(START, END, shards=4, max_rows=10, client=c), "max_rows")
    refused(lambda: nf.traces_frame(START, END, shards=4, sort_field="id", client=c), "sort_field")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"max_retries": True},
        {"backoff_factor": -0.1},
        {"backoff_factor": "1"},
        {"max_backoff": -1},
        {"timeout": 0},
        {"timeout": -3},
        {"timeout": "10"},
        {"timeout": float("nan")},
    ],
    ids=repr,
)
def test_bad_client_settings(srv: LocalNetra, kwargs: dict[str, Any]) -> None:
    srv.reset_stats()
    with pytest.raises(ConfigurationError):
        NetraClient(srv.api_key, srv.base_url, **kwargs)
    for key in ("", "   ", "k\r\nx-evil: 1"):
        with pytest.raises(ConfigurationError):
            NetraClient(key, srv.base_url)
    assert srv.stats.connections_opened == 0


# -- ids that look hostile but are valid: percent-encoded, round-tripped ---------------------

ODD_IDS = [
    "a/b",
    "../../usage/tenants/AceTech",
    "..",
    ".",
    "x?startTime=1970-01-01",
    "frag#ment",
    "100%",
    "%2F",
    "a b+c",
    "Ünïcödé-テナント-🚀",
    "' OR 1=1 --",
    'x"; DROP TABLE traces; --',
]


@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_ids_are_sent_encoded_and_round_trip(srv: LocalNetra, odd: str) -> None:
    window = (srv.anchor - timedelta(days=31), srv.anchor + timedelta(days=1))
    with NetraClient(srv.api_key, srv.base_url, max_retries=0) as client:
        tenant = client.get_tenant_usage(odd, *window)
        session = client.get_session_usage(odd, *window)
        assert (tenant.tenant_id, session.session_id) == (odd, odd)
        assert (tenant.request_count, session.request_count) == (0, 0)
        with pytest.raises(NotFoundError):
            client.list_spans_by_trace_id(odd)
        assert client.list_traces(*window, tenant_id=odd, trace_id=odd).traces == []
        with pytest.warns(nf.EmptyResultWarning):  # no such tenant: zeros, and a warning
            frame = nf.tenant_usage_frame([odd], *window, backend="polars", client=client)
        assert frame["tenant_id"].to_list() == [odd]
    assert srv.errors == []
