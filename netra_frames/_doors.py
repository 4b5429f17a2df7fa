"""What the frame front doors share: the backend a call answers in, and the empty warning.

:func:`backend_following` lets a Polars input give a Polars answer (the ids of
:func:`~netra_frames.spans_frame` and the usage frames); :func:`warn_empty` is the one
:class:`~netra_frames.EmptyResultWarning` of an empty result over a window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from ._defaults import resolve_backend
from ._warn import warn
from .errors import EmptyResultWarning
from .times import format_time

if TYPE_CHECKING:
    from datetime import datetime

    from .config import Backend

__all__ = ["EMPTY_WINDOW_HINT", "IDS_HINT", "backend_following", "warn_empty", "warn_no_traces"]

IDS_HINT = "ids are case-sensitive: check the spelling and the window"
EMPTY_WINDOW_HINT = (
    "check the window: without start= and end= it is the last 7 days up to now, and data "
    "(such as a local server's) may lie elsewhere"
)


def warn_empty(
    what: str,
    window: tuple[datetime, datetime],
    detail: str = "",
    *,
    hint: str = IDS_HINT,
) -> None:
    """Warn that ``what`` came back empty over ``window``, at the user's line.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     warn_empty("no traces", (now, now))
    >>> str(seen[0].message)
    'no traces in [2026-02-01T00:00:00.000Z, 2026-02-01T00:00:00.000Z); ids are case-sensitive: ...'
    """
    warn(
        f"{what} in [{format_time(window[0])}, {format_time(window[1])}){detail}; {hint}.",
        EmptyResultWarning,
    )


def warn_no_traces(filters: Mapping[str, str], window: tuple[datetime, datetime]) -> None:
    """Warn that a traces listing (any door) found nothing: which filters, which window.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     warn_no_traces({"tenant_id": "Nope"}, (now, now))
    >>> str(seen[0].message)[:39]
    "no traces matched {'tenant_id': 'Nope'}"
    """
    if filters:
        warn_empty(f"no traces matched {dict(filters)}", window)
    else:
        warn_empty("no traces", window, hint=EMPTY_WINDOW_HINT)


def backend_following(given: object, backend: Backend | None) -> Backend:
    """``backend`` if given, else the backend of a frame or Series passed as ids, else the
    default (:func:`netra_frames.set_backend`, ``NETRA_FRAMES_BACKEND``, pandas).

    Examples
    --------
    >>> backend_following(pl.Series(["t1"]), None), backend_following(["t1"], "polars")
    ('polars', 'polars')
    """
    if backend is None:
        if isinstance(given, pl.DataFrame | pl.Series):
            return "polars"
        kind = type(given)
        if kind.__module__.startswith("pandas.") and kind.__name__ in ("DataFrame", "Series"):
            return "pandas"
    return resolve_backend(backend)
