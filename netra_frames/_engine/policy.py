"""The drain policy, written once: what happens when a drain fails or is interrupted.

A :class:`Drain` is the state of one multi-request drain (walk cursors, finished keys,
batches). :meth:`Drain.run` runs it on a :class:`~.pool.Workers` pool with its own
:class:`~netra_frames._cancel.CancelScope`, and:

* on success returns the result;
* on Ctrl-C (or any error that is not ours) cancels every worker (their waits wake,
  their in-flight requests are cut) and re-raises within about a second;
* on one of our errors after some progress raises a :class:`~netra_frames.DrainError`
  that keeps the cause's class (``except NotFoundError`` still works), with ``.partial``
  (what was fetched, in result order) and ``.resume()``, which continues from a snapshot
  taken at the failure (only what is missing is fetched) and returns exactly the result
  an uninterrupted drain would have; before any progress the original error is raised
  unchanged.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from .._cancel import CancelScope
from ..errors import NetraError, drain_error
from .pool import Workers

__all__ = ["Drain"]

logger = logging.getLogger("netra_frames")

F = TypeVar("F")
K = TypeVar("K")


class Drain(ABC, Generic[K, F]):
    """One resumable drain; subclasses say how to run, snapshot and show partial results."""

    workers: int = 1
    noun: str = "drain"

    @abstractmethod
    def _run(self, pool: Workers[K]) -> F:
        """Fetch everything still missing, updating the state in place; build the result."""

    @abstractmethod
    def _progress_made(self) -> bool:
        """Whether anything was fetched (a failure before that raises the cause as is)."""

    @abstractmethod
    def _snapshot(self) -> Drain[K, F]:
        """An independent copy of the state, for ``resume()``."""

    @abstractmethod
    def _partial(self) -> Any:
        """The rows fetched so far, as the requested frame, in result order."""

    @abstractmethod
    def _missing(self) -> str:
        """What is left to fetch, for the error message (e.g. '3 of 200 traces')."""

    def quiet(self) -> None:
        """Stop reporting progress (a resumed drain draws no bar)."""

    def run(self) -> F:
        """Run the drain; see the module docstring for failures."""
        scope = CancelScope()
        try:
            with Workers[K](self.workers, scope) as pool:
                return self._run(pool)
        except NetraError as exc:
            if not self._progress_made():
                raise
            snapshot = self._snapshot()
            snapshot.quiet()
            raise drain_error(
                f"the {self.noun} failed with {self._missing()} still to fetch ({exc}); call "
                ".resume() on this error to fetch the rest, or use .partial.",
                partial=self._partial(),
                resume=lambda: snapshot._snapshot().run(),
                cause=exc,
            ) from exc
