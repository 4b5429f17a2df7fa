"""Every traces door gives the rows of one walk, in the same order (issue 27).

One walk (``traces_frame(shards=1)``: one sub-window, page after page) is the reference. The
doors run the engine's pipeline with concurrent, adaptively split walks: the eager frame,
the lazy scan (every Polars engine), the export read back day by day, the cache (filling
it, then reading it) and the Dask frame; over every sort the API has, in both orders, on
even, skewed and bursty data, with and without an equality filter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient
from netra_frames.server import LocalNetra

pytestmark = pytest.mark.slow  # about a hundred drains; the README suite runs them

ANCHOR = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
WINDOW = (ANCHOR - timedelta(days=20), ANCHOR - timedelta(days=2, hours=7))  # cuts a day
SORTS = ["start_time", "end_time", "latency_ms", "total_cost", "total_tokens", "name"]
FILTERS: dict[str, dict[str, str]] = {"unfiltered": {}, "tenant": {"tenant_id": "AceTech"}}


@pytest.fixture(scope="module", params=["uniform", "skewed", "bursty"])
def srv(request: pytest.FixtureRequest, local_netra: Callable[..., LocalNetra]) -> LocalNetra:
    return local_netra(seed=21, traces=2500, anchor=ANCHOR, shape=request.param)


@pytest.fixture(scope="module")
def client(srv: LocalNetra) -> Any:
    with NetraClient(srv.api_key, srv.base_url) as c:
        yield c


def one_walk(client: NetraClient, **kw: Any) -> pl.DataFrame:
    frame = nf.traces_frame(*WINDOW, shards=1, backend="polars", progress=False, client=client,
                            **kw)  # fmt: skip
    assert isinstance(frame, pl.DataFrame)
    return frame


def _polars(frame: Any) -> pl.DataFrame:
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.mark.parametrize("filters", list(FILTERS))
@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("field", SORTS)
def test_frames_and_scans_equal_one_walk(
    client: NetraClient, field: str, order: str, filters: str
) -> None:
    kw: dict[str, Any] = {"sort_field": field, "sort_order": order, **FILTERS[filters]}
    expected = one_walk(client, **kw)
    assert expected.height > 50
    assert_frame_equal(
        _polars(nf.traces_frame(*WINDOW, backend="polars", progress=False, client=client, **kw)),
        expected,
    )
    lf = nf.scan_traces(*WINDOW, client=client, **kw)
    for engine in ("auto", "streaming", "in-memory"):
        assert_frame_equal(lf.collect(engine=engine), expected)  # type: ignore[call-overload]


@pytest.mark.parametrize("filters", list(FILTERS))
@pytest.mark.parametrize(("field", "order"), [("start_time", "desc"), ("start_time", "asc"),
                                              ("total_cost", "desc"), ("name", "asc")])  # fmt: skip
def test_the_cache_equals_one_walk(
    client: NetraClient, tmp_path: Path, field: str, order: str, filters: str
) -> None:
    kw: dict[str, Any] = {"sort_field": field, "sort_order": order, **FILTERS[filters]}
    expected = one_walk(client, **kw)
    cache = tmp_path / "cache"
    for _ in ("fills", "reads"):
        got = nf.traces_frame(*WINDOW, backend="polars", progress=False, client=client,
                              cache=cache, **kw)  # fmt: skip
        assert_frame_equal(_polars(got), expected)
        assert_frame_equal(nf.scan_traces(*WINDOW, client=client, cache=cache, **kw).collect(),
                           expected)  # fmt: skip


@pytest.mark.parametrize("filters", list(FILTERS))
def test_the_export_and_the_dask_frame_equal_one_walk(
    srv: LocalNetra, client: NetraClient, tmp_path: Path, filters: str
) -> None:
    import netra_frames.dask as nfd

    expected = one_walk(client, **FILTERS[filters])
    nf.export_traces(tmp_path, *WINDOW, progress=False, client=client, **FILTERS[filters])
    days = sorted(tmp_path.glob("date=*"), reverse=True)  # the newest day first, as the listing
    exported = pl.concat([pl.read_parquet(d / "*.parquet") for d in days])
    assert_frame_equal(exported, expected)
    ddf = nfd.traces_frame(*WINDOW, partitions=5, api_key=srv.api_key, base_url=srv.base_url,
                           **FILTERS[filters])  # fmt: skip
    computed = ddf.compute(scheduler="sync").reset_index(drop=True)
    assert computed.equals(nf.traces_frame(*WINDOW, shards=1, progress=False, client=client,
                                           **FILTERS[filters]))  # fmt: skip
