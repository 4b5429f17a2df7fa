"""The one traces drain every answer starts from, and the keywords it takes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ..frames import traces_frame
from ..query import TraceFilters

if TYPE_CHECKING:
    from ..cache import CacheLike
    from ..client import NetraClient
    from ..times import TimeLike

__all__ = ["DrainOptions", "traces_of"]


class DrainOptions(TraceFilters, total=False):
    """The keywords of the answers besides ``backend`` (for their overloads)."""

    progress: bool | None
    client: NetraClient | None
    cache: CacheLike


def traces_of(
    start: TimeLike | None,
    end: TimeLike | None,
    progress: bool | None,
    client: NetraClient | None,
    cache: CacheLike,
    filters: TraceFilters,
) -> pl.DataFrame:
    """Drain the traces of the window through :func:`traces_frame`, as Polars.

    Examples
    --------
    >>> traces_of("2026-01-31", "2026-02-01", False, client, None, {}).height  # doctest: +SKIP
    """
    return traces_frame(
        start, end, backend="polars", progress=progress, client=client, cache=cache, **filters
    )
