"""One time rule for every input type: a time with a zone is converted to UTC, one without
is UTC; the same rule for strings, dates, datetimes, pandas Timestamps and numpy datetime64."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import netra_frames as nf
from netra_frames.times import format_time, parse_time, resolve_window

PARIS = timezone(timedelta(hours=1))
#: 2026-01-01 01:00 UTC, naive (taken as UTC) in every type.
NAIVE: list[Any] = [
    "2026-01-01T01:00:00",
    "2026-01-01 01:00",
    datetime(2026, 1, 1, 1),
    pd.Timestamp("2026-01-01 01:00"),
    np.datetime64("2026-01-01T01:00"),
    np.datetime64("2026-01-01T01:00:00.000000", "us"),
]
#: The same instant, aware, written in Paris time (UTC+1) in every type that has zones.
AWARE: list[Any] = [
    "2026-01-01T02:00:00+01:00",
    "2026-01-01T01:00:00Z",
    datetime(2026, 1, 1, 2, tzinfo=PARIS),
    pd.Timestamp("2026-01-01 02:00", tz="Europe/Paris"),
    pd.Timestamp("2026-01-01 01:00", tz="UTC"),
]
INSTANT = datetime(2026, 1, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", NAIVE + AWARE, ids=repr)
def test_every_type_means_the_same_utc_instant(value: Any) -> None:
    parsed = parse_time(value)
    assert parsed == INSTANT and parsed.tzinfo is timezone.utc
    assert type(parsed) is datetime  # a plain datetime, whatever came in


@pytest.mark.parametrize("value", ["2026-01-01", date(2026, 1, 1), np.datetime64("2026-01-01")])
def test_a_day_is_its_midnight_utc(value: Any) -> None:
    assert parse_time(value) == datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "value",
    [
        pd.Timestamp("2026-01-01 01:00:00.000000001"),
        np.datetime64("2026-01-01T01:00:00.000000001"),
        datetime(2026, 1, 1, 1, 0, 0, 1),
        "2026-01-01T01:00:00.000001",
    ],
    ids=repr,
)
def test_every_type_rounds_up_to_the_millisecond(value: Any) -> None:
    assert format_time(parse_time(value)) == "2026-01-01T01:00:00.001Z"


@pytest.mark.parametrize("naive", NAIVE, ids=repr)
@pytest.mark.parametrize("aware", AWARE, ids=repr)
def test_naive_and_aware_ends_mix_in_any_type(naive: Any, aware: Any) -> None:
    end = INSTANT + timedelta(days=1)
    assert resolve_window(naive, end) == resolve_window(aware, end) == (INSTANT, end)
    start = INSTANT - timedelta(days=1)
    assert resolve_window(start, naive) == resolve_window(start, aware) == (start, INSTANT)


@pytest.mark.parametrize("missing", [pd.NaT, np.datetime64("NaT", "us")], ids=repr)
def test_a_missing_time_is_refused_by_name(missing: Any) -> None:
    with pytest.raises(nf.InvalidParameterError, match="start is NaT"):
        resolve_window(missing, "2026-01-02")


def test_the_frames_take_every_type(
    client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    start, end = window[1] - timedelta(days=2), window[1]
    naive_end = end.replace(tzinfo=None)
    expected = nf.traces_frame(
        format_time(start), format_time(end), backend="polars", client=client
    )
    assert expected.height > 0
    for pair in (
        (pd.Timestamp(start), np.datetime64(naive_end)),
        (start.date(), pd.Timestamp(naive_end)),
        (np.datetime64(start.replace(tzinfo=None)), end.astimezone(PARIS)),
    ):
        got = nf.traces_frame(*pair, backend="polars", client=client)
        assert got["trace_id"].to_list() == expected["trace_id"].to_list(), pair
    assert isinstance(expected, pl.DataFrame)
