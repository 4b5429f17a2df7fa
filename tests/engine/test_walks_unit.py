"""Walk splitting, rule by rule, on hand-made pages (no server; test_sharding has the drains)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from netra_frames._engine import batch
from netra_frames._engine.batch import polars_sink
from netra_frames._engine.walks import Rules, WalkSet, _apportion
from netra_frames._wire.decode import decode_traces_page
from netra_frames.query import TraceQuery
from netra_frames.schema import TRACES
from netra_frames.times import format_time

A = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFER_ROUNDS = Rules().defer_rounds
DAY = timedelta(days=1)


def _walks(days: int, shards: int, order: str = "desc", page_size: int = 10) -> WalkSet:
    query = TraceQuery.build(A, A + days * DAY, sort_order=order, page_size=page_size)  # type: ignore[arg-type]
    return WalkSet(query, [(A, A + days * DAY)], polars_sink(TRACES), shards=shards, adaptive=True)


def _page(times: list[datetime], more: bool = True) -> object:
    items = [
        {
            "id": f"t{i}-{t.timestamp()}",
            "name": "run",
            "kind": "workflow",
            "latency_ms": 1,
            "start_time": format_time(t),
            "end_time": format_time(t),
            "organisation_id": "org",
            "project_id": "proj",
            "cursor": f"c{t.timestamp()}-{i}",
        }
        for i, t in enumerate(times)
    ]
    body = {"data": {"data": items, "pageInfo": {"hasNextPage": more}}}
    return decode_traces_page(json.dumps(body).encode())


def _cover(walks: WalkSet) -> list[tuple[datetime, datetime]]:
    """The ranges each walk is responsible for, in time order."""
    ranges = []
    for w in walks.walks:
        low, high = (w.bound, w.hi) if w.backward else (w.lo, w.bound)
        ranges.append((low, high))
    return sorted(ranges)


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_a_split_covers_the_remaining_range_on_millisecond_edges(order: str, parts: int) -> None:
    walks = _walks(10, 1, order)
    walk = walks.walks[0]
    walk.position = A + 10 * DAY - DAY if walk.backward else A + DAY  # one day walked
    new = walk.split(walks.query, parts)
    walks.walks.extend(new)
    assert len(new) == parts - 1
    ranges = _cover(walks)
    assert ranges[0][0] == A and ranges[-1][1] == A + 10 * DAY
    for (_, hi), (lo, _) in zip(ranges, ranges[1:], strict=False):
        assert hi == lo and lo.microsecond % 1000 == 0  # no gap, no overlap, whole ms
    # result order: the running walk first (it holds the rows it has taken)
    assert walks.ordered(0)[0] is walk


def test_a_narrow_range_is_not_split() -> None:
    walks = _walks(1, 1)
    walk = walks.walks[0]
    walk.position = A + timedelta(microseconds=1500)
    walk.bound = A  # backward: the range left is 1.5 ms
    assert walk.split(walks.query, 4) == []
    assert walk.bound == A  # untouched


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_page_crossing_the_edge_is_clipped_and_ties_stay_on_their_side(order: str) -> None:
    walks = _walks(10, 1, order)
    walk = walks.walks[0]
    edge = A + 5 * DAY
    walk.bound = edge
    walk.pages.next_request()
    before, after = edge - timedelta(milliseconds=1), edge + timedelta(milliseconds=1)
    times = [after, edge, edge, before] if walk.backward else [before, edge, edge, after]
    kept = walk.take(_page(times))
    # rows at the edge belong to the range starting there: the backward walk keeps them
    # (it holds [edge, hi)), the forward walk leaves them to the next one ([lo, edge))
    assert kept == (3 if walk.backward else 1)
    assert walk.done


def _first_round(walks: WalkSet, dense: int, per_page: int = 10) -> None:
    """Every walk takes one full page; walk ``dense`` is 100x denser than the others."""
    for index, walk in enumerate(walks.walks):
        walk.pages.next_request()
        top = walk.hi if walk.backward else walk.lo
        span = timedelta(minutes=1) if index == dense else timedelta(minutes=100)
        step = span / per_page
        times = [top - step * (i + 1) if walk.backward else top + step * i for i in range(per_page)]
        walk.take(_page(times))


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_rebalance_splits_the_walk_holding_more_than_its_share(order: str) -> None:
    walks = _walks(16, 4, order)
    _first_round(walks, dense=2)
    dense = walks.walks[2]
    pages = [w.expected_rows() for w in walks.walks]
    assert all(p is not None for p in pages)
    added = walks.rebalance(workers=8)
    assert added >= 3  # the dense walk is cut in several parts, at once
    assert all(w.group == 0 for w in walks.walks[4:])
    left = dense.remaining()
    assert left is not None
    cut = walks.walks[4:]
    sizes = [w.hi - w.lo for w in cut]
    assert max(sizes) - min(sizes) <= timedelta(milliseconds=2)  # equal parts
    again = walks.rebalance(workers=8)
    assert again == 0  # nothing more to split until a page says otherwise


def test_rebalance_leaves_even_work_alone() -> None:
    walks = _walks(16, 4)
    _first_round(walks, dense=-1)
    assert walks.rebalance(workers=4) == 0


def test_a_walk_with_little_left_is_not_split() -> None:
    walks = _walks(1, 1)
    walk = walks.walks[0]
    walk.pages.next_request()
    times = [walk.hi - timedelta(hours=2 * i + 1) for i in range(10)]  # 10 rows over 19 h
    walk.take(_page(times))
    expected = walk.expected_rows()
    assert expected is not None and expected < 10  # under a page of 10 left
    assert walks.rebalance(workers=16) == 0


def test_walks_that_saw_no_rows_take_the_drains_density() -> None:
    walks = _walks(16, 2)
    walk = walks.walks[0]
    walk.pages.next_request()
    walk.take(_page([walk.hi - timedelta(minutes=i) for i in range(10)]))
    density = walks.density()
    assert density is not None
    fresh = walks.walks[1]
    assert fresh.expected_rows() is None
    assert fresh.expected_rows(density) == pytest.approx(density * 8 * 86400)


def test_free_workers_get_parts_of_the_walks_with_the_largest_parts() -> None:
    walks = _walks(16, 2)  # two walks of 8 days, 10 rows a page
    _first_round(walks, dense=0)  # walk 0 is 100x denser
    first = walks.walks[0]
    expected = first.expected_rows()
    assert expected is not None and expected > 40 * 10
    added = walks.rebalance(workers=6)  # 4 workers free
    assert added >= 4
    parts = [w for w in walks.walks if w is first or w.lo >= first.lo and w.hi <= first.hi]
    assert len(parts) >= 5  # the dense walk took the free workers' parts
    assert walks.rebalance(workers=6) == 0  # nothing more until a page says otherwise


def test_a_walk_that_saw_no_page_is_counted_but_not_split() -> None:
    walks = _walks(16, 4)
    first = walks.walks[0]
    first.pages.next_request()
    step = timedelta(minutes=1)
    top = first.hi if first.backward else first.lo
    first.take(_page([top - step * (i + 1) for i in range(10)]))  # dense: 10 rows a minute
    assert walks.density() is not None  # the others would look as dense as it
    walks.rebalance(workers=16)
    for walk in walks.walks[1:4]:  # the three walks that saw no page yet
        assert walk.hi - walk.lo == 4 * DAY  # not split: their days may well be empty
    assert len(walks.walks) > 4  # the walk that saw its density was


def test_the_apportioning_makes_the_largest_part_smallest() -> None:
    assert _apportion([12.0, 6.0, 3.0], 3, 1.0) == [3, 2, 1]  # parts of 4, 3, 3 pages
    assert _apportion([12.0, 6.0, 3.0], 0, 1.0) == [1, 1, 1]
    assert _apportion([1.5, 0.0], 4, 1.0) == [1, 1]  # a part holds a page at least


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_finished_walks_are_built_while_waiting_and_the_result_is_unchanged(order: str) -> None:
    walks = _walks(3, 3, order)
    first, middle, last = walks.ordered(0)  # result order
    for walk, hour in ((first, 2), (middle, 1), (last, 3)):
        day = walk.lo + timedelta(hours=hour)
        times = sorted([day, day + timedelta(minutes=1)], reverse=walk.backward)  # its order
        walk.take(_page(times, more=False))  # done in one page
    # the first and last walks are done, the middle one is not: two runs of one walk
    middle.pages.done = False
    expected = walks.sink.build([walks.sink.convert(w.batcher.loose) for w in walks.ordered(0)])
    assert walks.build_finished()
    assert first.batcher.loose == [] and len(first.batcher.parts) == 1
    assert middle.batcher.loose and last.batcher.loose  # not done, or not its turn yet
    assert walks.build_finished()
    assert last.batcher.loose == []
    assert not walks.build_finished()  # nothing finished is left loose
    middle.pages.done = True
    assert walks.build_finished() and not walks.build_finished()
    # the run of three finished walks keeps its batches, in order, in the first one
    assert middle.batcher.parts == [] and last.batcher.parts == []
    built = walks.sink.build([p for w in walks.ordered(0) for p in w.batcher.parts])
    assert built.equals(expected)


def test_a_small_result_is_one_chunk_and_a_large_one_keeps_its_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = polars_sink(TRACES)
    days = [A + timedelta(hours=h) for h in range(6)]
    parts = [sink.convert([_page(days[i : i + 2], more=False)]) for i in (0, 2, 4)]
    whole = sink.build(parts)
    assert whole.n_chunks() == 1  # the same sums whatever batches the timing made
    assert whole.equals(pl.concat(parts)) and whole.height == 6
    monkeypatch.setattr(batch, "RECHUNK_BYTES", 0)
    assert sink.build(parts).n_chunks() == 3  # no copy of a large result


def _running_and_split(order: str) -> tuple[WalkSet, list[datetime]]:
    """One walk of 10 days that took a page (it has a cursor), then split in three: it, the
    part next to its edge, and the far part; returns the walks and the edge's neighbours."""
    walks = _walks(10, 1, order, page_size=4)
    walk = walks.walks[0]
    top = walk.hi if walk.backward else walk.lo
    step = -timedelta(hours=6) if walk.backward else timedelta(hours=6)
    walk.take(_page([top + step * (i + 1) for i in range(4)]))  # one day walked
    assert walk.pages.cursor and not walk.done
    walks.walks.extend(walk.split(walks.query, 3))
    edge = walk.bound
    ms = timedelta(milliseconds=1)
    before, after = (edge + ms, edge - ms) if walk.backward else (edge - ms, edge + ms)
    return walks, [before, edge, edge, after]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_page_crossing_into_a_walk_not_started_carries_on_through_it(order: str) -> None:
    walks, times = _running_and_split(order)
    walk, near, far = walks.walks
    near_end = near.bound
    # no request could go now: the near part would wait anyway
    assert walks.take(0, _page(times), workers=1) == 4  # every row kept, none fetched twice
    assert not walk.done and walk.bound == near_end  # it carries on to the far part's edge
    assert near.done and near.remaining() is None and near.pages.rows == 0
    ranges = sorted((lo, hi) for lo, hi in _cover(walks) if lo < hi)
    assert ranges[0][0] == A and ranges[-1][1] == A + 10 * DAY
    assert all(hi == lo for (_, hi), (lo, _) in zip(ranges, ranges[1:], strict=False))
    holding = [w for w in walks.ordered(0) if w is not near]  # near holds nothing now
    assert holding == [walk, far]  # result order


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_page_crossing_into_a_started_walk_is_clipped_as_before(order: str) -> None:
    walks, times = _running_and_split(order)
    walk, near, _ = walks.walks
    edge = walk.bound
    near.busy = True  # its first request is out
    assert walks.take(0, _page(times), workers=1) == (3 if walk.backward else 1)
    assert walk.done and walk.bound == edge and not near.done


def test_a_walk_that_starts_where_a_running_one_stops_waits_for_the_others() -> None:
    walks, _ = _running_and_split("asc")
    walk, near, far = walks.walks
    walk.busy = True
    walks.rounds_left = DEFER_ROUNDS - 1  # a short drain: every part starts in list order
    assert walks.next_walk() == 1
    walks.rounds_left = DEFER_ROUNDS  # a long one
    assert walks.next_walk() == 2  # the far part: the running walk may yet reach the near one
    far.busy = True
    assert walks.next_walk() == 1  # then the near one, rather than leave a worker idle


def test_a_walk_not_started_that_would_get_a_worker_now_keeps_its_range() -> None:
    walks, times = _running_and_split("asc")
    walk, near, _ = walks.walks
    edge = walk.bound
    # two requests could go: the far part and the near one would both start now, so the
    # near one keeps its range and the running walk stops at its edge
    assert walks.take(0, _page(times), workers=2) == 1
    assert walk.done and walk.bound == edge and not near.done
