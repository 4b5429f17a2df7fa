"""Every script in examples/ runs: alone (embedded server), against a running server, and
against the docs' server (``netra-frames serve --anchor 2026-02-01``).

By default the examples ask for windows that end now ("the last 7 days", "this month"), as
a user's script would, so the server they talk to holds data up to the current minute (the
session server's data is fixed in the past); given ``--end 2026-02-01`` or ``--month
2026-01`` they cover the docs' data. The checks below hold for any such minute, and each
asks for a table with rows: an example that printed an empty one fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

import netra_frames
from netra_frames.server import LocalNetra

REPO = Path(netra_frames.__file__).resolve().parents[1]
DOCS_ANCHOR = datetime(2026, 2, 1, tzinfo=timezone.utc)
EXAMPLES = sorted((REPO / "examples").glob("*.py"))


def clean_env(server: LocalNetra | None = None) -> dict[str, str]:
    """The current environment without NETRA_*/OTEL_*, pointed at ``server`` if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NETRA_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    if server is not None:
        env["NETRA_API_KEY"] = server.api_key
        env["NETRA_OTLP_ENDPOINT"] = server.base_url
    return env


def run_example(
    script: Path, cwd: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(script), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def check_outputs(name: str, out: str, cwd: Path) -> None:
    """What each example must have printed and written."""
    if name == "monthly_cost_report":
        assert "Cost report" in out and "AceTech" in out
        (by_user,) = (cwd / "reports").glob("cost_by_user_*.csv")
        assert pl.read_csv(by_user)["requests"].sum() > 0
    elif name == "slow_and_error_spans":
        assert "slowest spans" in out and "error spans, by kind" in out
        traces, spans = map(int, re.findall(r"AceTech: (\d+) traces, (\d+) spans", out)[0])
        assert traces > 0 and spans > traces, out
        assert re.search(r"shape: \(10, 7\)", out), out  # the 10 slowest, not an empty table
    elif name == "tokens_by_model_per_day":
        days, models = map(int, re.findall(r"shape: \((\d+), (\d+)\)", out)[0])
        assert days >= 7 and models >= 3 and "gpt-4o" in out, out  # a day and a model or more
        pytest.importorskip("matplotlib")
        assert (cwd / "tokens_by_model_per_day.png").read_bytes()[:4] == b"\x89PNG"
    elif name == "export_month_csv":
        (csv,) = cwd.glob("traces-*.csv")
        frame = pl.read_csv(csv)
        assert frame.height > 0 and f"{frame.height} traces" in out
    else:  # a new example: it ran, that is all we know
        assert out


@pytest.fixture(scope="module")
def docs_server() -> Iterator[LocalNetra]:
    """The server of the docs: ``netra-frames serve --anchor 2026-02-01``."""
    with LocalNetra(seed=0, traces=2000, anchor=DOCS_ANCHOR) as srv:
        yield srv


@pytest.fixture(scope="module")
def live_server() -> Iterator[LocalNetra]:
    """A server whose data ends at the current minute, like the embedded one of the examples."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with LocalNetra(seed=0, traces=2000, anchor=now) as srv:
        yield srv


def extra_args(script: Path) -> list[str]:
    """A month that surely holds data: the one of two days ago (the data is the last 30 days)."""
    if script.stem in ("monthly_cost_report", "export_month_csv"):
        month = datetime.now(timezone.utc) - timedelta(days=2)
        return ["--month", f"{month:%Y-%m}"]
    return []


def docs_args(script: Path) -> list[str]:
    """The window of the docs' server: January 2026, or the days before 2026-02-01."""
    if script.stem in ("monthly_cost_report", "export_month_csv"):
        return ["--month", "2026-01"]
    return ["--end", "2026-02-01"]


def test_every_example_is_tested() -> None:
    assert {p.stem for p in EXAMPLES} == {
        "export_month_csv",
        "monthly_cost_report",
        "slow_and_error_spans",
        "tokens_by_model_per_day",
    }


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_alone(script: Path, tmp_path: Path) -> None:
    """No NETRA_* in the environment: the example starts its own local server."""
    proc = run_example(script, tmp_path, clean_env(), *extra_args(script))
    check_outputs(script.stem, proc.stdout, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_against_a_server(script: Path, tmp_path: Path, live_server: LocalNetra) -> None:
    """With NETRA_API_KEY and NETRA_OTLP_ENDPOINT set, the example uses them."""
    live_server.reset_stats()
    proc = run_example(script, tmp_path, clean_env(live_server), *extra_args(script))
    check_outputs(script.stem, proc.stdout, tmp_path)
    assert live_server.stats.requests > 0


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_against_the_documented_server(
    script: Path, tmp_path: Path, docs_server: LocalNetra
) -> None:
    """Against ``netra-frames serve --anchor 2026-02-01`` (data ending 2026-02-01), each
    example takes that window and prints, and draws, what the data holds: no empty table."""
    proc = run_example(script, tmp_path, clean_env(docs_server), *docs_args(script))
    check_outputs(script.stem, proc.stdout, tmp_path)
    assert "EmptyResultWarning" not in proc.stderr


def test_the_examples_tell_how_to_reach_the_documented_server() -> None:
    """Each example that covers the days before now says how to point it at the docs' data."""
    for script in EXAMPLES:
        text = script.read_text(encoding="utf-8")
        assert "--end 2026-02-01" in text or "--month" in text, script.name
