"""Pages: how to read one page off the wire, and how to walk from page to page.

One function knows where the next cursor is (the last item's ``cursor``); one generator
walks pages and refuses the two server bugs that would otherwise loop forever or stop
silently: a next page promised without a cursor, and a cursor that comes back again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from .errors import TransportError

__all__ = [
    "SpansPage",
    "TracesPage",
    "iter_pages",
    "next_cursor",
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


def parse_envelope(content: bytes) -> tuple[list[dict[str, Any]], bool, str | None]:
    """Parse ``{"data": {"data": [...], "pageInfo": {"hasNextPage": b}}}``.

    Raises ``ValueError`` (the body is retried, then reported) for anything else.

    Examples
    --------
    >>> parse_envelope(b'{"data":{"data":[{"cursor":"c1"}],"pageInfo":{"hasNextPage":true}}}')
    ([{'cursor': 'c1'}], True, 'c1')
    """
    try:
        payload = json.loads(content)
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


def parse_traces_page(content: bytes) -> TracesPage:
    """Decode a traces page body."""
    return TracesPage(*parse_envelope(content))


def parse_spans_page(content: bytes) -> SpansPage:
    """Decode a spans page body."""
    return SpansPage(*parse_envelope(content))


P = TypeVar("P", TracesPage, SpansPage)


def iter_pages(fetch: Callable[[str | None], P], cursor: str | None = None) -> Iterator[P]:
    """Walk pages: call ``fetch(cursor)`` until a page says there is no next page.

    Raises
    ------
    TransportError
        When the server hands back a cursor it has already given (or the one it was
        asked with): it would loop forever. The page carrying it is not yielded.

    Examples
    --------
    >>> pages = list(iter_pages(lambda c: TracesPage([], False, None)))
    >>> len(pages)
    1
    """
    seen: set[str] = set() if cursor is None else {cursor}
    while True:
        page = fetch(cursor)
        if not page.has_next_page:
            yield page
            return
        cursor = next_cursor(page, seen)  # raises before a repeated page is handed out
        yield page


class _Paged(Protocol):
    @property
    def has_next_page(self) -> bool: ...
    @property
    def next_cursor(self) -> str | None: ...


def next_cursor(page: _Paged, seen: set[str]) -> str:
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
