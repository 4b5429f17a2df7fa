"""The worker pool of one drain (``_engine/pool.py``), without a server: fast and exact.

Tasks coordinate through events, never through sleeps or timings: nothing here asserts
a duration.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from netra_frames._cancel import CancelScope
from netra_frames._engine.pool import Workers, ordered, plan_workers, pooled_workers
from netra_frames.errors import InvalidParameterError

WAIT = 30.0  # wide: only a broken pool waits this long


class Gate:
    """Tasks that start, then wait for the test to let them finish; counts them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.release = threading.Event()
        self.threads: set[str] = set()

    def task(self, value: object) -> Callable[[], object]:
        def run() -> object:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                self.threads.add(threading.current_thread().name)
            assert self.release.wait(WAIT)
            with self.lock:
                self.running -= 1
            return value

        return run


def test_results_come_back_keyed_on_at_most_size_threads() -> None:
    gate = Gate()
    with Workers[str](3, CancelScope()) as pool:
        for n in range(10):
            pool.submit(f"k{n}", gate.task(n))
        gate.release.set()
        done = [pool.next_done() for _ in range(10)]
        assert pool.pending == 0
    assert sorted(done) == sorted((f"k{n}", True, n) for n in range(10))
    assert gate.most <= 3 and len(gate.threads) <= 3


def test_a_task_error_comes_back_as_a_result() -> None:
    def fail() -> None:
        raise ValueError("boom")

    with Workers[int](2, CancelScope()) as pool:
        pool.submit(7, fail)
        key, ok, error = pool.next_done()
    assert (key, ok, type(error), str(error)) == (7, False, ValueError, "boom")


def test_leaving_on_an_error_cancels_and_stops_every_worker() -> None:
    scope = CancelScope()
    started = threading.Event()
    ran_after_cancel = threading.Event()

    def wait_for_cancel() -> None:
        started.set()
        scope.sleep(WAIT)  # wakes at once when the scope is cancelled

    with pytest.raises(RuntimeError), Workers[int](1, scope) as pool:
        pool.submit(0, wait_for_cancel)
        pool.submit(1, ran_after_cancel.set)  # queued behind: never starts once cancelled
        assert started.wait(WAIT)
        raise RuntimeError("the caller fails")
    assert scope.cancelled
    assert not ran_after_cancel.is_set()
    alive = [t for t in threading.enumerate() if t.name.startswith("netra_frames-")]
    assert all(not t.is_alive() or t.daemon for t in alive)


def test_ordered_yields_in_input_order_whatever_finishes_first() -> None:
    last_done = threading.Event()

    def fetch(key: int) -> int:
        if key == 0:  # the first key finishes only after the last one
            assert last_done.wait(WAIT)
        if key == 5:
            last_done.set()
        return key * 10

    with Workers[int](3, CancelScope()) as pool:
        got = list(ordered(pool, fetch, list(range(6)), range(6), ahead=8))
    assert got == [(n, n * 10) for n in range(6)]


def test_ordered_keeps_at_most_ahead_keys_in_flight() -> None:
    lock = threading.Lock()
    state = {"out": 0, "most": 0}

    def fetch(key: int) -> int:
        with lock:
            state["out"] += 1  # taken by a worker, not yet yielded
            state["most"] = max(state["most"], state["out"])
        return key

    with Workers[int](4, CancelScope()) as pool:
        for item in ordered(pool, fetch, list(range(50)), range(50), ahead=3):
            assert item is not None
            with lock:
                state["out"] -= 1
    assert state["most"] <= 3


def test_ordered_raises_the_failure_and_keeps_what_came_back() -> None:
    def fetch(key: int) -> int:
        if key == 2:
            raise KeyError(key)
        return key

    ready: dict[int, object] = {}
    got = []
    with pytest.raises(KeyError), Workers[int](1, CancelScope()) as pool:
        for item in ordered(pool, fetch, list(range(4)), range(4), ahead=4, ready=ready):
            got.append(item)
    assert got == [(0, 0), (1, 1)]  # one worker: keys in order, stopped at the failure
    assert 2 not in ready and set(ready) <= {3}


def test_ordered_resumes_from_ready_results_without_fetching_them() -> None:
    fetched = []
    with Workers[int](2, CancelScope()) as pool:
        got = list(
            ordered(pool, lambda k: fetched.append(k) or k, [0, 1, 2], range(3), ahead=4,
                    ready={1: "kept"})
        )  # fmt: skip
    assert got == [(0, 0), (1, "kept"), (2, 2)]
    assert sorted(fetched) == [0, 2]


def test_workers_are_capped_at_the_pool_and_checked(caplog: pytest.LogCaptureFixture) -> None:
    assert pooled_workers(None, 32) == 32
    assert plan_workers(16, 4) == 4
    with caplog.at_level(logging.WARNING, logger="netra_frames"):
        assert plan_workers(8, 20) == 8
    assert "pool_size=8" in caplog.text
    for bad in (0, -1, 2.5, "4", True):
        with pytest.raises(InvalidParameterError, match="max_workers"):
            plan_workers(8, bad)
