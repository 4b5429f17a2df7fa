"""The one traces drain every answer starts from, the keywords it takes, and frames given instead.

An answer checks its window and filters as :func:`~netra_frames.traces_frame` does, before
any request (:func:`asked`), then drains the traces (:func:`traces_of`), or takes frames the
caller fetched already, once checked to be frames of that window and those filters
(:func:`given_traces`, :func:`given_spans`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .._wire.convert import as_polars
from ..config import DEFAULT_PAGE_SIZE
from ..errors import InvalidParameterError
from ..frames import traces_frame
from ..query import TraceFilters, TraceQuery
from ..schema import SPANS, TRACES, Column, polars_schema
from ..times import format_time

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..cache import CacheLike
    from ..client import NetraClient
    from ..times import TimeLike

__all__ = ["DrainOptions", "asked", "given_spans", "given_traces", "traces_of"]


class DrainOptions(TraceFilters, total=False):
    """The keywords of the answers besides ``backend`` (for their overloads)."""

    progress: bool | None
    client: NetraClient | None
    cache: CacheLike


def asked(
    start: TimeLike | None, end: TimeLike | None, filters: Mapping[str, object]
) -> TraceQuery:
    """Return the window and filters of an answer, checked as :func:`traces_frame` checks them.

    Raises
    ------
    InvalidParameterError
        For a bad window or filter, before any request.

    Examples
    --------
    >>> q = asked("2026-01-01", "2026-02-01", {"tenant_id": "AceTech", "user_id": None})
    >>> q.start.month, q.end.month, dict(q.filters)
    (1, 2, {'tenant_id': 'AceTech'})
    """
    return TraceQuery.for_frames(start, end, filters, page_size=DEFAULT_PAGE_SIZE)


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


def given_traces(frame: object, query: TraceQuery, name: str = "traces") -> pl.DataFrame:
    """Return a traces frame the caller fetched, as Polars, once checked to be of ``query``.

    Every row must start in the window and carry the filters' values (what
    :func:`traces_frame` with the same window and filters returns).

    Raises
    ------
    InvalidParameterError
        Naming the keyword ``name``: not a frame, a traces column missing, or rows outside
        the window or the filters.

    Examples
    --------
    >>> q = asked("2026-01-01", "2026-02-01", {"tenant_id": "AceTech"})
    >>> t = nf.traces_frame(q.start, q.end, tenant_id="AceTech", client=client)
    >>> given_traces(t, q).height == len(t)
    True
    """
    traces = _typed(frame, TRACES, name, "traces_frame")
    inside = pl.col("start_time").is_between(query.start, query.end, closed="left")
    for field, value in query.filters.items():
        inside &= pl.col(field) == value
    outside = traces.height - traces.filter(inside).height
    if outside:
        filters = f" and filters {dict(query.filters)}" if query.filters else ""
        raise InvalidParameterError(
            f"{name}= has {outside} trace(s) outside the window [{format_time(query.start)}, "
            f"{format_time(query.end)}){filters}: pass the traces_frame of the same start, "
            "end and filters."
        )
    return traces


def given_spans(frame: object, traces: pl.DataFrame, name: str = "spans") -> pl.DataFrame:
    """Return a spans frame the caller fetched, as Polars, once checked to be of ``traces``.

    Raises
    ------
    InvalidParameterError
        Naming the keyword ``name``: not a frame, a spans column missing, or spans of a
        trace that is not in ``traces``.

    Examples
    --------
    >>> t = nf.traces_frame("2026-01-30", "2026-02-01", max_rows=5, backend="polars",
    ...                     client=client)
    >>> given_spans(nf.spans_frame(t, client=client), t)["trace_id"].n_unique()
    5
    """
    spans = _typed(frame, SPANS, name, "spans_frame")
    strangers = spans.filter(~pl.col("trace_id").is_in(traces["trace_id"].implode()))
    if strangers.height:
        count = strangers["trace_id"].n_unique()
        raise InvalidParameterError(
            f"{name}= has spans of {count} trace(s) not in traces= (such as "
            f"{strangers['trace_id'][0]!r}): pass the spans_frame of those traces."
        )
    return spans


def _typed(frame: object, columns: Sequence[Column], name: str, door: str) -> pl.DataFrame:
    """``frame`` as Polars with the declared ``columns`` (in order), or a clear error."""
    try:
        polars = as_polars(frame)
    except InvalidParameterError:
        raise InvalidParameterError(
            f"{name}= must be a pandas or Polars frame from {door}, got {type(frame).__name__}."
        ) from None
    missing = [c.name for c in columns if c.name not in polars.columns]
    if missing:
        raise InvalidParameterError(
            f"{name}= lacks the column(s) {', '.join(missing)}: pass the frame {door} returned."
        )
    schema = polars_schema(columns)
    try:
        return polars.select([pl.col(c).cast(dtype) for c, dtype in schema.items()])
    except pl.exceptions.PolarsError as exc:
        raise InvalidParameterError(
            f"{name}= has a column of another type than {door} gives ({exc}): pass the frame "
            f"{door} returned."
        ) from exc
