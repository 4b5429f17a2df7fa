"""An empty result warns on every traces door: frames, scans, exports, Dask and the CLI.

Each door warns once, with the filters and the window searched, when the query matches no
trace at all; a scan whose own Polars filter (not pushed to the API) keeps nothing stays
quiet: the API did find traces.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

import netra_frames as nf
import netra_frames.dask as nfd
from netra_frames import NetraClient
from netra_frames.server import LocalNetra

Window = tuple[datetime, datetime]
NOPE = {"tenant_id": "acetech"}  # the real tenant is AceTech: ids are case-sensitive
MATCH = r"no traces matched \{'tenant_id': 'acetech'\} in \["


def test_traces_frame_warns(client: NetraClient, window: Window) -> None:
    with pytest.warns(nf.EmptyResultWarning, match=MATCH):
        frame = nf.traces_frame(*window, client=client, progress=False, **NOPE)  # type: ignore[arg-type]
    assert len(frame) == 0


@pytest.mark.parametrize("engine", ["auto", "streaming", "in-memory"])
def test_scan_traces_warns_on_every_engine(
    client: NetraClient, window: Window, engine: str
) -> None:
    lf = nf.scan_traces(*window, client=client, **NOPE)  # type: ignore[arg-type]
    with pytest.warns(nf.EmptyResultWarning, match=MATCH):
        frame = lf.collect(engine=engine)  # type: ignore[call-overload]
    assert frame.height == 0


def test_a_scan_whose_own_filter_keeps_nothing_is_quiet(
    client: NetraClient, window: Window
) -> None:
    lf = nf.scan_traces(*window, client=client).filter(pl.col("latency_ms") < 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lf.collect().height == 0


def test_export_warns(client: NetraClient, window: Window, tmp_path: Path) -> None:
    with pytest.warns(nf.EmptyResultWarning, match=MATCH):
        result = nf.export_traces(tmp_path, *window, client=client, progress=False, **NOPE)  # type: ignore[arg-type]
    assert result.rows == 0 and result.partitions_written > 0


def test_dask_frame_warns_when_built(server: LocalNetra, window: Window) -> None:
    with pytest.warns(nf.EmptyResultWarning, match=MATCH):
        ddf = nfd.traces_frame(*window, api_key=server.api_key, base_url=server.base_url, **NOPE)  # type: ignore[arg-type]
    assert len(ddf.compute()) == 0


def test_dask_frame_of_a_matching_query_is_quiet(server: LocalNetra, window: Window) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nfd.traces_frame(*window, api_key=server.api_key, base_url=server.base_url)


def test_cli_export_warns_and_exits_0(server: LocalNetra, window: Window, tmp_path: Path) -> None:
    env = {
        "NETRA_API_KEY": server.api_key,
        "NETRA_OTLP_ENDPOINT": server.base_url,
        "PATH": "",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "netra_frames", "export", str(tmp_path / "out"),
         "--start", window[0].isoformat(), "--end", window[1].isoformat(),
         "--tenant", "acetech"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "no traces matched --tenant 'acetech'" in proc.stderr  # in the flags' words
    assert "Traceback" not in proc.stderr
