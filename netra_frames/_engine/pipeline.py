"""The engine's front door: one pipeline of ordered, bounded batches.

A drain's scheduler (a :class:`Producer`: the traces walks, or a keyed drain of trace or
usage ids) runs on a thread of its own with its pool of workers. What it builds is handed
over through a queue, in result order, as :class:`Batch` objects, to whoever consumes the
:class:`Pipeline`: a frame collects them (:meth:`Pipeline.collect`), a lazy scan feeds them
to Polars, an export writes each group (a day) as it completes, the cache stores the days
that settled. Every door consumes the same pipeline; none pages on its own.

* **Bounded.** With a ``budget`` (bytes), the producer pauses while that much built data
  waits, queued for the consumer or held out of order: it then works only on the ranges
  next in result order, and sends nothing at all while the queue alone holds the budget.
  A slow consumer slows the drain; it never fills memory. ``None`` (eager frames, which
  hold everything anyway) never pauses.
* **Interruptible.** The consumer waits in slices: Ctrl-C in the consuming thread, or
  closing the iterator (a satisfied ``head(n)``), cancels the producer and its workers
  (their waits wake, their requests are cut) and joins them within about a second. A
  consumer running on another thread (Polars runs a scan's source on one of its own)
  also stops on a SIGINT or SIGTERM seen by :func:`~netra_frames._cancel.interrupts_seen`.
* **One failure policy** (:meth:`Pipeline.collect`): on our error after some progress, a
  :class:`~netra_frames.DrainError` of the cause's class with ``.partial`` (what was
  fetched, in result order) and ``.resume()`` (only what is missing is fetched; the result
  is exactly that of an uninterrupted drain); before any progress the error as it came.
* **Progress** is drawn by the consuming thread: rows as they are taken, a total that
  starts as the producer's estimate and ends as the rows actually received.
"""

from __future__ import annotations

import _thread
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from .._cancel import WAIT_SLICE, Cancelled, CancelScope, interrupts_seen
from .._progress import Progress
from ..errors import NetraError, drain_error
from .pool import JOIN_SECONDS, Workers

__all__ = ["Batch", "Outlet", "Pipeline", "Producer"]

logger = logging.getLogger("netra_frames")

F = TypeVar("F")


@dataclass(frozen=True)
class Batch:
    """One built piece of a result, handed over in result order.

    ``group`` is the result group (one per window a drain was asked for), ``part`` the
    batch in the pipeline's form (a Polars frame, an Arrow table for pandas, or a list of
    rows), ``last`` marks the group's last batch (every group ends with one, maybe empty).
    """

    group: int
    part: Any
    rows: int
    last: bool = False


class Outlet:
    """The producer's side of the queue: what it hands over, and how much waits.

    What the consumer calls here (:meth:`_took`, :meth:`_want`) uses primitives written in
    C only: a ``threading.Lock`` taken with ``with``, a queue's ``put``. Ctrl-C raises
    ``KeyboardInterrupt`` between bytecodes, so it can stop none of them half-way. A
    ``threading.Condition`` would not do: its ``__enter__`` is Python code, and a Ctrl-C
    raised just as it returns (after it took its lock) leaves the lock taken for good; the
    producer's next :meth:`emit` or :meth:`wait` then blocks forever, and with it every
    worker of the drain (issue 26: the worker that outlived a Ctrl-C).

    Examples
    --------
    >>> out = Outlet()
    >>> out.emit(Batch(0, [1, 2], 2, last=True), 16)
    >>> out.queued
    16
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, Any, int]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._bell: queue.SimpleQueue[None] = queue.SimpleQueue()
        """Rung (once) when the consumer takes something while the producer waits."""
        self._queued = 0
        self._wanted = False
        self._waiting = False

    @property
    def queued(self) -> int:
        """Bytes handed over and not taken by the consumer yet."""
        return self._queued

    @property
    def wanted(self) -> bool:
        """Whether the consumer is waiting for its next batch now."""
        return self._wanted

    def emit(self, batch: Batch, nbytes: int) -> None:
        """Hand ``batch`` (about ``nbytes`` in memory) to the consumer."""
        with self._lock:
            self._queued += nbytes
        self._queue.put(("batch", batch, nbytes))

    def rows(self, n: int) -> None:
        """Tell the consumer ``n`` more rows came in (for its progress bar)."""
        if n:
            self._queue.put(("rows", n, 0))

    def total(self, n: int) -> None:
        """Tell the consumer the rows now expected in all (an estimate)."""
        self._queue.put(("total", n, 0))

    def wait(self, timeout: float) -> None:
        """Wait until the consumer takes something, at most ``timeout`` seconds."""
        with self._lock:
            self._waiting = True
        try:
            self._bell.get(timeout=timeout)
        except queue.Empty:
            pass
        with self._lock:
            self._waiting = False
            try:  # rung after the wait timed out: not for the next wait
                self._bell.get_nowait()
            except queue.Empty:
                pass

    def _took(self, nbytes: int) -> None:
        with self._lock:
            self._queued -= nbytes
            self._wanted = False
            if self._waiting:
                self._waiting = False
                self._bell.put(None)

    def _want(self) -> None:
        with self._lock:
            if not self._wanted:
                self._wanted = True
                if self._waiting:
                    self._waiting = False
                    self._bell.put(None)

    def _end(self, error: BaseException | None) -> None:
        self._queue.put(("done", error, 0))


class Producer(ABC):
    """The scheduling side of a pipeline: runs on the producer thread, emits in order."""

    workers: int = 1
    noun: str = "drain"

    @abstractmethod
    def run(self, pool: Workers[int], outlet: Outlet) -> None:
        """Fetch everything still missing, emitting batches in result order."""

    @abstractmethod
    def progress_made(self) -> bool:
        """Whether anything was fetched (a failure before that raises the cause as is)."""

    @abstractmethod
    def snapshot(self) -> Producer:
        """An independent copy of the state, for ``resume()``."""

    @abstractmethod
    def rest(self) -> list[Batch]:
        """What was fetched and not emitted, as a prefix in result order (for ``.partial``)."""

    @abstractmethod
    def missing(self) -> str:
        """What is left to fetch, for the error message (e.g. '3 of 200 traces')."""


class Pipeline:
    """Run a :class:`Producer` on a thread of its own; iterate its batches in order.

    Parameters
    ----------
    producer:
        What to run.
    bar:
        The progress bar the consumer draws (``None``: none).
    heartbeat:
        Yield ``None`` every slice of waiting (a consumer run by another library, such
        as a Polars scan, then gets control back to notice Ctrl-C); implies ``watch``.
    watch:
        Stop with ``KeyboardInterrupt`` on a SIGINT or SIGTERM seen (from any thread)
        since the iteration began: for a consumer that runs on a thread of its own.
    groups:
        Result groups the producer emits (for :meth:`collect`).

    Examples
    --------
    >>> from netra_frames._engine import keyed_pipeline
    >>> pipe = keyed_pipeline(lambda key, scope: key.upper(), ["a", "b"], workers=2, noun="ids")
    >>> [(batch.part, batch.last) for batch in pipe]
    [(['A', 'B'], False), (None, True)]
    """

    def __init__(
        self,
        producer: Producer,
        *,
        bar: Progress | None = None,
        heartbeat: bool = False,
        watch: bool = False,
        groups: int = 1,
    ) -> None:
        self.producer = producer
        self.bar = bar or Progress(False, producer.noun, "rows")
        self.heartbeat = heartbeat
        self.watch = watch or heartbeat
        self.groups = groups
        self.rows = 0
        """Rows taken by the consumer so far."""
        self._scope = CancelScope()
        self._outlet = Outlet()
        self._thread: threading.Thread | None = None
        self._started = False

    # -- the producer thread ------------------------------------------------------------

    def _produce(self) -> None:
        error: BaseException | None = None
        with self._scope.enter():
            try:
                with Workers[int](self.producer.workers, self._scope) as pool:
                    self.producer.run(pool, self._outlet)
            except Cancelled:
                pass  # the consumer stopped: nobody waits for an answer
            except NetraError as exc:  # its message says it all: this thread's frames go
                error = exc.with_traceback(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                error = exc
        self._outlet._end(error)

    def _start(self) -> None:
        if self._started:
            raise RuntimeError("a pipeline is consumed once")
        self._started = True
        thread = threading.Thread(target=self._produce, name="netra_frames-drain", daemon=True)
        self._thread = thread
        try:
            _thread.start_new_thread(self._launch, (thread,))
        except RuntimeError:  # (not a Ctrl-C just after it: that thread runs, and is joined)
            self._thread = None  # nothing started: nothing to wait for
            raise

    def _launch(self, thread: threading.Thread) -> None:
        """Start the producer's thread, from a bare thread of ``_thread``'s own.

        ``Thread.start()`` is Python code that registers the thread, starts it, then waits
        for it in an ``Event``. Ctrl-C, raised in the main thread between any two of its
        bytecodes, could leave the thread registered and never started, or the ``Event``'s
        lock taken so that the new thread waits for it forever before its first line
        (issue 26). ``_thread.start_new_thread`` is one call in C, and no signal is handled
        on the thread it starts: the consumer never runs ``Thread.start()`` itself.
        """
        try:
            thread.start()
        except BaseException as exc:  # noqa: BLE001 - no producer: the consumer raises it
            self._thread = None
            self._outlet._end(exc)

    def close(self) -> None:
        """Stop the producer and its workers (cutting their requests); wait briefly."""
        self._scope.cancel()
        self._join()

    def _join(self) -> None:
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return  # (a consumer dropped and collected on the drain's own thread: it ends)
        deadline = time.monotonic() + 2 * JOIN_SECONDS
        while self._thread is not None and time.monotonic() < deadline:
            if thread.ident is None:  # still being started (see _launch)
                time.sleep(0.005)
            elif thread.is_alive():
                thread.join(min(WAIT_SLICE, max(0.0, deadline - time.monotonic())))
            else:
                break
        if thread.is_alive():
            logger.debug("netra_frames: the drain thread is still stopping")

    # -- the consumer -------------------------------------------------------------------

    def __iter__(self) -> Iterator[Batch | None]:
        """Yield the batches in result order (``None`` between them: see ``heartbeat``)."""
        finished = False
        try:  # the thread starts inside: a Ctrl-C at any point leaves none behind
            self._start()
            seen = interrupts_seen() if self.watch else 0
            while True:
                self._outlet._want()
                try:
                    kind, value, nbytes = self._outlet._queue.get(timeout=WAIT_SLICE)
                except queue.Empty:
                    if self.watch and interrupts_seen() > seen:
                        raise KeyboardInterrupt from None
                    if self.heartbeat:
                        yield None
                    continue
                if kind == "batch":
                    self._outlet._took(nbytes)
                    yield value
                elif kind == "rows":
                    self.rows += value
                    self.bar.update(value)
                elif kind == "total":
                    self.bar.set_total(max(value, self.rows))
                else:  # done
                    finished = True
                    self._join()
                    if value is not None:
                        raise value
                    self.bar.set_total(self.rows)  # the truth, never an estimate
                    return
        except GeneratorExit:  # the consumer has what it wanted (a head(n), the cache)
            self.bar.set_total(self.rows)  # the bar ends at the rows it got, not short
            raise
        finally:
            if not finished:
                self.close()

    def collect(
        self, present: Callable[[list[list[Any]]], F], taken: list[list[Any]] | None = None
    ) -> F:
        """Gather every batch per group and return ``present(parts of each group)``.

        ``taken`` holds parts already received (a resumed drain). See the module docstring
        for failures.
        """
        parts = [list(group) for group in taken] if taken else [[] for _ in range(self.groups)]
        try:
            for batch in self:
                assert batch is not None  # no heartbeat in an eager drain
                parts[batch.group].append(batch.part)
        except NetraError as exc:
            producer = self.producer
            if not (any(parts) or producer.progress_made()):
                raise
            snapshot = producer.snapshot()
            partial = [list(group) for group in parts]
            for batch in producer.rest():
                partial[batch.group].append(batch.part)
            held = [list(group) for group in parts]

            def resume() -> F:
                again = Pipeline(snapshot.snapshot(), groups=self.groups)
                return again.collect(present, held)

            raise drain_error(
                f"the {producer.noun} failed with {producer.missing()} still to fetch ({exc}); "
                "call .resume() on this error to fetch the rest, or use .partial.",
                partial=present(partial),
                resume=resume,
                cause=exc,
            ) from exc
        return present(parts)
