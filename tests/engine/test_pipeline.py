"""The engine's front door: ordered batches, bounded memory, early stops (issue 27).

A slow consumer slows the drain, it never fills memory: the workers pause while the
pipeline's budget of built data waits. A consumer that stops early (``head(n)``,
``max_rows``) costs no more than one round of requests beyond the pages it needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient
from netra_frames._engine import traces_pipeline
from netra_frames.query import TraceQuery
from netra_frames.server import LocalNetra

ANCHOR = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
WINDOW = (ANCHOR - timedelta(days=30), ANCHOR)
BATCH_BYTES = 4 << 20


@pytest.fixture(scope="module")
def srv(local_netra: Callable[..., LocalNetra]) -> LocalNetra:
    return local_netra(seed=4, traces=30000, anchor=ANCHOR)


@pytest.fixture(scope="module")
def reference(srv: LocalNetra) -> pl.DataFrame:
    with NetraClient(srv.api_key, srv.base_url) as client:
        frame = nf.traces_frame(*WINDOW, backend="polars", progress=False, client=client)
    assert isinstance(frame, pl.DataFrame) and frame.height > 15_000  # ~17 MB of pages
    return frame


@pytest.mark.parametrize("pause", [0.0, 0.05])
def test_a_slow_consumer_never_fills_memory(
    srv: LocalNetra, reference: pl.DataFrame, pause: float
) -> None:
    """The drain holds about its budget (8 MB) at most, however slowly batches are taken."""
    budget = 8 << 20
    query = TraceQuery.build(*WINDOW, page_size=100)
    with NetraClient(srv.api_key, srv.base_url) as client:
        pipe = traces_pipeline(
            client.transport, query, [WINDOW], backend="polars", workers=16, shards=16,
            budget=budget,
        )  # fmt: skip
        parts = []
        for batch in pipe:
            assert batch is not None
            if batch.part is not None:
                parts.append(batch.part)
                time.sleep(pause)  # a sink writing to a slow disk
    assert_frame_equal(pl.concat(parts), reference)
    held = pipe.producer.peak_held  # type: ignore[attr-defined]
    assert budget / 2 < held <= budget + 2 * BATCH_BYTES  # it did fill up, and no further


def test_an_eager_frame_has_no_budget(srv: LocalNetra, reference: pl.DataFrame) -> None:
    query = TraceQuery.build(*WINDOW, page_size=100)
    with NetraClient(srv.api_key, srv.base_url) as client:
        pipe = traces_pipeline(client.transport, query, [WINDOW], backend="polars", workers=16)
        frames = pipe.collect(lambda groups: pl.concat([p for p in groups[0] if p is not None]))
    assert_frame_equal(frames, reference)
    assert pipe.producer.peak_held == 0  # type: ignore[attr-defined]  # never measured: no gate


@pytest.mark.parametrize("n", [1, 100, 250, 1234])
def test_head_n_fetches_only_the_pages_it_needs(
    srv: LocalNetra, reference: pl.DataFrame, n: int
) -> None:
    """``head(n)`` (and ``max_rows``) walks once: ceil(n / 100) requests, not one more."""
    with NetraClient(srv.api_key, srv.base_url) as client:
        srv.reset_stats()
        got = nf.scan_traces(*WINDOW, client=client).head(n).collect()
        scanned = srv.stats.requests
        srv.reset_stats()
        frame = nf.traces_frame(*WINDOW, max_rows=n, backend="polars", progress=False,
                                client=client)  # fmt: skip
        framed = srv.stats.requests
    assert_frame_equal(got, reference.head(n))
    assert_frame_equal(frame, reference.head(n))  # type: ignore[arg-type]
    assert scanned == framed == -(-n // 100)


def test_a_scan_stopped_by_polars_stops_the_drain(srv: LocalNetra) -> None:
    """A predicate Polars applies itself, then ``head``: Polars stops reading the source and
    the drain stops with it; no worker is left."""
    with NetraClient(srv.api_key, srv.base_url) as client:
        lf = nf.scan_traces(*WINDOW, client=client)
        got = lf.filter(pl.col("latency_ms") > 0).head(3).collect(engine="streaming")
    assert got.height == 3
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _ours():
        time.sleep(0.05)
    assert _ours() == []


def _ours() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("netra_frames")]


@pytest.mark.parametrize("bad", [0, 3.5, "64", True, float("nan")])
def test_buffer_mb_is_checked_before_any_request(srv: LocalNetra, bad: object) -> None:
    with NetraClient(srv.api_key, srv.base_url) as client:
        srv.reset_stats()
        with pytest.raises(nf.InvalidParameterError, match="buffer_mb"):
            nf.scan_traces(*WINDOW, client=client, buffer_mb=bad)  # type: ignore[arg-type]
        with pytest.raises(nf.InvalidParameterError, match="buffer_mb"):
            nf.export_traces("out", *WINDOW, client=client, buffer_mb=bad)  # type: ignore[arg-type]
    assert srv.stats.requests == 0
