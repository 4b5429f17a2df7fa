"""Time-window sharding gives exactly the unsharded drain; keep-alive; resumable failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient
from netra_frames._engine import batch
from netra_frames._engine.shards import choose_shards
from netra_frames._engine.traces import capacity
from netra_frames._engine.walks import WalkSet
from netra_frames._limiter import INITIAL_WINDOW
from netra_frames.server import LocalNetra
from netra_frames.times import parse_time

Window = tuple[datetime, datetime]
SORTS = ["start_time", "end_time", "latency_ms", "total_cost", "total_tokens", "name"]


@pytest.fixture(scope="module")
def edge_window(client: NetraClient, window: Window) -> Window:
    """A window whose K-way split edges fall on traces' start times (ties included)."""
    frame = nf.traces_frame(*window, sort_order="asc", backend="polars", shards=1, client=client)
    counts = frame.group_by("start_time").len().filter(pl.col("len") > 1)
    tie = counts["start_time"].sort()[0] if counts.height else frame["start_time"][500]
    start = tie - (window[1] - window[0]) / 4  # an edge of K=2 and K=4 lands on the tie
    return parse_time(start), parse_time(tie + (tie - start))


@pytest.mark.parametrize("sort_field", SORTS)
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_sharded_equals_unsharded(
    client: NetraClient, edge_window: Window, sort_field: str, sort_order: str
) -> None:
    def drain(shards: int) -> pl.DataFrame:
        return nf.traces_frame(*edge_window, sort_field=sort_field, sort_order=sort_order,
                               shards=shards, backend="polars", client=client)  # fmt: skip

    expected = drain(1)
    assert expected.height > 100
    for shards in (2, 4, 7):
        assert_frame_equal(drain(shards), expected)


def test_edge_traces_counted_once(client: NetraClient, edge_window: Window) -> None:
    full = nf.traces_frame(*edge_window, shards=4, backend="polars", client=client)
    assert full["trace_id"].n_unique() == full.height
    mid = edge_window[0] + (edge_window[1] - edge_window[0]) / 2
    assert (full["start_time"] == mid).sum() >= 1  # the edge holds traces


def test_pandas_backend_and_auto(client: NetraClient, window: Window) -> None:
    auto = nf.traces_frame(*window, client=client)
    one = nf.traces_frame(*window, shards=1, client=client)
    assert auto.equals(one)


def test_choose_shards() -> None:
    a = parse_time("2026-01-01")
    kw = {"sort_field": "start_time", "max_rows": None, "max_workers": 16}
    assert choose_shards("auto", a, a + timedelta(hours=20), **kw) == 1
    assert choose_shards("auto", a, a + timedelta(days=3.5), **kw) == 4
    assert choose_shards("auto", a, a + timedelta(days=90), **kw) == 16
    assert choose_shards("auto", a, a + timedelta(days=9), **{**kw, "max_rows": 5}) == 1
    assert choose_shards("auto", a, a + timedelta(days=9), **{**kw, "sort_field": "x"}) == 1
    for bad in (0, "many", True):
        with pytest.raises(nf.InvalidParameterError):
            choose_shards(bad, a, a + timedelta(days=2), **kw)
    with pytest.raises(nf.InvalidParameterError):
        choose_shards(3, a, a + timedelta(days=2), **{**kw, "max_rows": 5})


def test_keep_alive_connections(server: LocalNetra, window: Window) -> None:
    with NetraClient(server.api_key, server.base_url, pool_size=4) as client:
        server.reset_stats()
        frame = nf.traces_frame(*window, page_size=2, shards=8, max_workers=8,
                                backend="polars", client=client)  # fmt: skip
        stats = server.stats
    assert stats.requests >= 500 and frame["trace_id"].n_unique() == frame.height
    assert stats.connections_opened <= 4 + 2  # capped at the pool, not one per request


def test_failure_partial_and_resume(
    client: NetraClient, server: LocalNetra, window: Window
) -> None:
    for sort_field in ("start_time", "latency_ms"):
        expected = nf.traces_frame(*window, sort_field=sort_field, shards=1,
                                   backend="polars", client=client)  # fmt: skip
        # one worker walks the shards in order: request 7 fails (a 400 is never retried)
        # after six pages of the first shard, whatever the machine's speed
        server.set_faults(schedule={7: "400"})
        try:
            with pytest.raises(nf.DrainError) as info:
                nf.traces_frame(*window, sort_field=sort_field, shards=6, page_size=25,
                                max_workers=1, backend="polars", client=client)  # fmt: skip
        finally:
            server.set_faults(None)
        err = info.value
        assert 0 < err.partial.height < expected.height
        if sort_field == "start_time":
            assert_frame_equal(err.partial, expected.head(err.partial.height))
        else:
            assert set(err.partial["trace_id"]) <= set(expected["trace_id"])
        server.reset_stats()
        assert_frame_equal(err.resume(), expected)
        assert server.stats.requests < expected.height / 25 + 6  # only what was missing


# -- incremental batches: spans and traces drains pack pages as they go -------------------


def test_packed_drains_equal_unpacked(
    client: NetraClient, window: Window, monkeypatch: pytest.MonkeyPatch
) -> None:
    traces = nf.traces_frame(*window, shards=1, backend="polars", client=client)
    ids = traces["trace_id"][:60].to_list()
    want = nf.spans_frame(ids, backend="polars", client=client)
    want_pd = nf.spans_frame(ids, backend="pandas", client=client)
    monkeypatch.setattr(batch, "BATCH_BYTES", 1)  # a batch per trace / per traces page
    assert_frame_equal(nf.spans_frame(ids, backend="polars", client=client), want)
    got_pd = nf.spans_frame(ids, backend="pandas", max_workers=3, client=client)
    assert_frame_equal(pl.from_pandas(got_pd), pl.from_pandas(want_pd))
    assert list(got_pd.dtypes) == list(want_pd.dtypes)
    again = nf.traces_frame(*window, shards=1, page_size=40, backend="polars", client=client)
    assert_frame_equal(again, traces)


def test_packed_spans_drain_error_resumes(
    client: NetraClient, server: LocalNetra, window: Window, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = nf.traces_frame(*window, max_rows=40, backend="polars", client=client)["trace_id"]
    want = nf.spans_frame(ids, backend="pandas", client=client)
    monkeypatch.setattr(batch, "BATCH_BYTES", 1)
    # one page per trace: requests 1-4 finish traces, request 5 fails (400, not retried)
    server.set_faults(schedule={5: "400"})
    try:
        with pytest.raises(nf.DrainError) as info:
            nf.spans_frame(ids, backend="pandas", max_workers=4, client=client)
    finally:
        server.set_faults(None)
    err = info.value
    assert 0 < len(err.partial) < len(want)
    assert_frame_equal(pl.from_pandas(err.resume()), pl.from_pandas(want))
    assert_frame_equal(pl.from_pandas(err.resume()), pl.from_pandas(want))  # twice: intact


# -- adaptive sharding: uneven data, every order, ties on the split edges -----------------


@pytest.fixture(scope="module", params=["skewed", "bursty"])
def uneven(request: pytest.FixtureRequest) -> Iterator[LocalNetra]:
    """A server whose traces crowd into part of the window (see docs/local-server.md)."""
    anchor = parse_time("2026-01-01")
    with LocalNetra(seed=11, traces=1500, days=40, shape=request.param, anchor=anchor) as srv:
        yield srv


@pytest.mark.parametrize("sort_field", SORTS)
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_adaptive_equals_one_walk_on_uneven_data(
    uneven: LocalNetra, sort_field: str, sort_order: str
) -> None:
    window = uneven.anchor - timedelta(days=40), uneven.anchor
    with NetraClient(uneven.api_key, uneven.base_url) as client:

        def drain(shards: int | str, page_size: int = 100) -> pl.DataFrame:
            return nf.traces_frame(*window, sort_field=sort_field, sort_order=sort_order,
                                   shards=shards, page_size=page_size, max_workers=8,
                                   backend="polars", progress=False, client=client)  # fmt: skip

        expected = drain(1)
        assert expected.height > 500
        uneven.reset_stats()
        assert_frame_equal(drain("auto", page_size=10), expected)
        assert_frame_equal(drain("auto"), expected)


def test_adaptive_splits_running_walks_and_counts_ties_once(
    uneven: LocalNetra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small pages and many workers force many splits, and walks that carry on through a
    waiting one; tied start times land on their edges."""
    window = uneven.anchor - timedelta(days=40), uneven.anchor
    absorbed = []
    absorbs = WalkSet._absorbs

    def counted(walks: WalkSet, *args: Any) -> bool:  # records; changes nothing
        absorbed.append(absorbs(walks, *args))
        return absorbed[-1]

    monkeypatch.setattr(WalkSet, "_absorbs", counted)
    with NetraClient(uneven.api_key, uneven.base_url) as client:
        one = nf.traces_frame(*window, shards=1, backend="polars", client=client)
        ties = one.group_by("start_time").len().filter(pl.col("len") > 1)
        assert ties.height > 0  # the data has tied start times
        uneven.reset_stats()
        many = nf.traces_frame(*window, page_size=5, max_workers=16, backend="polars",
                               client=client)  # fmt: skip
        requests = uneven.stats.requests
    assert_frame_equal(many, one)
    assert many["trace_id"].n_unique() == many.height
    assert any(absorbed)  # the result above covers walks that carried on through another
    # splitting costs a few requests (a partial last page per walk, at most two walks per
    # worker at a time, split ahead by estimate or when idle), never a page per row; so does
    # trusting a page only after checking it: a walk whose page lies wholly past its range,
    # or comes back empty where its parent's density promised rows, is asked once more (a
    # replayed answer looks like that), which pages of 5 rows in bursty data often cause
    assert one.height / 5 <= requests <= one.height / 5 + 8 * 16


def test_a_fresh_client_starts_as_many_ranges_as_can_go(uneven: LocalNetra) -> None:
    """The slow start lets INITIAL_WINDOW requests go: a drain starts that many ranges, then
    splits as the window opens; the first round of requests is the window's, not 16."""
    window = uneven.anchor - timedelta(days=40), uneven.anchor
    with NetraClient(uneven.api_key, uneven.base_url) as client:
        assert capacity(client.transport.limiter, 16) == INITIAL_WINDOW
        one = nf.traces_frame(*window, shards=1, backend="polars", client=client)
    with NetraClient(uneven.api_key, uneven.base_url) as client:
        uneven.reset_stats()
        many = nf.traces_frame(*window, max_workers=16, backend="polars", client=client)
        assert capacity(client.transport.limiter, 16) == 16  # the window opened
        assert uneven.stats.requests < one.height / 100 + 2 * 16 + INITIAL_WINDOW
    assert_frame_equal(many, one)
