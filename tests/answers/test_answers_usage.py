"""``usage_frame``: grouped totals that equal the tenant usage endpoint and the frames."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import netra_frames as nf
from netra_frames.schema import USAGE, USAGE_KEYS, pandas_dtypes, polars_schema
from netra_frames.server import LocalNetra

MEASURES = [c.name for c in USAGE]


def test_totals_per_tenant_equal_the_tenant_usage_endpoint(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    usage = nf.usage_frame(
        *window, by=["tenant_id"], backend="polars", client=client, progress=False
    )
    tenants = usage["tenant_id"].drop_nulls()
    assert tenants.len() >= 5
    endpoint = nf.tenant_usage_frame(
        tenants, *window, backend="polars", client=client, progress=False
    )
    both = usage.join(endpoint, on="tenant_id", suffix="_endpoint")
    assert both.height == tenants.len()
    assert (both["total_tokens"] == both["token_count"]).all()
    assert (both["requests"] == both["request_count"]).all()
    assert (both["sessions"] == both["session_count"]).all()
    for ours, theirs in zip(both["total_cost"], both["total_cost_endpoint"], strict=True):
        assert math.isclose(ours, theirs, rel_tol=1e-9)


def test_groups_and_periods_add_up_to_the_traces(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    traces = nf.traces_frame(
        *window, tenant_id="AceTech", backend="polars", client=client, progress=False
    )
    for by, freq in (
        (["user_id"], None),
        (["name", "environment"], "1d"),
        (["service"], "1w"),
        ([], "1h"),
        ([], "1mo"),
    ):
        usage = nf.usage_frame(
            *window,
            by=by,
            freq=freq,
            tenant_id="AceTech",
            backend="polars",
            client=client,
            progress=False,
        )
        keys = (["period"] if freq else []) + by
        assert usage.columns == keys + MEASURES
        assert usage["requests"].sum() == traces.height
        assert usage["total_tokens"].sum() == traces["total_tokens"].sum()
        assert math.isclose(usage["total_cost"].sum(), traces["total_cost"].sum(), rel_tol=1e-9)
        assert usage["errors"].sum() == traces["has_error"].sum()
        assert usage["pii"].sum() == traces["has_pii"].sum()
        assert usage["violations"].sum() == traces["has_violation"].sum()
        assert usage.select(keys).is_unique().all()
    daily = nf.usage_frame(
        *window,
        by=[],
        freq="1d",
        tenant_id="AceTech",
        backend="polars",
        client=client,
        progress=False,
    )
    assert (daily["period"].dt.hour() == 0).all() and daily["period"].is_sorted()
    weekly = nf.usage_frame(
        *window,
        by=[],
        freq="1w",
        tenant_id="AceTech",
        backend="polars",
        client=client,
        progress=False,
    )
    assert (weekly["period"].dt.weekday() == 1).all()  # weeks start on Monday
    top_user = nf.usage_frame(
        *window, by="user_id", tenant_id="AceTech", backend="polars", client=client, progress=False
    ).row(0, named=True)
    mine = traces.filter(pl.col("user_id") == top_user["user_id"])
    assert top_user["sessions"] == mine["session_id"].drop_nulls().n_unique()
    assert top_user["total_cost"] == max(
        traces.group_by("user_id").agg(pl.col("total_cost").sum())["total_cost"]
    )


def test_by_model_comes_from_the_spans_and_adds_up_to_the_traces(
    server: LocalNetra, client: nf.NetraClient, window: tuple[datetime, datetime], tmp_path: Path
) -> None:
    start = window[1] - timedelta(days=3)
    traces = nf.traces_frame(
        start, window[1], tenant_id="Globex", backend="polars", client=client, progress=False
    )
    spans = nf.spans_frame(traces, backend="polars", client=client, progress=False)
    ask = {"by": ["model", "user_id"], "freq": "1d", "tenant_id": "Globex", "cache": tmp_path}
    by_model = nf.usage_frame(
        start, window[1], **ask, backend="polars", client=client, progress=False
    )
    assert by_model.columns == ["period", "model", "user_id", *MEASURES]
    calls = spans.filter(pl.col("model_name").is_not_null())
    assert by_model["requests"].sum() == calls.height
    assert set(by_model["model"]) == set(calls["model_name"])
    assert (
        by_model["total_tokens"].sum() == traces["total_tokens"].sum()
    )  # costs live on model spans
    assert math.isclose(by_model["total_cost"].sum(), traces["total_cost"].sum(), rel_tol=1e-9)
    server.reset_stats()  # the spans drain went through the cache: a re-run asks nothing
    again = nf.usage_frame(start, window[1], **ask, backend="polars", client=client, progress=False)
    assert server.stats.requests == 0 and again.equals(by_model)


def test_pandas_and_polars_and_typed_when_empty(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    pdf = nf.usage_frame(
        *window, by=["tenant_id", "service"], freq="1d", client=client, progress=False
    )
    assert isinstance(pdf, pd.DataFrame)
    dtypes = pandas_dtypes(USAGE_KEYS) | pandas_dtypes(USAGE)
    assert {c: str(t) for c, t in pdf.dtypes.items()} == {c: str(dtypes[c]) for c in pdf.columns}
    with pytest.warns(nf.EmptyResultWarning):
        empty = nf.usage_frame(
            *window,
            by="user_id",
            freq="1h",
            tenant_id="nobody",
            backend="polars",
            client=client,
            progress=False,
        )
    types = dict(polars_schema(USAGE_KEYS)) | dict(polars_schema(USAGE))
    assert dict(empty.schema) == {c: types[c] for c in ["period", "user_id", *MEASURES]}
    total = nf.usage_frame(*window, by=[], backend="polars", client=client, progress=False)
    assert total.height == 1 and total.columns == MEASURES


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"by": ["tenant"]}, r"'tenant' cannot be grouped by; choose from tenant_id, user_id"),
        ({"by": ["user_id", "user_id"]}, "twice"),
        ({"by": 3}, "by must be a column name or a list"),
        ({"freq": "1day"}, r"freq must be one of '1h', '1d', '1w', '1mo'"),
        ({"freq": "1d", "tenantid": "x"}, "not a traces filter"),
    ],
)
def test_bad_grouping_is_refused_before_any_request(
    server: LocalNetra, client: nf.NetraClient, kwargs: dict[str, object], match: str
) -> None:
    server.reset_stats()
    with pytest.raises(nf.InvalidParameterError, match=match):
        nf.usage_frame("2026-01-01", "2026-01-02", client=client, **kwargs)  # type: ignore[arg-type]
    assert server.stats.requests == 0
