"""Lazy scans against a real LocalNetra: results equal the eager frame + the same query.

Pushdown is checked through the server's request counter: a pushed filter or ``head(n)``
makes fewer requests, and correctness never depends on it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient, schema
from netra_frames.query import TraceQuery
from netra_frames.scan import Pushdown, narrowed, pushdown_of, scan_spans, scan_traces
from netra_frames.server import LocalNetra

Window = tuple[datetime, datetime]
UTC = timezone.utc


@pytest.fixture(scope="module")
def eager(client: NetraClient, window: Window) -> pl.DataFrame:
    return nf.traces_frame(*window, backend="polars", client=client, progress=False)


@pytest.fixture(scope="module")
def lazy(client: NetraClient, window: Window) -> pl.LazyFrame:
    return scan_traces(*window, client=client)


def requests_of(
    server: LocalNetra, lf: pl.LazyFrame, **collect: object
) -> tuple[pl.DataFrame, int]:
    server.reset_stats()
    frame = lf.collect(**collect)  # type: ignore[call-overload]
    return frame, server.stats.requests


# -- traces: equality with the eager frame ----------------------------------------------


def test_schema_without_request(server: LocalNetra, client: NetraClient, window: Window) -> None:
    server.reset_stats()
    lf = scan_traces(*window, client=client)
    assert lf.collect_schema() == schema.polars_schema(schema.TRACES)
    assert server.stats.requests == 0


def test_full_scan_equals_eager(
    server: LocalNetra, lazy: pl.LazyFrame, eager: pl.DataFrame
) -> None:
    frame, requests = requests_of(server, lazy)
    assert_frame_equal(frame, eager)
    pages = -(-eager.height // 100) + (eager.height % 100 == 0)
    assert pages <= requests <= 2 * pages  # concurrent walks: a partial page each, at most


def _predicates(eager: pl.DataFrame, window: Window) -> dict[str, pl.Expr]:
    user = eager["user_id"].drop_nulls()[0]
    session = eager["session_id"].drop_nulls()[0]
    mid = window[0] + (window[1] - window[0]) / 2
    plus2 = timezone(timedelta(hours=2))
    return {
        "tenant": pl.col("tenant_id") == "Globex",
        "tenant-reversed": pl.lit("Globex") == pl.col("tenant_id"),
        "trace-id": pl.col("trace_id") == eager["trace_id"][42],
        "user+session": (pl.col("user_id") == user) & (pl.col("session_id") == session),
        "since": pl.col("start_time") >= mid,
        "after-offset": pl.col("start_time") > mid.astimezone(plus2),
        "before": pl.col("start_time") < mid,
        "until": pl.col("start_time") <= eager["start_time"][100],
        "exact": pl.col("start_time") == eager["start_time"][7],
        "between": pl.col("start_time").is_between(mid - timedelta(days=2), mid, closed="left"),
        "date-literal": pl.col("start_time") >= mid.date(),
        "mixed": (pl.col("tenant_id") == "Initech")
        & (pl.col("start_time") < mid)
        & (pl.col("total_cost") > 0.001),
        "or": (pl.col("tenant_id") == "Globex") | (pl.col("user_id") == user),
        "is-in": pl.col("tenant_id").is_in(["Globex", "Initech"]),
        "unpushable": pl.col("has_error") & (pl.col("latency_ms") > 1000),
        "contradiction": (pl.col("tenant_id") == "Globex") & (pl.col("tenant_id") == "Initech"),
        "null-tenant": pl.col("tenant_id").is_null(),
    }


@pytest.mark.parametrize(
    "name",
    [
        "tenant",
        "tenant-reversed",
        "trace-id",
        "user+session",
        "since",
        "after-offset",
        "before",
        "until",
        "exact",
        "between",
        "date-literal",
        "mixed",
        "or",
        "is-in",
        "unpushable",
        "contradiction",
        "null-tenant",
    ],
)
def test_filter_equals_eager(
    lazy: pl.LazyFrame, eager: pl.DataFrame, window: Window, name: str
) -> None:
    predicate = _predicates(eager, window)[name]
    assert_frame_equal(lazy.filter(predicate).collect(), eager.filter(predicate))


@pytest.fixture(scope="module")
def one_walk(client: NetraClient, window: Window) -> pl.LazyFrame:
    """A scan with one worker: one walk, so its requests can be counted exactly."""
    return scan_traces(*window, client=client, max_workers=1)


def test_pushed_filter_makes_fewer_requests(
    server: LocalNetra, one_walk: pl.LazyFrame, eager: pl.DataFrame
) -> None:
    lazy = one_walk
    pushed, pushed_requests = requests_of(server, lazy.filter(pl.col("tenant_id") == "Globex"))
    kept, kept_requests = requests_of(server, lazy.filter(pl.col("tenant_id").is_in(["Globex"])))
    assert_frame_equal(pushed, kept)
    assert pushed_requests == -(-pushed.height // 100)
    assert kept_requests == -(-eager.height // 100)
    assert pushed_requests < kept_requests / 3


def test_pushed_time_range_makes_fewer_requests(
    server: LocalNetra, one_walk: pl.LazyFrame, eager: pl.DataFrame
) -> None:
    lazy = one_walk
    since = eager["start_time"][150]
    frame, requests = requests_of(server, lazy.filter(pl.col("start_time") >= since))
    assert_frame_equal(frame, eager.filter(pl.col("start_time") >= since))
    assert requests == 2


def test_contradiction_makes_no_request(
    server: LocalNetra, client: NetraClient, window: Window
) -> None:
    lf = scan_traces(*window, tenant_id="AceTech", client=client)
    frame, requests = requests_of(server, lf.filter(pl.col("tenant_id") == "Globex"))
    assert requests == 0
    assert frame.schema == schema.polars_schema(schema.TRACES) and frame.height == 0


def test_head_stops_paging(server: LocalNetra, lazy: pl.LazyFrame, eager: pl.DataFrame) -> None:
    frame, requests = requests_of(server, lazy.head(7))
    assert_frame_equal(frame, eager.head(7))
    assert requests == 1
    frame, requests = requests_of(server, lazy.head(250))
    assert_frame_equal(frame, eager.head(250))
    assert requests == 3


def test_head_before_filter_is_not_pushed(lazy: pl.LazyFrame, eager: pl.DataFrame) -> None:
    predicate = pl.col("tenant_id") == "Globex"
    assert_frame_equal(
        lazy.head(150).filter(predicate).collect(), eager.head(150).filter(predicate)
    )
    assert_frame_equal(lazy.filter(predicate).head(5).collect(), eager.filter(predicate).head(5))


def test_projection_and_queries(lazy: pl.LazyFrame, eager: pl.DataFrame) -> None:
    def query(frame: pl.LazyFrame) -> pl.LazyFrame:
        return (
            frame.filter(pl.col("start_time") >= pl.col("start_time").min())
            .group_by("tenant_id")
            .agg(pl.col("total_cost").sum(), pl.len())
            .sort("tenant_id", nulls_last=True)
        )

    assert_frame_equal(query(lazy).collect(), query(eager.lazy()).collect())
    cols = ["trace_id", "models", "total_tokens"]
    assert_frame_equal(lazy.select(cols).collect(), eager.select(cols))
    assert lazy.select(pl.len()).collect().item() == eager.height


def test_streaming_engine_and_sink(lazy: pl.LazyFrame, eager: pl.DataFrame, tmp_path: Path) -> None:
    predicate = pl.col("tenant_id") == "AceTech"
    streamed = lazy.filter(predicate).collect(engine="streaming")
    assert_frame_equal(streamed, eager.filter(predicate))
    lazy.sink_parquet(tmp_path / "traces.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "traces.parquet"), eager)


def test_constructor_filters_and_sort(
    client: NetraClient, window: Window, eager: pl.DataFrame
) -> None:
    lf = scan_traces(*window, tenant_id="Globex", sort_order="asc", client=client)
    expected = nf.traces_frame(
        *window, tenant_id="Globex", sort_order="asc", backend="polars", client=client
    )
    assert_frame_equal(lf.collect(), expected)
    assert_frame_equal(lf.head(3).collect(), expected.head(3))


def test_bad_arguments_refused_before_any_request(
    server: LocalNetra, client: NetraClient, window: Window
) -> None:
    server.reset_stats()
    with pytest.raises(nf.InvalidParameterError):
        scan_traces(*window, page_size=0, client=client)
    with pytest.raises(nf.InvalidParameterError):
        scan_traces(*window, tenant_id="", client=client)
    with pytest.raises(nf.InvalidParameterError):
        scan_traces(window[1], window[0], client=client)
    with pytest.raises(nf.InvalidParameterError):
        scan_spans(123, client=client)
    assert server.stats.requests == 0


# -- pushdown analysis ------------------------------------------------------------------


def test_pushdown_of_reads_and_chains() -> None:
    lo = datetime(2026, 1, 1, tzinfo=UTC)
    hi = datetime(2026, 1, 2, 12, 0, 0, 1500, tzinfo=UTC)
    pushed = pushdown_of(
        (pl.col("tenant_id") == "AceTech")
        & (pl.col("start_time") >= lo)
        & (pl.col("start_time") < hi)
        & (pl.col("total_cost") > 1)
    )
    assert pushed == Pushdown({"tenant_id": "AceTech"}, lo, hi.replace(microsecond=2000))
    between = pushdown_of(pl.col("start_time").is_between(lo, hi))
    assert (between.start, between.end) == (lo, hi.replace(microsecond=2000))


@pytest.mark.parametrize(
    "predicate",
    [
        None,
        (pl.col("tenant_id") == "a") | (pl.col("user_id") == "b"),
        pl.col("tenant_id").is_in(["a"]),
        pl.col("tenant_id") != "a",
        pl.col("name") == "x",
        pl.col("start_time") >= datetime(2026, 1, 1),  # naive: not pushed
        pl.col("tenant_id").str.to_lowercase() == "a",
        ~(pl.col("tenant_id") == "a"),
    ],
)
def test_pushdown_of_leaves_what_it_does_not_understand(predicate: pl.Expr | None) -> None:
    assert pushdown_of(predicate).is_trivial


@pytest.mark.parametrize(
    ("predicate", "start", "end"),
    [
        (pl.col("start_time") >= date(2025, 12, 20), "2025-12-20", None),
        (pl.col("start_time") < date(2025, 12, 20), None, "2025-12-20"),
        (
            pl.col("start_time").is_between(date(2025, 12, 10), date(2025, 12, 20)),
            "2025-12-10",
            "2025-12-20T00:00:00.001",
        ),
    ],
    ids=[">=", "<", "is_between"],
)
def test_a_date_literal_is_reported_as_the_scan_pushes_it(
    lazy: pl.LazyFrame,
    eager: pl.DataFrame,
    window: Window,
    caplog: pytest.LogCaptureFixture,
    predicate: pl.Expr,
    start: str | None,
    end: str | None,
) -> None:
    reported = pushdown_of(predicate)
    expected = tuple(None if t is None else datetime.fromisoformat(t).replace(tzinfo=UTC)
                     for t in (start, end))  # fmt: skip
    assert (reported.start, reported.end) == expected  # a date is its midnight UTC
    with caplog.at_level(logging.DEBUG, logger="netra_frames"):
        frame = lazy.filter(predicate).collect()
    assert_frame_equal(frame, eager.filter(predicate))
    sent = narrowed(TraceQuery.build(*window), reported)
    assert sent is not None
    pushes = [r.getMessage() for r in caplog.records if "scan_traces pushes" in r.getMessage()]
    assert pushes and all(sent.describe() in line for line in pushes), (pushes, sent.describe())


def test_pushdown_of_contradictions() -> None:
    assert pushdown_of((pl.col("user_id") == "a") & (pl.col("user_id") == "b")).empty
    day = datetime(2026, 1, 1, tzinfo=UTC)
    assert pushdown_of((pl.col("start_time") < day) & (pl.col("start_time") >= day)).empty


# -- spans ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def span_ids(eager: pl.DataFrame) -> pl.Series:
    return eager["trace_id"].head(40)


@pytest.fixture(scope="module")
def spans(client: NetraClient, span_ids: pl.Series) -> pl.DataFrame:
    return nf.spans_frame(span_ids, backend="polars", client=client, progress=False)


def test_scan_spans_equals_eager(
    client: NetraClient, span_ids: pl.Series, spans: pl.DataFrame
) -> None:
    lf = scan_spans(span_ids, client=client)
    assert lf.collect_schema() == schema.polars_schema(schema.SPANS)
    assert_frame_equal(lf.collect(), spans)
    predicate = (pl.col("kind") == "generation") & (pl.col("total_tokens") > 10)
    cols = ["span_id", "trace_id", "model_name", "latency_ms"]
    assert_frame_equal(
        lf.filter(predicate).select(cols).collect(), spans.filter(predicate).select(cols)
    )
    assert_frame_equal(lf.head(150).collect(engine="streaming"), spans.head(150))


def test_scan_spans_pushes_trace_id_and_head(
    server: LocalNetra, client: NetraClient, span_ids: pl.Series, spans: pl.DataFrame
) -> None:
    lf = scan_spans(span_ids, client=client, max_workers=2)
    predicate = pl.col("trace_id") == span_ids[5]
    frame, requests = requests_of(server, lf.filter(predicate))
    assert_frame_equal(frame, spans.filter(predicate))
    assert requests == 1
    frame, requests = requests_of(server, lf.head(3))
    assert_frame_equal(frame, spans.head(3))
    assert requests <= 6  # the traces needed plus at most max_workers fetched ahead, not 40
