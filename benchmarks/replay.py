"""The engine in simulated time (issue 29): ``python -m benchmarks.replay [--quick] [--json]``.

The engine's own traces loop, walks and rate limiter drain a model of the API on a
virtual clock (:mod:`benchmarks.replay_sim`, :mod:`benchmarks.replay_model`): no thread,
no socket, no sleep, the same figures for the same ``--seed``. Each case is measured
against an **oracle**, the best drain 16 workers could make knowing where every row is
(every range ends on a page boundary, so ``pages = ceil(rows / 100)``):

* fixed latency (200 ms): ``ceil(pages / 16)`` rounds of it;
* heavy-tailed latency (log-normal, median 200 ms, p99 1 s): the larger of the sum of
  ``pages`` sampled page times over 16 and the longest of them (the drain and its oracle
  draw from the same seeded stream of page times, in the order requests are sent);
* under a rate limit: ``pages / rate``.

``efficiency_<case> = oracle / ours``. Cases: ``short`` (~72 pages) and ``long`` (~700) on
five shapes, each drained by a fresh client (its slow start included);
``warm_short`` by a client whose window is open (its later drains); ``long_heavy_tail``
on the server's three shapes; and four politeness cases against a token bucket
(``polite_fast``: 40/s, burst 5, ~150 pages; ``polite_slow``: 30 a minute, burst 2, ~25
pages; each with and without ``RateLimit-*`` headers). ``polite_*_headers_429s`` counts
the 429s after the first round (the requests sent before any answer, which no header can
have paced); the first round's own are ``polite_*_headers_first_round_429s``.
``heavy_tail_cost_<shape>`` is what the heavy tail costs a long drain (``1 -`` its
efficiency over the fixed latency's), and ``long_<shape>_efficiency_as_wall_clock`` the
long drain's efficiency as ``benchmarks/efficiency.py`` defines it (``rows // 100 + 1``
pages times the page time over 16 workers), for the comparison with the wall clock.

**Rules.** Each scheduling rule (:class:`~netra_frames._engine.walks.Rules`, and the
limiter's slow start, probing and sizing by rate) is switched off in turn and every case
replayed again; ``rules`` maps each to its best gain over the cases: the larger of the
time it saves (``efficiency with it / without it - 1``) and the requests it saves
(``requests without it / with it - 1``, 429s included), each a mean over ``--seeds``
seeds (with fixed latency a drain takes whole rounds: one seed's gain is a round or
nothing). ``--quick`` replays the production rules only.

``targets_met`` holds issue 29's targets; ``floors_met`` the floors CI asserts
(``tests/engine/test_replay.py``): the targets, and where one is not met, today's figure,
so that it cannot get worse unseen (benchmarks/README.md says why each is out of reach);
the exit status is 1 when a floor is not met. The last line of ``--json`` is one JSON
object of every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from benchmarks.replay_model import Bucket, Latency, ModelApi, row_times, window
from benchmarks.replay_sim import WORKERS, Figures, drain
from netra_frames._engine.walks import Rules
from netra_frames._limiter import INITIAL_WINDOW, RateLimiter

LATENCY = 0.2
P99 = 1.0
SHORT_ROWS = 7_150
LONG_ROWS = 69_950
FAST = (40.0, 5, 14_950)
"""40 requests a second, a burst of 5, ~150 pages."""
SLOW = (0.5, 2, 2_450)
"""30 requests a minute, a burst of 2, ~25 pages."""
SHAPES = ("uniform", "skewed", "bursty", "daily", "spike")
TAIL_SHAPES = ("uniform", "skewed", "bursty")
TARGETS: dict[str, tuple[str, float]] = {
    **{f"efficiency_short_{s}": (">=", 0.78) for s in SHAPES},
    **{f"efficiency_long_{s}": (">=", 0.92) for s in SHAPES},
    **{f"efficiency_long_heavy_tail_{s}": (">=", 0.85) for s in TAIL_SHAPES},
    **{f"requests_over_pages_long_{s}": ("<=", 1.05) for s in SHAPES},
    "polite_fast_429_share": ("<=", 0.10),
    "polite_fast_time_ratio": ("<=", 1.3),
    "polite_slow_429s": ("<=", 3),
    "polite_slow_time_ratio": ("<=", 1.3),
    "polite_fast_headers_429s": ("<=", 0),
    "polite_slow_headers_429s": ("<=", 0),
}
"""Issue 29's targets."""
FLOORS: dict[str, tuple[str, float]] = {
    **TARGETS,
    **{f"efficiency_short_{s}": (">=", 0.71) for s in SHAPES if s != "spike"},
    "efficiency_short_spike": (">=", 0.49),
    "efficiency_long_spike": (">=", 0.91),
    "requests_over_pages_long_spike": ("<=", 1.07),
    "polite_slow_429s": ("<=", 6),
}
"""What CI asserts: the targets, and today's figure where a target is out of reach."""


@dataclass(frozen=True)
class Variant:
    """The rules one replay runs with: the walks' and the limiter's."""

    walks: Rules = field(default_factory=Rules)
    window: int | None = INITIAL_WINDOW
    probing: bool = True
    sized: bool = True

    def limiter(self, clock: Any, *, warm: bool = False) -> RateLimiter:
        """The client's limiter on ``clock`` (``warm``: its slow start is over)."""
        window = None if warm else self.window
        return RateLimiter(None, clock, window=window, probing=self.probing, sized=self.sized)


PRODUCTION = Variant()
OFF = {
    "R4_presplit": Variant(Rules(presplit=False)),
    "R7_density_over_4_pages": Variant(Rules(density_pages=1)),
    "R9_carry_on": Variant(Rules(carry_on=False)),
    "R10_deferral": Variant(Rules(defer_rounds=math.inf)),
    "dhondt_apportioning": Variant(Rules(apportion=False)),
    "unseen_walks_whole": Variant(Rules(unseen_whole=False)),
    "parts_inherit_density": Variant(Rules(inherit=False)),
    "min_part_pages": Variant(Rules(min_part_pages=1.0)),
    "min_idle_part_pages": Variant(Rules(min_idle_part_pages=0.0)),
    "slow_start": Variant(window=None),
    "probing": Variant(probing=False),
    "work_sized_by_rate": Variant(sized=False),
}
"""Each rule switched off (a constant: set to the value that makes it do nothing)."""
UNDER_A_LIMIT = frozenset({"probing", "work_sized_by_rate"})
"""Rules that act only once a server has limited the rate: without a token bucket they
change nothing, so only the politeness cases are replayed without them."""


@dataclass(frozen=True)
class Case:
    """One replayed drain: its data, latency, rate limit, and whether its client is warm."""

    name: str
    shape: str
    rows: int
    p99: float | None = None
    bucket: tuple[float, int, bool] | None = None
    warm: bool = False


def cases() -> list[Case]:
    """Every case of a run, in the order of the output."""
    out = [Case(f"short_{s}", s, SHORT_ROWS) for s in SHAPES]
    out += [Case(f"warm_short_{s}", s, SHORT_ROWS, warm=True) for s in SHAPES]
    out += [Case(f"long_{s}", s, LONG_ROWS) for s in SHAPES]
    out += [Case(f"long_heavy_tail_{s}", s, LONG_ROWS, P99) for s in TAIL_SHAPES]
    for name, (rate, burst, rows) in (("fast", FAST), ("slow", SLOW)):
        for headers in (False, True):
            key = f"polite_{name}_headers" if headers else f"polite_{name}"
            out.append(Case(key, "uniform", rows, bucket=(rate, burst, headers)))
    return out


class _Data:
    """Row times and rendered rows of one seed, made once per shape and size."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._made: dict[tuple[str, int], tuple[list[int], ModelApi]] = {}

    def api(self, case: Case) -> tuple[list[int], ModelApi]:
        """The rows of ``case`` and a fresh model over them (its own bucket, no request)."""
        key = (case.shape, case.rows)
        if key not in self._made:
            times = row_times(case.shape, case.rows, self.seed)
            self._made[key] = times, ModelApi(times)
        times, api = self._made[key]
        return times, api.fresh(None if case.bucket is None else Bucket(*case.bucket))


def replay_case(case: Case, variant: Variant, data: _Data) -> dict[str, float]:
    """Replay ``case`` with ``variant``'s rules: its figures, keyed as in the output."""
    times, api = data.api(case)

    def limiter(clock: Any) -> RateLimiter:
        return variant.limiter(clock, warm=case.warm)

    figures = drain(times, window(case.shape), latency=Latency(LATENCY, case.p99, data.seed),
                    limiter=limiter, rules=variant.walks, api=api, seed=data.seed)  # fmt: skip
    oracle = _oracle(case, figures, data.seed)
    out = {
        "s": figures.seconds,
        "oracle_s": oracle,
        "efficiency": oracle / figures.seconds,
        "pages": figures.pages,
        "requests": figures.requests,
        "requests_over_pages": figures.requests / figures.pages,
        "walks": figures.walks,
        "efficiency_as_wall_clock": (figures.rows // 100 + 1) * LATENCY / WORKERS / figures.seconds,
    }
    if case.bucket is not None:
        out |= {
            "time_ratio": figures.seconds / oracle,
            "429s": figures.throttled,
            "429_share": figures.throttled / figures.pages,
            "429s_after_first_round": figures.throttled_after_first_round,
            "first_round": figures.first_round,
        }
    return out


def _oracle(case: Case, figures: Figures, seed: int) -> float:
    if case.bucket is not None:
        return figures.pages / case.bucket[0]
    if case.p99 is None:
        return math.ceil(figures.pages / WORKERS) * LATENCY
    stream = Latency(LATENCY, case.p99, seed)
    drawn = [stream.draw() for _ in range(figures.pages)]
    return max(sum(drawn) / WORKERS, max(drawn))


def _keys(name: str, figures: dict[str, float]) -> dict[str, Any]:
    """The output keys of one case (see the module docstring)."""
    out: dict[str, Any] = {f"{name}_{k}": v for k, v in figures.items()}
    if not name.startswith("polite"):
        out[f"efficiency_{name}"] = figures["efficiency"]
        if name.startswith("long_") and "heavy" not in name:
            out[f"requests_over_pages_{name}"] = figures["requests_over_pages"]
        return out
    if name.endswith("headers"):
        out[f"{name}_429s"] = figures["429s_after_first_round"]
        out[f"{name}_first_round_429s"] = figures["429s"] - figures["429s_after_first_round"]
    return out


def _gain(on: dict[str, float], off: dict[str, float]) -> float:
    """What a rule earns in one case: the time or the requests it saves, the larger."""
    return max(on["efficiency"] / off["efficiency"] - 1, off["requests"] / on["requests"] - 1)


def replay(*, quick: bool = False, seed: int = 1, seeds: int = 2) -> dict[str, Any]:
    """Every case with the production rules, then (unless ``quick``) each rule off.

    The figures are those of ``seed``; a rule's gain in a case is its mean over ``seeds``
    seeds from ``seed`` on.
    """
    began = time.process_time()
    data = [_Data(seed + i) for i in range(1 if quick else seeds)]
    base = [{c.name: replay_case(c, PRODUCTION, d) for c in cases()} for d in data]
    out: dict[str, Any] = {"mode": "quick" if quick else "full", "seed": seed}
    for name, figures in base[0].items():
        out.update(_keys(name, figures))
    for shape in TAIL_SHAPES:
        tail, fixed = out[f"efficiency_long_heavy_tail_{shape}"], out[f"efficiency_long_{shape}"]
        out[f"heavy_tail_cost_{shape}"] = 1 - tail / fixed
    if not quick:
        out["rules"] = _rules(base, data, out)
    out["targets_met"] = {k: _met(out[k], *TARGETS[k]) for k in TARGETS}
    out["floors_met"] = {k: _met(out[k], *FLOORS[k]) for k in FLOORS}
    out["cpu_s"] = time.process_time() - began
    return out


def _rules(
    base: list[dict[str, dict[str, float]]],
    data: list[_Data],
    out: dict[str, Any],
    among: list[Case] | None = None,
) -> dict[str, float]:
    """Each rule's best gain over the cases (``among``: those of ``base``; all by default),
    its figures per case into ``out``."""
    out["rule_seeds"] = len(data)
    rules: dict[str, float] = {}
    for rule, variant in OFF.items():
        gains = {}
        for case in cases() if among is None else among:
            if case.warm:
                continue  # they show what the slow start costs; the rules: the others
            if rule in UNDER_A_LIMIT and case.bucket is None:
                gains[case.name] = 0.0
                continue
            offs = [replay_case(case, variant, d) for d in data]
            on = [b[case.name] for b in base]
            gains[case.name] = statistics.mean(map(_gain, on, offs))
            out[f"rule_{rule}_gain_{case.name}"] = gains[case.name]
        best = max(gains, key=lambda c: gains[c])
        rules[rule] = gains[best]
        out[f"rule_{rule}_best_case"] = best
    return rules


def _met(value: float, op: str, floor: float) -> bool:
    return value >= floor if op == ">=" else value <= floor


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, replay, print a table (and with ``--json``, one JSON line)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="the production rules only")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--seed", type=int, default=1, help="data, latency and jitter seed")
    parser.add_argument("--seeds", type=int, default=2, help="seeds a rule's gain is a mean of")
    args = parser.parse_args(argv)
    out = replay(quick=args.quick, seed=args.seed, seeds=max(1, args.seeds))
    print(f"{'figure':<40} {'value':>8}  target    met      CI floor")
    for key, (op, target) in TARGETS.items():
        met = "met" if out["targets_met"][key] else "NOT MET"
        floor = "" if FLOORS[key] == (op, target) else f"{op} {FLOORS[key][1]:g}"
        print(f"{key:<40} {out[key]:>8.3f}  {op} {target:<5g}  {met:<8} {floor}")
    for rule, gain in out.get("rules", {}).items():
        print(f"rule {rule:<35} {gain:>+8.3f}  best in {out[f'rule_{rule}_best_case']}")
    print(f"({out['mode']} mode, seed {out['seed']}, {out['cpu_s']:.1f} s of CPU)")
    if args.json:
        sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")
    return 0 if all(out["floors_met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
