"""Retries and fault injection over real HTTP: no lost rows, no duplicates, resumable drains.

Every test runs against its own small :class:`LocalNetra`, with clients that back off for
milliseconds and a server ``Retry-After`` of 0, so the whole module stays fast.
``srv.stats`` counts what the server really saw. A test that asserts a fault fired puts it
on fixed request numbers (``schedule=``/``every=``), never on a random rate; random rates
only drive the property test, which asserts the result and nothing about the faults.
Where a timeout must fire, the server stalls 20 times longer than the client's timeout, and
that timeout is 20 times a normal answer on a loaded machine.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
import polars as pl
import pytest
import requests
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import (
    APIError,
    AuthenticationError,
    DrainError,
    NetraClient,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from netra_frames._limiter import INITIAL_WINDOW
from netra_frames.server import FaultConfig, LocalNetra
from netra_frames.times import format_time

Window = tuple[datetime, datetime]

#: A client timeout that must fire: far above a normal answer on a loaded machine.
TIMEOUT = 2.0
#: How long the server stalls (before the headers, or before each of a slow body's chunks).
STALL_MS = 20 * TIMEOUT * 1000
TIMEOUT_KINDS: dict[str, dict[str, Any]] = {
    "slow": {"slow_body_ms": 10 * STALL_MS},  # 10 chunks, each STALL_MS late
    "stall": {"stall_ms": STALL_MS},
}

#: Per kind: the fault on fixed request numbers (every 3rd; every 40th for the slow kinds).
FAULTS: dict[str, dict[str, Any]] = {
    "latency": {"latency_ms": 1.0, "jitter_ms": 4.0},
    "error": {"every": {"error": 3}, "error_statuses": (500, 502, 503, 504)},
    "429": {"every": {"429": 3}},
    "reset_before": {"every": {"reset_before": 3}},
    "reset_mid": {"every": {"reset_mid": 3}},
    "truncate": {"every": {"truncate": 3}},
    "malformed": {"every": {"malformed": 3}},
    "slow": {"every": {"slow": 40}, **TIMEOUT_KINDS["slow"]},
    "stall": {"every": {"stall": 40}, **TIMEOUT_KINDS["stall"]},
    "drop_cursor": {"every": {"drop_cursor": 3}},
    "no_envelope": {"every": {"no_envelope": 3}},
    # each key's bucket starts empty: its first request is limited, however slow the machine
    "rate_limit": {"rate_limit_rps": 300.0, "rate_limit_burst": 4, "rate_limit_initial_tokens": 0},
}
#: The kinds with a random rate (the property test draws them; "slow" and "stall" cost a
#: client timeout each, so they are only scheduled, above and below).
RATE_KNOB = {
    "error": "error_rate",
    "429": "rate_429",
    "reset_before": "reset_before_rate",
    "reset_mid": "reset_mid_rate",
    "truncate": "truncate_rate",
    "malformed": "malformed_rate",
    "drop_cursor": "drop_cursor_rate",
    "no_envelope": "missing_envelope_rate",
}


# A fixed anchor makes the data (and so the row counts below) the same on every run.
SERVER = dict(seed=7, traces=600, anchor=datetime(2026, 1, 1, tzinfo=timezone.utc))
WINDOW = dict(days_before=31, days_after=1)  # all the data, and a day past both ends


@pytest.fixture(autouse=True)
def _no_faults(srv: LocalNetra) -> Iterator[None]:
    srv.set_faults(None)
    srv.reset_stats()
    yield
    srv.set_faults(None)
    assert srv.errors == []


def fast_client(srv: LocalNetra, **kwargs: Any) -> NetraClient:
    """A client that backs off for milliseconds (tests stay fast)."""
    options: dict[str, Any] = {
        "max_retries": 10,
        "backoff_factor": 0.002,
        "max_backoff": 0.02,
        "timeout": 5.0,
        "pool_size": 4,
    }
    return NetraClient(srv.api_key, srv.base_url, **{**options, **kwargs})


@pytest.fixture(scope="module")
def reference(srv: LocalNetra, window: Window) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fault-free traces (unsharded) and spans of 40 traces: what every faulty run must equal."""
    with fast_client(srv) as c:
        traces = nf.traces_frame(
            *window, page_size=50, shards=1, backend="polars", progress=False, client=c
        )
        spans = nf.spans_frame(
            traces["trace_id"][:40],
            page_size=3,
            max_workers=4,
            backend="polars",
            progress=False,
            client=c,
        )
    assert 300 < traces.height < 600 and spans.height > 80  # the first of several organisations
    return traces, spans


def drain_both(
    c: NetraClient, window: Window, traces: pl.DataFrame, *, shards: int = 4
) -> tuple[pl.DataFrame, pl.DataFrame]:
    got = nf.traces_frame(
        *window,
        page_size=50,
        shards=shards,
        max_workers=4,
        backend="polars",
        progress=False,
        client=c,
    )
    spans = nf.spans_frame(
        traces["trace_id"][:40],
        page_size=3,
        max_workers=4,
        backend="polars",
        progress=False,
        client=c,
    )
    return got, spans


# -- every fault kind on a third of the requests: exactly the fault-free rows --------------


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_each_fault_kind_gives_exactly_the_fault_free_rows(
    srv: LocalNetra, window: Window, reference: tuple[pl.DataFrame, pl.DataFrame], kind: str
) -> None:
    traces, spans = reference
    srv.set_faults(seed=11, retry_after=0, **FAULTS[kind])
    timeout = TIMEOUT if kind in TIMEOUT_KINDS else 5.0
    # 4 workers share the request numbers, so one request may meet several faults in a row:
    # 20 retries make running out of them (1 in 3**21) practically impossible
    with fast_client(srv, timeout=timeout, max_retries=20) as c:
        got_traces, got_spans = drain_both(c, window, traces)
    stats = srv.stats
    assert_frame_equal(got_traces, traces)
    assert_frame_equal(got_spans, spans)
    if kind != "latency":  # the drains make over 80 requests: every 40th surely came
        assert stats.faults.get(kind, 0) >= 1, stats.faults


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**16),
    kinds=st.lists(st.sampled_from(sorted(RATE_KNOB)), min_size=1, max_size=3, unique=True),
    total=st.floats(0.05, 0.3),
    shards=st.sampled_from([1, 3]),
    latency=st.booleans(),
)
def test_mixed_faults_property(
    srv: LocalNetra,
    window: Window,
    reference: tuple[pl.DataFrame, pl.DataFrame],
    seed: int,
    kinds: list[str],
    total: float,
    shards: int,
    latency: bool,
) -> None:
    """Any mix of fault kinds at random rates summing to <= 30 %: same ids, values, order."""
    traces, spans = reference
    knobs: dict[str, Any] = {RATE_KNOB[k]: total / len(kinds) for k in kinds}
    if latency:
        knobs.update(latency_ms=0.5, jitter_ms=2.0)
    srv.set_faults(seed=seed, retry_after=0, **knobs)
    try:
        with fast_client(srv, max_retries=20) as c:
            got_traces, got_spans = drain_both(c, window, traces, shards=shards)
    finally:
        srv.set_faults(None)
    assert_frame_equal(got_traces, traces)
    assert_frame_equal(got_spans, spans)


# -- one fault, then success: each kind is retried on POST and on GET ----------------------


@pytest.mark.parametrize("kind", sorted([*RATE_KNOB, *TIMEOUT_KINDS]))
def test_one_fault_is_retried_on_post_and_get(
    srv: LocalNetra, window: Window, reference: tuple[pl.DataFrame, pl.DataFrame], kind: str
) -> None:
    _, spans = reference
    trace_id = spans["trace_id"].value_counts(sort=True)["trace_id"][0]  # >= 3 spans: 2 pages
    timeout = TIMEOUT if kind in TIMEOUT_KINDS else 5.0
    with fast_client(srv, timeout=timeout) as c:
        clean_page = c.list_traces(*window, limit=5)
        clean_spans = c.list_spans_by_trace_id(trace_id, limit=2)
        assert clean_page.has_next_page and clean_spans.has_next_page
        for call, clean in (
            (lambda: c.list_traces(*window, limit=5), clean_page),
            (lambda: c.list_spans_by_trace_id(trace_id, limit=2), clean_spans),
        ):
            srv.set_faults(schedule={1: kind}, retry_after=0, **TIMEOUT_KINDS.get(kind, {}))
            srv.reset_stats()
            assert call() == clean
            stats = srv.stats
            assert stats.faults == {kind: 1}
            if kind == "stall":  # the client gave up on request 1: it was never answered
                assert stats.by_status == {200: 1}


# -- never retried: 4xx ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, APIError), (401, AuthenticationError), (403, AuthenticationError), (404, NotFoundError)],
)
def test_client_errors_are_sent_exactly_once(
    srv: LocalNetra, window: Window, status: int, error: type[APIError]
) -> None:
    srv.set_faults(every={str(status): 1})
    with fast_client(srv) as c:
        with pytest.raises(error) as info:
            c.list_traces(*window, limit=5)
    assert info.value.status == status
    assert srv.stats.by_status == {status: 1}


def test_real_4xx_answers_are_sent_exactly_once(srv: LocalNetra, window: Window) -> None:
    with fast_client(srv) as c:
        with pytest.raises(APIError) as bad:
            c.list_traces(*window, cursor="not-a-cursor")  # a server 400
        with pytest.raises(NotFoundError):
            c.list_spans_by_trace_id("f" * 32)
    with NetraClient("not-a-key", srv.base_url, backoff_factor=0.002) as wrong:
        with pytest.raises(AuthenticationError):
            wrong.list_traces(*window)
    assert bad.value.status == 400
    assert srv.stats.by_status == {400: 1, 404: 1, 401: 1}


# -- retries exhausted: typed errors, bounded attempts -------------------------------------
# No upper bound on time is asserted: a wait that is not capped would hang the test, and the
# timeout marks turn that into a failure.


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retries_exhausted_is_server_error(
    srv: LocalNetra, window: Window, status: int
) -> None:
    srv.set_faults(every={str(status): 1})
    with fast_client(srv, max_retries=3) as c:
        with pytest.raises(ServerError) as info:
            c.list_traces(*window)
    assert info.value.status == status and "HTTP" in str(info.value)
    assert srv.stats.by_status == {status: 4}


def test_429_waits_do_not_use_up_the_failure_budget(srv: LocalNetra, window: Window) -> None:
    srv.set_faults(schedule={n: "429" for n in range(1, 6)}, retry_after=0)
    with fast_client(srv, max_retries=2) as c:  # 5 answers of 429 > 2 retries: still fine
        usage = c.get_tenant_usage("AceTech", *window)
        assert c.transport.limiter.stats().throttled == 5
    assert usage.tenant_id == "AceTech"
    assert srv.stats.by_status == {429: 5, 200: 1}


def test_429_beyond_the_patience_is_a_rate_limit_error(srv: LocalNetra, window: Window) -> None:
    srv.set_faults(every={"429": 1}, retry_after=0)
    with fast_client(srv, max_retries=0, rate_limit_patience=0.3) as c:
        with pytest.raises(RateLimitError) as info:
            c.get_tenant_usage("AceTech", *window)
    assert info.value.status == 429 and info.value.retry_after == 0.0
    assert "rate_limit_patience" in str(info.value) and srv.stats.by_status[429] >= 2


def test_retry_after_seconds_is_honoured(srv: LocalNetra, window: Window) -> None:
    srv.set_faults(schedule={1: "429", 2: "429"}, retry_after=0.15)
    with fast_client(srv, max_backoff=5.0) as c:
        started = time.monotonic()
        c.list_traces(*window, limit=5)
        waited = time.monotonic() - started
    assert waited >= 0.3  # two waits of 0.15 s, not the 2 ms backoff (a slow machine waits more)
    assert srv.stats.by_status == {429: 2, 200: 1}


@pytest.mark.timeout(120)  # an uncapped Retry-After would wait an hour
def test_retry_after_is_capped_by_max_backoff(srv: LocalNetra, window: Window) -> None:
    srv.set_faults(schedule={1: "429", 2: "429", 3: "429"}, retry_after=3600)
    with fast_client(srv, max_backoff=0.05) as c:
        assert len(c.list_traces(*window, limit=5).traces) == 5
    assert srv.stats.by_status == {429: 3, 200: 1}


def test_retry_after_beyond_the_patience_fails_at_once(srv: LocalNetra, window: Window) -> None:
    srv.set_faults(every={"429": 1}, retry_after=3600)
    with fast_client(srv, max_backoff=7200.0, rate_limit_patience=60.0) as c:
        with pytest.raises(RateLimitError) as info:
            c.list_traces(*window)
    assert info.value.retry_after == 3600.0  # the server's hint, reported as is
    assert srv.stats.by_status == {429: 1}  # no pointless wait, no second try


@pytest.mark.timeout(120)  # an uncapped HTTP-date would wait 2 hours
def test_retry_after_http_date_is_honoured_and_capped(srv: LocalNetra, window: Window) -> None:
    srv.set_faults(schedule={1: "429"}, retry_after=2, retry_after_http_date=True)
    with fast_client(srv, max_backoff=5.0) as c:
        started = time.monotonic()
        c.list_traces(*window, limit=5)
        waited = time.monotonic() - started
    assert waited >= 1.0  # waited until the date (now + 2 s, whole seconds), once
    srv.set_faults(every={"429": 1}, retry_after=3600, retry_after_http_date=True)
    with fast_client(srv, max_backoff=0.05, rate_limit_patience=0.3) as c:
        with pytest.raises(RateLimitError) as info:
            c.list_traces(*window)
    assert 3500 < (info.value.retry_after or 0) <= 3601


def test_a_429_slows_the_whole_client_down(srv: LocalNetra, window: Window) -> None:
    """A 429 limits every later request of the client; "Retry-After: 0" slows nothing."""
    srv.set_faults(schedule={3: "429"}, retry_after=0)
    with fast_client(srv) as c:
        nf.traces_frame(*window, page_size=20, max_rows=200, progress=False, client=c)
        stats = c.transport.limiter.stats()
    assert stats.throttled == 1 and stats.decreases == 0 and stats.rate is None


def test_the_limiter_decreases_once_per_signal_then_recovers() -> None:
    from netra_frames._cancel import CancelScope
    from netra_frames._limiter import BETA, RateLimiter

    limiter, scope = RateLimiter(None), CancelScope()
    sent = []
    for _ in range(8):  # a burst: unlimited so far (each answered: slow start lets it go)
        sent.append(limiter.acquire(scope))
        limiter.answered()
    assert limiter.stats().rate is None
    limiter.throttled(sent[-1], retry_after=1.0)
    first = limiter.stats()
    assert first.decreases == 1 and first.rate is not None
    for at in sent:  # the same signal: requests sent before the decrease
        limiter.throttled(at, retry_after=1.0)
    assert limiter.stats().decreases == 1 and limiter.stats().throttled == 9
    rate_now = limiter.rate()
    assert rate_now is not None
    time.sleep(3.0 / rate_now)  # past the two intervals a decrease holds for
    later = limiter.acquire(scope)  # a request sent after the decrease: a new signal
    limiter.throttled(later, retry_after=1.0)
    assert limiter.stats().decreases == 2
    rate = limiter.rate()
    assert rate is not None and rate <= first.rate
    assert limiter.rate(now=later + 10.0) > rate  # it climbs back, then probes above
    lonely = RateLimiter(None)
    lonely.throttled(lonely.acquire(scope), retry_after=1.0)  # one request: no burst to tame
    assert lonely.stats().decreases == 0 and lonely.stats().rate is None
    assert 0 < BETA < 1


def test_max_requests_per_second_caps_the_rate(
    srv: LocalNetra, window: Window, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fast_client(srv, max_requests_per_second=50.0) as c:
        assert c.transport.limiter.stats().rate == 50.0
    monkeypatch.setenv("NETRA_FRAMES_MAX_REQUESTS_PER_SECOND", "7.5")
    with fast_client(srv) as c:
        assert c.settings.max_requests_per_second == 7.5
        assert len(c.list_traces(*window, limit=3).traces) == 3
    monkeypatch.setenv("NETRA_FRAMES_MAX_REQUESTS_PER_SECOND", "fast")
    with pytest.raises(nf.ConfigurationError, match="NETRA_FRAMES_MAX_REQUESTS_PER_SECOND"):
        fast_client(srv)
    with pytest.raises(nf.ConfigurationError, match="max_requests_per_second"):
        fast_client(srv, max_requests_per_second=0)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("reset_before", TransportError),
        ("reset_mid", TransportError),
        ("truncate", TransportError),
        ("malformed", TransportError),
        ("drop_cursor", TransportError),
        ("no_envelope", TransportError),
        ("slow", TransportError),
        ("stall", TransportError),
        ("error", ServerError),
    ],
)
def test_permanent_faults_end_in_a_typed_error_in_bounded_attempts(
    srv: LocalNetra, window: Window, kind: str, error: type[Exception]
) -> None:
    srv.set_faults(every={kind: 1}, **TIMEOUT_KINDS.get(kind, {}))
    retries = 0 if kind in TIMEOUT_KINDS else 2  # each timeout costs TIMEOUT seconds
    with fast_client(srv, max_retries=retries, timeout=TIMEOUT) as c:
        with pytest.raises(error) as info:
            list(c.iter_traces(*window, limit=50))
    assert str(info.value).endswith((".", ")"))
    faults = srv.stats.faults[kind]
    # (max_retries + 1) attempts, each at most (max_retries + 1) sends
    assert retries + 1 <= faults <= (retries + 1) ** 2


def test_unusable_bodies_have_clear_messages(srv: LocalNetra, window: Window) -> None:
    expected = {
        "no_envelope": "envelope",
        "drop_cursor": "no cursor",
        "malformed": "not valid JSON",
    }
    with fast_client(srv, max_retries=1) as c:
        for kind, words in expected.items():
            srv.set_faults(every={kind: 1})
            with pytest.raises(TransportError, match=words):
                c.list_traces(*window, limit=20)


# -- server pagination bugs: detected, never a loop, never a silent stop -------------------


def test_repeated_cursor_is_detected_by_iter(srv: LocalNetra, window: Window) -> None:
    srv.set_faults(every={"repeat_cursor": 1})
    with fast_client(srv) as c:
        ids: list[str] = []
        with pytest.raises(TransportError, match="cursor it had already given"):
            ids.extend(t["id"] for t in c.iter_traces(*window, limit=50))
    assert len(ids) == len(set(ids)) == 50  # the repeated page is not handed out
    assert srv.stats.by_status == {200: 2}


def test_repeated_cursor_is_detected_by_spans_frame(
    srv: LocalNetra, reference: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    ids = reference[0]["trace_id"][:3].to_list()
    srv.set_faults(every={"repeat_cursor": 1})
    with fast_client(srv) as c, pytest.raises(TransportError, match="already given"):
        nf.spans_frame(ids, page_size=1, max_workers=1, progress=False, client=c)


def test_repeated_cursor_drain_error_has_no_duplicates(
    srv: LocalNetra, window: Window, reference: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    traces, _ = reference
    srv.set_faults(every={"repeat_cursor": 1})
    with fast_client(srv, max_retries=0) as c:
        with pytest.raises(DrainError) as info:
            nf.traces_frame(
                *window, page_size=50, shards=1, backend="polars", progress=False, client=c
            )
        srv.set_faults(None)
        assert_frame_equal(info.value.partial, traces.head(info.value.partial.height))
        assert_frame_equal(info.value.resume(), traces)


# -- DrainError: partial + resume() equal an uninterrupted drain ---------------------------


def _drain_error(call: Callable[[], object]) -> DrainError:
    with pytest.raises(DrainError) as info:
        call()
    err = info.value
    assert isinstance(err.cause, ServerError) and err.__cause__ is err.cause
    assert "resume()" in str(err)
    return err


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_traces_drain_resumes_exactly(
    srv: LocalNetra, window: Window, reference: tuple[pl.DataFrame, pl.DataFrame], where: str
) -> None:
    traces, _ = reference
    pages = -(-traces.height // 50)
    after = {"first": 1, "middle": pages // 2, "last": pages - 1}[where]
    srv.set_faults(fail_after_requests=after)
    with fast_client(srv, max_retries=0) as c:
        err = _drain_error(
            lambda: nf.traces_frame(
                *window, page_size=50, shards=1, backend="polars", progress=False, client=c
            )
        )
        assert err.partial.height == 50 * after
        assert_frame_equal(err.partial, traces.head(50 * after))
        srv.set_faults(None)
        srv.reset_stats()
        assert_frame_equal(err.resume(), traces)
    assert srv.stats.by_status == {200: pages - after}  # only the missing pages are fetched


def test_sharded_traces_drain_resumes_exactly(
    srv: LocalNetra, window: Window, reference: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    traces, _ = reference
    srv.set_faults(fail_after_requests=6)
    with fast_client(srv, max_retries=0) as c:
        err = _drain_error(
            lambda: nf.traces_frame(
                *window,
                page_size=40,
                shards=4,
                max_workers=2,
                backend="pandas",
                progress=False,
                client=c,
            )
        )
        partial = pl.from_pandas(err.partial)
        assert partial.height < traces.height  # may be empty: the first shard may be unfinished
        assert_frame_equal(partial, traces.head(partial.height))  # a prefix (start_time sort)
        srv.set_faults(None)
        assert_frame_equal(pl.from_pandas(err.resume()), traces)


def test_spans_drain_of_many_traces_resumes_exactly(
    srv: LocalNetra, reference: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    traces, spans = reference
    ids = traces["trace_id"][:40]
    srv.set_faults(fail_after_requests=25)
    with fast_client(srv, max_retries=0) as c:
        err = _drain_error(
            lambda: nf.spans_frame(
                ids, page_size=3, max_workers=3, backend="polars", progress=False, client=c
            )
        )
        partial: pl.DataFrame = err.partial
        assert 0 < partial["trace_id"].n_unique() < 40
        # every trace in the partial is complete and equals its rows in the full result
        assert_frame_equal(partial, spans.filter(pl.col("trace_id").is_in(partial["trace_id"])))
        srv.set_faults(None)
        assert_frame_equal(err.resume(), spans)


@pytest.mark.parametrize("kind", ["session", "tenant"])
def test_usage_drain_resumes_exactly(
    srv: LocalNetra, window: Window, reference: tuple[pl.DataFrame, pl.DataFrame], kind: str
) -> None:
    traces, _ = reference
    column = f"{kind}_id"
    keys = traces[column].drop_nulls().unique(maintain_order=True)[:12].to_list()
    func = nf.session_usage_frame if kind == "session" else nf.tenant_usage_frame
    with fast_client(srv, max_retries=0) as c:
        full = func(keys, *window, backend="polars", max_workers=1, progress=False, client=c)
        srv.set_faults(fail_after_requests=5)
        err = _drain_error(
            lambda: func(keys, *window, backend="polars", max_workers=1, progress=False, client=c)
        )
        assert_frame_equal(err.partial, full.head(5))
        srv.set_faults(None)
        assert_frame_equal(err.resume(), full)
    assert full.height == len(keys)


def test_failure_before_any_progress_raises_the_original_error(
    srv: LocalNetra, window: Window
) -> None:
    srv.set_faults(fail_after_requests=0)
    with fast_client(srv, max_retries=0) as c:
        with pytest.raises(ServerError):
            nf.traces_frame(*window, shards=1, progress=False, client=c)
        with pytest.raises(ServerError):
            nf.spans_frame(["a" * 32, "b" * 32], max_workers=1, progress=False, client=c)


def test_resume_after_a_transient_failure_under_faults(
    srv: LocalNetra, window: Window, reference: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """A drain that fails for good (max_retries=0) resumes exactly while faults go on."""
    traces, _ = reference
    pages = -(-traces.height // 50)
    srv.set_faults(every={"error": 4})  # requests 4, 8, 12, ... fail: 3 pages per attempt
    with fast_client(srv, max_retries=0) as c:
        with pytest.raises(DrainError) as info:
            nf.traces_frame(
                *window, page_size=50, shards=1, backend="pandas", progress=False, client=c
            )
        assert len(info.value.partial) == 3 * 50
        result: Any = info.value
        resumes = 0
        while isinstance(result, DrainError):  # each resume gets 3 more pages, then fails
            resumes += 1
            assert resumes <= pages, "resume() made no progress"
            try:
                result = result.resume()
            except DrainError as exc:
                result = exc
        assert isinstance(result, pd.DataFrame)
    assert resumes == -(-(pages - 3) // 3)
    assert_frame_equal(pl.from_pandas(result), traces)


def test_fault_config_knobs_validate() -> None:
    with pytest.raises(ValueError, match="fail_after_requests"):
        LocalNetra(traces=1, faults=FaultConfig(fail_after_requests=-1))
    with pytest.raises(ValueError, match="sum to at most 1"):
        LocalNetra(traces=1, faults=FaultConfig(repeat_cursor_rate=0.6, error_rate=0.6))


def test_the_server_sends_rate_limit_headers_only_when_asked(
    srv: LocalNetra, window: Window
) -> None:
    body = json.dumps({"startTime": format_time(window[0]), "endTime": format_time(window[1])})
    headers = {"x-api-key": srv.api_key, "Content-Type": "application/json"}

    def answer() -> urllib3.BaseHTTPResponse:
        return urllib3.request("POST", f"{srv.base_url}/sdk/traces", body=body, headers=headers)

    srv.set_faults(rate_limit_rps=0.001, rate_limit_burst=3)
    assert "RateLimit-Remaining" not in answer().headers  # off by default: the SDK contract
    srv.set_faults(rate_limit_rps=0.001, rate_limit_burst=3, rate_limit_headers=True)
    seen = [answer().headers for _ in range(4)]
    assert [h["RateLimit-Remaining"] for h in seen[:3]] == ["2", "1", "0"]
    assert all(h["RateLimit-Limit"] == h["X-RateLimit-Limit"] == "3" for h in seen)
    assert float(seen[2]["RateLimit-Reset"]) == pytest.approx(3 / 0.001)
    assert seen[3]["Retry-After"] and seen[3]["X-RateLimit-Remaining"] == "0"  # the 429


def test_a_client_reads_the_servers_budget(srv: LocalNetra, window: Window) -> None:
    """Headers that say the budget is spent hold the next request until it refills."""
    srv.set_faults(rate_limit_rps=0.001, rate_limit_burst=2, rate_limit_headers=True)
    with fast_client(srv) as c:
        c.list_traces(*window, limit=5)  # Remaining: 1 of 2
        c.list_traces(*window, limit=5)  # Remaining: 0; one back in ~1,000 s
        assert c.transport.limiter.try_acquire(time.monotonic()) > 500  # held: no 429 sent
    assert srv.stats.by_status == {200: 2}


@pytest.mark.parametrize("own_session", [False, True])
def test_one_retry_loop_on_the_pool_and_on_a_callers_session(
    srv: LocalNetra, window: Window, own_session: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """5xx, a broken body and an undecodable one: one budget, one warning per retry, both paths."""
    srv.set_faults(schedule={1: "503", 2: "truncate", 3: "malformed", 4: "502"})
    session = requests.Session() if own_session else None
    caplog.set_level(logging.WARNING, logger="netra_frames")
    with fast_client(srv, max_retries=4, session=session) as c:
        assert len(c.list_traces(*window, limit=5).traces) == 5
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 4 and srv.stats.by_status[200] >= 1
    srv.set_faults(schedule={1: "503", 2: "503"})
    srv.reset_stats()
    with fast_client(srv, max_retries=1, session=session) as c:
        with pytest.raises(nf.ServerError):  # the budget is one retry, on either path
            c.list_traces(*window, limit=5)
    assert srv.stats.by_status[503] == 2
    if session is not None:
        session.close()


def test_a_small_bucket_refuses_the_first_round_once_and_nothing_after(
    srv: LocalNetra, window: Window
) -> None:
    """docs/reliability.md: against a burst of 5, the first round of INITIAL_WINDOW requests
    is refused INITIAL_WINDOW - 5 times at most, and every later request is paced (the
    refusals' Retry-After of 2 s sets the rate), with no header to help."""
    days = window[1] - timedelta(days=8), window[1]  # 8 ranges of a day, a page each
    with NetraClient(srv.api_key, srv.base_url) as client:
        expected = nf.traces_frame(*days, shards=1, backend="polars", client=client)
    srv.set_faults(rate_limit_rps=0.5, rate_limit_burst=5)
    srv.reset_stats()
    with NetraClient(srv.api_key, srv.base_url) as client:
        got = nf.traces_frame(*days, backend="polars", client=client)
    assert_frame_equal(got, expected)
    assert srv.stats.by_status.get(429, 0) <= INITIAL_WINDOW - 5
    assert srv.stats.by_status[200] >= INITIAL_WINDOW  # the window went out at once
