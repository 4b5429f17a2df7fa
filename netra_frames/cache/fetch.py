"""The cache's front: the settings of one call, and the engine behind its two fetches.

The only module of :mod:`netra_frames.cache` that touches the engine: the days
(:mod:`.slices`) and packs (:mod:`.packs`) ask for what is missing through a
:class:`~.slices.WindowStream` and a :class:`~.packs.SpansFetcher`, built here on the
engine's pipeline; the front doors (``traces_frame``, ``spans_frame``,
``scan_traces``) call the three ``cached_*`` functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pandas as pd
import polars as pl

from .._engine import SHARDABLE_SORT_FIELDS, drain_spans, merge_by_sort, traces_pipeline
from .._progress import Progress
from .._wire.convert import to_backend
from ..config import Backend
from ..errors import NetraError, drain_error
from ..query import SpanQuery, TraceQuery
from .days import concat_parts
from .entries import Scope
from .packs import SpansFetcher, pack_frames, trace_ends
from .settings import CacheLike, CacheSettings, SettleLike, resolve_cache
from .slices import StreamBatch, WindowStream, slice_frames

if TYPE_CHECKING:
    from ..client import NetraClient
    from ..transport import Transport

__all__ = [
    "cached_spans_frame",
    "cached_trace_frames",
    "cached_traces_frame",
    "settings_for",
    "spans_fetcher",
    "window_stream",
]

logger = logging.getLogger("netra_frames")


def settings_for(
    cache: CacheLike, settle: SettleLike, refresh: object, *, sort_field: str | None = None
) -> CacheSettings | None:
    """The cache settings of one call, or ``None`` to run it uncached.

    ``None`` when the cache is off, or for a traces sort field whose days cannot be put
    together exactly (not a frame column: such a call is never cached; the same fields
    as the engine can shard by).

    Raises
    ------
    InvalidParameterError
        For a bad ``cache``, ``settle`` or ``refresh``.

    Examples
    --------
    >>> settings_for(tmp, "2h", False).settle
    datetime.timedelta(seconds=7200)
    >>> settings_for(False, None, False) is None
    True
    """
    settings = resolve_cache(cache, settle, refresh)
    if settings is not None and sort_field is not None and sort_field not in SHARDABLE_SORT_FIELDS:
        logger.debug("netra_frames: sort_field=%r is not cached", sort_field)
        return None
    return settings


def _merged(parts: list[pl.DataFrame], query: TraceQuery) -> pl.DataFrame:
    """The frame of a whole window from its parts: in order, or merged by the sort."""
    frame = concat_parts(parts)
    if query.sort_field == "start_time" or sum(1 for p in parts if p.height) <= 1:
        return frame
    return merge_by_sort(frame, str(query.sort_field), str(query.sort_order))


def cached_traces_frame(
    client: NetraClient,
    query: TraceQuery,
    *,
    max_rows: int | None,
    workers: int,
    settings: CacheSettings,
    backend: Backend,
    bar: Progress | None = None,
    now: datetime | None = None,
) -> pd.DataFrame | pl.DataFrame:
    """``traces_frame`` with the cache on (the arguments are already validated).

    Exactly the rows, order and dtypes of the uncached drain. ``now``: the current time
    (tests pass a fixed one); default: the clock. A failure after rows came in is a
    :class:`~netra_frames.DrainError` whose ``resume()`` runs the call again (the days
    stored meanwhile are read from disk then).

    Examples
    --------
    >>> frame = cached_traces_frame(client, query, max_rows=None, workers=4,
    ...                             settings=settings, backend="polars")
    >>> frame.columns[0]  # doctest: +SKIP
    'trace_id'
    """
    scope = Scope.of(client)

    def run() -> pd.DataFrame | pl.DataFrame:
        moment = now or datetime.now(timezone.utc)
        stream = _Counted(window_stream(client.transport, workers, bar, max_rows=max_rows))
        try:
            parts = list(slice_frames(query, settings, scope, stream, now=moment,
                                      max_rows=max_rows))  # fmt: skip
        except NetraError as exc:
            if not stream.rows:
                raise
            raise drain_error(
                f"a cached traces drain failed ({exc}); the days completed before are "
                "stored; call .resume() to run it again.",
                partial=to_backend(concat_parts([]), backend),
                resume=run,
                cause=exc,
            ) from exc
        frame = _merged(parts, query)
        return to_backend(frame if max_rows is None else frame.head(max_rows), backend)

    return run()


class _Counted:
    """A window stream that counts the rows it brought (did a failed drain get anywhere?)."""

    def __init__(self, stream: WindowStream) -> None:
        self.stream, self.rows = stream, 0

    def __call__(
        self, query: TraceQuery, windows: Sequence[tuple[datetime, datetime]]
    ) -> Iterator[StreamBatch]:
        for batch in self.stream(query, windows):
            self.rows += batch.part.height if batch.part is not None else 0
            yield batch


def cached_trace_frames(
    client: NetraClient,
    query: TraceQuery,
    settings: CacheSettings,
    max_rows: int | None,
    workers: int,
    *,
    budget: int | None = None,
    bar: Progress | None = None,
) -> Iterator[pl.DataFrame]:
    """The frames of a lazy scan's query, in order, with the cache on (the days fetched are
    drained with ``budget`` and watch for Ctrl-C from the scan's thread)."""
    stream = window_stream(
        client.transport, workers, bar, max_rows=max_rows, budget=budget, watch=True
    )
    now = datetime.now(timezone.utc)
    parts = slice_frames(query, settings, Scope.of(client), stream, now=now, max_rows=max_rows)
    if query.sort_field == "start_time":
        yield from parts
    else:
        yield _merged(list(parts), query)


def cached_spans_frame(
    client: NetraClient,
    ids: Sequence[str],
    source: object,
    *,
    template: SpanQuery,
    workers: int,
    settings: CacheSettings,
    bar: Progress | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """``spans_frame`` with the cache on (Polars; ``source`` is what the caller passed:
    a traces frame gives the traces' ends).

    Examples
    --------
    >>> spans = cached_spans_frame(client, ids, ids, template=template, workers=4,
    ...                            settings=settings)
    >>> spans["trace_id"].unique(maintain_order=True).to_list() == ids  # doctest: +SKIP
    True
    """
    return pack_frames(
        list(ids),
        trace_ends(source),
        settings,
        Scope.of(client),
        spans_fetcher(client.transport, template, workers, bar),
        span_name=template.span_name,
        now=now or datetime.now(timezone.utc),
    )


# -- the engine behind the two fetch interfaces -------------------------------------------


def window_stream(
    transport: Transport,
    workers: int,
    bar: Progress | None = None,
    *,
    max_rows: int | None = None,
    budget: int | None = None,
    watch: bool = False,
) -> WindowStream:
    """Stream windows with the engine's pipeline: each window a result group, in order.

    Each window starts as one walk; idle workers split the walks of time-ordered listings
    (adaptive sharding), so one busy day drains as fast as many quiet ones. With
    ``max_rows`` the windows are walked one after the other and each page comes as it is
    fetched, so the caller stops after at most one request more than it needs.
    """

    def stream(
        query: TraceQuery, windows: Sequence[tuple[datetime, datetime]]
    ) -> Iterator[StreamBatch]:
        pipe = traces_pipeline(
            transport, query, list(windows), backend="polars", workers=workers, bar=bar,
            budget=budget, watch=watch, one_at_a_time=max_rows is not None,
        )  # fmt: skip
        for batch in pipe:
            assert batch is not None  # no heartbeat asked
            yield batch

    return stream


def spans_fetcher(
    transport: Transport, template: SpanQuery, workers: int, bar: Progress | None = None
) -> SpansFetcher:
    """Fetch spans with the engine (the traces' pages concurrently, in input order)."""

    def fetch(trace_ids: Sequence[str]) -> pl.DataFrame:
        frame: pl.DataFrame = drain_spans(
            transport, template, trace_ids, backend="polars", workers=workers, bar=bar
        )
        return frame

    return fetch
