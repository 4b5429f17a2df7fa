"""The benchmark harness runs in --quick mode and reports every metric (no timing checks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cache import TARGETS as CACHE_TARGETS
from benchmarks.run import REPORTED, TARGETS

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_quick_benchmark_writes_every_metric(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--latency-ms", "5", "--out",
         str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = tmp_path.glob("*.json")
    results = json.loads(path.read_text())
    assert set(TARGETS) <= set(results) and set(results["targets"]) == set(TARGETS)
    for name in TARGETS:  # a count of 429s may be 0, every other figure is positive
        assert isinstance(results[name], float)
        assert results[name] >= 0 if name.endswith("_429s") else results[name] > 0
    for name in REPORTED:  # reported, not judged
        assert results[name] > 0 and name not in results["targets"]
    for shape in ("uniform", "skewed", "bursty"):  # a client's later drains, beside its first
        assert results[f"efficiency_warm_short_{shape}"] > 0
    for name in CACHE_TARGETS:  # the cache's figures come in the same run
        assert name in TARGETS
    assert results["cache_traces_second_requests"] == results["cache_spans_second_requests"] == 0


@pytest.mark.slow
def test_only_runs_the_sections_named(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--only", "memory", "--out",
         str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = tmp_path.glob("*-quick-memory.json")
    results = json.loads(path.read_text())
    assert results["sections"] == ["memory"]
    assert set(results["targets"]) == {"memory_polars", "memory_pandas"}
    assert not any(name.startswith(("decode_", "cache_", "efficiency_")) for name in results)
    for name in ("polars_end_growth", "pandas_end_growth", "polars_string_views"):
        assert results[f"memory_{name}_bytes"] > 0  # what the memory figure is made of
    assert "memory_polars" in proc.stdout and "spans_many_speedup" not in proc.stdout


def test_only_refuses_an_unknown_section(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--only", "memory,memroy", "--out",
         str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--only: unknown section memroy; choose from decode, engine," in proc.stderr
    assert not list(tmp_path.iterdir())
