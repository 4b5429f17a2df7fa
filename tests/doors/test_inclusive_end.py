"""A server that reads ``endTime`` as inclusive gives exactly the half-open answer (issue 26).

The seed's own example ends a window at ``...T23:59:59.000Z``, so a real server may send the
rows at exactly ``endTime``. A row at exactly a range's upper edge belongs to the next
range: every drain, split or not, trims it there and keeps no duplicate at any edge.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames.server import LocalNetra
from netra_frames.times import parse_time

ANCHOR = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
DATA = {"seed": 5, "traces": 3000, "anchor": ANCHOR, "shape": "bursty"}


@pytest.fixture(scope="module")
def servers(local_netra: Callable[..., LocalNetra]) -> tuple[LocalNetra, LocalNetra]:
    """The same data behind a half-open server and an inclusive-end one."""
    return local_netra(**DATA), local_netra(**DATA, inclusive_end=True)


def _frame(srv: LocalNetra, start: datetime, end: datetime, **kw: object) -> pl.DataFrame:
    with nf.NetraClient(srv.api_key, srv.base_url) as client:
        frame = nf.traces_frame(start, end, backend="polars", progress=False, client=client, **kw)
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.fixture(scope="module")
def edges(servers: tuple[LocalNetra, LocalNetra]) -> tuple[datetime, datetime]:
    """A window whose end, and whose 2- and 4-way split edges, fall on traces' start times."""
    whole = _frame(servers[0], ANCHOR - timedelta(days=30), ANCHOR, sort_order="asc")
    counts = whole.group_by("start_time").len().sort("start_time")
    times = counts["start_time"].to_list()
    middle = times[len(times) // 2]
    end = times[len(times) // 2 + len(times) // 4]
    return parse_time(middle - (end - middle)), parse_time(end)


def test_the_inclusive_server_does_send_the_edge_rows(
    servers: tuple[LocalNetra, LocalNetra], edges: tuple[datetime, datetime]
) -> None:
    plain, inclusive = servers
    with nf.NetraClient(inclusive.api_key, inclusive.base_url) as client:
        page = client.list_traces(edges[1], edges[1] + timedelta(milliseconds=1), limit=100)
    assert page.traces  # a row at exactly endTime: the server reads it as inclusive
    assert all(t["start_time"] == nf.times.format_time(edges[1]) for t in page.traces)


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("shards", [1, 2, 4, "auto"])
def test_a_split_drain_equals_the_half_open_reference(
    servers: tuple[LocalNetra, LocalNetra],
    edges: tuple[datetime, datetime],
    shards: object,
    order: str,
) -> None:
    plain, inclusive = servers
    reference = _frame(plain, *edges, sort_order=order, shards=1)
    got = _frame(inclusive, *edges, sort_order=order, shards=shards)
    assert got["trace_id"].n_unique() == got.height  # no duplicate at any edge
    assert (got["start_time"] < edges[1]).all()
    assert_frame_equal(got, reference)


@pytest.mark.parametrize("sort_field", ["total_cost", "latency_ms"])
def test_other_sorts_too(
    servers: tuple[LocalNetra, LocalNetra], edges: tuple[datetime, datetime], sort_field: str
) -> None:
    plain, inclusive = servers
    reference = _frame(plain, *edges, sort_field=sort_field, shards=1)
    assert_frame_equal(_frame(inclusive, *edges, sort_field=sort_field, shards=4), reference)


def test_max_rows_counts_no_edge_row(
    servers: tuple[LocalNetra, LocalNetra], edges: tuple[datetime, datetime]
) -> None:
    plain, inclusive = servers
    reference = _frame(plain, *edges, max_rows=150)
    assert_frame_equal(_frame(inclusive, *edges, max_rows=150), reference)


def test_scans_and_exports_too(
    servers: tuple[LocalNetra, LocalNetra], edges: tuple[datetime, datetime], tmp_path: object
) -> None:
    plain, inclusive = servers
    reference = _frame(plain, *edges)
    with nf.NetraClient(inclusive.api_key, inclusive.base_url) as client:
        scanned = nf.scan_traces(*edges, client=client).collect()
    assert_frame_equal(scanned, reference)
