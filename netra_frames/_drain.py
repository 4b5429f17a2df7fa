"""The engine behind every frame: paging, bounded concurrency, progress, resumable failure.

Two building blocks:

* :func:`drain_traces` walks one window of ``POST /sdk/traces`` (one body) page by page into
  a list of :class:`~netra_frames._decode.DecodedPage`, asking only for the rows still
  wanted (``max_rows``), and calling ``on_page`` after each page. Time-window sharding
  (:mod:`netra_frames._shard`) runs several :func:`walk_traces` over sub-windows.
* :func:`map_ordered` runs one fetch per key (trace id, session id, ...) on a bounded
  thread pool sharing the client's one pooled session, and returns the results in input
  order, whatever the completion order.

When either fails after some progress with a :class:`~netra_frames.NetraError`, it raises
:class:`~netra_frames.DrainError` carrying the partial result (built by the caller's
``build``, so in the requested backend) and a ``resume()`` that continues from the last
good cursor / the keys still missing and returns exactly the full result. A failure
before any progress re-raises the original error unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._decode import (
    DecodedPage,
    decode_spans_page,
    decode_traces_page,
    pack_pages,
    page_weight,
)
from ._pages import next_cursor
from .client import spans_path
from .errors import DrainError, InvalidParameterError, NetraError
from .schema import TRACES

if TYPE_CHECKING:
    from .client import NetraClient

__all__ = [
    "Pack",
    "Walk",
    "check_max_workers",
    "drain_spans",
    "drain_traces",
    "ignore",
    "map_ordered",
    "pooled_workers",
    "trace_pages",
    "walk_traces",
]

logger = logging.getLogger("netra_frames")

K = TypeVar("K")
R = TypeVar("R")
F = TypeVar("F")


def check_max_workers(max_workers: object) -> int:
    """Return ``max_workers`` if it is an int >= 1, else raise."""
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidParameterError(f"max_workers must be an int >= 1, got {max_workers!r}.")
    return max_workers


def pooled_workers(client: NetraClient, max_workers: int) -> int:
    """Return ``max_workers`` capped at the client's connection pool size.

    More threads than pooled connections would open (and throw away) a new connection
    per request beyond the pool; capping keeps every request on a kept-alive connection.
    """
    size = _pool_size(client)
    if size is not None and max_workers > size:
        logger.warning(
            "netra_frames: max_workers=%d exceeds the client's pool_size=%d; using %d workers "
            "(create the client with pool_size=%d to run more).",
            max_workers,
            size,
            size,
            max_workers,
        )
        return size
    return max_workers


def _pool_size(client: NetraClient) -> int | None:
    """The client's public ``pool_size`` (``None`` for a caller-supplied session)."""
    size = client.pool_size
    return size if isinstance(size, int) and size > 0 else None


def check_max_rows(max_rows: object) -> int | None:
    """Return ``max_rows`` if it is ``None`` or an int >= 0, else raise."""
    if max_rows is None:
        return None
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0:
        raise InvalidParameterError(f"max_rows must be None or an int >= 0, got {max_rows!r}.")
    return max_rows


def _page_body(body: Mapping[str, Any], limit: int, cursor: str | None) -> dict[str, Any]:
    pagination = {k: v for k, v in body.get("pagination", {}).items() if k != "cursor"}
    pagination["limit"] = limit
    if cursor is not None:
        pagination["cursor"] = cursor
    return {**body, "pagination": pagination}


def ignore(_: object) -> None:
    """A callback that does nothing (progress of a resumed drain)."""
    return None


class Walk:
    """Where one traces window's drain stands: the pages so far and the next cursor."""

    __slots__ = ("body", "cursor", "done", "pages")

    def __init__(
        self,
        body: Mapping[str, Any],
        pages: list[DecodedPage] | None = None,
        cursor: str | None = None,
        done: bool = False,
    ) -> None:
        self.body = body
        self.pages = list(pages or [])
        self.cursor = cursor
        self.done = done

    @property
    def rows(self) -> int:
        """Rows fetched so far."""
        return sum(p.num_rows for p in self.pages)

    def copy(self) -> Walk:
        """An independent snapshot (for ``resume``)."""
        return Walk(self.body, self.pages, self.cursor, self.done)


PAGE_BATCH_BYTES = 4 << 20
"""Bytes of kept page bodies a traces walk builds into one Arrow table as it goes."""


def _pack_tail(pages: list[DecodedPage]) -> None:
    """Build the trailing run of kept bodies into one table once it weighs enough."""
    start = len(pages)
    while start > 0 and pages[start - 1].raw is not None:
        start -= 1
    if page_weight(pages[start:]) >= PAGE_BATCH_BYTES:
        try:
            pages[start:] = [pack_pages(pages[start:], TRACES)]
        except ValueError:
            return  # a value that does not parse: ``finish`` reports it (TransportError)


def trace_pages(
    client: NetraClient,
    body: Mapping[str, Any],
    *,
    page_size: int,
    max_rows: int | None,
    cursor: str | None = None,
    rows: int = 0,
) -> Iterator[tuple[DecodedPage, str | None]]:
    """Fetch one traces listing page by page, lazily: yield ``(page, next cursor or None)``.

    Each page asks for no more rows than ``max_rows`` still wants (``rows`` are already
    had); the walk starts at ``cursor``. A page's cursor is checked before the page is
    yielded, so a page that repeats a cursor is never handed out.
    """
    seen: set[str] = set() if cursor is None else {cursor}
    while max_rows is None or rows < max_rows:
        limit = page_size if max_rows is None else min(page_size, max_rows - rows)
        page = client.request(
            "POST", "/sdk/traces", body=_page_body(body, limit, cursor), decode=decode_traces_page
        )
        rows += page.num_rows
        cursor = next_cursor(page, seen) if page.has_next_page else None
        yield page, cursor
        if cursor is None:
            return


def walk_traces(
    client: NetraClient,
    walk: Walk,
    *,
    page_size: int,
    max_rows: int | None,
    on_page: Callable[[DecodedPage], None],
) -> None:
    """Fetch the pages of ``walk`` still missing, updating it in place.

    On a failure ``walk`` holds every page fetched before it and the cursor to retry,
    and the error propagates.
    """
    if walk.done:
        return
    pages = trace_pages(
        client,
        walk.body,
        page_size=page_size,
        max_rows=max_rows,
        cursor=walk.cursor,
        rows=walk.rows,
    )
    for page, cursor in pages:
        walk.pages.append(page)
        on_page(page)
        _pack_tail(walk.pages)
        walk.done = cursor is None
        if cursor is not None:
            walk.cursor = cursor


def drain_traces(
    client: NetraClient,
    body: Mapping[str, Any],
    *,
    page_size: int,
    max_rows: int | None,
    on_page: Callable[[DecodedPage], None],
    build: Callable[[list[DecodedPage]], F],
    pages: list[DecodedPage] | None = None,
    cursor: str | None = None,
) -> F:
    """Drain one traces window (``body``) into ``build(pages)``.

    Asks for ``min(page_size, rows still wanted)`` per page, so ``max_rows`` never fetches
    a page more than needed. ``pages``/``cursor`` continue an interrupted drain.
    """
    walk = Walk(body, pages, cursor)
    try:
        walk_traces(client, walk, page_size=page_size, max_rows=max_rows, on_page=on_page)
    except NetraError as exc:
        if not walk.pages:
            raise
        resume = partial(
            drain_traces,
            client,
            body,
            page_size=page_size,
            max_rows=max_rows,
            on_page=ignore,
            build=build,
            pages=list(walk.pages),
            cursor=walk.cursor,
        )
        raise DrainError(
            f"the traces drain failed after {walk.rows} rows ({exc}); call .resume() on this "
            "error to fetch the rest, or use .partial.",
            partial=build(walk.pages),
            resume=resume,
            cause=exc,
        ) from exc
    return build(walk.pages)


def drain_spans(
    client: NetraClient, trace_id: str, params: Mapping[str, str], page_size: int
) -> list[DecodedPage]:
    """Fetch every span page of one trace (``params`` already validated)."""
    path = spans_path(trace_id)
    query = {k: v for k, v in params.items() if k != "cursor"}
    query["limit"] = str(page_size)
    pages: list[DecodedPage] = []
    seen: set[str] = set()
    while True:
        page = client.request("GET", path, params=query, decode=decode_spans_page)
        cursor = next_cursor(page, seen) if page.has_next_page else None
        pages.append(page)
        if cursor is None:
            return pages
        query["cursor"] = cursor


class Pack(Generic[R]):
    """How :func:`map_ordered` compacts finished results while others still run.

    ``weight(result)`` measures what a result holds (e.g. bytes of kept page bodies);
    once consecutive finished results (in input order) weigh ``size`` or more,
    ``pack(run)`` replaces them with as many results holding the same rows in less
    memory (e.g. one Arrow-backed frame first, empty lists after).
    """

    __slots__ = ("pack", "size", "weight")

    def __init__(
        self, weight: Callable[[R], int], pack: Callable[[list[R]], list[R]], size: int
    ) -> None:
        self.weight = weight
        self.pack = pack
        self.size = size


class _Packer(Generic[R]):
    """Packs the run of consecutive finished results once it weighs enough."""

    def __init__(self, pack: Pack[R] | None, results: dict[int, R], total: int) -> None:
        self._pack = pack
        self._results = results
        self._total = total
        self._start = 0  # first result not packed
        self._frontier = 0  # every result before it is finished
        self._weight = 0

    def advance(self) -> None:
        if self._pack is None:
            return
        results = self._results
        while self._frontier < self._total and self._frontier in results:
            self._weight += self._pack.weight(results[self._frontier])
            self._frontier += 1
            if self._weight >= self._pack.size:
                run = range(self._start, self._frontier)
                packed = self._pack.pack([results[i] for i in run])
                for i, result in zip(run, packed, strict=True):
                    results[i] = result
                self._start, self._weight = self._frontier, 0


def _run_ordered(
    pool: ThreadPoolExecutor,
    fetch: Callable[[K], R],
    keys: Sequence[K],
    todo: list[int],
    results: dict[int, R],
    on_done: Callable[[int], None],
    packer: _Packer[R],
    max_workers: int,
) -> BaseException | None:
    """Fetch ``todo`` keeping at most ``2 * max_workers`` in flight; return the first error.

    Submitting lazily keeps memory flat (no future per key up front) and lets results
    finish roughly in input order, so :class:`_Packer` can pack them as they come.
    """
    pending = iter(todo)
    inflight: dict[Future[R], int] = {}
    error: BaseException | None = None
    while True:
        while error is None and len(inflight) < 2 * max_workers:
            index = next(pending, None)
            if index is None:
                break
            inflight[pool.submit(fetch, keys[index])] = index
        if not inflight or error is not None:
            return error
        finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
        for future in finished:
            index = inflight.pop(future)  # a finished future holds its result: drop it
            exc = future.exception()
            if exc is not None:
                error = error or exc
                continue
            results[index] = future.result()
            on_done(1)
        finished.clear()
        if error is None:
            packer.advance()


def map_ordered(
    fetch: Callable[[K], R],
    keys: Sequence[K],
    *,
    max_workers: int,
    on_done: Callable[[int], None],
    build: Callable[[list[R]], F],
    done: Mapping[int, R] | None = None,
    pack: Pack[R] | None = None,
) -> F:
    """Run ``fetch(key)`` for every key on at most ``max_workers`` threads; keep input order.

    ``on_done(1)`` is called (in the calling thread) as each key completes. The first
    failure cancels the keys not yet started. ``done`` holds results of an earlier,
    interrupted run (by key index), which are not fetched again. ``pack`` (see
    :class:`Pack`) compacts finished results in input order, in the calling thread, so
    a long run never holds all its results in their bulky first form.
    """
    results: dict[int, R] = dict(done or {})
    packer = _Packer(pack, results, len(keys))
    packer.advance()
    todo = [i for i in range(len(keys)) if i not in results]
    error: BaseException | None = None
    if todo:
        pool = ThreadPoolExecutor(
            max_workers=min(max_workers, len(todo)), thread_name_prefix="netra_frames"
        )
        try:
            error = _run_ordered(pool, fetch, keys, todo, results, on_done, packer, max_workers)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    if error is None:
        ordered = [results.pop(i) for i in range(len(keys))]
        return build(ordered)
    if not isinstance(error, NetraError) or not results:
        raise error
    snapshot = dict(results)

    def resume() -> F:
        return map_ordered(
            fetch,
            keys,
            max_workers=max_workers,
            on_done=ignore,
            build=build,
            done=snapshot,
            pack=pack,
        )

    raise DrainError(
        f"{len(keys) - len(snapshot)} of {len(keys)} fetches failed or did not run ({error}); "
        "call .resume() on this error to fetch the rest, or use .partial.",
        partial=build([snapshot[i] for i in sorted(snapshot)]),
        resume=resume,
        cause=error,
    ) from error
