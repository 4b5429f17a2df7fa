"""The batcher: decoded pages, in result order, into Arrow-backed batches of ~4 MB.

Pages keep their bodies until they are built into columns (a batched ``pyarrow.json``
parse, see :mod:`netra_frames._wire.decode`). A :class:`Batcher` takes pages in the order
of the result and, once the kept bodies weigh :data:`BATCH_BYTES`, builds them into one
batch of the final form, so a long drain never holds all its pages as bodies. The form
is the sink's: Polars frames, or the Arrow tables pandas takes over without a copy.

Examples
--------
>>> from netra_frames.schema import TRACES
>>> batcher = Batcher(polars_sink(TRACES))
>>> batcher.add([])
>>> batcher.build().height
0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pandas as pd
import polars as pl
import pyarrow as pa

from .._wire.checks import Mismatch, check_batch, describe_request
from .._wire.convert import concat_frames, pandas_ready, tables_to_pandas
from .._wire.decode import DecodedPage, finish, page_weight
from ..errors import PageMismatchError, TransportError
from ..schema import Column

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = [
    "BATCH_BYTES",
    "RECHUNK_BYTES",
    "Batcher",
    "Sink",
    "consolidate",
    "gather",
    "pandas_sink",
    "part_bytes",
    "polars_sink",
    "refetch",
    "sink_for",
    "untrusted",
]

BATCH_BYTES = 4 << 20
"""Bytes of kept page bodies built into one batch (about 3,500 spans or 4,000 traces)."""

Part = TypeVar("Part", pl.DataFrame, pa.Table)


Repair = Callable[[DecodedPage], DecodedPage]
"""Fetch a page once more (its request again), for a page whose rows were not trusted."""


@dataclass(frozen=True)
class Sink(Generic[Part]):
    """How batches are built (:meth:`convert`: checked, then in the sink's ``form``) and put
    together (``build``); ``repair`` fetches a page that fails its checks once more."""

    form: Callable[[pl.DataFrame], Part]
    build: Callable[[list[Part]], Any]
    columns: Sequence[Column]
    repair: Repair | None = None

    def convert(self, pages: Sequence[DecodedPage], *, repair: bool = True) -> Part:
        """Build ``pages`` into one batch whose rows answer their requests.

        The rows are checked on the built columns (:func:`~netra_frames._wire.checks.
        check_batch`). When they fail, or a value does not parse, each page that fails on
        its own is fetched once more (``repair``, unless ``repair=False``); a second
        answer as wrong raises :class:`~netra_frames.PageMismatchError` (or the
        :class:`~netra_frames.TransportError` of a value that does not parse).
        """
        try:
            return self.form(_checked(pages, self.columns))
        except (Mismatch, TransportError) as exc:
            if self.repair is None or not repair:
                raise untrusted(exc, pages, again=False) from None
            fixed = [page if _passes(page, self.columns) else self.repair(page) for page in pages]
        try:
            return self.form(_checked(fixed, self.columns))
        except (Mismatch, TransportError) as exc:
            raise untrusted(exc, fixed, again=True) from None

    def repairing(self, repair: Repair) -> Sink[Part]:
        """This sink, fetching a page that fails its checks once more with ``repair``."""
        return replace(self, repair=repair)


def _is_spans(columns: Sequence[Column]) -> bool:
    return any(c.name == "span_id" for c in columns)


def _checked(pages: Sequence[DecodedPage], columns: Sequence[Column]) -> pl.DataFrame:
    return check_batch(finish(pages, columns), pages, spans=_is_spans(columns))


def _passes(page: DecodedPage, columns: Sequence[Column]) -> bool:
    try:
        _checked([page], columns)
    except (Mismatch, TransportError):
        return False
    return True


def untrusted(
    exc: Mismatch | TransportError, pages: Sequence[DecodedPage], *, again: bool
) -> TransportError:
    """The error of pages whose rows do not answer their requests (or do not parse):
    a :class:`~netra_frames.PageMismatchError` naming the field, the value and the
    request (``again``: the page was fetched twice, with the same answer).

    Examples
    --------
    >>> from netra_frames._wire.checks import Mismatch
    >>> untrusted(Mismatch("tenant_id", "Globex", "is not the 'AceTech' filtered on"), [],
    ...           again=True).field
    'tenant_id'
    """
    if not isinstance(exc, Mismatch):
        return exc
    page = pages[exc.page] if exc.page is not None and exc.page < len(pages) else None
    if page is None:
        page = next((p for p in pages if getattr(p, "request", None) is not None), None)
    asked = describe_request(getattr(page, "request", None))
    twice = "it came back the same when fetched again, so " if again else ""
    return PageMismatchError(
        f"the server's answer to {asked} does not answer it: {exc}; {twice}no row of that page "
        "is kept. A buggy server, or a cache or proxy in front of it replaying another "
        "request's answer, does this: report it with the request shown.",
        field=exc.field,
        value=exc.value,
        request=asked,
    )


def refetch(
    transport: Transport, page: DecodedPage, decode: Callable[[bytes], DecodedPage]
) -> DecodedPage:
    """``page`` fetched once more (its rows were not trusted), clipped as it was.

    The second answer must lead where the first did (the same next cursor): the pages
    after it were asked for with that cursor.
    """
    if page.request is None:
        raise ValueError("a page without its request cannot be fetched again")
    fresh = transport.send(page.request, decode)
    if (fresh.has_next_page, fresh.next_cursor) != (page.has_next_page, page.next_cursor):
        raise untrusted(
            Mismatch("cursor", fresh.next_cursor, "differs from the first answer's"),
            [page],
            again=True,
        )
    fresh.request = page.request
    return fresh.marked(page)


RECHUNK_BYTES = 16 << 20
"""A Polars result up to this size is made one chunk (see :func:`polars_sink`)."""


def polars_sink(columns: Sequence[Column]) -> Sink[pl.DataFrame]:
    """Batches as Polars frames; the result is their concatenation (no copy).

    A result of up to :data:`RECHUNK_BYTES` is copied into one chunk: how a drain cut its
    pages into batches depends on when answers came, and a float column's sum depends on
    its chunks in the last digits, so a small drain gives the same sums on every run. A
    larger one keeps its batches (a copy would double its memory for a moment).
    """

    def build(parts: list[pl.DataFrame]) -> pl.DataFrame:
        if not parts:
            return finish([], columns)
        frame = concat_frames(parts)
        if len(parts) > 1 and frame.estimated_size() <= RECHUNK_BYTES:
            return frame.rechunk()
        return frame

    return Sink(lambda frame: frame, build, columns)


def pandas_sink(columns: Sequence[Column]) -> Sink[pa.Table]:
    """Batches as the Arrow tables a pandas frame takes over (see ``tables_to_pandas``)."""

    def build(parts: list[pa.Table]) -> pd.DataFrame:
        return tables_to_pandas(parts or [pandas_ready(finish([], columns))])

    return Sink(pandas_ready, build, columns)


def part_bytes(part: Any) -> int:
    """Bytes (roughly) a built batch holds in memory.

    Examples
    --------
    >>> part_bytes(pl.DataFrame({"a": [1, 2]}))
    16
    """
    if isinstance(part, pl.DataFrame):
        return int(part.estimated_size())
    if isinstance(part, pa.Table):
        return int(part.nbytes)
    return 0


def sink_for(backend: str, columns: Sequence[Column]) -> Sink[Any]:
    """The batch form of a backend: Arrow tables for pandas, frames for Polars.

    Examples
    --------
    >>> from netra_frames.schema import TRACES
    >>> sink_for("polars", TRACES).build([]).height
    0
    """
    return pandas_sink(columns) if backend == "pandas" else polars_sink(columns)


class Batcher(Generic[Part]):
    """Pages in result order -> batches of the sink's form (see the module docstring)."""

    __slots__ = ("_built", "_pending", "_weight", "parts", "sink", "size")

    def __init__(self, sink: Sink[Part], size: int | None = None) -> None:
        self.sink: Sink[Part] = sink
        self.size = BATCH_BYTES if size is None else size
        self.parts: list[Part] = []
        self._pending: list[DecodedPage] = []
        self._weight = 0
        self._built = 0

    @property
    def weight(self) -> int:
        """Bytes (roughly) of the pages taken and not built into a batch yet."""
        return self._weight

    @property
    def held(self) -> int:
        """Bytes (roughly) held: pages not built yet and the batches built."""
        return self._weight + self._built

    def take_built(self) -> list[Part]:
        """Hand over the batches built so far (the pages not built yet stay)."""
        parts, self.parts, self._built = self.parts, [], 0
        return parts

    @property
    def rows(self) -> int:
        """Rows taken so far."""
        done = sum(p.height if isinstance(p, pl.DataFrame) else p.num_rows for p in self.parts)
        return done + sum(p.num_rows for p in self._pending)

    def add(self, pages: Sequence[DecodedPage], *, build: bool = True) -> None:
        """Take the next pages of the result; build a batch once they weigh enough.

        ``build=False`` only takes them: the caller builds later (:meth:`build_if_due`), for
        instance after it has sent its next requests.
        """
        self._pending.extend(pages)
        self._weight += page_weight(pages)
        if build:
            self.build_if_due()

    def build_if_due(self) -> None:
        """Build a batch if the pages taken weigh enough."""
        if self._weight >= self.size:
            self.flush()

    def flush(self) -> None:
        """Build the pages taken so far into a batch."""
        if self._pending:
            part = self.sink.convert(self._pending)
            self.parts.append(part)
            self._built += part_bytes(part)
            self._pending, self._weight = [], 0

    def copy(self) -> Batcher[Part]:
        """An independent snapshot sharing the (immutable) batches and pages."""
        twin = Batcher(self.sink, self.size)
        twin.parts, twin._pending, twin._weight, twin._built = (
            list(self.parts),
            list(self._pending),
            self._weight,
            self._built,
        )
        return twin

    def take(self) -> list[Part]:
        """Flush and hand over the batches (the batcher is empty afterwards)."""
        self.flush()
        return self.take_built()

    def hold(self, parts: list[Part]) -> None:
        """Drop every page and batch taken, and hold ``parts`` as the batches built."""
        self.parts, self._pending, self._weight = parts, [], 0
        self._built = sum(part_bytes(p) for p in parts)

    @property
    def loose(self) -> list[DecodedPage]:
        """The pages taken and not built into a batch yet (in order)."""
        return self._pending

    def build(self) -> Any:
        """The result of every page taken (the batcher is empty afterwards)."""
        return self.sink.build(self.take())


def gather(batchers: Sequence[Batcher[Part]], *, partial: bool = False) -> list[Part]:
    """The batches of ``batchers`` (consecutive parts of one result), in order.

    Pages not built yet are built here; those of consecutive batchers with no batch
    between them are built together, so a drain of many small walks ends with a few
    large batches rather than one small batch per walk. The batchers are left as they
    were (a failure can still show the partial result).

    A page that does not build raises (:class:`~netra_frames.TransportError`), except
    with ``partial``: the result then stops before the first pages that do not build,
    so it stays a prefix of the full one.

    Examples
    --------
    >>> from netra_frames.schema import TRACES
    >>> gather([Batcher(polars_sink(TRACES)), Batcher(polars_sink(TRACES))])
    []
    """
    parts: list[Part] = []
    runs: list[list[DecodedPage]] = []  # loose pages of each batcher since the last batch
    for batcher in batchers:
        if batcher.parts:
            if not _build_loose(batcher.sink, runs, parts, partial):
                return parts
            parts.extend(batcher.parts)
        if batcher.loose:
            runs.append(batcher.loose)
    if batchers:
        _build_loose(batchers[0].sink, runs, parts, partial)
    return parts


def consolidate(batchers: Sequence[Batcher[Part]]) -> None:
    """Build the loose pages of ``batchers`` (consecutive parts of one result, each one
    complete) as :func:`gather` would, and keep every batch in the first batcher.

    A drain calls it while it waits for answers: what it builds then is not left to build
    at the end. The result of :func:`gather` over the same batchers does not change.

    Examples
    --------
    >>> from netra_frames.schema import TRACES
    >>> first, second = Batcher(polars_sink(TRACES)), Batcher(polars_sink(TRACES))
    >>> consolidate([first, second])
    >>> first.loose, second.parts
    ([], [])
    """
    if not batchers:
        return
    parts = gather(batchers)
    for batcher in batchers[1:]:
        batcher.hold([])
    batchers[0].hold(parts)


def _build_loose(
    sink: Sink[Part], runs: list[list[DecodedPage]], parts: list[Part], partial: bool
) -> bool:
    """Build ``runs`` into ``parts`` as one batch (emptying ``runs``); ``False`` when a
    partial result must stop here (see :func:`gather`)."""
    if not runs:
        return True
    pages = [page for run in runs for page in run]
    runs.clear()
    try:
        parts.append(sink.convert(pages, repair=not partial))
    except Exception:
        if not partial:
            raise
        for page in pages:  # the pages before the first bad one, one batch each
            try:
                parts.append(sink.convert([page], repair=False))
            except Exception:  # noqa: BLE001 - a partial result stops before bad pages
                return False
    return True
