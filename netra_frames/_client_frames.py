"""Frame-building methods of ``NetraClient`` (``client.traces_frame(...)`` and friends)."""

from __future__ import annotations

__all__ = ["FrameMethods"]


class FrameMethods:
    """Mixin that gives ``NetraClient`` the frame builders as methods."""
