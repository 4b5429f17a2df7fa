"""The usage frames take a traces frame's id column as it is: missing ids are skipped.

A trace without a session has a missing ``session_id`` (``pd.NA``, ``None`` in Polars); it has
no session usage to ask for, so ``session_usage_frame(df["session_id"])`` gives one row per
distinct session of the column, as ``.dropna()`` first would. ``spans_frame`` still refuses a
missing trace id (every trace has one: a missing one is a mistake).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pandas as pd
import polars as pl
import pytest
from pandas.testing import assert_frame_equal

import netra_frames as nf

WINDOW = (datetime(2025, 12, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc))


@pytest.fixture(scope="module")
def traces(client: nf.NetraClient) -> pd.DataFrame:
    """Every trace of the session server (some without a session, some without a tenant)."""
    frame = nf.traces_frame(*WINDOW, client=client, backend="pandas", progress=False)
    assert frame["tenant_id"].isna().any()
    return frame


def test_a_traces_frames_session_column_is_taken_as_it_is(
    client: nf.NetraClient, traces: pd.DataFrame
) -> None:
    sessions = traces["session_id"].head(60)  # 60 traces: a request per session
    assert sessions.isna().any() and sessions.notna().any()
    usage = nf.session_usage_frame(sessions, *WINDOW, client=client)
    expected = list(dict.fromkeys(sessions.dropna()))
    assert usage["session_id"].tolist() == expected  # one row per session, in input order
    dropped = nf.session_usage_frame(sessions.dropna(), *WINDOW, client=client)
    assert_frame_equal(usage, dropped)


def test_polars_columns_lists_and_nan_skip_the_same_way(
    client: nf.NetraClient, traces: pd.DataFrame
) -> None:
    tenants = pl.from_pandas(traces)["tenant_id"]
    assert tenants.null_count() > 0
    usage = nf.tenant_usage_frame(tenants, *WINDOW, client=client)
    assert isinstance(usage, pl.DataFrame)  # a Polars Series gives a Polars frame
    assert usage["tenant_id"].to_list() == list(dict.fromkeys(tenants.drop_nulls()))
    first = traces["session_id"].dropna().iloc[0]
    listed = nf.session_usage_frame(
        [None, first, math.nan, pd.NA, first], *WINDOW, backend="polars", client=client
    )
    assert listed["session_id"].to_list() == [first]


def test_spans_frame_still_refuses_a_missing_trace_id(client: nf.NetraClient) -> None:
    with pytest.raises(nf.InvalidParameterError, match="trace_ids must be a string, got NoneType"):
        nf.spans_frame(["t1", None], client=client)  # type: ignore[list-item]
