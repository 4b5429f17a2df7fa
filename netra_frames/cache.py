"""A local cache of traces and spans that refetches only what can still change.

Turn it on per call (``cache=True`` for the platform's user cache directory, or a
directory), for every call (``nf.configure(cache=...)``, which calls
:func:`set_default_cache`) or from the environment (``NETRA_FRAMES_CACHE=DIR``). It is off
unless asked for.

* **What is final.** A UTC day of a traces query is final once it ended more than
  ``settle`` ago (default 1 hour; ``settle=`` per call, in ``configure`` or
  ``NETRA_FRAMES_SETTLE``). A final day is fetched once, whole, stored, and read from disk
  after that; the part of a window after the last final day is always fetched. The spans
  of a trace are final once the trace ended more than ``settle`` ago. See
  :mod:`netra_frames._cache_slices` and :mod:`netra_frames._cache_packs`.
* **What keys it.** The base URL, a fingerprint of the API key and extra headers (a
  keyed BLAKE2b, never the key), the filters and the sort (spans: the ``span_name``).
  Results never cross keys or servers; windows of the same query share their days.
* **Equal to a drain.** A cached answer has the rows, order and dtypes of the uncached
  drain.
* **On disk.** The layout and markers of :mod:`netra_frames._store` (the same as
  :func:`~netra_frames.export_traces`): ``DIR/traces/<query>/date=YYYY-MM-DD/`` and
  ``DIR/spans/<query>/pack=<id>/``, folders of mode 0700, files written atomically and
  checked (size and BLAKE2b) on every read; a damaged file is reported once as a
  :class:`~netra_frames.CacheWarning` and fetched again, never returned.
* **Known limit.** A server that backfills a day already final is not seen until
  ``refresh=True`` or a longer ``settle``.

Examples
--------
>>> df = nf.traces_frame("2026-01-01", "2026-02-01", cache=True, client=client)
>>> again = nf.traces_frame("2026-01-01", "2026-02-01", cache=True, client=client)  # from disk
>>> nf.cache_info().trace_slices
31
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
import polars as pl

from ._cache_admin import CacheInfo, cache_clear, cache_info
from ._cache_base import (
    DEFAULT_SETTLE,
    ENV_CACHE,
    ENV_SETTLE,
    CacheLike,
    CacheSettings,
    SettleLike,
    default_cache_dir,
    key_fingerprint,
    parse_duration,
    prepare_dir,
    public_url,
    query_id,
    resolve_cache,
    set_default_cache,
)
from ._cache_packs import pack_frames, trace_ends
from ._cache_slices import (
    CACHEABLE_SORT_FIELDS,
    TraceQueryLike,
    merge_parts,
    slice_frames,
)
from ._cancel import CancelScope
from ._engine.batch import Batcher, polars_sink
from ._engine.drains import KeyedDrain, PageCollector, drain_traces, spans_of
from ._progress import Progress
from ._wire.convert import to_backend
from ._wire.decode import finish
from .config import Backend
from .errors import DrainError, drain_error
from .query import SpanQuery, TraceQuery
from .schema import SPANS, TRACES

if TYPE_CHECKING:
    from .client import NetraClient
    from .transport import Transport

__all__ = [
    "CacheInfo",
    "CacheLike",
    "CacheSettings",
    "DEFAULT_SETTLE",
    "ENV_CACHE",
    "ENV_SETTLE",
    "Scope",
    "SettleLike",
    "SpansFetcher",
    "TraceQueryLike",
    "WindowFetcher",
    "cache_clear",
    "cache_info",
    "cached_spans",
    "cached_spans_frame",
    "cached_trace_frames",
    "cached_traces",
    "cached_traces_frame",
    "default_cache_dir",
    "iter_cached_traces",
    "parse_duration",
    "set_default_cache",
    "settings_for",
    "spans_fetcher",
    "window_fetcher",
]

logger = logging.getLogger("netra_frames")


# -- what the cache asks of the engine ---------------------------------------------------


class WindowFetcher(Protocol):
    """Drain windows of one traces query (what the cache asks of the engine).

    Drain each half-open window ``[lo, hi)`` of ``query`` (same filters, sort_field,
    sort_order, page_size; its own start/end ignored) and return one Polars frame per
    window, in the order given, each with exactly the rows and row order an uncached
    ``traces_frame(lo, hi, backend="polars", ...)`` would return (TRACES columns +
    unknown extras). The windows are fetched concurrently by the engine.
    """

    def __call__(
        self, query: TraceQueryLike, windows: Sequence[tuple[datetime, datetime]]
    ) -> list[pl.DataFrame]: ...


class SpansFetcher(Protocol):
    """Fetch the spans of traces (input order, then API order), as ``spans_frame`` does."""

    def __call__(
        self, trace_ids: Sequence[str], span_name: str | None, page_size: int
    ) -> pl.DataFrame: ...


@dataclass(frozen=True)
class Scope:
    """Whose data: the server's base URL and the fingerprint of the API key and headers."""

    base_url: str
    fingerprint: str

    @classmethod
    def of(cls, client: NetraClient) -> Scope:
        """The scope of a client's requests."""
        settings = client.settings
        return cls(settings.base_url, key_fingerprint(settings.api_key, settings.headers))


def settings_for(
    cache: CacheLike, settle: SettleLike, refresh: object, *, sort_field: str | None = None
) -> CacheSettings | None:
    """The cache settings of one call, or ``None`` to run it uncached.

    ``None`` when the cache is off, or for a traces sort field whose days cannot be put
    together exactly (not a frame column: such a call is never cached).

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
    if settings is not None and sort_field is not None and sort_field not in CACHEABLE_SORT_FIELDS:
        logger.debug("netra_frames: sort_field=%r is not cached", sort_field)
        return None
    return settings


def _describe(kind: str, scope: Scope, **parts: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "base_url": public_url(scope.base_url),
        "key": scope.fingerprint,
        **parts,
    }


def _traces_folder(
    settings: CacheSettings, scope: Scope, query: TraceQueryLike
) -> tuple[Path, str, bool]:
    about = _describe(
        "traces",
        scope,
        filters=dict(sorted(query.filters.items())),
        sort=[query.sort_field, query.sort_order],
    )
    qid = query_id({**about, "base_url": scope.base_url})
    folder = settings.root / "traces" / qid
    return folder, qid, prepare_dir(settings.root, folder, about)


def iter_cached_traces(
    query: TraceQueryLike,
    settings: CacheSettings,
    scope: Scope,
    fetch: WindowFetcher,
    *,
    max_rows: int | None = None,
    now: datetime | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield the rows of ``query`` in order, part by part (see :func:`slice_frames`).

    Examples
    --------
    >>> frames = iter_cached_traces(query, settings, Scope.of(client), fetcher)
    >>> sum(f.height for f in frames) > 0
    True
    """
    folder, qid, usable = _traces_folder(settings, scope, query)
    moment = now or datetime.now(timezone.utc)
    yield from slice_frames(
        query, settings, folder, qid, fetch, now=moment, max_rows=max_rows, writable=usable
    )


def cached_traces(
    query: TraceQueryLike,
    settings: CacheSettings,
    scope: Scope,
    fetch: WindowFetcher,
    *,
    max_rows: int | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Return the traces of ``query`` as a drain would, reading final days from the cache.

    Parameters
    ----------
    query:
        Window, filters, sort and page size (see :class:`TraceQueryLike`).
    settings:
        Where the cache lives, ``settle`` and ``refresh``.
    scope:
        Whose data (base URL and key fingerprint).
    fetch:
        Drains windows of the query (the engine, see :class:`WindowFetcher`).
    max_rows:
        Keep the first rows only (with ``start_time`` sorts, later days are not fetched).
    now:
        The current time (tests pass a fixed one); default: the clock.

    Returns
    -------
    polars.DataFrame
        Exactly the rows, order and dtypes of the uncached drain.

    Examples
    --------
    >>> frame = cached_traces(query, settings, Scope.of(client), fetcher)
    >>> frame.columns[0]
    'trace_id'
    """
    parts = list(iter_cached_traces(query, settings, scope, fetch, max_rows=max_rows, now=now))
    frame = merge_parts(parts, str(query.sort_field), str(query.sort_order))
    return frame if max_rows is None else frame.head(max_rows)


def cached_spans(
    trace_ids: Sequence[str],
    settings: CacheSettings,
    scope: Scope,
    fetch: SpansFetcher,
    *,
    span_name: str | None = None,
    page_size: int,
    ends: Mapping[str, datetime] | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Return the spans of ``trace_ids`` as ``spans_frame`` would, reading settled traces' spans
    from the cache.

    Parameters
    ----------
    trace_ids:
        Distinct trace ids, in the order wanted.
    settings, scope, now:
        As for :func:`cached_traces`.
    fetch:
        Fetches spans of traces (the engine, see :class:`SpansFetcher`).
    span_name, page_size:
        As for :func:`~netra_frames.spans_frame` (the name is part of the key).
    ends:
        Known ``end_time`` per trace (from a traces frame); otherwise a trace's end is the
        latest end of its spans.

    Returns
    -------
    polars.DataFrame
        The spans, in input trace order, then API order.

    Examples
    --------
    >>> spans = cached_spans(ids, settings, Scope.of(client), fetch_spans, page_size=100)
    >>> spans["trace_id"].unique(maintain_order=True).to_list() == ids
    True
    """
    about = _describe("spans", scope, span_name=span_name)
    qid = query_id({**about, "base_url": scope.base_url})
    folder = settings.root / "spans" / qid
    if not prepare_dir(settings.root, folder, about):
        return fetch(list(trace_ids), span_name, page_size)
    return pack_frames(
        list(trace_ids),
        ends or {},
        settings,
        folder,
        qid,
        lambda ids: fetch(ids, span_name, page_size),
        now=now or datetime.now(timezone.utc),
    )


# -- front doors (called by traces_frame, spans_frame and scan_traces) --------------------


def cached_traces_frame(
    client: NetraClient,
    query: TraceQuery,
    *,
    max_rows: int | None,
    workers: int,
    settings: CacheSettings,
    backend: Backend,
    bar: Progress,
) -> pd.DataFrame | pl.DataFrame:
    """``traces_frame`` with the cache on (the arguments are already validated)."""
    fetch = window_fetcher(client.transport, workers, bar)

    def run() -> pd.DataFrame | pl.DataFrame:
        try:
            frame = cached_traces(query, settings, Scope.of(client), fetch, max_rows=max_rows)
        except DrainError as exc:
            raise drain_error(
                f"a cached traces drain failed ({exc.cause or exc}); the days fetched before "
                "are not stored; call .resume() to run it again.",
                partial=to_backend(finish([], TRACES), backend),
                resume=run,
                cause=exc.cause or exc,
            ) from exc
        return to_backend(frame, backend)

    return run()


def cached_trace_frames(
    client: NetraClient,
    query: TraceQuery,
    settings: CacheSettings,
    max_rows: int | None,
    workers: int,
) -> Iterator[pl.DataFrame]:
    """The frames of a lazy scan's query, in order, with the cache on."""
    fetch = window_fetcher(client.transport, workers, Progress(False, "traces", "rows"))
    frames = iter_cached_traces(query, settings, Scope.of(client), fetch, max_rows=max_rows)
    if query.sort_field == "start_time":
        yield from frames
    else:
        yield merge_parts(list(frames), str(query.sort_field), str(query.sort_order))


def cached_spans_frame(
    client: NetraClient,
    ids: Sequence[str],
    source: object,
    *,
    template: SpanQuery,
    workers: int,
    settings: CacheSettings,
    bar: Progress,
) -> pl.DataFrame:
    """``spans_frame`` with the cache on (Polars; ``source`` is what the caller passed)."""
    fetch = spans_fetcher(client.transport, workers, bar)
    return cached_spans(
        ids,
        settings,
        Scope.of(client),
        fetch,
        span_name=template.span_name,
        page_size=template.page_size or 100,
        ends=trace_ends(source),
    )


# -- the engine behind the two fetch interfaces -------------------------------------------


def window_fetcher(
    transport: Transport, workers: int, bar: Progress | None = None
) -> WindowFetcher:
    """Drain windows with the engine: each window a result group, all of them at once.

    Each window starts as one walk; idle workers split the walks of time-ordered listings
    (adaptive sharding), so one busy day drains as fast as many quiet ones.
    """

    def fetch(
        query: TraceQueryLike, windows: Sequence[tuple[datetime, datetime]]
    ) -> list[pl.DataFrame]:
        assert isinstance(query, TraceQuery)
        frames: list[pl.DataFrame] = drain_traces(
            transport,
            query,
            list(windows),
            backend="polars",
            shards=1,
            adaptive=True,
            workers=workers,
            max_rows=None,
            bar=bar or Progress(False, "traces", "rows"),
        )
        return frames

    return fetch


def spans_fetcher(transport: Transport, workers: int, bar: Progress | None = None) -> SpansFetcher:
    """Fetch spans with the engine (the traces' pages concurrently, in input order)."""

    def fetch(trace_ids: Sequence[str], span_name: str | None, page_size: int) -> pl.DataFrame:
        template = SpanQuery.template(span_name=span_name, page_size=page_size)

        def one(trace_id: str, scope: CancelScope) -> Any:
            return spans_of(transport, template, trace_id, scope)

        frame: pl.DataFrame = KeyedDrain(
            one,
            list(trace_ids),
            PageCollector(Batcher(polars_sink(SPANS))),
            workers=max(1, min(workers, len(trace_ids))),
            bar=bar or Progress(False, "spans", "traces"),
            noun="traces",
        ).run()
        return frame

    return fetch
