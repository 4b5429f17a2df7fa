"""How IPython and Jupyter show our errors (``NetraError._render_traceback_``): the caller's
lines and the message, not the frames inside netra_frames (tests/notebook/ checks it in a
real kernel; this runs everywhere)."""

from __future__ import annotations

import traceback

import pytest

import netra_frames as nf


def test_an_error_renders_as_the_callers_line_and_the_message() -> None:
    with pytest.raises(nf.InvalidParameterError) as caught:
        nf.traces_frame("2026-01-01", "2026-02-01", tenant="AceTech")  # type: ignore[call-overload]
    lines = "\n".join(caught.value._render_traceback_()).splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert any(__file__ in line for line in lines)  # this test's line
    assert not any("netra_frames/" in line for line in lines), lines
    assert lines[-2].startswith("  (") and "inside netra_frames not shown" in lines[-2]
    assert lines[-1] == (
        "InvalidParameterError: 'tenant' is not a traces filter; did you mean 'tenant_id'? the "
        "filters are trace_id, session_id, user_id, tenant_id."
    )
    whole = "".join(traceback.format_exception(caught.value))  # outside IPython: every frame
    assert "netra_frames/query.py" in whole


def test_an_error_raised_outside_the_package_keeps_every_line() -> None:
    try:
        raise nf.NetraError("raised here")
    except nf.NetraError as exc:
        lines = exc._render_traceback_()
    assert lines[-1] == "NetraError: raised here"
    assert any(__file__ in line for line in lines)
    assert not any("not shown" in line for line in lines)
