"""The engine in simulated time (benchmarks/replay.py): its floors, and the same figures for
the same seed. The replay runs the engine's own traces loop, walks and rate limiter against
a model of the API on a virtual clock, so its figures are exact and these are real floors."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import pytest

from benchmarks import replay
from benchmarks.replay_model import row_times
from netra_frames._engine.walks import Rules

SHAPES = ("uniform", "skewed", "bursty")


@pytest.fixture(scope="module")
def quick() -> dict[str, Any]:
    """One quick replay (the production rules, seed 1): a few seconds of CPU."""
    return replay.replay(quick=True, seed=1)


@pytest.mark.parametrize("key", sorted(replay.FLOORS))
def test_the_quick_replay_meets_its_floor(quick: dict[str, Any], key: str) -> None:
    op, floor = replay.FLOORS[key]
    value = quick[key]
    assert (value >= floor) if op == ">=" else (value <= floor), (key, value, op, floor)


def test_the_same_seed_gives_the_same_figures(quick: dict[str, Any]) -> None:
    again = replay.replay(quick=True, seed=1)
    assert {k: v for k, v in again.items() if k != "cpu_s"} == {
        k: v for k, v in quick.items() if k != "cpu_s"
    }


def test_another_seed_draws_other_rows() -> None:
    assert row_times("uniform", 500, 1) == row_times("uniform", 500, 1)
    assert row_times("uniform", 500, 1) != row_times("uniform", 500, 2)


def test_the_json_ends_with_one_object_of_the_issues_keys(
    quick: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    status = replay.main(["--quick", "--json", "--seed", "3"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    out = json.loads(last)
    assert status == (0 if all(out["floors_met"].values()) else 1)  # the floors: seed 1's
    assert all(isinstance(out[key], int | float) for key in ISSUE_KEYS), ISSUE_KEYS
    assert out["seed"] == 3 and out["mode"] == "quick"
    assert out["long_uniform_requests"] != quick["long_uniform_requests"]  # other data


def test_a_drain_that_loses_rows_fails_the_replay() -> None:
    """The replay checks that the engine kept every row of the window: a drain short of a
    row (here the model serves one row fewer than the data holds) fails loudly."""
    case = replay.cases()[0]
    times, api = replay._Data(1).api(case)
    api.times = times[:-1]
    with pytest.raises(AssertionError, match="kept"):
        replay.drain(times, replay.window(case.shape), latency=replay.Latency(0.2),
                     limiter=replay.PRODUCTION.limiter, rules=replay.PRODUCTION.walks,
                     api=api)  # fmt: skip


@pytest.mark.parametrize(
    ("shape", "sort_order", "seed"),
    [("skewed", "asc", 1), ("daily", "asc", 0), ("daily", "asc", 2), ("bursty", "desc", 1)],
)
def test_a_drain_hands_its_batches_over_in_result_order(
    shape: str, sort_order: Literal["asc", "desc"], seed: int
) -> None:
    """Long drains under heavy-tailed latency whose answers came back in an order that once
    put the rows of a run of finished walks ahead of a range split off later (a walk that
    carried on through the next one left that one's place in the order inside its own
    range; the run was gathered there). The replay checks the order of every batch."""
    times = row_times(shape, replay.LONG_ROWS, 1)
    figures = replay.drain(times, replay.window(shape), latency=replay.Latency(0.2, 1.0, seed),
                           limiter=replay.PRODUCTION.limiter, rules=replay.PRODUCTION.walks,
                           sort_order=sort_order)  # fmt: skip
    assert figures.rows == len(times)


ISSUE_KEYS = [
    *(f"efficiency_{n}_{s}" for n in ("short", "long", "long_heavy_tail") for s in SHAPES),
    *(f"requests_over_pages_long_{s}" for s in SHAPES),
    "polite_fast_429_share",
    "polite_fast_time_ratio",
    "polite_slow_429s",
    "polite_slow_time_ratio",
    "polite_fast_headers_429s",
    "polite_slow_headers_429s",
]
"""Issue 29's output keys but ``rules`` (a full run's: see the test below)."""


def test_a_full_run_maps_every_rule_to_its_best_gain() -> None:
    """The full run's ``rules`` (here over two cases, one seed: the full run takes a minute)."""
    among = [c for c in replay.cases() if c.name in ("short_skewed", "polite_slow")]
    data = [replay._Data(1)]
    base = [{c.name: replay.replay_case(c, replay.PRODUCTION, data[0]) for c in among}]
    out: dict[str, Any] = {}
    rules = replay._rules(base, data, out, among)
    assert sorted(rules) == sorted(replay.OFF)
    assert all(isinstance(gain, float) for gain in rules.values()), rules
    assert out["rule_R4_presplit_best_case"] == "short_skewed"  # it splits; polite_slow: no
    assert rules["slow_start"] > 0.01 and out["rule_slow_start_best_case"] == "polite_slow"


def _rules_section() -> str:
    text = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text(encoding="utf-8")
    return text.split("## The scheduling rules, and what each earns\n", 1)[1].split("\n## ")[0]


def test_every_rule_has_one_line_in_the_architecture_doc_and_every_line_a_rule() -> None:
    """docs/architecture.md names, for each rule the replay switches off, the case it wins
    and by how much; a rule removed, or added without its line, fails here."""
    lines = re.findall(r"^- `(\w+)` (.*?)(?=^- |\Z)", _rules_section(), flags=re.M | re.S)
    assert sorted(name for name, _ in lines) == sorted(replay.OFF)
    names = {c.name for c in replay.cases()}
    for name, line in lines:
        won = re.search(r"\+\d+(\.\d+)?%\s+in\s+`(\w+)`", line)
        assert won is not None and won.group(2) in names, (name, line)


def test_every_switch_and_constant_of_the_rules_is_named_there() -> None:
    section = _rules_section()
    assert all(f"`{f.name}`" in section for f in fields(Rules)), fields(Rules)
    assert all(variant != replay.PRODUCTION for variant in replay.OFF.values())
