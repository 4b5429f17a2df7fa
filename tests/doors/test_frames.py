"""Frames against a real LocalNetra over HTTP: data, dtypes, inputs, defaults, progress."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient, schema
from netra_frames._wire.convert import to_backend
from netra_frames._wire.decode import decode_spans_page, decode_traces_page, finish
from netra_frames.server import LocalNetra

Window = tuple[datetime, datetime]


def assert_schema(frame: Any, columns: tuple[schema.Column, ...]) -> None:
    """Every declared column is present, in order, with exactly its declared dtype."""
    names = [c.name for c in columns]
    if isinstance(frame, pl.DataFrame):
        assert frame.columns[: len(names)] == names
        for name, dtype in schema.polars_schema(columns).items():
            assert frame.schema[name] == dtype, name
    else:
        assert list(frame.columns[: len(names)]) == names
        for name, dtype in schema.pandas_dtypes(columns).items():
            assert frame[name].dtype == dtype, name
        assert not any(str(frame[n].dtype) == "object" for n in frame.columns)


@pytest.fixture(scope="module")
def traces(client: NetraClient, window: Window) -> pl.DataFrame:
    return nf.traces_frame(*window, backend="polars", client=client, progress=False)


@pytest.fixture(scope="module")
def ace(client: NetraClient, window: Window) -> pl.DataFrame:
    return nf.traces_frame(*window, tenant_id="AceTech", backend="polars", client=client)


# -- traces ---------------------------------------------------------------------------


def test_traces_frame_equals_iter_traces(
    client: NetraClient, window: Window, traces: pl.DataFrame
) -> None:
    items = list(client.iter_traces(*window, limit=100))
    assert traces["trace_id"].to_list() == [t["id"] for t in items]
    assert_schema(traces, schema.TRACES)
    for col in ("name", "latency_ms", "tenant_id", "user_id", "total_tokens", "total_cost"):
        assert traces[col].to_list() == [t.get(col) for t in items], col
    assert traces["models"].to_list() == [t.get("models") for t in items]
    expected = [datetime.fromisoformat(t["start_time"].replace("Z", "+00:00")) for t in items]
    assert traces["start_time"].to_list() == expected


def test_backends_equal_and_typed(client: NetraClient, window: Window, ace: pl.DataFrame) -> None:
    pdf = nf.traces_frame(*window, tenant_id="AceTech", backend="pandas", client=client)
    assert isinstance(pdf, pd.DataFrame)
    assert_schema(pdf, schema.TRACES)
    assert_schema(ace, schema.TRACES)
    assert_frame_equal(pl.from_pandas(pdf), ace)


def test_empty_window_keeps_schema(client: NetraClient, server: LocalNetra) -> None:
    start = server.anchor + timedelta(days=1)
    for backend in ("pandas", "polars"):
        end = start + timedelta(days=1)
        with pytest.warns(nf.EmptyResultWarning, match="no traces in"):
            frame = nf.traces_frame(start, end, backend=backend, client=client)
        assert len(frame) == 0
        assert_schema(frame, schema.TRACES)
        spans = nf.spans_frame([], backend=backend, client=client)
        assert len(spans) == 0
        assert_schema(spans, schema.SPANS)


@pytest.mark.parametrize("field", ["tenant_id", "user_id", "session_id"])
def test_filters(client: NetraClient, window: Window, traces: pl.DataFrame, field: str) -> None:
    value = traces.filter(pl.col(field).is_not_null())[field][0]
    got = nf.traces_frame(*window, backend="polars", client=client, **{field: value})
    assert_frame_equal(got, traces.filter(pl.col(field) == value))


def test_sort_and_max_rows(client: NetraClient, window: Window, server: LocalNetra) -> None:
    full = nf.traces_frame(*window, sort_field="total_cost", sort_order="asc", backend="polars",
                           client=client)  # fmt: skip
    assert full["total_cost"].is_sorted()
    server.reset_stats()
    head = nf.traces_frame(*window, sort_field="total_cost", sort_order="asc", page_size=40,
                           max_rows=90, backend="polars", client=client)  # fmt: skip
    assert_frame_equal(head, full.head(90))
    assert server.stats.requests == 3  # 40 + 40 + 10, never a fourth page


def test_groupby_on_default_pandas(client: NetraClient, window: Window, ace: pl.DataFrame) -> None:
    by_user = (
        nf.traces_frame(*window, tenant_id="AceTech", client=client)
        .groupby("user_id")["total_cost"]
        .sum()
    )
    manual: dict[str, float] = {}
    for user, cost in zip(ace["user_id"], ace["total_cost"], strict=True):
        if user is not None:
            manual[user] = manual.get(user, 0.0) + cost
    assert by_user.to_dict() == pytest.approx(manual)


# -- spans ----------------------------------------------------------------------------


def test_spans_concurrent_equal_one_by_one(client: NetraClient, traces: pl.DataFrame) -> None:
    ids = traces["trace_id"][:50].to_list()
    frame = nf.spans_frame(ids, backend="polars", max_workers=8, client=client)
    expected = [s for t in ids for s in client.iter_spans_by_trace_id(t, limit=100)]
    assert frame["span_id"].to_list() == [s["id"] for s in expected]
    assert frame["trace_id"].to_list() == [s["trace_id"] for s in expected]
    assert frame["attributes"].to_list() == [s.get("attributes") for s in expected]
    start = [datetime.fromtimestamp(int(s["start_time_ms"]) / 1000).astimezone() for s in expected]
    assert frame["start_time"].to_list() == start
    assert frame["latency_ms"].null_count() == 0
    assert_schema(frame, schema.SPANS)
    pdf = nf.spans_frame(ids[:5], backend="pandas", client=client)
    assert_schema(pdf, schema.SPANS)
    assert_frame_equal(pl.from_pandas(pdf), frame.filter(pl.col("trace_id").is_in(ids[:5])))


def test_spans_input_forms(client: NetraClient, traces: pl.DataFrame) -> None:
    ids = traces["trace_id"][:3].to_list()
    want = nf.spans_frame(ids, backend="polars", client=client)
    forms: list[Any] = [
        tuple(ids),
        (i for i in ids),
        pd.Series(ids),
        pl.Series(ids),
        traces.head(3),
        traces.head(3).to_pandas(),
        ids + ids[:1],  # duplicates are fetched once, first occurrence kept
    ]
    for form in forms:
        assert_frame_equal(nf.spans_frame(form, backend="polars", client=client), want)
    one = nf.spans_frame(ids[0], backend="polars", client=client)
    assert set(one["trace_id"]) == {ids[0]}


def test_parse_json_and_expand_attributes(client: NetraClient, traces: pl.DataFrame) -> None:
    ids = traces["trace_id"][:5].to_list()
    parsed = nf.spans_frame(ids, parse_json=True, backend="polars", client=client)
    assert "attr.netra.span.type" in parsed.columns
    pdf = nf.expand_attributes(nf.spans_frame(ids, client=client))
    assert list(pdf.columns) == parsed.columns
    assert not any(str(t) == "object" for t in pdf.dtypes)


def test_expand_attributes_prefixes_other_columns_with_their_name(
    client: NetraClient, traces: pl.DataFrame
) -> None:
    spans = nf.spans_frame(traces["trace_id"][:3], backend="polars", client=client)
    for column in ("resources", "metadata"):
        keys = {k for text in spans[column].to_list() for k in json.loads(text or "{}")}
        added = nf.expand_attributes(spans, column=column).columns[spans.width :]
        assert keys and set(added) == {f"{column}.{key}" for key in keys}, column
    as_pandas = nf.expand_attributes(spans.to_pandas(), column="resources")
    assert "resources.service.name" in as_pandas.columns
    assert not any(c.startswith("attr.") for c in as_pandas.columns)


@pytest.mark.parametrize(
    "bad", [None, 5, [None], ["ok", ""], [b"x"], pl.DataFrame({"x": ["a"]}), {"a": 1}]
)
def test_bad_trace_ids_refused_before_any_request(
    client: NetraClient, server: LocalNetra, bad: Any
) -> None:
    server.reset_stats()
    with pytest.raises(nf.InvalidParameterError):
        nf.spans_frame(bad, client=client)
    assert server.stats.requests == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backend": "arrow"},
        {"page_size": 0},
        {"max_rows": -1},
        {"sort_order": "up"},
        {"start": "2026-01-02", "end": "2026-01-01"},
        {"tenant_id": ""},
    ],
)
def test_bad_traces_args_refused(client: NetraClient, server: LocalNetra, kwargs: Any) -> None:
    server.reset_stats()
    with pytest.raises(nf.InvalidParameterError):
        nf.traces_frame(client=client, **kwargs)
    with pytest.raises(nf.InvalidParameterError):
        nf.tenant_usage_frame(["AceTech", 3], client=client)  # type: ignore[list-item]
    assert server.stats.requests == 0


# -- usage ----------------------------------------------------------------------------


def test_tenant_usage_equals_sums(client: NetraClient, window: Window, ace: pl.DataFrame) -> None:
    frame = nf.tenant_usage_frame("AceTech", *window, backend="polars", client=client)
    assert_schema(frame, schema.TENANT_USAGE)
    row = frame.row(0, named=True)
    assert row["tenant_id"] == "AceTech"
    assert row["token_count"] == ace["total_tokens"].sum()
    assert row["request_count"] == ace.height
    assert row["session_count"] == ace["session_id"].drop_nulls().n_unique()
    assert row["total_cost"] == pytest.approx(ace["total_cost"].sum())
    assert (row["start"], row["end"]) == window
    pdf = nf.tenant_usage_frame(["Globex", "AceTech"], *window, client=client)
    assert_schema(pdf, schema.TENANT_USAGE)
    assert pdf["tenant_id"].tolist() == ["Globex", "AceTech"]
    assert pdf["token_count"].iloc[1] == row["token_count"]


def test_session_usage_equals_sums(
    client: NetraClient, window: Window, traces: pl.DataFrame
) -> None:
    sessions = traces["session_id"].drop_nulls().unique(maintain_order=True)[:4].to_list()
    frame = nf.session_usage_frame(sessions, *window, backend="polars", client=client)
    assert_schema(frame, schema.SESSION_USAGE)
    assert frame["session_id"].to_list() == sessions
    for row in frame.iter_rows(named=True):
        mine = traces.filter(pl.col("session_id") == row["session_id"])
        assert row["token_count"] == mine["total_tokens"].sum()
        assert row["request_count"] == mine.height
        assert row["total_cost"] == pytest.approx(mine["total_cost"].sum())
    one = nf.session_usage_frame(sessions[0], *window, client=client)
    assert_schema(one, schema.SESSION_USAGE)
    assert len(one) == 1
    with pytest.warns(nf.EmptyResultWarning, match="'sess_unknown'.*case-sensitive") as seen:
        empty = nf.session_usage_frame("sess_unknown", *window, backend="polars", client=client)
    assert empty["request_count"].to_list() == [0]
    assert len(seen) == 1  # one warning per call


def test_typo_filters_warn_once_with_the_window(
    client: NetraClient, window: Window, traces: pl.DataFrame
) -> None:
    tenant = traces["tenant_id"].drop_nulls()[0]
    with pytest.warns(nf.EmptyResultWarning, match="no traces matched.*case-sensitive") as seen:
        frame = nf.traces_frame(*window, tenant_id=tenant.lower(), client=client, backend="polars")
    assert frame.height == 0 and frame.columns == [c.name for c in schema.TRACES]
    assert len(seen) == 1 and "2026" in str(seen[0].message)
    with pytest.warns(nf.EmptyResultWarning, match="'acetech'"):
        nf.tenant_usage_frame([tenant, "acetech"], *window, client=client)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a match warns nothing
        assert nf.traces_frame(*window, tenant_id=tenant, client=client, max_rows=5).shape[0] == 5


# -- defaults, backends, files, progress ----------------------------------------------


@pytest.mark.usefixtures("clean_defaults")
def test_default_client_from_configure_and_env(
    server: LocalNetra, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NETRA_API_KEY", raising=False)
    monkeypatch.delenv("NETRA_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    with pytest.raises(nf.ConfigurationError):
        nf.traces_frame(max_rows=1)
    nf.configure(api_key=server.api_key, base_url=server.base_url)
    assert len(nf.traces_frame(server.anchor - timedelta(days=30), server.anchor, max_rows=3)) == 3
    nf._defaults.reset()
    monkeypatch.setenv("NETRA_API_KEY", server.api_key)
    monkeypatch.setenv("NETRA_OTLP_ENDPOINT", server.base_url + "/telemetry")
    frame = nf.tenant_usage_frame("AceTech", server.anchor - timedelta(days=30), server.anchor)
    assert frame["request_count"].iloc[0] > 0
    assert nf.get_client() is nf.get_client()


@pytest.mark.usefixtures("clean_defaults")
def test_set_backend_and_env(
    client: NetraClient, window: Window, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(nf.traces_frame(*window, max_rows=1, client=client), pd.DataFrame)
    monkeypatch.setenv("NETRA_FRAMES_BACKEND", "polars")
    assert isinstance(nf.traces_frame(*window, max_rows=1, client=client), pl.DataFrame)
    nf.set_backend("pandas")
    with pytest.warns(nf.EmptyResultWarning):  # the default window (last 7 days) is empty
        assert isinstance(nf.tenant_usage_frame("AceTech", client=client), pd.DataFrame)
    nf.set_backend(None)
    monkeypatch.setenv("NETRA_FRAMES_BACKEND", "numpy")
    with pytest.raises(nf.InvalidParameterError):
        nf.traces_frame(client=client)
    with pytest.raises(nf.InvalidParameterError):
        nf.set_backend("arrow")  # type: ignore[arg-type]
    polars_frame = nf.traces_frame(*window, max_rows=1, backend="polars", client=client)
    assert isinstance(polars_frame, pl.DataFrame)
    assert not hasattr(client, "traces_frame")  # frames are built by nf.*, not the client


def test_round_trip_files(client: NetraClient, window: Window, tmp_path: Path) -> None:
    frame = nf.traces_frame(*window, max_rows=150, backend="polars", client=client)
    spans = nf.spans_frame(frame["trace_id"][:10], backend="polars", client=client)
    for data, columns in ((frame, schema.TRACES), (spans, schema.SPANS)):
        data.write_parquet(tmp_path / "f.parquet")
        assert_frame_equal(pl.read_parquet(tmp_path / "f.parquet"), data)
        pdf = to_backend(data, "pandas")
        pdf.to_parquet(tmp_path / "p.parquet")
        back = pd.read_parquet(tmp_path / "p.parquet", dtype_backend="pyarrow")
        assert_frame_equal(pl.from_pandas(back), data)
        scalar = [c.name for c in columns if c.dtype != schema.STRINGS]
        flat = data.select(scalar)
        flat.write_csv(tmp_path / "f.csv")
        csv = pl.read_csv(tmp_path / "f.csv", schema=schema.polars_schema(
            [c for c in columns if c.name in scalar]))  # fmt: skip
        assert_frame_equal(csv, flat)
        pd_flat = pdf[scalar]
        pd_flat.to_csv(tmp_path / "p.csv", index=False)
        dtypes = schema.pandas_dtypes(columns)
        times = [n for n in scalar if isinstance(dtypes[n], pd.DatetimeTZDtype)]
        reread = pd.read_csv(
            tmp_path / "p.csv",
            dtype={n: dtypes[n] for n in scalar if n not in times},
            parse_dates=times,
        )
        for n in times:
            reread[n] = reread[n].dt.as_unit("us")
        pd.testing.assert_frame_equal(reread, pd_flat)


def test_progress(
    client: NetraClient, capsys: pytest.CaptureFixture[str], window: Window, traces: pl.DataFrame
) -> None:
    nf.traces_frame(*window, max_rows=250, progress=False, client=client)
    nf.spans_frame(traces["trace_id"][:3], progress=False, client=client)
    assert capsys.readouterr() == ("", "")
    nf.traces_frame(*window, max_rows=250, progress=True, client=client)
    out, err = capsys.readouterr()
    assert out == ""
    assert "netra_frames: traces" in err and "/250" in err
    assert client.settings.api_key not in err


# -- decoding of hand-made pages ------------------------------------------------------


def _page(items: list[dict[str, Any]], more: bool = False) -> bytes:
    return json.dumps({"data": {"data": items, "pageInfo": {"hasNextPage": more}}}).encode()


def test_decode_unknown_and_odd_fields() -> None:
    items = [
        {"id": "a", "cursor": "c1", "models": ["m", {"x": 1}], "new_score": 1, "tag": {"k": 2}},
        {"id": "b", "cursor": "c2", "latency_ms": 3.0, "has_pii": 1, "new_score": None},
    ]
    page = decode_traces_page(_page(items, more=True))
    assert (page.num_rows, page.has_next_page, page.next_cursor) == (2, True, "c2")
    frame = finish([page.table, decode_traces_page(_page([])).table], schema.TRACES)
    assert_schema(frame, schema.TRACES)
    assert frame.columns[-2:] == ["new_score", "tag"]
    assert frame["new_score"].to_list() == [1, None]
    assert frame["tag"].to_list() == ['{"k":2}', None]
    assert frame["models"].to_list() == [["m", '{"x":1}'], None]
    assert frame["latency_ms"].to_list() == [None, 3]
    assert frame["has_pii"].to_list() == [None, True]
    assert "cursor" not in frame.columns


def test_decode_spans_objects_and_derived_latency() -> None:
    span = {"id": "s", "trace_id": "t", "start_time_ms": "1767225600000",
            "end_time_ms": "1767225600250", "metadata": {"a": [1]}, "pii_actions": {},
            "start_time": "collides", "created_at": "2026-01-01T00:00:00.5Z"}  # fmt: skip
    frame = finish([decode_spans_page(_page([span])).table], schema.SPANS)
    assert_schema(frame, schema.SPANS)
    row = frame.row(0, named=True)
    assert row["latency_ms"] == 250
    assert (row["metadata"], row["pii_actions"]) == ('{"a":[1]}', "{}")
    assert row["start_time_raw"] == "collides"
    assert row["created_at"].microsecond == 500_000


def test_decode_rejects_bad_bodies() -> None:
    with pytest.raises(ValueError):
        decode_traces_page(b"not json")
    with pytest.raises(ValueError):
        decode_traces_page(_page([{"id": "a", "latency_ms": "slow"}]))


# -- resumable drains -----------------------------------------------------------------


def test_drain_error_partial_and_resume(
    client: NetraClient, server: LocalNetra, window: Window, traces: pl.DataFrame
) -> None:
    ids = traces["trace_id"][:40].to_list()
    spans = nf.spans_frame(ids, backend="polars", client=client)
    server.set_faults(every={"400": 5})  # requests 5, 10, 15, ... get a 400 (never retried)
    try:
        with pytest.raises(nf.DrainError) as info:
            nf.traces_frame(
                *window, page_size=100, shards=1, backend="polars", client=client, progress=False
            )
        err = info.value
        assert isinstance(err.cause, nf.APIError) and isinstance(err, nf.APIError)
        assert err.partial.height == 400  # pages 1 to 4; page 5 failed
        assert_frame_equal(err.partial, traces.head(err.partial.height))
        # one page per trace: requests 6-9 finish traces, 10 fails; the partial holds them
        with pytest.raises(nf.DrainError) as span_info:
            nf.spans_frame(ids, backend="pandas", max_workers=4, client=client)
        span_err = span_info.value
        assert isinstance(span_err.partial, pd.DataFrame) and len(span_err.partial) > 0
    finally:
        server.set_faults(None)
    assert_frame_equal(err.resume(), traces)
    assert_frame_equal(pl.from_pandas(span_err.resume()), spans)


def test_sub_millisecond_window_edges_select_exactly(client: NetraClient, window: Any) -> None:
    full = nf.traces_frame(*window, backend="polars", progress=False, client=client)
    times = full["start_time"]
    half_ms = timedelta(microseconds=500)
    start, end = times[len(full) // 2] + half_ms, times[len(full) // 8] + half_ms
    got = nf.traces_frame(start, end, backend="polars", progress=False, client=client)
    expected = full.filter((pl.col("start_time") >= start) & (pl.col("start_time") < end))
    assert got["trace_id"].to_list() == expected["trace_id"].to_list() and got.height > 10


@pytest.mark.parametrize("name", ["trace_id", "session_id", "user_id", "tenant_id"])
def test_every_front_door_and_the_server_apply_every_filter(
    client: NetraClient, window: Window, traces: pl.DataFrame, name: str, tmp_path: Path
) -> None:
    """The parity of filters, end to end: the server filters, every front door passes it on."""
    from netra_frames.query import FILTERS

    assert name in FILTERS
    value = traces[name].drop_nulls()[0]
    expected = traces.filter(pl.col(name) == value)
    assert 0 < expected.height < traces.height
    filters = {name: value}
    served = [t["id"] for t in client.iter_traces(*window, limit=100, **filters)]  # the server
    assert served == expected["trace_id"].to_list()
    got = nf.traces_frame(*window, backend="polars", client=client, **filters)
    assert_frame_equal(got, expected)
    assert_frame_equal(nf.scan_traces(*window, client=client, **filters).collect(), expected)
    result = nf.export_traces(tmp_path, *window, partition_by="none", client=client, **filters)
    assert result.rows == expected.height


# -- errors that point at the right thing --------------------------------------------------


def test_a_wrong_endpoint_path_is_not_blamed_on_the_id(server: LocalNetra, window: Window) -> None:
    with NetraClient(server.api_key, server.base_url + "/v2", max_retries=0) as wrong:
        for call in (
            lambda: nf.traces_frame(*window, client=wrong, shards=1),
            lambda: nf.spans_frame("a" * 32, client=wrong),
        ):
            with pytest.raises(nf.NotFoundError) as caught:
                call()
            message = str(caught.value)
            assert "NETRA_OTLP_ENDPOINT" in message and "base_url=" in message, message
            assert "check the id" not in message


def test_a_missing_id_is_still_blamed_on_the_id(client: NetraClient) -> None:
    with pytest.raises(nf.NotFoundError, match="check the id") as caught:
        nf.spans_frame("f" * 32, client=client)
    assert "NETRA_OTLP_ENDPOINT" not in str(caught.value)


# -- empty results ------------------------------------------------------------------------


def test_an_empty_unfiltered_window_warns_with_the_window(client: NetraClient) -> None:
    with pytest.warns(nf.EmptyResultWarning) as caught:
        frame = nf.traces_frame("2020-01-01", "2020-01-02", client=client, progress=False)
    assert len(frame) == 0 and len(caught) == 1
    message = str(caught[0].message)
    assert "[2020-01-01T00:00:00.000Z, 2020-01-02T00:00:00.000Z)" in message
    assert "start=" in message and "case-sensitive" not in message  # no id to misspell
    assert caught[0].filename == __file__  # points at the user's call


def test_max_rows_zero_is_not_news(client: NetraClient, window: Window) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(nf.traces_frame(*window, max_rows=0, client=client, progress=False)) == 0


# -- spans: backend and span_name ----------------------------------------------------------


def test_spans_and_usage_follow_the_backend_of_their_input(
    client: NetraClient, traces: pl.DataFrame, window: Window
) -> None:
    few = traces.head(3)
    assert isinstance(nf.spans_frame(few, client=client), pl.DataFrame)
    assert isinstance(nf.spans_frame(few["trace_id"], client=client), pl.DataFrame)
    assert isinstance(nf.spans_frame(few.to_pandas(), client=client), pd.DataFrame)
    assert isinstance(nf.spans_frame(few, backend="pandas", client=client), pd.DataFrame)
    assert isinstance(nf.spans_frame(few["trace_id"].to_list(), client=client), pd.DataFrame)
    tenants = pl.Series(["AceTech", "Initech"])
    for usage in (nf.tenant_usage_frame, nf.session_usage_frame):
        ids = tenants if usage is nf.tenant_usage_frame else few["session_id"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nf.EmptyResultWarning)  # not the point here
            assert isinstance(usage(ids, *window, client=client), pl.DataFrame)
            assert isinstance(usage(ids.to_pandas(), *window, client=client), pd.DataFrame)
            frame = usage(ids, *window, backend="pandas", client=client)
        assert isinstance(frame, pd.DataFrame)


def test_span_name_is_a_case_insensitive_substring_of_the_name_or_the_kind(
    client: NetraClient, traces: pl.DataFrame
) -> None:
    ids = traces["trace_id"].head(5)
    every = nf.spans_frame(ids, backend="polars", client=client)
    name = every["name"][0]
    kind = every.filter(pl.col("kind") != pl.col("name"))["kind"][0]
    for asked in (name[1:-1].upper(), name.lower(), kind.upper(), kind):
        expected = every.filter(
            pl.col("name").str.to_lowercase().str.contains(asked.lower(), literal=True)
            | (pl.col("kind").str.to_lowercase() == asked.lower())
        )
        got = nf.spans_frame(ids, span_name=asked, backend="polars", client=client)
        assert 0 < got.height < every.height or asked.lower() == name.lower(), asked
        assert got["span_id"].to_list() == expected["span_id"].to_list(), asked
    kind_part = kind[1:-1]  # a part of a kind is no match by kind, only by name
    by_name = every.filter(
        pl.col("name").str.to_lowercase().str.contains(kind_part.lower(), literal=True)
    )
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        by_part = nf.spans_frame(ids, span_name=kind_part, backend="polars", client=client)
    assert by_part["span_id"].to_list() == by_name["span_id"].to_list()
    assert [w.category for w in seen] == ([] if by_name.height else [nf.EmptyResultWarning])
