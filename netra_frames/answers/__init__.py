"""Answers built on the front doors: span trees, sessions, usage rollups and the cost report.

Each answer drains through :mod:`netra_frames.frames` (so the cache and the engine are the
same as for ``traces_frame`` and ``spans_frame``) and computes on the frames it got.
"""

from __future__ import annotations

from .report import Report, report
from .sessions import sessions_frame
from .tree import span_tree
from .usage import usage_frame

__all__ = ["Report", "report", "sessions_frame", "span_tree", "usage_frame"]
