"""``sessions_frame``: one row per session, equal to the usage endpoint session by session."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import netra_frames as nf
from netra_frames.schema import SESSIONS, pandas_dtypes, polars_schema
from netra_frames.server import LocalNetra


def test_every_session_equals_the_session_usage_endpoint(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    sessions = nf.sessions_frame(*window, backend="polars", client=client, progress=False)
    assert sessions.height > 300  # many sessions, each checked
    usage = nf.session_usage_frame(
        sessions["session_id"], *window, backend="polars", client=client, progress=False
    )
    both = sessions.join(usage, on="session_id", how="full", suffix="_usage")
    assert both.height == sessions.height == usage.height
    assert (both["total_tokens"] == both["token_count"]).all()
    assert (both["traces"] == both["request_count"]).all()
    for ours, theirs in zip(both["total_cost"], both["total_cost_usage"], strict=True):
        assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)


def test_rows_follow_the_traces(client: nf.NetraClient, window: tuple[datetime, datetime]) -> None:
    traces = nf.traces_frame(
        *window, tenant_id="Globex", backend="polars", client=client, progress=False
    )
    sessions = nf.sessions_frame(
        *window, tenant_id="Globex", backend="polars", client=client, progress=False
    )
    assert dict(sessions.schema) == dict(polars_schema(SESSIONS))
    assert sessions["session_id"].n_unique() == sessions.height
    with_session = traces.filter(pl.col("session_id").is_not_null())
    assert sessions.height == with_session["session_id"].n_unique()
    assert sessions["traces"].sum() == with_session.height
    assert sessions["errors"].sum() == with_session["has_error"].sum()
    assert sessions["start_time"].is_sorted()
    busiest = sessions.sort("traces", "session_id", descending=[True, False]).row(0, named=True)
    own = with_session.filter(pl.col("session_id") == busiest["session_id"]).sort(
        "start_time", "trace_id"
    )
    assert busiest["trace_names"] == own["name"].to_list()
    assert busiest["start_time"] == own["start_time"].min()
    assert busiest["end_time"] == own["end_time"].max()
    assert (
        busiest["duration_ms"]
        == (own["end_time"].max() - own["start_time"].min()).total_seconds() * 1000 // 1
    )
    assert busiest["user_ids"] == own["user_id"].drop_nulls().unique(maintain_order=True).to_list()
    assert set(sessions["tenant_id"]) == {"Globex"}


def test_pandas_has_the_declared_nullable_dtypes(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    frame = nf.sessions_frame(*window, tenant_id="Globex", client=client, progress=False)
    assert isinstance(frame, pd.DataFrame)
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        c: str(t) for c, t in pandas_dtypes(SESSIONS).items()
    }


def test_an_empty_window_is_typed_and_warns(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    with pytest.warns(nf.EmptyResultWarning, match="no traces matched"):
        frame = nf.sessions_frame(
            *window, tenant_id="nobody", backend="polars", client=client, progress=False
        )
    assert frame.height == 0 and dict(frame.schema) == dict(polars_schema(SESSIONS))


def test_a_rerun_reads_the_cache(
    server: LocalNetra, client: nf.NetraClient, window: tuple[datetime, datetime], tmp_path: Path
) -> None:
    first = nf.sessions_frame(
        *window, tenant_id="Globex", backend="polars", client=client, progress=False, cache=tmp_path
    )
    server.reset_stats()
    again = nf.sessions_frame(
        *window, tenant_id="Globex", backend="polars", client=client, progress=False, cache=tmp_path
    )
    assert server.stats.requests == 0
    assert again.equals(first)


def test_bad_arguments_are_refused_before_any_request(
    server: LocalNetra, client: nf.NetraClient
) -> None:
    server.reset_stats()
    with pytest.raises(nf.InvalidParameterError, match="tenant"):
        nf.sessions_frame("2026-01-01", "2026-01-02", tenantid="x", client=client)  # type: ignore[call-overload]
    with pytest.raises(nf.InvalidParameterError, match="window is empty"):
        nf.sessions_frame("2026-01-02", "2026-01-01", client=client)
    assert server.stats.requests == 0
