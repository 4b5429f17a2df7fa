"""Progress bars that can never make a read fail.

One bar per frame call, drawn with ``tqdm.auto`` and updated once per page (or per
finished trace / id). ``progress=None`` draws only when stderr is a terminal or the code
runs in a notebook; ``False`` never draws. Every tqdm call is guarded: a failing bar is
logged and switched off, the read goes on.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["Progress", "want_progress"]

logger = logging.getLogger("netra_frames")


def want_progress(progress: bool | None) -> bool:
    """Resolve ``progress=``: ``None`` means "stderr is a TTY or a notebook kernel is loaded".

    Examples
    --------
    >>> want_progress(False)
    False
    """
    if progress is not None:
        return bool(progress)
    if "ipykernel" in sys.modules:
        return True
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


def _bar_class() -> Any:
    """``tqdm.auto``'s bar, without its ``TqdmWarning: IProgress not found`` in a notebook
    without ipywidgets: there the text bar ``tqdm.auto`` falls back to, silently."""
    if "ipykernel.zmqshell" in sys.modules:
        from tqdm import notebook

        if getattr(notebook, "IProgress", True) is None:  # what tqdm.auto checks
            from tqdm.std import tqdm as text_bar

            return text_bar
    from tqdm.auto import tqdm as auto_bar

    return auto_bar


class Progress:
    """A guarded tqdm bar; a no-op when disabled or after any tqdm failure.

    Parameters
    ----------
    enabled:
        Whether to draw at all.
    desc:
        Short label, e.g. ``"traces"`` (never anything secret).
    unit:
        What is counted (``"rows"``, ``"traces"``, ``"ids"``), shown after a space.
    total:
        Expected count, when known.

    Examples
    --------
    >>> with Progress(False, "traces", "row") as bar:
    ...     bar.update(100)
    """

    def __init__(self, enabled: bool, desc: str, unit: str, total: int | None = None) -> None:
        self._bar: Any = None
        if not enabled:
            return
        try:
            self._bar = _bar_class()(
                total=total, desc=f"netra_frames: {desc}", unit=f" {unit}", leave=False
            )
        except Exception:  # a bar must never fail a read
            logger.debug("netra_frames: progress bar disabled", exc_info=True)
            self._bar = None

    def update(self, n: int) -> None:
        """Advance the bar by ``n``."""
        if self._bar is None:
            return
        try:
            self._bar.update(n)
        except Exception:
            logger.debug("netra_frames: progress bar disabled", exc_info=True)
            self._bar = None

    def set_total(self, total: int | None) -> None:
        """Change the expected count (an estimate that firms up as the drain goes)."""
        if self._bar is None:
            return
        try:
            self._bar.total = total
            self._bar.refresh()
        except Exception:
            logger.debug("netra_frames: progress bar disabled", exc_info=True)
            self._bar = None

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is None:
            return
        try:
            self._bar.close()
        except Exception:
            logger.debug("netra_frames: progress bar failed to close", exc_info=True)
        self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
