"""Faults in the rows of a page: what a buggy server, cache or proxy can answer with.

Each kind rewrites a 200 listing page (traces or spans) the server was about to send, and
keeps it well-formed JSON in the server's own compact form (so a client's fast path still
reads it): the rows are wrong, not the bytes.

``stray_row``     the middle item's ``start_time`` becomes ``2019-01-01T00:00:00.000Z``
                  (a row outside any 2026 window: traces only)
``stray_last``    the same, on the page's last item (whose cursor the next page follows)
``replay``        the body of the listing page served just before this one, instead of
                  this one (a cache or load balancer that answers with another request's
                  body); the first page a server sends is not replayed
``foreign_span``  the middle item's ``trace_id`` becomes another trace's (spans only)
``string_list``   the first list field of the first item (``models``, ``pii_entities``)
                  becomes a string: ``"gpt-4o"`` where the contract has ``["gpt-4o"]``
``dup_row``       the first item appears twice (again as the second item)
``null_id``       the middle item's ``id`` is ``null`` (the contract says always present)
``nan_cost``      the middle item's ``total_cost`` is ``NaN`` (not JSON: RFC 8259)

Every kind counts in ``ServerStats.faults`` like the others; a page it cannot apply to (no
item, no list field, a spans-only kind on traces) is sent unchanged.
"""

from __future__ import annotations

import json
import threading
from typing import Any

__all__ = ["PAGE_FAULTS", "PageFaults"]

PAGE_FAULTS = (
    "stray_row", "stray_last", "replay", "foreign_span", "string_list", "dup_row", "null_id",
    "nan_cost",
)  # fmt: skip

_STRAY = "2019-01-01T00:00:00.000Z"
_NAN = "__NETRA_NAN__"


class PageFaults:
    """Applies :data:`PAGE_FAULTS` to page bodies; remembers the last page (``replay``).

    Examples
    --------
    >>> faults = PageFaults()
    >>> body = b'{"data":{"data":[{"id":"a","start_time":"x","cursor":"c"}],'
    >>> body += b'"pageInfo":{"hasNextPage":false}}}'
    >>> json.loads(faults.apply(body, "stray_row"))["data"]["data"][0]["start_time"]
    '2019-01-01T00:00:00.000Z'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: bytes | None = None

    def served(self, body: bytes) -> None:
        """Remember a listing page just sent (for ``replay``)."""
        with self._lock:
            self._last = body

    def apply(self, body: bytes, kind: str) -> bytes:
        """``body`` with the fault ``kind`` applied (unchanged when it does not apply)."""
        if kind == "replay":
            with self._lock:
                return self._last if self._last is not None else body
        payload = json.loads(body)
        items = payload["data"]["data"]
        if not items:
            return body
        middle = items[len(items) // 2]
        if kind in ("stray_row", "stray_last") and "start_time" in middle:
            (items[-1] if kind == "stray_last" else middle)["start_time"] = _STRAY
        elif kind == "foreign_span" and "trace_id" in middle:
            middle["trace_id"] = _other(middle["trace_id"])
        elif kind == "string_list":
            for name, value in items[0].items():
                if isinstance(value, list):
                    items[0][name] = "gpt-4o" if not value else str(value[0])
                    break
        elif kind == "dup_row":
            items.insert(1, dict(items[0]))
        elif kind == "null_id":
            middle["id"] = None
        elif kind == "nan_cost" and "total_cost" in middle:
            middle["total_cost"] = _NAN
        return _compact(payload).replace(f'"{_NAN}"'.encode(), b"NaN")


def _other(trace_id: str) -> str:
    """Another trace's id, of the same form."""
    return trace_id[::-1] if trace_id[::-1] != trace_id else "f" * len(trace_id)


def _compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
