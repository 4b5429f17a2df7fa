"""A value the server sends that does not parse is an error, never silently dropped rows.

The server's data is edited in its SQLite file (a text where a number belongs, which the
server sends as a JSON string), so a real response carries the bad value. The last pages
of a drain are built at its end: a failure there once returned the frame without them
(an empty ``spans_frame``) instead of raising.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import ANCHOR

import netra_frames as nf
from netra_frames.server import LocalNetra

pytestmark = pytest.mark.filterwarnings("ignore::netra_frames.NetraWarning")

WINDOW = (ANCHOR - timedelta(days=30), ANCHOR)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, nf.NetraClient]]:
    """A server of its own (its SQLite file, to edit) and a client of it."""
    db = tmp_path / "netra.db"
    with LocalNetra(seed=3, traces=300, anchor=ANCHOR, db=str(db)) as srv:
        with nf.NetraClient(srv.api_key, srv.base_url) as client:
            yield db, client


def _edit(db: Path, sql: str, *args: object) -> None:
    with sqlite3.connect(db) as con:
        assert con.execute(sql, args).rowcount > 0
    con.close()


@pytest.mark.parametrize("backend", ["polars", "pandas"])
def test_a_bad_span_value_raises_and_the_partial_is_the_traces_before_it(
    served: tuple[Path, nf.NetraClient], backend: str
) -> None:
    db, client = served
    ids = nf.traces_frame(*WINDOW, client=client, backend="polars")["trace_id"].to_list()[:40]
    good = nf.spans_frame(ids, client=client, backend="polars")
    victim = ids[-1]
    assert (good["trace_id"] == victim).sum() > 0  # the pick has spans to spoil
    _edit(db, "UPDATE spans SET prompt_tokens = 'lots' WHERE trace_id = ?", victim)

    with pytest.raises(nf.TransportError, match="prompt_tokens") as info:
        nf.spans_frame(ids, client=client, backend=backend)

    error = info.value
    assert isinstance(error, nf.DrainError)
    partial = pl.from_pandas(error.partial) if backend == "pandas" else error.partial
    before = good.filter(good["trace_id"] != victim)
    assert partial.height == before.height  # every span of the 39 good traces, in order
    assert partial["span_id"].to_list() == before["span_id"].to_list()


@pytest.mark.parametrize("backend", ["polars", "pandas"])
def test_a_bad_trace_value_raises(served: tuple[Path, nf.NetraClient], backend: str) -> None:
    db, client = served
    full = nf.traces_frame(*WINDOW, client=client, backend="polars")
    victim = full["trace_id"][len(full) - 1]  # in the last pages, built when the drain ends
    # the server keeps each trace's wire JSON ready: spoil it there
    spoil = "UPDATE traces SET wire = json_set(wire, '$.latency_ms', 'slow') WHERE id = ?"
    _edit(db, spoil, victim)

    with pytest.raises(nf.TransportError, match="latency_ms"):
        nf.traces_frame(*WINDOW, client=client, backend=backend)
