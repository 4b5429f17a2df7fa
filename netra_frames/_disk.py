"""What a write to disk can meet: the seam of injected faults, and a failure said plainly.

* :func:`inject_fault`: every step of a write (:data:`WRITE_STEPS`) that
  :mod:`netra_frames._atomic` takes passes :func:`reach`, so a test can make any step
  fail as a full disk, a read-only file system or a missing permission would, where no
  small file system can be mounted. Nothing is armed outside tests: the check is one
  truthiness test of an empty list.
* :func:`disk_errno` finds the ``errno`` behind a failure (Polars spells it in its
  message); :func:`write_error` turns it into a :class:`~netra_frames.WriteError` naming
  the user's path (never a temporary file) and what to do; :func:`free_space` and
  :func:`human_size` say how much room there is.

Examples
--------
>>> human_size(free_space(Path("."))) != ""
True
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from .errors import WriteError

__all__ = [
    "WRITE_STEPS",
    "InjectedFault",
    "WriteStep",
    "disk_errno",
    "free_space",
    "human_size",
    "inject_fault",
    "reach",
    "write_error",
]

WriteStep = Literal["mkdir", "open", "write", "flush", "fsync", "rename", "marker", "fsync_dir"]
WRITE_STEPS: tuple[WriteStep, ...] = (
    "mkdir",
    "open",
    "write",
    "flush",
    "fsync",
    "rename",
    "marker",
    "fsync_dir",
)
"""Every step of a write, in order: a folder made, a temporary file opened, written, flushed
and ``fsync``-ed, renamed into place, a folder's marker, the folder ``fsync``-ed."""

_OS_ERROR = re.compile(r"os error (\d+)")
"""How Polars (Rust) spells an operating system error it turns into its own exception."""


class InjectedFault:
    """One fault armed by :func:`inject_fault`; ``raised`` counts the errors it raised."""

    def __init__(self, step: WriteStep, error: int, under: str, after: int, times: int | None):
        self.step, self.error, self.under = step, error, under
        self.after, self.times = after, times
        self.seen = 0
        self.raised = 0

    def _hit(self, step: str, path: str) -> bool:
        if step != self.step or not (path == self.under or path.startswith(self.under + os.sep)):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.raised >= self.times):
            return False
        self.raised += 1
        return True


_faults: list[InjectedFault] = []
_faults_lock = threading.Lock()


@contextmanager
def inject_fault(
    step: WriteStep,
    error: int,
    *,
    under: str | os.PathLike[str],
    after: int = 0,
    times: int | None = None,
) -> Iterator[InjectedFault]:
    """Make the write step ``step`` of files and folders under ``under`` raise ``OSError(error)``.

    The test seam of disk failures (a full disk, a read-only file system, no permission)
    where a small file system cannot be mounted: every step of :data:`WRITE_STEPS` that
    this module's writers take passes it, so the same code runs as with a real failure.
    Only paths under ``under`` fail, so other tests and threads are not touched.

    Parameters
    ----------
    step:
        One of :data:`WRITE_STEPS`.
    error:
        The ``errno`` raised (``errno.ENOSPC``, ``errno.EROFS``, ...).
    under:
        A folder: only writes of paths inside it fail.
    after:
        Let this many matching steps pass first (a disk that fills up part way).
    times:
        Raise at most this many times (default: every time after ``after``, as a full
        disk does).

    Examples
    --------
    >>> with inject_fault("flush", errno.ENOSPC, under="out") as fault:
    ...     try:
    ...         reach("flush", "out/.x.0a1b2c3d.tmp")  # what a write of out/x passes
    ...     except OSError as exc:
    ...         print(exc.strerror, fault.raised)
    No space left on device 1
    """
    if step not in WRITE_STEPS:
        raise ValueError(f"step must be one of {', '.join(WRITE_STEPS)}, got {step!r}")
    fault = InjectedFault(step, error, os.path.abspath(under), after, times)
    with _faults_lock:
        _faults.append(fault)
    try:
        yield fault
    finally:
        with _faults_lock:
            _faults.remove(fault)


def reach(step: WriteStep, path: str | os.PathLike[str]) -> None:
    """Pass the seam of ``step`` on ``path``: raise the fault armed for it, if any."""
    if not _faults:  # the fast path: nothing armed
        return
    where = os.path.abspath(path)
    with _faults_lock:
        hit = next((f for f in _faults if f._hit(step, where)), None)
    if hit is not None:
        raise OSError(hit.error, os.strerror(hit.error), where)


# -- a failure said plainly --------------------------------------------------------------


def disk_errno(exc: BaseException) -> int | None:
    """The operating system error number behind ``exc`` (or its causes), if any.

    Polars reports a failed write as its own exception (or an ``OSError`` without
    ``errno``) whose message ends in ``(os error 28)``: that number counts too.

    Examples
    --------
    >>> disk_errno(OSError(28, "No space left on device")), disk_errno(ValueError("x"))
    (28, None)
    >>> disk_errno(RuntimeError("parquet: underlying IO error: ... (os error 30)"))
    30
    """
    seen: set[int] = set()
    probe: BaseException | None = exc
    while probe is not None and id(probe) not in seen:
        seen.add(id(probe))
        if isinstance(probe, OSError) and isinstance(probe.errno, int):
            return probe.errno
        found = _OS_ERROR.search(str(probe))
        if found:
            return int(found.group(1))
        probe = probe.__cause__ or probe.__context__
    return None


def human_size(n: float) -> str:
    """A byte count as people read it: ``512 B``, ``1.2 kB``, ``3.4 MB`` (powers of 1000).

    Examples
    --------
    >>> human_size(999), human_size(1234), human_size(56_700_000)
    ('999 B', '1.2 kB', '56.7 MB')
    """
    if n < 1000:
        return f"{int(n)} B"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def free_space(path: Path) -> int | None:
    """Bytes free for this user on the file system of ``path`` (or its nearest ancestor)."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


_ADVICE = {
    errno.ENOSPC: "free some space there, or write to another disk",
    errno.EDQUOT: "your disk quota is used up: free some of it, or write to another disk",
    errno.EROFS: "the file system is read-only: write somewhere else",
    errno.EACCES: "you may not write there: choose a folder you can write to",
    errno.EPERM: "you may not write there: choose a folder you can write to",
}


def write_error(target: Path, exc: BaseException, detail: str = "") -> WriteError:
    """The :class:`~netra_frames.WriteError` of a failed write of ``target``: what failed,
    at the user's path (never a temporary name), and what to do.

    ``detail`` replaces the generic advice of a full disk (an estimate of the space needed).

    Examples
    --------
    >>> error = write_error(Path("/r/x.csv"), OSError(30, "Read-only file system", "/r/.x.tmp"))
    >>> print(error)
    cannot write /r/x.csv: Read-only file system; the file system is read-only: write ...
    """
    code = disk_errno(exc)
    reason = os.strerror(code) if code is not None else str(exc).rstrip(".")
    advice = _ADVICE.get(code or 0, "check the path and try again")
    if code in (errno.ENOSPC, errno.EDQUOT):
        free = free_space(target)
        if detail:
            advice = detail
        elif free is not None:
            advice += f" ({human_size(free)} free there)"
    return WriteError(f"cannot write {target}: {reason}; {advice}.", errno=code, path=str(target))
