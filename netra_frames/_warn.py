"""Warnings that point at the caller's line, not at this package.

Every warning netra_frames raises goes through :func:`warn`, which attributes it to the
first frame outside the package: the user's line in a script or a notebook cell. Python
shows a warning once per location, so two calls on two lines (``sessions_frame(...)`` then
``usage_frame(...)`` with the same misspelled tenant) each show their warning, where a
location inside the package would have shown it once for all of them.

On Python 3.12 and later this is ``warnings.warn(..., skip_file_prefixes=...)``; on 3.10
and 3.11 the same frame is found by walking the stack. A warning raised in one of our
worker threads (a damaged cache entry read by the cache's readers) has no user frame of
its own: it points at the line of the thread that called into the package and waits for
the workers (the main thread's when it is one of them). One raised on a thread a library
runs our code on (a Polars scan's source, while ``collect()`` waits) points at the main
thread's line that called that library.

Examples
--------
>>> import warnings
>>> with warnings.catch_warnings(record=True) as seen:
...     warnings.simplefilter("always")
...     warn("nothing matched", UserWarning)
>>> seen[0].filename.startswith(PACKAGE_DIR)
False
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["PACKAGE_DIR", "warn"]

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
"""The package's folder (with a trailing separator): frames of files under it are skipped."""

_THREAD_STARTS = frozenset({"threading", "concurrent.futures.thread", "socketserver"})
"""Modules whose frames start a thread's work (a worker's, a local server handler's): the
first frame outside the package in such a thread is no caller's line."""


def warn(message: str, category: type[Warning]) -> None:
    """Issue ``category(message)`` at the first frame outside netra_frames.

    Examples
    --------
    >>> warn("no traces in [...)", UserWarning)  # doctest: +SKIP
    """
    frame, level = _outside(sys._getframe(1))
    if frame is None or _starts_thread(frame):  # a worker's, or a thread a library runs
        caller = _caller_in_other_thread()
        if caller is not None:
            _warn_at(caller, message, category)
            return
    if sys.version_info >= (3, 12):
        warnings.warn(message, category, stacklevel=2, skip_file_prefixes=_prefixes())
    else:
        warnings.warn(message, category, stacklevel=level + 1)


def _prefixes() -> tuple[str, ...]:
    """The folders whose frames are skipped: the package's, and those of the libraries that
    run our code while the caller waits in them (:data:`_RUNNERS`, when loaded)."""
    folders = [PACKAGE_DIR]
    for name in _RUNNERS:
        module = sys.modules.get(name)
        where = getattr(module, "__file__", None)
        if where:
            folders.append(os.path.dirname(os.path.abspath(where)) + os.sep)
    return tuple(folders)


def _inside(frame: FrameType) -> bool:
    return frame.f_code.co_filename.startswith(_prefixes())


def _starts_thread(frame: FrameType) -> bool:
    return frame.f_globals.get("__name__") in _THREAD_STARTS


def _outside(frame: FrameType | None) -> tuple[FrameType | None, int]:
    """The first frame from ``frame`` up that is outside the package, and how far up it is
    (``frame`` itself is 1, as ``stacklevel`` counts)."""
    level = 1
    while frame is not None and _inside(frame):
        frame = frame.f_back
        level += 1
    return frame, level


def _caller_in_other_thread() -> FrameType | None:
    """The frame that called into the package in another thread (the main thread first):
    the caller of that thread's outermost frame of the package, unless it starts a thread."""
    here = threading.get_ident()
    main = threading.main_thread().ident
    stacks = sorted(sys._current_frames().items(), key=lambda item: item[0] != main)
    for ident, top in stacks:
        if ident == here:
            continue
        caller: FrameType | None = None
        frame: FrameType | None = top
        while frame is not None:
            if _inside(frame):
                caller = frame.f_back
            frame = frame.f_back
        if caller is not None and not _starts_thread(caller):
            return caller
    return _waiting_in_library(main)


_RUNNERS = ("polars",)
"""Libraries that run our code on threads of their own while the caller waits in them (a
Polars scan's source runs on a Polars thread while ``collect()`` waits in Rust)."""


def _waiting_in_library(main: int | None) -> FrameType | None:
    """The main thread's line that called into a library running our code (see
    :data:`_RUNNERS`), or ``None`` when it is not waiting in one."""
    top = sys._current_frames().get(main) if main is not None else None
    frame, waiting = top, False
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if name.split(".")[0] in _RUNNERS:
            waiting = True
        elif waiting:
            return frame
        frame = frame.f_back
    return None


def _warn_at(frame: FrameType, message: str, category: type[Warning]) -> None:
    """Issue the warning at ``frame`` of another thread, as ``warnings.warn`` would there."""
    module_globals = frame.f_globals
    warnings.warn_explicit(
        message,
        category,
        frame.f_code.co_filename,
        frame.f_lineno,
        module_globals.get("__name__", "<string>"),
        module_globals.setdefault("__warningregistry__", {}),
        module_globals,
    )
