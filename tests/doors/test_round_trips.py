"""A pandas traces or spans frame survives what a notebook does with it (docs/columns.md).

Its list columns are ``list<item: string>[pyarrow]``: pickling, DuckDB, CSV and Dask keep
them; Parquet written by pandas reads back with ``dtype_backend="pyarrow"`` (pandas#57411
keeps a plain ``pd.read_parquet`` from reading its own list columns: a test below fails once
pandas fixes it, to update the docs), and the files of ``nf.write_frame`` and
``nf.export_traces`` read back with a plain ``pd.read_parquet``. ``object`` would not do:
Dask turns an ``object`` column of lists into strings.
"""

from __future__ import annotations

import io
import pickle
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import netra_frames as nf
from netra_frames.schema import SPANS, TRACES, Column, pandas_dtypes
from netra_frames.server import LocalNetra

dd = pytest.importorskip("dask.dataframe")
duckdb = pytest.importorskip("duckdb")

WINDOW = (datetime(2025, 12, 29, tzinfo=timezone.utc), datetime(2025, 12, 31, tzinfo=timezone.utc))
PANDAS_CANNOT = "data type 'list<item: string>\\[pyarrow\\]' not understood"
# Dask's parquet I/O calls set_index/reset_index(inplace=True), which pandas 3.1 deprecates
DASK_ON_PANDAS_3_1 = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")


@pytest.fixture(scope="module")
def traces(client: nf.NetraClient) -> pd.DataFrame:
    frame = nf.traces_frame(*WINDOW, client=client, backend="pandas", progress=False)
    assert frame["models"].map(len).max() > 1  # lists of several items, and
    assert frame["pii_entities"].map(len).min() == 0  # empty ones
    return frame


@pytest.fixture(scope="module")
def spans(client: nf.NetraClient, traces: pd.DataFrame) -> pd.DataFrame:
    frame = nf.spans_frame(traces.head(10), client=client, backend="pandas", progress=False)
    assert isinstance(frame, pd.DataFrame)
    return frame


@pytest.fixture(params=["traces", "spans"])
def frame(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, tuple[Column, ...]]:
    columns = TRACES if request.param == "traces" else SPANS
    return request.getfixturevalue(request.param), columns


def _restored(back: pd.DataFrame, columns: tuple[Column, ...]) -> pd.DataFrame:
    """``back`` in the schema's dtypes, the call docs/columns.md shows."""
    return back.astype(pandas_dtypes(columns)).reset_index(drop=True)


def test_parquet_from_pandas_reads_back_with_the_pyarrow_backend(
    frame: tuple[pd.DataFrame, tuple[Column, ...]], tmp_path: Path
) -> None:
    df, columns = frame
    df.to_parquet(tmp_path / "f.parquet")
    back = pd.read_parquet(tmp_path / "f.parquet", dtype_backend="pyarrow")
    assert_frame_equal(_restored(back, columns), df)
    assert _restored(back, columns).equals(df)


def test_plain_read_parquet_still_fails_upstream(traces: pd.DataFrame, tmp_path: Path) -> None:
    """pandas#57411: when this fails, pandas reads its list columns: simplify docs/columns.md
    and docs/scale-out.md (``dtype_backend="pyarrow"`` no longer needed)."""
    traces.to_parquet(tmp_path / "f.parquet")
    with pytest.raises(TypeError, match=PANDAS_CANNOT):
        pd.read_parquet(tmp_path / "f.parquet")


def test_write_frame_and_export_files_read_back_with_a_plain_read_parquet(
    client: nf.NetraClient, frame: tuple[pd.DataFrame, tuple[Column, ...]], tmp_path: Path
) -> None:
    df, columns = frame
    nf.write_frame(df, tmp_path / "f.parquet")
    assert_frame_equal(_restored(pd.read_parquet(tmp_path / "f.parquet"), columns), df)
    if columns is TRACES:
        nf.export_traces(tmp_path / "export", *WINDOW, client=client, progress=False)
        exported = pd.read_parquet(tmp_path / "export").drop(columns="date")
        order = exported.sort_values("trace_id").index
        expected = df.sort_values("trace_id").reset_index(drop=True)
        assert_frame_equal(_restored(exported.loc[order], columns), expected)


def test_csv_writes_every_row_and_lists_as_pandas_prints_them(
    frame: tuple[pd.DataFrame, tuple[Column, ...]], tmp_path: Path
) -> None:
    df, _ = frame
    df.to_csv(tmp_path / "f.csv", index=False)
    back = pd.read_csv(tmp_path / "f.csv")
    assert back.shape == df.shape and back.columns.tolist() == df.columns.tolist()
    assert back["trace_id"].tolist() == df["trace_id"].tolist()
    assert back["total_cost"].tolist() == df["total_cost"].astype(float).tolist()
    joined = nf.write_frame(df, tmp_path / "g.csv").read_text(encoding="utf-8")
    assert len(pd.read_csv(io.StringIO(joined))) == len(df)  # write_frame: lists joined by "; "


def test_pickling_keeps_the_frame(frame: tuple[pd.DataFrame, tuple[Column, ...]]) -> None:
    df, _ = frame
    back = pickle.loads(pickle.dumps(df))
    assert_frame_equal(back, df)
    assert back.dtypes.equals(df.dtypes)


def test_duckdb_reads_the_frame_with_its_lists(
    frame: tuple[pd.DataFrame, tuple[Column, ...]],
) -> None:
    df, _ = frame
    got = duckdb.sql("SELECT trace_id, pii_entities, violations, total_cost FROM df").fetchall()
    expected = df[["trace_id", "pii_entities", "violations", "total_cost"]]
    assert got == [
        (t, list(p), list(v), None if pd.isna(c) else float(c))
        for t, p, v, c in expected.itertuples(index=False)
    ]


@DASK_ON_PANDAS_3_1
def test_dask_writes_and_reads_back_the_frame(
    frame: tuple[pd.DataFrame, tuple[Column, ...]], tmp_path: Path
) -> None:
    df, columns = frame
    dd.from_pandas(df, npartitions=2).to_parquet(tmp_path / "dask")
    back = dd.read_parquet(tmp_path / "dask", dtype_backend="pyarrow").compute()
    assert_frame_equal(_restored(back, columns), df)
    with pytest.raises(TypeError, match=PANDAS_CANNOT):  # pandas#57411, under Dask too
        dd.read_parquet(tmp_path / "dask").compute()


@DASK_ON_PANDAS_3_1
def test_the_dask_doors_files_read_back(
    server: LocalNetra, traces: pd.DataFrame, tmp_path: Path
) -> None:
    """docs/scale-out.md: ``ddf.to_parquet`` then ``dd.read_parquet(..., "pyarrow")``."""
    nfd = pytest.importorskip("netra_frames.dask")
    ddf = nfd.traces_frame(*WINDOW, partitions=2, api_key=server.api_key, base_url=server.base_url)
    ddf.to_parquet(tmp_path / "out")
    back = dd.read_parquet(tmp_path / "out", dtype_backend="pyarrow").compute()
    assert_frame_equal(_restored(back, TRACES), traces)


def test_object_lists_would_not_survive_dask(traces: pd.DataFrame) -> None:
    """Why the list dtype is not ``object``: Dask makes strings of such a column."""
    as_objects = traces[["trace_id", "models"]].astype({"models": object})
    back = dd.from_pandas(as_objects, npartitions=1).compute()
    assert isinstance(back["models"].iloc[0], str)


def test_the_csv_text_of_a_list(traces: pd.DataFrame) -> None:
    """The list text docs/columns.md quotes, from pandas' own CSV writer."""
    models = pd.Series([["gpt-4o", "gpt-4o-mini"]], dtype=traces["models"].dtype)
    text = pd.DataFrame({"models": models}).to_csv(index=False)
    assert text.splitlines()[1] == "['gpt-4o' 'gpt-4o-mini']"
