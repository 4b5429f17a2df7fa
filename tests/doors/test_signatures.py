"""Every traces front door shows the filters by name (help(), inspect, IDEs), read from
``query.TraceFilters``: adding a filter there fails this test until every door shows it."""

from __future__ import annotations

import inspect
import pydoc
from collections.abc import Callable
from typing import Any

import pytest

import netra_frames as nf
from netra_frames.query import FILTERS, TraceFilters

dask = pytest.importorskip("netra_frames.dask")

FRONT_DOORS: list[Callable[..., Any]] = [
    nf.traces_frame,
    nf.scan_traces,
    nf.export_traces,
    dask.traces_frame,
]


@pytest.mark.parametrize("door", FRONT_DOORS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_front_door_lists_exactly_the_trace_filters(door: Callable[..., Any]) -> None:
    parameters = inspect.signature(door).parameters.values()
    assert not any(p.kind is p.VAR_KEYWORD for p in parameters)  # no **filters to guess at
    shown = [p.name for p in parameters if p.name in TraceFilters.__annotations__]
    assert shown == list(TraceFilters.__annotations__) == list(FILTERS)
    for name in shown:
        param = inspect.signature(door).parameters[name]
        assert (param.kind, param.default) == (param.KEYWORD_ONLY, None)
    text = pydoc.render_doc(door, renderer=pydoc.plaintext)
    assert all(f"{name}: 'str | None' = None" in text for name in FILTERS), text[:400]
    assert "**filters" not in text.split("\n\n", 2)[1]  # the signature line(s) of help()
    # type checkers and IDEs read the same declaration
    assert door.__annotations__["filters"] == "Unpack[TraceFilters]"


def test_a_door_still_refuses_an_unknown_filter_by_name(client: nf.NetraClient) -> None:
    with pytest.raises(nf.InvalidParameterError, match="did you mean 'tenant_id'"):
        nf.traces_frame("2025-12-01", "2026-01-01", tenant="AceTech", client=client)  # type: ignore[call-overload]
    frame = nf.traces_frame("2025-12-01", "2026-01-01", tenant_id="AceTech", client=client)
    assert len(frame) > 0 and set(frame["tenant_id"]) == {"AceTech"}
