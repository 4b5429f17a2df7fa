"""``write_frame`` and friends: formats by extension, spreadsheet-ready CSV, folders, Excel."""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import netra_frames as nf
from netra_frames.output import (
    FILE_EXTENSIONS,
    FILE_FORMATS,
    FORMATS,
    check_columns,
    format_for_path,
    iso_times,
    render,
    select_columns,
    spreadsheet_ready,
    write_frame,
)

T0 = datetime(2026, 11, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)


def finance_polars() -> pl.DataFrame:
    """Tiny costs, float noise, lists (empty and missing), nulls, times and a formula."""
    return pl.DataFrame(
        {
            "trace_id": ["a1", "b2", "c3"],
            "start_time": pl.Series([T0, T0 + timedelta(seconds=1), None]).dt.cast_time_unit("us"),
            "total_tokens": [5693, 0, None],
            "total_cost": [2.43e-05, 0.1 + 0.2, None],
            "whole_cost": [12.0, -0.0, 1e-7],
            "models": [["gpt-4o", "gpt-4o-mini"], [], None],
            "note": ["=HYPERLINK(1)", "-2", None],
            "has_error": [True, False, None],
        }
    )


EXPECTED_CSV = [
    "trace_id,start_time,total_tokens,total_cost,whole_cost,models,note,has_error",
    "a1,2026-11-01T12:00:00.123Z,5693,0.0000243,12.0,gpt-4o; gpt-4o-mini,'=HYPERLINK(1),true",
    'b2,2026-11-01T12:00:01.123Z,0,0.3,0.0,"",\'-2,false',
    "c3,,,,0.0000001,,,",
]


def test_csv_is_ready_for_a_spreadsheet(tmp_path: Path) -> None:
    write_frame(finance_polars(), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text(encoding="utf-8").splitlines() == EXPECTED_CSV


def test_csv_from_pandas_is_the_same(tmp_path: Path) -> None:
    frame = finance_polars().to_pandas(use_pyarrow_extension_array=True)
    write_frame(frame, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text(encoding="utf-8").splitlines() == EXPECTED_CSV


def test_csv_from_plain_pandas_dtypes() -> None:
    """numpy float64, object lists and naive datetime64[ns] (taken as UTC)."""
    frame = pd.DataFrame(
        {
            "cost": [2.43e-05, 0.1 + 0.2],
            "models": [["a", "b"], ["c"]],
            "t": pd.to_datetime(["2026-11-01 12:00:00.123", "2026-11-01 12:00:00.123456"]),
        }
    )
    out = io.BytesIO()
    write_frame(frame, stream=out)
    assert out.getvalue().decode().splitlines() == [
        "cost,models,t",
        "0.0000243,a; b,2026-11-01T12:00:00.123000Z",
        "0.3,c,2026-11-01T12:00:00.123456Z",
    ]


def test_csv_reads_back_with_the_same_numbers(tmp_path: Path) -> None:
    frame = finance_polars()
    write_frame(frame, tmp_path / "t.csv")
    back = pl.read_csv(tmp_path / "t.csv")
    assert back.schema["total_cost"] == pl.Float64 and back.schema["whole_cost"] == pl.Float64
    assert back["total_cost"].to_list() == [2.43e-05, 0.3, None]
    assert back["total_tokens"].to_list() == [5693, 0, None]


def test_spreadsheet_ready_without_csv_safe_keeps_cells() -> None:
    ready = spreadsheet_ready(finance_polars(), csv_safe=False)
    assert ready["note"].to_list() == ["=HYPERLINK(1)", "-2", None]
    assert ready["models"].to_list() == ["gpt-4o; gpt-4o-mini", "", None]


def test_nested_cells_that_are_not_flat_lists_become_json() -> None:
    frame = pl.DataFrame({"s": [{"a": 1}], "ll": [[[1, 2]]], "ints": [[1, 2]]})
    assert spreadsheet_ready(frame).row(0) == ('{"a": 1}', "[[1, 2]]", "1; 2")


def test_json_and_ndjson_write_times_like_csv() -> None:
    frame = finance_polars()
    rows = json.loads(render(frame, "json"))
    lines = [json.loads(line) for line in render(frame, "ndjson").splitlines()]
    assert rows == lines
    assert [r["start_time"] for r in rows] == [
        "2026-11-01T12:00:00.123Z",
        "2026-11-01T12:00:01.123Z",
        None,
    ]
    assert rows[0]["models"] == ["gpt-4o", "gpt-4o-mini"]  # JSON keeps lists and numbers
    assert rows[0]["total_cost"] == 2.43e-05


def test_iso_times_converts_other_zones_to_utc() -> None:
    paris = pl.Series([datetime(2026, 11, 1, 13, 0)]).dt.replace_time_zone("Europe/Paris")
    assert iso_times(pl.DataFrame({"t": paris}))["t"][0] == "2026-11-01T12:00:00.000Z"


def test_tsv_by_extension(tmp_path: Path) -> None:
    write_frame(finance_polars(), tmp_path / "t.tsv")
    lines = (tmp_path / "t.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[:3] == ["trace_id", "start_time", "total_tokens"]
    assert lines == [line.replace(",", "\t") for line in EXPECTED_CSV]


def test_every_extension_maps_to_a_format() -> None:
    assert {format_for_path(f"x{e}") for e in (".csv", ".tsv", ".xlsx", ".pq", ".jsonl")} == {
        "csv",
        "tsv",
        "xlsx",
        "parquet",
        "ndjson",
    }
    assert format_for_path("no-extension") == "csv"
    assert set(FORMATS) >= {"csv", "tsv", "xlsx", "parquet", "ndjson", "json", "table"}


@pytest.mark.parametrize("name", ["t.txt", "t.xls", "t.csv.gz", "t.foo", "report.2026-11"])
def test_unknown_extension_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(nf.InvalidParameterError, match=r"\.tsv.*\.xlsx.*format=") as caught:
        write_frame(finance_polars(), tmp_path / name)
    assert name.rsplit(".", 1)[1] in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    write_frame(finance_polars(), tmp_path / name, format="csv")  # an explicit format wins
    assert (tmp_path / name).read_text(encoding="utf-8").splitlines() == EXPECTED_CSV


def test_every_row_and_column_reaches_a_file_or_nothing_is_written(tmp_path: Path) -> None:
    wide = pl.DataFrame({f"c{i}": list(range(100)) for i in range(27)})
    for fmt in FORMATS:
        target = tmp_path / f"out-{fmt}"
        if fmt not in FILE_FORMATS:  # the 40-row terminal table never goes to a file
            with pytest.raises(nf.InvalidParameterError, match="leave format= out.*csv") as caught:
                write_frame(wide, target, format=fmt)
            assert "'table'" in str(caught.value)
            assert not target.exists() and list(tmp_path.glob(".*")) == []
            continue
        assert write_frame(wide, target, format=fmt) == target
        assert _read_back(target, fmt).shape == wide.shape, fmt
    assert set(FILE_EXTENSIONS.values()) == set(FILE_FORMATS)


def _read_back(path: Path, fmt: str) -> pl.DataFrame:
    readers = {
        "csv": pl.read_csv,
        "tsv": lambda p: pl.read_csv(p, separator="\t"),
        "parquet": pl.read_parquet,
        "ndjson": pl.read_ndjson,
        "json": pl.read_json,
        "xlsx": lambda p: pl.from_pandas(pd.read_excel(p)),
    }
    return readers[fmt](path)


def test_write_frame_returns_the_path_written(tmp_path: Path) -> None:
    written = nf.write_frame(finance_polars(), str(tmp_path / "sub" / "t.csv"))
    assert isinstance(written, Path) and written == tmp_path / "sub" / "t.csv"
    assert written.read_text(encoding="utf-8").splitlines() == EXPECTED_CSV
    assert write_frame(finance_polars(), stream=io.BytesIO()) is None


def test_a_table_still_goes_to_a_stream() -> None:
    buf = io.BytesIO()
    write_frame(finance_polars(), stream=buf, format="table")
    assert b"trace_id" in buf.getvalue()


def test_unknown_format_is_refused() -> None:
    with pytest.raises(nf.InvalidParameterError, match="tsv"):
        write_frame(finance_polars(), stream=io.BytesIO(), format="xls")  # type: ignore[arg-type]


@pytest.mark.parametrize("trailing", ["", "/"])
def test_a_folder_target_is_named_plainly(tmp_path: Path, trailing: str) -> None:
    folder = tmp_path / "out"
    if not trailing:
        folder.mkdir()
    target = f"{folder}{trailing}"
    with pytest.raises(nf.InvalidParameterError) as caught:
        write_frame(finance_polars(), target)
    message = str(caught.value)
    assert repr(target) in message and "folder" in message and ".part" not in message
    assert not folder.exists() or list(folder.iterdir()) == []


def test_excel_keeps_numbers_times_and_text(tmp_path: Path) -> None:
    write_frame(finance_polars(), tmp_path / "t.xlsx")
    back = pd.read_excel(tmp_path / "t.xlsx")
    assert back["trace_id"].tolist() == ["a1", "b2", "c3"]
    assert back["total_cost"].tolist()[:2] == pytest.approx([2.43e-05, 0.3], rel=1e-15)
    assert back["start_time"][0] == pd.Timestamp("2026-11-01 12:00:00.123")  # UTC, naive
    assert back["models"][0] == "gpt-4o; gpt-4o-mini"
    assert back["note"][0] == "=HYPERLINK(1)"  # a text cell: XlsxWriter writes no formulas


def test_excel_without_xlsxwriter_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "xlsxwriter", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r'pip install "netra-frames\[excel\]"'):
        write_frame(finance_polars(), tmp_path / "t.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_select_columns_names_the_unknown_and_the_known() -> None:
    frame = finance_polars()
    assert select_columns(frame.to_pandas(), ["models", "trace_id"]).columns == [
        "models",
        "trace_id",
    ]
    with pytest.raises(nf.InvalidParameterError, match="nope, nix; known: trace_id, start_time"):
        select_columns(frame, ["trace_id", "nope", "nix"])
    assert check_columns(["a", "a"], ["a"]) == ["a"]


def test_table_keeps_ids_whole_and_costs_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    frame = pl.DataFrame(
        {"trace_id": ["0123456789abcdef0123456789abcdef"] * 2, "total_cost": [2.43e-05, 0.3]}
        | {f"col_{i}": ["some text value"] * 2 for i in range(6)}
    )
    lines = render(frame, "table").decode().splitlines()
    assert len(lines) == 3
    assert all("0123456789abcdef0123456789abcdef" in line for line in lines[1:])
    assert "0.0000243" in lines[1] and "e-05" not in lines[1]
