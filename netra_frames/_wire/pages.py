"""Pages: how to read one page off the wire, and how to walk from page to page.

One function knows where the next cursor is (the last item's ``cursor``); one walk
(:class:`PageWalk`, driven by :func:`iter_pages` or by the engine) goes from page to page
and refuses the two server bugs that would otherwise loop forever or stop silently: a
next page promised without a cursor, and a cursor that comes back again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..config import MAX_PAGE_SIZE
from ..errors import TransportError
from .request import Request

__all__ = [
    "Listing",
    "Page",
    "PageWalk",
    "SpansPage",
    "TracesPage",
    "iter_pages",
    "next_cursor",
    "parse_envelope",
    "parse_spans_page",
    "parse_traces_page",
]


@dataclass(frozen=True)
class TracesPage:
    """One page of ``POST /sdk/traces``: the items as the wire sent them."""

    traces: list[dict[str, Any]]
    has_next_page: bool
    next_cursor: str | None

    @property
    def items(self) -> list[dict[str, Any]]:
        """The traces of this page."""
        return self.traces

    @property
    def num_rows(self) -> int:
        """Items on this page."""
        return len(self.traces)


@dataclass(frozen=True)
class SpansPage:
    """One page of ``GET /sdk/traces/{id}/spans``: the items as the wire sent them."""

    spans: list[dict[str, Any]]
    has_next_page: bool
    next_cursor: str | None

    @property
    def items(self) -> list[dict[str, Any]]:
        """The spans of this page."""
        return self.spans

    @property
    def num_rows(self) -> int:
        """Items on this page."""
        return len(self.spans)


def parse_envelope(content: bytes) -> tuple[list[dict[str, Any]], bool, str | None]:
    """Parse ``{"data": {"data": [...], "pageInfo": {"hasNextPage": b}}}``.

    Raises ``ValueError`` (the body is retried, then reported) for anything else.

    Examples
    --------
    >>> parse_envelope(b'{"data":{"data":[{"cursor":"c1"}],"pageInfo":{"hasNextPage":true}}}')
    ([{'cursor': 'c1'}], True, 'c1')
    """
    try:
        payload = json.loads(content, parse_constant=lambda name: _not_json(name, content))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not valid JSON ({exc})") from None
    block = payload.get("data") if isinstance(payload, dict) else None
    items = block.get("data") if isinstance(block, dict) else None
    info = block.get("pageInfo") if isinstance(block, dict) else None
    if not isinstance(items, list) or not isinstance(info, dict):
        raise ValueError("the body lacks the {'data': {'data': [...], 'pageInfo': {...}}} envelope")
    has_next = info.get("hasNextPage")
    if not isinstance(has_next, bool):
        raise ValueError(f"pageInfo.hasNextPage is {has_next!r}, not a boolean")
    if not all(isinstance(item, dict) for item in items):
        raise ValueError("a page item is not a JSON object")
    cursor = items[-1].get("cursor") if items else None
    if has_next and not (isinstance(cursor, str) and cursor):
        raise ValueError("hasNextPage is true but the last item has no cursor")
    return items, has_next, cursor if isinstance(cursor, str) else None


def _not_json(constant: str, content: bytes) -> Any:
    """Refuse ``NaN``, ``Infinity`` and ``-Infinity``, naming the field that holds one.

    Python's ``json`` reads them, RFC 8259 has no such numbers, and a cost of ``NaN``
    would vanish from every sum: a page that holds one is not used (the rule of
    docs/api-contract.md).
    """
    found = re.search(rb'"([^"\\]{1,100})":\s*' + re.escape(constant.encode()), content)
    field = f"field {found.group(1).decode('utf-8', 'replace')!r}" if found else "a field"
    raise ValueError(
        f"{field} holds {constant}, which is not JSON (RFC 8259 has no NaN or Infinity): "
        "a value the server could not compute"
    )


def parse_traces_page(content: bytes) -> TracesPage:
    """Decode a traces page body."""
    return TracesPage(*parse_envelope(content))


def parse_spans_page(content: bytes) -> SpansPage:
    """Decode a spans page body."""
    return SpansPage(*parse_envelope(content))


class Listing(Protocol):
    """A query that can build the request of one of its pages (traces or spans)."""

    @property
    def page_size(self) -> int | None: ...
    def request(self, *, limit: int | None = None, cursor: str | None = None) -> Request: ...


class Page(Protocol):
    """What a walk reads off a page: its size and where the next page is."""

    @property
    def has_next_page(self) -> bool: ...
    @property
    def next_cursor(self) -> str | None: ...
    @property
    def num_rows(self) -> int: ...


P = TypeVar("P", bound=Page)


class PageWalk:
    """Where one listing's walk stands: the next cursor, the cursors seen, rows so far.

    The one page walk of the package: :func:`iter_pages` drives it for the client's
    ``iter_*`` calls and the scans; the engine drives one per shard. Each page asks for
    no more rows than ``max_rows`` still wants.

    Examples
    --------
    >>> from netra_frames.query import SpanQuery
    >>> walk = PageWalk(SpanQuery.build("t1", page_size=10), max_rows=15)
    >>> walk.advance(TracesPage([{"cursor": "c1"}] * 10, True, "c1"))
    >>> walk.next_request().target, walk.cursor
    ('/sdk/traces/t1/spans?cursor=c1&direction=down&limit=5', 'c1')
    """

    __slots__ = ("counts_rows", "cursor", "done", "listing", "max_rows", "rows", "seen")

    def __init__(
        self,
        listing: Listing,
        cursor: str | None = None,
        max_rows: int | None = None,
        *,
        counts_rows: bool = True,
    ) -> None:
        self.listing = listing
        self.cursor = cursor
        self.max_rows = max_rows
        # counting a kept body's rows can cost a parse: walks that need no count skip it
        self.counts_rows = counts_rows or max_rows is not None
        self.seen: set[str] = set() if cursor is None else {cursor}
        self.rows = 0
        self.done = max_rows == 0

    def next_request(self) -> Request:
        """The request of the next page."""
        limit = None
        if self.max_rows is not None:
            limit = min(self.listing.page_size or MAX_PAGE_SIZE, self.max_rows - self.rows)
        return self.listing.request(limit=limit, cursor=self.cursor)

    def advance(self, page: Page) -> None:
        """Take one fetched page into account; a repeated cursor raises before it counts.

        Raises
        ------
        TransportError
            When the page promises a next page without a new cursor (see :func:`next_cursor`).
        """
        rows = page.num_rows if self.counts_rows else 0
        wanted = self.max_rows is None or self.rows + rows < self.max_rows
        more = page.has_next_page and wanted
        cursor = next_cursor(page, self.seen) if more else None
        self.rows += rows
        self.done = not more
        if cursor is not None:
            self.cursor = cursor

    def copy(self) -> PageWalk:
        """An independent snapshot (for ``resume``)."""
        twin = PageWalk(self.listing, self.cursor, self.max_rows, counts_rows=self.counts_rows)
        twin.seen, twin.rows, twin.done = set(self.seen), self.rows, self.done
        return twin


def iter_pages(send: Callable[[Request], P], walk: PageWalk) -> Iterator[P]:
    """Walk pages lazily: send each page's request until the walk is done.

    A page whose cursor repeats an earlier one is never yielded (it would loop forever).

    Examples
    --------
    >>> from netra_frames.query import SpanQuery
    >>> walk = PageWalk(SpanQuery.build("t1"))
    >>> [p.num_rows for p in iter_pages(lambda r: TracesPage([], False, None), walk)]
    [0]
    """
    while not walk.done:
        page = send(walk.next_request())
        walk.advance(page)
        yield page


def next_cursor(page: Page, seen: set[str]) -> str:
    """Return the cursor of the page after ``page`` and remember it in ``seen``.

    Raises
    ------
    TransportError
        When the page promises a next page but carries no cursor, or the cursor was
        already given (or asked with): following it would loop forever.

    Examples
    --------
    >>> next_cursor(TracesPage([{"cursor": "c1"}], True, "c1"), set())
    'c1'
    """
    cursor = page.next_cursor
    if cursor is None or cursor in seen:
        raise TransportError(
            "the server returned a cursor it had already given; stopping instead of "
            "looping forever (a server bug: report it with the request's window)."
        )
    seen.add(cursor)
    return cursor
