"""Load: 16 concurrent drains against one server, with and without faults: no errors, no loss.

Each drain (its own client, or one shared client) must equal the single-threaded reference
exactly: same rows, same values, same order. Nothing here depends on the machine's speed:
no duration is asserted (a hung drain is caught by the join timeout), and the faults whose
firing is asserted are scheduled by request number, with a rate-limit bucket that starts
empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient
from netra_frames.server import LocalNetra

DRAINS = 16
JOIN_TIMEOUT = 240.0  # seconds: far beyond a drain on a loaded machine; only a hang hits it
Window = tuple[datetime, datetime]


SERVER = dict(seed=21, traces=600, anchor=datetime(2026, 1, 1, tzinfo=timezone.utc))
WINDOW = dict(days_before=31, days_after=1)  # all the data, and a day past both ends


def client_for(srv: LocalNetra, key: str | None = None, pool_size: int = 2) -> NetraClient:
    return NetraClient(
        key or srv.api_key,
        srv.base_url,
        max_retries=10,
        backoff_factor=0.002,
        max_backoff=0.02,
        pool_size=pool_size,
    )


def drain(c: NetraClient, window: Window, trace_ids: list[str]) -> tuple[pl.DataFrame, ...]:
    traces = nf.traces_frame(
        *window, page_size=60, shards=1, backend="polars", progress=False, client=c
    )
    spans = nf.spans_frame(
        trace_ids, page_size=4, max_workers=2, backend="polars", progress=False, client=c
    )
    return traces, spans


@pytest.fixture(scope="module")
def references(srv: LocalNetra, window: Window) -> dict[str, tuple[pl.DataFrame, ...]]:
    """Single-threaded results per organisation key."""
    refs = {}
    for org in srv.organisations[:2]:
        with client_for(srv, org.api_key) as c:
            first = nf.traces_frame(*window, shards=1, backend="polars", progress=False, client=c)
            refs[org.api_key] = drain(c, window, first["trace_id"][:12].to_list())
    return refs


def run_concurrently(jobs: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a drain hung"
    assert not errors, errors[:3]


def _job(
    c: NetraClient,
    window: Window,
    reference: tuple[pl.DataFrame, ...],
    results: list[bool],
) -> Callable[[], None]:
    trace_ids = reference[1]["trace_id"].unique(maintain_order=True).to_list()

    def job() -> None:
        got = drain(c, window, trace_ids)
        for frame, expected in zip(got, reference, strict=True):
            assert_frame_equal(frame, expected)
        results.append(True)

    return job


@pytest.mark.parametrize("shared", [False, True], ids=["own-clients", "shared-client"])
def test_16_concurrent_drains_lose_nothing(
    srv: LocalNetra,
    window: Window,
    references: dict[str, tuple[pl.DataFrame, ...]],
    shared: bool,
) -> None:
    keys = list(references)
    results: list[bool] = []
    clients = (
        [client_for(srv, pool_size=DRAINS * 2)]
        if shared
        else [client_for(srv, keys[i % 2]) for i in range(DRAINS)]
    )
    try:
        jobs = [
            _job(
                clients[0] if shared else clients[i],
                window,
                references[keys[0] if shared else keys[i % 2]],
                results,
            )
            for i in range(DRAINS)
        ]
        run_concurrently(jobs)
    finally:
        for c in clients:
            c.close()
    assert len(results) == DRAINS
    assert srv.errors == []


def test_16_concurrent_drains_under_faults_and_rate_limit(
    srv: LocalNetra, window: Window, references: dict[str, tuple[pl.DataFrame, ...]]
) -> None:
    """Faults on about 10 % of requests plus a per-key token bucket: every row exactly once.

    The faults fire on fixed request numbers (every 25th, 33rd and 29th request), and each
    key's bucket starts empty, so its first request is rate limited however slow the
    machine; the bucket refills fast enough never to exhaust a client's retries.
    """
    keys = list(references)
    srv.set_faults(
        every={"error": 25, "reset_mid": 33, "truncate": 29},
        rate_limit_rps=5000.0,
        rate_limit_burst=50,
        rate_limit_initial_tokens=0,
        seed=4,
        jitter_ms=3.0,
        retry_after=0,
    )
    results: list[bool] = []
    clients = [client_for(srv, keys[i % 2]) for i in range(DRAINS)]
    try:
        jobs = [_job(c, window, references[keys[i % 2]], results) for i, c in enumerate(clients)]
        run_concurrently(jobs)
        stats = srv.stats
    finally:
        srv.set_faults(None)
        for c in clients:
            c.close()
    assert len(results) == DRAINS
    assert stats.faults.get("rate_limit", 0) >= 2  # the first request of each of the 2 keys
    for kind in ("error", "reset_mid", "truncate"):  # every drain makes > 33 requests
        assert stats.faults.get(kind, 0) > 0, stats.faults
    assert srv.errors == []
