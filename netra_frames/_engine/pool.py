"""The worker pool of one drain: bounded threads, one cancel scope, prompt shutdown.

:class:`Workers` runs tasks on at most ``size`` daemon threads, started as needed, and
hands results back to the calling thread in completion order (:meth:`Workers.next_done`).
Every wait of the calling thread is sliced (Ctrl-C stays prompt after ``import polars``).
Leaving the ``with`` block on an error or Ctrl-C cancels the scope, which wakes every wait
and cuts every in-flight request of the workers, then joins them for at most
:data:`JOIN_SECONDS`: no worker thread outlives its drain.

:func:`ordered` maps a function over keys on a pool and yields the results in input
order, with a bounded number of keys in flight (memory stays flat for long inputs).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, Generic, TypeVar

from .._cancel import WAIT_SLICE, CancelScope
from .._validate import check_count
from ..errors import NetraError

__all__ = ["JOIN_SECONDS", "Workers", "ordered", "plan_workers", "pooled_workers"]

logger = logging.getLogger("netra_frames")

K = TypeVar("K")
R = TypeVar("R")

JOIN_SECONDS = 1.0
"""Longest a cancelled drain waits for its workers to stop."""

_STOP = object()


class Workers(Generic[K]):
    """At most ``size`` worker threads for one drain; results come back keyed.

    Examples
    --------
    >>> with Workers(2, CancelScope()) as pool:
    ...     pool.submit("a", lambda: 1)
    ...     pool.next_done()
    ('a', True, 1)
    """

    def __init__(self, size: int, scope: CancelScope, name: str = "netra_frames") -> None:
        self.size = max(1, size)
        self.scope = scope
        self._name = name
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[K, bool, Any]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self.pending = 0

    def submit(self, key: K, task: Callable[[], Any]) -> None:
        """Run ``task()`` on a worker; its result (or exception) comes back under ``key``."""
        self.pending += 1
        with self._lock:
            start = self._idle <= 0 and len(self._threads) < self.size
            if not start:
                self._idle -= 1
        self._tasks.put((key, task))
        if start:
            thread = threading.Thread(
                target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def next_done(self) -> tuple[K, bool, Any]:
        """Wait (interruptibly) for the next finished task: ``(key, ok, result or error)``."""
        while True:
            done = self.poll()
            if done is not None:
                return done

    def beat(self, heartbeat: bool) -> Generator[None, None, tuple[K, bool, Any]]:
        """Wait for the next finished task; with ``heartbeat``, yield ``None`` every slice.

        Use it as ``key, ok, value = yield from pool.beat(heartbeat)`` in a generator whose
        consumer must get control back while it waits (a Polars scan checks for Ctrl-C).
        """
        while (done := self.poll()) is None:
            if heartbeat:
                yield None
        return done

    def put(self, key: K, ok: bool, value: Any) -> None:
        """Hand back one more result from inside a task (a task may yield many)."""
        self.pending += 1
        self._done.put((key, ok, value))

    def poll(self, timeout: float = WAIT_SLICE) -> tuple[K, bool, Any] | None:
        """The next finished task, or ``None`` if none finished within ``timeout`` seconds."""
        self.scope.check()
        try:
            done = self._done.get(timeout=timeout)
        except queue.Empty:
            return None
        self.pending -= 1
        return done

    def _work(self) -> None:
        with self.scope.enter():
            while True:
                item = self._tasks.get()
                if item is _STOP:
                    return
                key, task = item
                try:
                    self.scope.check()  # a task queued before a cancel never starts
                    result: tuple[K, bool, Any] = (key, True, task())
                except NetraError as exc:  # its message says it all: the worker's frames go
                    result = (key, False, exc.with_traceback(None))
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    result = (key, False, exc)
                with self._lock:
                    self._idle += 1
                self._done.put(result)

    def close(self, cancel: bool) -> None:
        """Stop the workers; when ``cancel``, cut their requests first. Joins briefly."""
        if cancel:
            self.scope.cancel()
        for _ in self._threads:
            self._tasks.put(_STOP)
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in self._threads:
            while thread.is_alive() and time.monotonic() < deadline:
                thread.join(min(WAIT_SLICE, max(0.0, deadline - time.monotonic())))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            logger.debug(
                "netra_frames: workers still stopping after %.1fs: %s", JOIN_SECONDS, alive
            )

    def __enter__(self) -> Workers[K]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.close(cancel=exc_type is not None)


def ordered(
    pool: Workers[int],
    fetch: Callable[[K], R],
    keys: Sequence[K],
    todo: Sequence[int],
    *,
    ahead: int,
    ready: dict[int, Any] | None = None,
    heartbeat: bool = False,
) -> Iterator[tuple[int, R] | None]:
    """Yield ``(index, fetch(keys[index]))`` for each index of ``todo``, in that order.

    The workers take the keys themselves, one after the other (no hand-off per key), and
    at most ``ahead`` results are in flight or waiting to be yielded. The first failure is
    raised as soon as it comes back, whatever its position; results that came back out of
    order stay in ``ready`` (the caller's dict, when given) for a resumed run. With
    ``heartbeat``, ``None`` is yielded every :data:`~netra_frames._cancel.WAIT_SLICE`
    seconds of waiting (a consumer run by another library can then check for Ctrl-C).

    Examples
    --------
    >>> with Workers(2, CancelScope()) as pool:
    ...     list(ordered(pool, str.upper, ["a", "b"], [0, 1], ahead=4))
    [(0, 'A'), (1, 'B')]
    """
    ready = {} if ready is None else ready
    waiting = deque(i for i in todo if i not in ready)
    fetched = set(waiting)  # results that hold a slot until they are yielded
    slots = threading.Semaphore(ahead)
    lock = threading.Lock()
    scope = pool.scope
    finished: list[tuple[int, Any]] = []  # results not handed over yet (under ``lock``)
    wanted = [-1]  # the index the calling thread waits for (under ``lock``)

    def hand_over() -> None:
        """Wake the calling thread with every finished result (call with ``lock`` held)."""
        if finished:
            pool.put(_BATCH, True, finished.copy())
            finished.clear()

    def take() -> object:
        """A worker's loop: the next key while a slot is free, until none is left.

        Results are handed over in batches (one wake-up of the calling thread for many),
        at once when one is the result it waits for, or when no slot is left.
        """
        while True:
            if not slots.acquire(blocking=False):
                with lock:
                    hand_over()  # the caller must take results to free slots
                while not slots.acquire(timeout=WAIT_SLICE):
                    scope.check()
            with lock:
                if not waiting:
                    slots.release()
                    hand_over()
                    return _DRY
                index = waiting.popleft()
            try:
                scope.check()
                value = fetch(keys[index])
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                with lock:
                    hand_over()
                pool.put(index, False, exc)
                return _DRY
            with lock:
                finished.append((index, value))
                if index == wanted[0] or len(finished) >= HAND_OVER:
                    hand_over()

    for _ in range(min(pool.size, len(waiting))):
        pool.submit(_LOOP, take)
    for index in todo:
        if index not in ready:
            with lock:
                wanted[0] = index
                ready.update(finished)
                finished.clear()
        while index not in ready:
            key, ok, value = yield from pool.beat(heartbeat)
            if not ok:
                raise value
            if key == _BATCH:
                ready.update(value)
        value = ready.pop(index)
        if index in fetched:
            slots.release()
        yield index, value


HAND_OVER = 16
"""Results a worker keeps before it wakes the calling thread (unless that one waits)."""
_LOOP, _BATCH = -1, -2
_DRY = object()


def pooled_workers(pool_size: int | None, max_workers: int) -> int:
    """Return ``max_workers`` capped at the client's connection pool size.

    More threads than pooled connections would open (and throw away) a new connection
    per request beyond the pool; capping keeps every request on a kept-alive connection.

    Examples
    --------
    >>> pooled_workers(16, 32)
    16
    """
    if pool_size is not None and max_workers > pool_size:
        logger.warning(
            "netra_frames: max_workers=%d exceeds the client's pool_size=%d; using %d workers "
            "(create the client with pool_size=%d to run more).",
            max_workers,
            pool_size,
            pool_size,
            max_workers,
        )
        return pool_size
    return max_workers


def plan_workers(pool_size: int | None, max_workers: object) -> int:
    """Return the workers of one drain: ``max_workers`` checked, then capped at the pool.

    Raises
    ------
    InvalidParameterError
        For a ``max_workers`` that is not a positive int.

    Examples
    --------
    >>> plan_workers(16, 4)
    4
    """
    return pooled_workers(pool_size, check_count(max_workers, "max_workers"))
