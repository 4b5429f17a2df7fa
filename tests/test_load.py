"""Load: 16 concurrent drains against one server, with and without faults: no errors, no loss.

Each drain (its own client, or one shared client) must equal the single-threaded reference
exactly: same rows, same values, same order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient
from netra_frames.server import LocalNetra

DRAINS = 16
TIME_LIMIT = 20.0
Window = tuple[datetime, datetime]


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalNetra]:
    with LocalNetra(seed=21, traces=600) as server:
        yield server


@pytest.fixture(scope="module")
def window(srv: LocalNetra) -> Window:
    return srv.anchor - timedelta(days=31), srv.anchor + timedelta(days=1)


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


def run_concurrently(jobs: list[Callable[[], None]]) -> float:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIME_LIMIT * 2)
    elapsed = time.monotonic() - started
    assert not any(t.is_alive() for t in threads), "a drain hung"
    assert not errors, errors[:3]
    return elapsed


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
        elapsed = run_concurrently(jobs)
    finally:
        for c in clients:
            c.close()
    assert len(results) == DRAINS
    assert elapsed < TIME_LIMIT
    assert srv.errors == []


def test_16_concurrent_drains_under_faults_and_rate_limit(
    srv: LocalNetra, window: Window, references: dict[str, tuple[pl.DataFrame, ...]]
) -> None:
    """Faults at 10 % plus a per-key token bucket: still every row exactly once."""
    keys = list(references)
    srv.set_faults(
        seed=4,
        error_rate=0.04,
        reset_mid_rate=0.03,
        truncate_rate=0.03,
        rate_limit_rps=300.0,
        rate_limit_burst=10,
        jitter_ms=3.0,
        retry_after=0,
    )
    results: list[bool] = []
    clients = [client_for(srv, keys[i % 2]) for i in range(DRAINS)]
    try:
        jobs = [_job(c, window, references[keys[i % 2]], results) for i, c in enumerate(clients)]
        elapsed = run_concurrently(jobs)
        stats = srv.stats
    finally:
        srv.set_faults(None)
        for c in clients:
            c.close()
    assert len(results) == DRAINS
    assert elapsed < TIME_LIMIT
    assert stats.faults.get("rate_limit", 0) > 0 and stats.faults.get("error", 0) > 0
    assert srv.errors == []
