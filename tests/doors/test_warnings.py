"""Every warning netra_frames raises points at the caller's line (here), not into the package.

Python shows a warning once per location: pointing at the user's line lets the same warning
from two lines show twice (a misspelled tenant given to ``sessions_frame``, ``usage_frame``
and ``report`` warns three times, where a location inside the package warned once for all).
One helper (``netra_frames._warn.warn``) issues every warning; a test keeps it so.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

import netra_frames as nf
from netra_frames import _warn
from netra_frames._files import MARKER, read_marker

Window = tuple[datetime, datetime]
PACKAGE = Path(nf.__file__).resolve().parent
TYPO = {"tenant_id": "acetech"}  # the tenant is AceTech: ids are case-sensitive


def _recorded(run: Callable[[], object]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run()
    return seen


def _drained_cache(client: nf.NetraClient, window: Window, root: Path) -> list[Path]:
    """Fill a cache of the window's traces and of the spans of 10 of them; their entries."""
    frame = nf.traces_frame(*window, backend="polars", client=client, cache=root)
    nf.spans_frame(frame.head(10), client=client, cache=root)
    return sorted(p.parent for p in root.rglob(MARKER))


def _truncate_first_file(entry: Path) -> None:
    path = entry / read_marker(entry)["files"][0]
    path.write_bytes(path.read_bytes()[:100])


def _damaged_day(client: nf.NetraClient, window: Window, tmp_path: Path) -> None:
    days = [e for e in _drained_cache(client, window, tmp_path) if "date=" in e.name]
    _truncate_first_file(next(d for d in days if read_marker(d)["rows"]))
    nf.traces_frame(*window, client=client, cache=tmp_path)  # read by the cache's threads


def _damaged_pack(client: nf.NetraClient, window: Window, tmp_path: Path) -> None:
    _drained_cache(client, window, tmp_path)
    _truncate_first_file(next(tmp_path.glob("spans/*/pack=*")))
    frame = nf.traces_frame(*window, backend="polars", client=client, cache=tmp_path)
    nf.spans_frame(frame.head(10), client=client, cache=tmp_path)


def _unusable_cache(client: nf.NetraClient, window: Window, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    nf.traces_frame(*window, client=client, cache=blocked)


def _dask_frame(client: nf.NetraClient, window: Window) -> object:
    import netra_frames.dask as nfd

    key = client.transport.settings.api_key
    return nfd.traces_frame(*window, api_key=key, base_url=client.base_url, **TYPO)


# Each warning the package raises, from a line of this file.
WARNINGS: dict[str, Callable[[nf.NetraClient, Window, Path], object]] = {
    "traces_frame, a filter matching nothing": lambda c, w, _: nf.traces_frame(
        *w, client=c, **TYPO
    ),
    "traces_frame, a window with no trace": lambda c, w, _: nf.traces_frame(
        "2020-01-01", "2020-01-02", client=c
    ),
    "sessions_frame (the answers' drain)": lambda c, w, _: nf.sessions_frame(*w, client=c, **TYPO),
    "usage_frame": lambda c, w, _: nf.usage_frame(*w, client=c, **TYPO),
    "report": lambda c, w, _: nf.report(*w, client=c, **TYPO),
    "spans_frame, span_name matching nothing": lambda c, w, _: nf.spans_frame(
        nf.traces_frame(*w, max_rows=3, client=c), span_name="no-such-span", client=c
    ),
    "session_usage_frame, an id without usage": lambda c, w, _: nf.session_usage_frame(
        "sess_unknown", *w, client=c
    ),
    "tenant_usage_frame, an id without usage": lambda c, w, _: nf.tenant_usage_frame(
        "acetech", *w, client=c
    ),
    "scan_traces, Polars' default engine (the source on a Polars thread)": lambda c, w, _: (
        nf.scan_traces(*w, client=c, **TYPO).collect()
    ),
    "scan_traces, the streaming engine": lambda c, w, _: nf.scan_traces(
        *w, client=c, **TYPO
    ).collect(engine="streaming"),
    "scan_traces, the in-memory engine": lambda c, w, _: nf.scan_traces(
        *w, client=c, **TYPO
    ).collect(engine="in-memory"),
    "export_traces": lambda c, w, p: nf.export_traces(p / "out", *w, client=c, **TYPO),
    "the Dask frame, when built": lambda c, w, _: _dask_frame(c, w),
    "cache, an unusable directory": _unusable_cache,
    "cache, a damaged day (read by a worker thread)": _damaged_day,
    "cache, a damaged pack of spans": _damaged_pack,
}


@pytest.fixture(scope="module")
def window() -> Window:
    """Two whole days of the session server's data (it ends on 2026-01-01)."""
    return (
        datetime(2025, 12, 29, tzinfo=timezone.utc),
        datetime(2025, 12, 31, tzinfo=timezone.utc),
    )


@pytest.mark.parametrize("case", list(WARNINGS))
def test_each_warning_points_at_the_callers_line(
    case: str, client: nf.NetraClient, window: Window, tmp_path: Path
) -> None:
    seen = _recorded(lambda: WARNINGS[case](client, window, tmp_path))
    ours = [w for w in seen if issubclass(w.category, nf.NetraWarning)]
    assert ours, f"{case}: no warning"
    for w in ours:
        assert w.filename == __file__, f"{case}: {w.category.__name__} at {w.filename}:{w.lineno}"


def test_the_same_warning_from_two_lines_shows_twice(
    client: nf.NetraClient, window: Window
) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")  # Python's own: once per location
        nf.sessions_frame(*window, client=client, **TYPO)
        nf.usage_frame(*window, client=client, **TYPO)
        nf.report(*window, client=client, **TYPO)
        for _ in range(2):
            nf.traces_frame(*window, client=client, **TYPO)  # one line, twice: shown once
    assert [w.category for w in seen] == [nf.EmptyResultWarning] * 4
    assert len({w.message.args for w in seen}) == 1  # the same text every time
    assert len({w.lineno for w in seen}) == 4
    assert {w.filename for w in seen} == {__file__}


def test_a_warning_outside_any_call_of_ours_is_at_the_line_that_raised_it() -> None:
    (seen,) = _recorded(lambda: _warn.warn("here", UserWarning))
    assert (seen.filename, seen.category, str(seen.message)) == (__file__, UserWarning, "here")
    assert _warn.PACKAGE_DIR.endswith(os.sep)
    assert Path(_warn.PACKAGE_DIR).resolve() == PACKAGE


def test_every_warning_of_the_package_goes_through_the_one_helper() -> None:
    """``warnings.warn`` appears only in ``_warn.py`` (the local server stands alone and
    raises none)."""
    calls = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"\bwarnings\.warn(_explicit)?\(|\bfrom warnings import", path.read_text())
    }
    assert calls == {"_warn.py"}


def test_a_warning_in_a_worker_thread_points_at_the_line_that_waits_for_it(
    client: nf.NetraClient, window: Window, tmp_path: Path
) -> None:
    seen = _recorded(lambda: _damaged_day(client, window, tmp_path))
    (damaged,) = [w for w in seen if w.category is nf.CacheWarning]
    assert "damaged" in str(damaged.message)
    assert damaged.filename == __file__
    # the line inside _damaged_day that waited for the reader threads
    assert (
        "cache=tmp_path)  # read by the cache's threads"
        in Path(__file__).read_text().split("\n")[damaged.lineno - 1]
    )
