"""NetraClient against the real local server over HTTP: every call, page walk, filter and error."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import netra_frames as nf
from netra_frames import (
    APIError,
    AuthenticationError,
    InvalidParameterError,
    NetraClient,
    NotFoundError,
    TransportError,
)
from netra_frames.server import LocalNetra
from netra_frames.times import parse_time

TRACE_FIELDS = (
    "id name kind latency_ms start_time end_time cursor organisation_id project_id".split()
)
SPAN_FIELDS = "id trace_id name kind organisation_id project_id created_at cursor".split()
CHAT_MODELS = {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"}  # the models of generation spans
WINDOW = dict(days_before=40, days_after=1, as_text=True)  # ISO text, as a user types it


@pytest.fixture(scope="module")
def all_traces(client: NetraClient, window: tuple[str, str]) -> list[dict[str, Any]]:
    return list(client.iter_traces(*window, limit=100))


@pytest.fixture()
def dead_client() -> NetraClient:
    """A client whose server is gone: any request it sends fails with TransportError."""
    with LocalNetra(traces=10, anchor=datetime(2026, 1, 1, tzinfo=timezone.utc)) as srv:
        url, key = srv.base_url, srv.api_key
    return NetraClient(key, url, max_retries=0, timeout=2)


def test_list_traces_page(client: NetraClient, window: tuple[str, str]) -> None:
    page = client.list_traces(*window, limit=7)
    assert len(page.traces) == 7 and page.has_next_page
    assert page.next_cursor == page.traces[-1]["cursor"]
    for trace in page.traces:
        assert all(trace.get(f) is not None for f in TRACE_FIELDS), trace
    starts = [t["start_time"] for t in page.traces]
    assert starts == sorted(starts, reverse=True)  # server default: start_time desc


def test_drain_down_and_up_give_every_item_once_in_order(
    client: NetraClient, window: tuple[str, str], all_traces: list[dict[str, Any]]
) -> None:
    down = [t["id"] for t in client.iter_traces(*window, limit=37)]
    up = [t["id"] for t in client.iter_traces(*window, limit=37, direction="up")]
    assert len(down) == len(set(down)) == len(all_traces) >= 1000
    assert up == down[::-1]
    assert down == [t["id"] for t in all_traces]


def test_manual_cursor_walk_equals_iter(
    client: NetraClient, window: tuple[str, str], all_traces: list[dict[str, Any]]
) -> None:
    ids: list[str] = []
    cursor = None
    while True:
        page = client.list_traces(*window, limit=100, cursor=cursor)
        ids += [t["id"] for t in page.traces]
        if not page.has_next_page:
            break
        cursor = page.next_cursor
    assert ids == [t["id"] for t in all_traces]
    # iter_traces can start from a cursor too.
    first = client.list_traces(*window, limit=100)
    rest = [t["id"] for t in client.iter_traces(*window, limit=100, cursor=first.next_cursor)]
    assert rest == ids[100:]


@pytest.mark.parametrize("field", ["tenant_id", "user_id", "session_id", "trace_id"])
def test_each_filter(
    client: NetraClient, window: tuple[str, str], all_traces: list[dict[str, Any]], field: str
) -> None:
    key = "id" if field == "trace_id" else field
    value = Counter(t[key] for t in all_traces if t.get(key)).most_common(1)[0][0]
    got = list(client.iter_traces(*window, limit=100, **{field: value}))
    expected = [t["id"] for t in all_traces if t.get(key) == value]
    assert [t["id"] for t in got] == expected and expected


def test_tenant_filter_acetech(client: NetraClient, window: tuple[str, str]) -> None:
    got = list(client.iter_traces(*window, tenant_id="AceTech", limit=100))
    assert got and {t["tenant_id"] for t in got} == {"AceTech"}


@pytest.mark.parametrize("field", ["start_time", "latency_ms", "total_cost", "total_tokens"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorts(
    client: NetraClient,
    window: tuple[str, str],
    all_traces: list[dict[str, Any]],
    field: str,
    order: str,
) -> None:
    got = list(
        client.iter_traces(*window, limit=100, sort_field=field, sort_order=order)  # type: ignore[arg-type]
    )
    keys = [(t[field], t["id"]) for t in got]
    assert keys == sorted(keys, reverse=order == "desc")
    assert sorted(t["id"] for t in got) == sorted(t["id"] for t in all_traces)


def test_tenant_usage_equals_sums_over_traces(client: NetraClient, window: tuple[str, str]) -> None:
    traces = list(client.iter_traces(*window, tenant_id="AceTech", limit=100))
    usage = client.get_tenant_usage("AceTech", *window)
    assert usage.tenant_id == "AceTech" and usage.organisation_id == traces[0]["organisation_id"]
    assert usage.request_count == len(traces)
    assert usage.token_count == sum(t["total_tokens"] or 0 for t in traces)
    assert usage.session_count == len({t["session_id"] for t in traces if t["session_id"]})
    assert usage.total_cost == pytest.approx(sum(t["total_cost"] or 0 for t in traces), rel=1e-9)


def test_session_usage_equals_sums_over_traces(
    client: NetraClient, window: tuple[str, str], all_traces: list[dict[str, Any]]
) -> None:
    session = Counter(t["session_id"] for t in all_traces if t["session_id"]).most_common(1)[0][0]
    traces = [t for t in all_traces if t["session_id"] == session]
    usage = client.get_session_usage(session, *window)
    assert usage.session_id == session and usage.request_count == len(traces) > 1
    assert usage.token_count == sum(t["total_tokens"] for t in traces)
    assert usage.total_cost == pytest.approx(sum(t["total_cost"] for t in traces), rel=1e-9)


def test_usage_window_is_half_open(client: NetraClient, all_traces: list[dict[str, Any]]) -> None:
    trace = next(t for t in all_traces if t["session_id"])
    at = parse_time(trace["start_time"])
    session = [
        parse_time(t["start_time"]) for t in all_traces if t["session_id"] == trace["session_id"]
    ]
    ms, hour = timedelta(milliseconds=1), timedelta(hours=6)
    for lo, hi in ((at, at + ms), (at - hour, at), (at - hour, at + ms), (at, at + hour)):
        usage = client.get_session_usage(trace["session_id"], lo, hi)
        assert usage.request_count == sum(lo <= t < hi for t in session)
    assert client.get_session_usage(trace["session_id"], at, at + ms).request_count >= 1


def test_unknown_session_has_zero_usage(client: NetraClient, window: tuple[str, str]) -> None:
    usage = client.get_session_usage("no-such-session", *window)
    assert (usage.token_count, usage.request_count, usage.total_cost) == (0, 0, 0.0)


def test_spans_sum_to_their_trace(client: NetraClient, all_traces: list[dict[str, Any]]) -> None:
    for trace in all_traces[:20]:
        spans = list(client.iter_spans_by_trace_id(trace["id"], limit=3))
        assert spans and {s["trace_id"] for s in spans} == {trace["id"]}
        for span in spans:
            assert all(span.get(f) is not None for f in SPAN_FIELDS), span
        assert len({s["id"] for s in spans}) == len(spans)
        assert sum(s["total_tokens"] or 0 for s in spans) == trace["total_tokens"]
        assert sum(s["total_cost"] or 0 for s in spans) == pytest.approx(
            trace["total_cost"], rel=1e-9, abs=1e-12
        )


def test_spans_pages_both_directions(client: NetraClient, all_traces: list[dict[str, Any]]) -> None:
    trace = max(all_traces[:200], key=lambda t: t["total_tokens"])
    down = [s["id"] for s in client.iter_spans_by_trace_id(trace["id"], limit=2)]
    up = [s["id"] for s in client.iter_spans_by_trace_id(trace["id"], limit=2, direction="up")]
    assert len(down) > 2 and up == down[::-1]
    page = client.list_spans_by_trace_id(trace["id"], limit=2)
    assert [s["id"] for s in page.spans] == down[:2] and page.has_next_page


def test_span_name_filter(client: NetraClient, all_traces: list[dict[str, Any]]) -> None:
    # a chat model (not only the embedding model) on a trace means a generation span on it
    trace = next((t for t in all_traces if set(t["models"]) & CHAT_MODELS), None)
    assert trace is not None, "the fixed data has a trace with a generation span"
    every = list(client.iter_spans_by_trace_id(trace["id"]))
    spans = list(client.iter_spans_by_trace_id(trace["id"], span_name="generation"))
    assert spans and all(
        s["kind"] == "generation" or "generation" in s["name"].lower() for s in spans
    )
    assert [s["id"] for s in spans] == [s["id"] for s in every if s["kind"] == "generation"]


def test_unknown_trace_is_not_found(client: NetraClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.list_spans_by_trace_id("0" * 32)
    assert info.value.status == 404 and info.value.server_message


def test_bad_key_is_refused(server: LocalNetra, window: tuple[str, str]) -> None:
    with NetraClient("nk_not-a-real-key", server.base_url) as bad:
        with pytest.raises(AuthenticationError) as info:
            bad.list_traces(*window)
    assert info.value.status == 401
    assert "nk_not-a-real-key" not in str(info.value) + repr(info.value)


def test_api_error_carries_server_message(client: NetraClient, window: tuple[str, str]) -> None:
    with pytest.raises(APIError) as bad_cursor:
        client.list_traces(*window, cursor="not-a-cursor")
    assert bad_cursor.value.status == 400 and "cursor" in str(bad_cursor.value)
    assert bad_cursor.value.server_message


def test_page_size_over_the_api_maximum_is_refused_before_sending(
    server: LocalNetra, client: NetraClient, window: tuple[str, str]
) -> None:
    before = server.stats.requests
    with pytest.raises(InvalidParameterError, match="between 1 and 100.*max_rows") as info:
        client.list_traces(*window, limit=500)
    assert "limit" in str(info.value)
    with pytest.raises(InvalidParameterError, match="limit"):
        client.list_spans_by_trace_id("t", limit=101)
    with pytest.raises(InvalidParameterError, match="page_size.*max_rows"):
        nf.traces_frame(*window, page_size=101, client=client)
    with pytest.raises(InvalidParameterError, match="page_size"):
        nf.spans_frame(["t"], page_size=1000, client=client)
    assert server.stats.requests == before


def test_transport_error_when_server_is_gone(dead_client: NetraClient) -> None:
    with dead_client, pytest.raises(TransportError):
        dead_client.get_tenant_usage("AceTech", "2026-01-01", "2026-02-01")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"direction": "sideways"},
        {"sort_order": "random"},
        {"limit": 0},
        {"limit": -3},
        {"limit": 10**9},
        {"limit": True},
        {"limit": "10"},
        {"tenant_id": ""},
        {"tenant_id": "   "},
        {"user_id": 42},
        {"cursor": ""},
        {"sort_field": ""},
    ],
)
def test_bad_arguments_fail_before_any_request(
    dead_client: NetraClient, kwargs: dict[str, Any]
) -> None:
    with dead_client, pytest.raises(InvalidParameterError):
        dead_client.list_traces("2026-01-01", "2026-02-01", **kwargs)
    with pytest.raises(InvalidParameterError):
        dead_client.iter_traces("2026-01-01", "2026-02-01", **kwargs)


@pytest.mark.parametrize(
    "window", [("2026-02-01", "2026-01-01"), ("2026-01-01", "2026-01-01"), ("soon", "later")]
)
def test_bad_windows_fail_before_any_request(
    dead_client: NetraClient, window: tuple[str, str]
) -> None:
    with dead_client, pytest.raises(InvalidParameterError):
        dead_client.list_traces(*window)
    with pytest.raises(InvalidParameterError):
        dead_client.get_session_usage("s", *window)


def test_bad_span_arguments_fail_before_any_request(dead_client: NetraClient) -> None:
    for call in (
        lambda: dead_client.list_spans_by_trace_id(""),
        lambda: dead_client.list_spans_by_trace_id(None),  # type: ignore[arg-type]
        lambda: dead_client.list_spans_by_trace_id("a" * 32, direction="left"),  # type: ignore[arg-type]
        lambda: dead_client.list_spans_by_trace_id("a" * 32, limit=0),
        lambda: dead_client.get_tenant_usage(" ", "2026-01-01", "2026-02-01"),
    ):
        with pytest.raises(InvalidParameterError):
            call()
    dead_client.close()


@pytest.mark.parametrize(
    "tenant", ["Stark/Industries", "Zürich AG", "a?b=c&d", "hash#tag", "100% real", "..", "日本"]
)
def test_hostile_tenant_ids_round_trip(
    client: NetraClient, window: tuple[str, str], tenant: str
) -> None:
    usage = client.get_tenant_usage(tenant, *window)
    assert usage.tenant_id == tenant
    traces = list(client.iter_traces(*window, tenant_id=tenant, limit=100))
    assert usage.request_count == len(traces)
    assert {t["tenant_id"] for t in traces} <= {tenant}


def test_tenants_with_slash_and_unicode_have_data(
    client: NetraClient, window: tuple[str, str]
) -> None:
    for tenant in ("Stark/Industries", "Zürich AG"):
        assert client.get_tenant_usage(tenant, *window).request_count > 0


def test_organisations_are_isolated(
    server: LocalNetra,
    client: NetraClient,
    window: tuple[str, str],
    all_traces: list[dict[str, Any]],
) -> None:
    other_key = next(k for k in server.api_keys.values() if k != server.api_key)
    mine = all_traces[0]
    with NetraClient(other_key, server.base_url) as other:
        theirs = list(other.iter_traces(*window, limit=100))
        assert theirs and not {t["id"] for t in theirs} & {t["id"] for t in all_traces}
        assert {t["organisation_id"] for t in theirs}.isdisjoint(
            {t["organisation_id"] for t in all_traces}
        )
        with pytest.raises(NotFoundError):
            other.list_spans_by_trace_id(mine["id"])
        assert other.list_traces(*window, trace_id=mine["id"]).traces == []
        assert other.get_session_usage(mine["session_id"], *window).request_count == 0
        mine_acetech = client.get_tenant_usage("AceTech", *window)
        theirs_acetech = other.get_tenant_usage("AceTech", *window)
        assert theirs_acetech.organisation_id != mine_acetech.organisation_id


def test_base_url_path_prefix_is_kept(server: LocalNetra, window: tuple[str, str]) -> None:
    with NetraClient(server.api_key, server.base_url + "/api/telemetry") as prefixed:
        with pytest.raises(NotFoundError) as info:
            prefixed.list_traces(*window)
    assert info.value.url == server.base_url + "/api/sdk/traces"


def test_key_never_in_repr_logs_or_errors(
    server: LocalNetra, window: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = server.api_key
    with NetraClient(key, server.base_url) as c:
        texts = [repr(c), str(c), repr(c.settings)]
        c.list_traces(*window, limit=5)
        for call in (
            lambda: c.list_spans_by_trace_id("f" * 32),
            lambda: c.list_traces(*window, cursor="not-a-cursor"),
        ):
            with pytest.raises(APIError) as info:
                call()
            texts += [str(info.value), repr(info.value), repr(vars(info.value))]
    texts.append(caplog.text)
    assert caplog.records, "the client logs its requests at DEBUG"
    assert all(key not in t for t in texts)


def test_context_manager_closes_session(server: LocalNetra, window: tuple[str, str]) -> None:
    with NetraClient(server.api_key, server.base_url) as c:
        c.list_traces(*window, limit=1)
        adapter = c.transport.session.get_adapter(server.base_url)
        assert adapter.poolmanager.pools  # type: ignore[attr-defined]
    assert not adapter.poolmanager.pools  # type: ignore[attr-defined]


def test_a_page_without_has_next_page_is_a_bad_body() -> None:
    from netra_frames._wire.pages import parse_envelope

    with pytest.raises(ValueError, match="hasNextPage"):
        parse_envelope(b'{"data":{"data":[{"cursor":"c1"}],"pageInfo":{}}}')


@pytest.mark.timeout(60)  # five retries of a refusal would back off for minutes
def test_a_refused_connection_says_so_at_once() -> None:
    """Nothing listens on a loopback port: one line that says so, and no retries."""
    with LocalNetra(traces=10, anchor=datetime(2026, 1, 1, tzinfo=timezone.utc)) as srv:
        port = int(srv.base_url.rsplit(":", 1)[1])  # a port that was ours, now closed
    client = NetraClient("k", f"http://127.0.0.1:{port}", backoff_factor=60.0, max_backoff=60.0)
    with client, pytest.raises(TransportError) as info:
        client.get_tenant_usage("AceTech", "2026-01-01", "2026-02-01")
    text = str(info.value)
    assert f"could not connect to 127.0.0.1:{port} (connection refused)" in text
    assert "NETRA_OTLP_ENDPOINT" in text and "timed out" not in text


def test_a_missing_trace_is_a_not_found_error_keeping_the_others(
    server: LocalNetra, client: NetraClient, window: tuple[str, str]
) -> None:
    """spans_frame([good, unknown]): ``except NotFoundError`` catches it, .partial has good."""
    good = next(client.iter_traces(*window, limit=1))["id"]
    unknown = "f" * 32
    with pytest.raises(NotFoundError) as info:
        nf.spans_frame([good, unknown], max_workers=1, backend="polars", client=client)
    err = info.value
    assert isinstance(err, nf.DrainError) and err.status == 404 and unknown in str(err)
    assert err.partial["trace_id"].unique().to_list() == [good]
    with pytest.raises(NotFoundError):  # nothing fetched first: the error itself
        nf.spans_frame([unknown], client=client)


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda: nf.configure(timeuot=3), "configure()"),
        (lambda: NetraClient("k", "http://127.0.0.1:1", timeuot=3), "NetraClient()"),
        (
            lambda: nf.configure(api_key="k", base_url="http://127.0.0.1:1", max_retires=2),
            "configure()",
        ),  # fmt: skip
    ],
)
def test_a_misspelt_keyword_says_did_you_mean(call: Any, where: str, clean_defaults: None) -> None:
    """Python's own TypeError names no alternative; ours names the closest keyword."""
    with pytest.raises(InvalidParameterError) as info:
        call()
    text = str(info.value)
    assert text.startswith(f"{where} got an unexpected keyword")
    assert "did you mean 'timeout'?" in text or "did you mean 'max_retries'?" in text
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_a_keyword_unlike_any_lists_them_and_signatures_stay(clean_defaults: None) -> None:
    import inspect
    import typing

    with pytest.raises(InvalidParameterError, match="its keywords are .*cache, settle.*timeout"):
        nf.configure(colour="blue")
    parameters = inspect.signature(NetraClient).parameters
    assert "timeout" in parameters and not any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    assert typing.get_type_hints(NetraClient.__init__)["timeout"] == float | None
    with NetraClient("k", "http://127.0.0.1:1", timeout=3) as client:  # right keywords pass
        assert client.settings.timeout == 3.0
