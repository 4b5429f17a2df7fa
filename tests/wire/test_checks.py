"""The row checks of a batch (netra_frames/_wire/checks.py), on hand-made pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import polars as pl
import pytest

from netra_frames._wire.checks import Expect, Mismatch, check_batch

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_failure_after_an_edge_row_is_trimmed_names_its_own_page() -> None:
    """Page 0 sends a row at exactly its range's upper edge (trimmed: the next range's),
    page 1 is empty, page 2 holds a row of another tenant: the error names page 2."""
    filters = (("tenant_id", "AceTech"),)
    pages = [
        SimpleNamespace(known_rows=2, expect=Expect(at(0), at(10), filters=filters)),
        SimpleNamespace(known_rows=0, expect=Expect(at(10), at(12), filters=filters)),
        SimpleNamespace(known_rows=1, expect=Expect(at(12), at(20), filters=filters)),
    ]
    frame = pl.DataFrame(
        {
            "trace_id": ["a", "b", "c"],
            "start_time": [at(10), at(5), at(15)],
            "tenant_id": ["AceTech", "AceTech", "Globex"],
        }
    ).with_columns(pl.col("start_time").dt.cast_time_unit("us"))
    with pytest.raises(Mismatch) as caught:
        check_batch(frame, pages, spans=False)
    assert caught.value.field == "tenant_id" and caught.value.page == 2
