"""``write_frame`` keeps what a user sees: a pandas index that holds data, and a Series' values.

Every file format is read back. The README's own line, on frames from a real LocalNetra,
must write user ids and costs; an unwritable place is a ``WriteError`` naming the user's
path, with no temporary left.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import netra_frames as nf
from netra_frames import NetraClient, write_frame
from netra_frames._disk import inject_fault
from netra_frames.output import FILE_FORMATS

Window = tuple[datetime, datetime]

READ: dict[str, Callable[[Path], pl.DataFrame]] = {
    "csv": lambda p: pl.read_csv(p),
    "tsv": lambda p: pl.read_csv(p, separator="\t"),
    "parquet": pl.read_parquet,
    "ndjson": pl.read_ndjson,
    "json": pl.read_json,
    "xlsx": lambda p: pl.from_pandas(pd.read_excel(p)),
}
assert set(READ) == set(FILE_FORMATS)


def back(frame: object, tmp_path: Path, fmt: str) -> pl.DataFrame:
    path = write_frame(frame, tmp_path / f"out.{fmt}")
    return READ[fmt](path)


@pytest.fixture(scope="module")
def traces(client: NetraClient, window: Window) -> pd.DataFrame:
    frame = nf.traces_frame(*window, tenant_id="AceTech", client=client, progress=False)
    assert isinstance(frame, pd.DataFrame) and len(frame) > 50
    return frame


def floats(values: Any) -> list[float]:
    return [round(float(v), 9) for v in values]


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_the_readmes_top_users_writes_user_ids_and_costs(
    traces: pd.DataFrame, tmp_path: Path, fmt: str
) -> None:
    top = traces.groupby("user_id")["total_cost"].sum().nlargest(5)
    got = back(top, tmp_path, fmt)
    assert got.columns == ["user_id", "total_cost"]
    assert got["user_id"].to_list() == list(top.index)
    assert floats(got["total_cost"]) == floats(top.to_numpy())


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_a_multi_key_groupby_sum_writes_both_keys(
    traces: pd.DataFrame, tmp_path: Path, fmt: str
) -> None:
    summed = traces.groupby(["user_id", "name"])[["total_tokens", "total_cost"]].sum()
    assert isinstance(summed.index, pd.MultiIndex)
    got = back(summed, tmp_path, fmt)
    assert got.columns == ["user_id", "name", "total_tokens", "total_cost"]
    flat = summed.reset_index()
    assert got["user_id"].to_list() == flat["user_id"].to_list()
    assert got["name"].to_list() == flat["name"].to_list()
    assert got["total_tokens"].to_list() == flat["total_tokens"].to_list()
    assert floats(got["total_cost"]) == floats(flat["total_cost"])


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_a_pivot_table_writes_its_rows_and_column_labels(
    traces: pd.DataFrame, tmp_path: Path, fmt: str
) -> None:
    day = traces["start_time"].dt.date.rename("day")
    pivot = traces.pivot_table(
        index=day, columns="name", values="total_cost", aggfunc="sum", fill_value=0.0
    )
    got = back(pivot, tmp_path, fmt)
    assert got.columns == ["day", *map(str, pivot.columns)]
    shown = [str(d) if not isinstance(d, str) else d for d in got["day"].to_list()]
    assert [s[:10] for s in shown] == [d.isoformat() for d in pivot.index]
    for name in pivot.columns:
        assert floats(got[str(name)]) == floats(pivot[name])


@pytest.mark.parametrize(
    ("series", "columns"),
    [
        (pd.Series([1.5, 2.5], name="cost"), ["cost"]),  # row numbers: not written
        (pd.Series([1.5, 2.5]), ["value"]),
        (pd.Series([1, 2], index=pd.Index(["a", "b"])), ["index", "value"]),
        (pd.Series([7], index=pd.Index(["AceTech"], name="tenant_id"), name="count"),
         ["tenant_id", "count"]),
        (pl.Series("cost", [1.5]), ["cost"]),
    ],
    ids=["named", "unnamed", "labelled", "value_counts", "polars"],
)  # fmt: skip
def test_a_series_gets_a_column_for_its_values(
    series: object, columns: list[str], tmp_path: Path
) -> None:
    assert back(series, tmp_path, "csv").columns == columns


def test_row_numbers_are_not_written(traces: pd.DataFrame, tmp_path: Path) -> None:
    costly = traces[traces["total_cost"] > traces["total_cost"].median()].sort_values("latency_ms")
    got = back(costly[["trace_id", "total_cost"]], tmp_path, "csv")
    assert got.columns == ["trace_id", "total_cost"]
    assert got["trace_id"].to_list() == costly["trace_id"].to_list()


def test_an_index_that_repeats_a_column_is_written_once(
    traces: pd.DataFrame, tmp_path: Path
) -> None:
    indexed = traces[["trace_id", "total_cost"]].set_index("trace_id", drop=False)
    assert back(indexed, tmp_path, "parquet").columns == ["trace_id", "total_cost"]


def test_a_polars_frame_is_written_as_it_is(tmp_path: Path) -> None:
    frame = pl.DataFrame({"a": [1, 2], "when": [date(2026, 1, 1), date(2026, 1, 2)]})
    assert back(frame, tmp_path, "parquet").equals(frame)


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (pd.DataFrame({("cost", "a"): [1.0], ("cost", "b"): [2.0]}), "2 levels"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "more than once"),
        (pd.DataFrame({"a": [1]}, index=pd.Index(["x"], name="a")), "already exists"),
        ([1, 2], "DataFrame or Series"),
    ],
    ids=["multi-level-columns", "twice", "index-named-like-a-column", "a-list"],
)
def test_what_a_file_cannot_hold_is_refused_saying_why(
    frame: object, why: str, tmp_path: Path
) -> None:
    with pytest.raises(nf.InvalidParameterError, match=why):
        write_frame(frame, tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


# -- a place that cannot be written ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "advice"),
    [(errno.EACCES, "may not write"), (errno.EROFS, "read-only"), (errno.ENOSPC, "free there")],
)
@pytest.mark.parametrize("step", ["mkdir", "open", "write", "rename"])
def test_an_unwritable_place_names_the_users_path(
    tmp_path: Path, step: str, code: int, advice: str
) -> None:
    target = tmp_path / "out" / "x.csv"
    with (
        inject_fault(step, code, under=tmp_path) as fault,  # type: ignore[arg-type]
        pytest.raises(nf.WriteError) as caught,
    ):
        write_frame(pl.DataFrame({"a": [1]}), target)
    assert fault.raised == 1
    error = caught.value
    assert isinstance(error, OSError) and error.errno == code and error.filename == str(target)
    assert str(error).startswith(f"cannot write {target}: ") and advice in str(error)
    assert ".tmp" not in str(error) and error.__cause__ is None
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_permission_error_of_the_report_names_the_users_path(
    client: NetraClient, window: Window, tmp_path: Path
) -> None:
    report = nf.report(*window, tenant_id="AceTech", client=client, progress=False)
    target = tmp_path / "x.html"
    with (
        inject_fault("open", errno.EACCES, under=tmp_path),
        pytest.raises(nf.WriteError) as caught,
    ):
        report.write(target)
    message = str(caught.value)
    assert (
        message.startswith(f"cannot write {target}: Permission denied; ") and ".part" not in message
    )
    assert list(tmp_path.iterdir()) == []
    assert report.write(target).read_text(encoding="utf-8") == report.html


def test_a_read_only_disk_is_a_write_error_naming_the_users_path(
    client: NetraClient, window: Window, small_disk: Callable[..., Path]
) -> None:
    disk = small_disk(read_only=True)
    report = nf.report(*window, tenant_id="AceTech", client=client, progress=False)
    for write, target in (
        (lambda t: write_frame(pl.DataFrame({"a": [1]}), t), disk / "x.csv"),
        (report.write, disk / "out" / "report.html"),
    ):
        with pytest.raises(nf.WriteError) as caught:
            write(target)
        assert caught.value.errno == errno.EROFS
        assert str(caught.value) == (
            f"cannot write {target}: Read-only file system; the file system is read-only: "
            "write somewhere else."
        )
    assert list(disk.iterdir()) == []


def test_a_real_read_only_folder_is_a_write_error(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the seam covers it above")
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    with pytest.raises(nf.WriteError, match="may not write"):
        write_frame(pl.DataFrame({"a": [1]}), folder / "x.csv")


def test_json_of_an_indexed_frame_reads_back(traces: pd.DataFrame, tmp_path: Path) -> None:
    top = traces.groupby("user_id")["total_cost"].sum().nlargest(2)
    path = write_frame(top, tmp_path / "top.json")
    rows = json.loads(path.read_text())
    assert [r["user_id"] for r in rows] == list(top.index)
