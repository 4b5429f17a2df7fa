"""Request routing and JSON in/out of the local Netra server, independent of sockets.

:class:`NetraApp` turns one request (method, path, query, key, body) into one
:class:`~netra_frames.server.protocol.Response`; the checks, cursors and errors it uses live
in :mod:`netra_frames.server.protocol`, the sockets in :mod:`netra_frames.server.httpd`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from netra_frames.server.injector import FaultInjector
from netra_frames.server.protocol import (
    ApiError,
    CursorCodec,
    Response,
    check_choice,
    check_filters,
    check_limit,
    check_window,
)
from netra_frames.server.store import SORT_FIELDS, Store

__all__ = ["NetraApp", "ServerStats"]

logger = logging.getLogger("netra_frames.server")

_DIRECTIONS = ("down", "up")
_ORDERS = ("asc", "desc")


@dataclass
class ServerStats:
    """Counters of a running server (a snapshot when read from ``LocalNetra.stats``).

    Examples
    --------
    >>> ServerStats().requests
    0
    """

    requests: int = 0
    connections_opened: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)

    def copy(self) -> ServerStats:
        """Return an independent copy.

        Examples
        --------
        >>> ServerStats(requests=3).copy().requests
        3
        """
        return ServerStats(self.requests, self.connections_opened, dict(self.by_status),
                           dict(self.faults))  # fmt: skip


@dataclass
class NetraApp:
    """The request -> response logic of the server, independent of sockets.

    Parameters
    ----------
    store : Store
        Loaded database.
    keys : Mapping[str, str]
        API key -> organisation id.
    secret : bytes
        Cursor signing secret.
    max_page_size, default_page_size : int
        Page-size limits.
    faults : FaultInjector
        Fault decisions for API routes.
    inclusive_end : bool
        List the traces of ``[startTime, endTime]``, the end included, as a server may
        read a window such as the seed's ``...T23:59:59.000Z`` (the documented API is
        half-open: off by default).

    Examples
    --------
    >>> from netra_frames.server.faults import FaultConfig
    >>> app = NetraApp(Store(None), {}, b"s", 100, 10, FaultInjector(FaultConfig()))
    >>> app.handle("GET", "/nowhere", "", "", b"").status
    404
    >>> app.store.close()
    """

    store: Store
    keys: Mapping[str, str]
    secret: bytes
    max_page_size: int
    default_page_size: int
    faults: FaultInjector
    inclusive_end: bool = False
    stats: ServerStats = field(default_factory=ServerStats)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.cursors = CursorCodec(self.secret)

    def count(
        self, status: int | None = None, fault: str | None = None, conn: bool = False
    ) -> None:
        """Update the counters (thread-safe).

        Examples
        --------
        >>> from netra_frames.server.faults import FaultConfig
        >>> app = NetraApp(Store(None), {}, b"s", 100, 10, FaultInjector(FaultConfig()))
        >>> app.count(status=200); app.stats.by_status
        {200: 1}
        >>> app.store.close()
        """
        with self.lock:
            if status is not None:
                self.stats.requests += 1
                code = int(status)  # HTTPStatus members from the stdlib become plain ints
                self.stats.by_status[code] = self.stats.by_status.get(code, 0) + 1
            if fault is not None:
                self.stats.faults[fault] = self.stats.faults.get(fault, 0) + 1
            if conn:
                self.stats.connections_opened += 1

    def handle(self, method: str, path: str, query: str, api_key: str, body: bytes) -> Response:
        """Route one request and return its response; unexpected errors become a 500.

        Examples
        --------
        >>> from netra_frames.server.faults import FaultConfig
        >>> app = NetraApp(Store(None), {}, b"s", 100, 10, FaultInjector(FaultConfig()))
        >>> app.handle("POST", "/sdk/traces", "", "", b"{}").status
        401
        >>> app.store.close()
        """
        try:
            route, args = self._route(method, path)
            org_id = self.keys.get(api_key)
            if org_id is None:
                raise ApiError(401, "missing or unknown API key: send it in the x-api-key header")
            return route(org_id, args, query, body)
        except ApiError as exc:
            return Response.error(exc.status, exc.message, exc.headers)
        except Exception as exc:
            logger.exception("internal error on %s %s", method, path)
            self.errors.append(exc)
            return Response.error(500, f"internal server error: {type(exc).__name__}")

    def _route(self, method: str, path: str) -> tuple[Callable[..., Response], list[str]]:
        raw = path[1:-1] if path.endswith("/") and len(path) > 1 else path[1:]
        parts = raw.split("/")
        args = [unquote(p) for p in parts]
        table: list[tuple[str, Callable[..., Response], bool]] = [
            ("GET", self._session_usage, len(parts) == 3 and parts[:2] == ["usage", "sessions"]),
            ("GET", self._tenant_usage, len(parts) == 3 and parts[:2] == ["usage", "tenants"]),
            ("POST", self._traces, parts == ["sdk", "traces"]),
            ("GET", self._spans, len(parts) == 4 and parts[:2] == ["sdk", "traces"]
             and parts[3] == "spans"),
        ]  # fmt: skip
        for allowed, route, matched in table:
            if matched and all(args[1:]):
                if method != allowed:
                    raise ApiError(405, f"method {method} not allowed on {path}; use {allowed}",
                                   headers={"Allow": allowed})  # fmt: skip
                return route, args
        raise ApiError(404, f"no route for {path}")

    def _query(self, query: str) -> dict[str, str]:
        try:
            pairs = parse_qs(query, keep_blank_values=True, max_num_fields=50)
        except ValueError:
            raise ApiError(400, "too many query parameters") from None
        return {k: v[-1] for k, v in pairs.items()}

    def _session_usage(self, org_id: str, args: list[str], query: str, body: bytes) -> Response:
        params = self._query(query)
        window = check_window(params.get("startTime"), params.get("endTime"))
        tokens, count, cost = self.store.session_usage(org_id, args[2], window)
        return Response.json(200, {"data": {
            "session_id": args[2], "tokenCount": tokens, "requestsCount": count,
            "totalCost": cost / 1e9,
        }})  # fmt: skip

    def _tenant_usage(self, org_id: str, args: list[str], query: str, body: bytes) -> Response:
        params = self._query(query)
        window = check_window(params.get("startTime"), params.get("endTime"))
        tokens, count, sessions, cost = self.store.tenant_usage(org_id, args[2], window)
        return Response.json(200, {"data": {
            "tenant_id": args[2], "organisation_id": org_id, "tokenCount": tokens,
            "requestsCount": count, "sessionsCount": sessions, "totalCost": cost / 1e9,
        }})  # fmt: skip

    def _traces(self, org_id: str, args: list[str], query: str, body: bytes) -> Response:
        try:
            req = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "request body is not valid JSON") from None
        except RecursionError:
            raise ApiError(400, "request body is nested too deeply") from None
        if not isinstance(req, dict):
            raise ApiError(400, "request body must be a JSON object")
        window = check_window(req.get("startTime"), req.get("endTime"))
        if self.inclusive_end:
            window = (window[0], window[1] + 1)  # milliseconds: the end's own included
        filters = check_filters(req.get("filters"))
        page = req.get("pagination")
        if page is None:
            page = {}
        if not isinstance(page, dict):
            raise ApiError(400, "pagination must be an object")
        limit = check_limit(page.get("limit"), self.default_page_size, self.max_page_size)
        direction = check_choice(page.get("direction"), _DIRECTIONS, "down", "pagination.direction")
        sort = check_choice(req.get("sortField"), tuple(SORT_FIELDS), "start_time", "sortField")
        order = check_choice(req.get("sortOrder"), _ORDERS, "desc", "sortOrder")
        after = self._after(page.get("cursor"), org_id, "traces", sort, order)
        ascending = (order == "asc") != (direction == "up")
        rows = self.store.trace_page(org_id, window, filters, sort, ascending, after, limit + 1)
        rows, more = rows[:limit], len(rows) > limit
        cursors = self.cursors.encode(org_id, "traces", sort, order, [r[:2] for r in rows])
        return _page([r[2] for r in rows], cursors, more)

    def _spans(self, org_id: str, args: list[str], query: str, body: bytes) -> Response:
        trace_id = args[2]
        if not self.store.has_trace(org_id, trace_id):
            raise ApiError(404, f"trace {trace_id} not found")
        params = self._query(query)
        limit_text = params.get("limit")
        limit = self.default_page_size
        if limit_text is not None:
            if not re.fullmatch(r"\d{1,9}", limit_text):
                raise ApiError(400, f"limit must be an integer from 1 to {self.max_page_size}")
            limit = check_limit(int(limit_text), limit, self.max_page_size, "limit")
        direction = check_choice(params.get("direction"), _DIRECTIONS, "down", "direction")
        span_name = params.get("spanName") or None
        listing = f"spans:{trace_id}"
        after = self._after(params.get("cursor"), org_id, listing, "start_time", "asc")
        rows = self.store.span_page(org_id, trace_id, span_name, direction == "down", after,
                                    limit + 1)  # fmt: skip
        rows, more = rows[:limit], len(rows) > limit
        positions = [(r[0], r[1]) for r in rows]
        cursors = self.cursors.encode(org_id, listing, "start_time", "asc", positions)
        return _page([r[2] for r in rows], cursors, more)

    def _after(self, cursor: object, org_id: str, listing: str, sort: str, order: str
               ) -> tuple[Any, str] | None:  # fmt: skip
        if cursor is None or cursor == "":
            return None
        if not isinstance(cursor, str):
            raise ApiError(400, "invalid cursor: must be a string")
        key, item_id = self.cursors.decode(cursor, org_id, listing, sort, order)
        key_type = str if sort == "name" else int
        if type(key) is not key_type or not isinstance(item_id, str):
            raise ApiError(400, "invalid cursor: bad position")
        return key, item_id


def _page(items: list[str], cursors: list[str], has_next: bool) -> Response:
    """Assemble the page envelope around pre-rendered item JSON objects, adding cursors."""
    parts = [
        f'{item[:-1]},"cursor":"{cursor}"}}' for item, cursor in zip(items, cursors, strict=True)
    ]
    flag = "true" if has_next else "false"
    body = f'{{"data":{{"data":[{",".join(parts)}],"pageInfo":{{"hasNextPage":{flag}}}}}}}'
    return Response(200, body.encode())
