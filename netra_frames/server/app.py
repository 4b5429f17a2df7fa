"""HTTP routing and JSON in/out of the local Netra server.

:class:`NetraApp` turns one request (method, path, query, key, body) into one
:class:`Response`; :class:`NetraHTTPServer` and its handler move bytes, apply injected faults
and count connections. Input validation lives here: every bad input is a 4xx JSON error
``{"error": {"message": ...}}``, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode

from netra_frames.server.faults import FaultInjector, FaultPlan
from netra_frames.server.store import SORT_FIELDS, Store

__all__ = ["MAX_BODY_BYTES", "ApiError", "NetraApp", "NetraHTTPServer", "Response", "ServerStats"]

logger = logging.getLogger("netra_frames.server")

#: Largest accepted request body (1 MiB); larger bodies get a 413.
MAX_BODY_BYTES = 1 << 20
_DRAIN_LIMIT = 64 << 20  # bodies up to this size are read and discarded to keep the connection
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"([Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
_HEX = re.compile(r"[0-9a-f]+")
_MAC_BYTES = 16
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FILTER_FIELDS = frozenset({"tenant_id", "user_id", "session_id", "trace_id"})
_DIRECTIONS = ("down", "up")
_ORDERS = ("asc", "desc")
_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


class ApiError(Exception):
    """A request the server rejects with ``status`` and a one-sentence ``message``.

    Examples
    --------
    >>> ApiError(404, "not found").status
    404
    """

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class Response:
    """A complete JSON response: status, encoded body and extra headers.

    Examples
    --------
    >>> Response.json(200, {"data": 1}).body
    b'{"data":1}'
    """

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, status: int, payload: object, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Encode ``payload`` compactly as UTF-8 JSON.

        Examples
        --------
        >>> Response.json(400, {"error": {"message": "x"}}).status
        400
        """
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, dict(headers or {}))

    @classmethod
    def error(cls, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
        """Build the JSON error envelope ``{"error": {"message": ...}}``.

        Examples
        --------
        >>> Response.error(404, "no route").body
        b'{"error":{"message":"no route"}}'
        """
        return cls.json(status, {"error": {"message": message}}, headers)


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


def parse_time_ns(value: str) -> int:
    """Parse an ISO 8601 time to epoch nanoseconds; naive times are UTC.

    Accepts ``Z`` or ``+HH:MM`` offsets, optional seconds and up to 9 fractional digits.

    Examples
    --------
    >>> parse_time_ns("1970-01-01T00:00:01.5+00:00")
    1500000000
    """
    m = _ISO.fullmatch(value.strip())
    if m is None:
        raise ValueError(value)
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    moment = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0),
                      tzinfo=timezone.utc)  # fmt: skip
    if tz and tz not in "Zz":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return seconds * 10**9 + int((frac or "").ljust(9, "0"))


class CursorCodec:
    """Sign and check opaque pagination cursors.

    A cursor is ``b64(payload).b64(mac)``; the payload is ``[sort_field, sort_order, key, id]``
    and the HMAC-SHA256 covers the organisation and listing too, so a cursor from another
    organisation, trace or server instance, or for another sort, is rejected.

    Examples
    --------
    >>> codec = CursorCodec(b"secret")
    >>> [token] = codec.encode("org", "traces", "name", "asc", [("chat", "ab")])
    >>> codec.decode(token, "org", "traces", "name", "asc")
    ('chat', 'ab')
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._prefixes: dict[tuple[str, str], bytes] = {}

    def _prefix(self, org_id: str, listing: str) -> bytes:
        prefix = self._prefixes.get((org_id, listing))
        if prefix is None:
            if len(self._prefixes) > 10_000:
                self._prefixes.clear()
            prefix = self._prefixes[org_id, listing] = f"{org_id}\x00{listing}\x00".encode()
        return prefix

    def encode(
        self, org_id: str, listing: str, sort: str, order: str, positions: Iterable[tuple[Any, str]]
    ) -> list[str]:
        """Return the cursors of items at ``(key, id)`` positions of one listing.

        Examples
        --------
        >>> len(CursorCodec(b"k").encode("o", "traces", "start_time", "asc", [(1, "a")]))
        1
        """
        prefix = self._prefix(org_id, listing)
        secret = self._secret
        tokens = []
        for key, item_id in positions:
            if type(key) is int and _HEX.fullmatch(item_id):  # hot path: skip the JSON encoder
                payload = f'["{sort}","{order}",{key},"{item_id}"]'.encode()
            else:
                payload = json.dumps([sort, order, key, item_id], separators=(",", ":")).encode()
            mac = hmac.digest(secret, prefix + payload, "sha256")[:_MAC_BYTES]
            tokens.append(f"{_b64(payload)}.{_b64(mac)}")
        return tokens

    def decode(
        self, token: str, org_id: str, listing: str, sort: str, order: str
    ) -> tuple[Any, str]:
        """Check a cursor and return its ``(key, id)`` position; raise a 400 ``ApiError``.

        Examples
        --------
        >>> CursorCodec(b"k").decode("junk", "o", "traces", "name", "asc")
        Traceback (most recent call last):
        ...
        netra_frames.server.app.ApiError: invalid cursor: malformed token
        """
        try:
            head, _, tail = token.partition(".")
            payload, mac = _unb64(head), _unb64(tail)
        except (ValueError, binascii.Error):
            raise ApiError(400, "invalid cursor: malformed token") from None
        expected = hmac.digest(self._secret, self._prefix(org_id, listing) + payload, "sha256")
        if not hmac.compare_digest(mac, expected[:_MAC_BYTES]):
            raise ApiError(400, "invalid cursor: not issued for this listing or organisation")
        c_sort, c_order, key, item_id = json.loads(payload)
        if (c_sort, c_order) != (sort, order):
            raise ApiError(400, f"invalid cursor: issued for sort {c_sort} {c_order}, "
                                f"not {sort} {order}")  # fmt: skip
        return key, item_id


def _b64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _window(start: object, end: object) -> tuple[int, int]:
    """Validate ``startTime``/``endTime`` and return the ``[lo_ms, hi_ms)`` window."""
    bounds = []
    for name, value in (("startTime", start), ("endTime", end)):
        if value is None:
            raise ApiError(400, f"{name} is required (ISO 8601, e.g. 2026-01-01T00:00:00.000Z)")
        if not isinstance(value, str):
            raise ApiError(400, f"{name} must be an ISO 8601 string")
        try:
            bounds.append(parse_time_ns(value))
        except (ValueError, OverflowError):
            raise ApiError(400, f"{name} is not a valid ISO 8601 time: {value!r}") from None
    if bounds[1] <= bounds[0]:
        raise ApiError(400, "endTime must be later than startTime")
    # t_ms * 1e6 >= ns  <=>  t_ms >= ceil(ns / 1e6), for both (half-open) bounds
    return -(-bounds[0] // 10**6), -(-bounds[1] // 10**6)


def _limit(value: object, default: int, maximum: int, name: str = "pagination.limit") -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ApiError(400, f"{name} must be an integer from 1 to {maximum}, got {value!r}")
    return value


def _choice(value: object, allowed: tuple[str, ...], default: str, name: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise ApiError(400, f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _filters(value: object) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, "filters must be a list")
    result = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ApiError(400, f"filters[{i}] must be an object")
        fld, val = item.get("field"), item.get("value")
        if not isinstance(fld, str) or fld not in _FILTER_FIELDS:
            raise ApiError(400, f"filters[{i}].field must be one of "
                                f"{', '.join(sorted(_FILTER_FIELDS))}, got {fld!r}")  # fmt: skip
        if item.get("operator", "equals") != "equals":
            raise ApiError(400, f"filters[{i}].operator must be 'equals'")
        if item.get("type", "string") != "string":
            raise ApiError(400, f"filters[{i}].type must be 'string'")
        if not isinstance(val, str):
            raise ApiError(400, f"filters[{i}].value must be a string")
        try:
            val.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, f"filters[{i}].value is not valid Unicode") from None
        result.append((str(fld), val))
    return result


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
        window = _window(params.get("startTime"), params.get("endTime"))
        tokens, count, cost = self.store.session_usage(org_id, args[2], window)
        return Response.json(200, {"data": {
            "session_id": args[2], "tokenCount": tokens, "requestsCount": count,
            "totalCost": cost / 1e9,
        }})  # fmt: skip

    def _tenant_usage(self, org_id: str, args: list[str], query: str, body: bytes) -> Response:
        params = self._query(query)
        window = _window(params.get("startTime"), params.get("endTime"))
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
        window = _window(req.get("startTime"), req.get("endTime"))
        filters = _filters(req.get("filters"))
        page = req.get("pagination")
        if page is None:
            page = {}
        if not isinstance(page, dict):
            raise ApiError(400, "pagination must be an object")
        limit = _limit(page.get("limit"), self.default_page_size, self.max_page_size)
        direction = _choice(page.get("direction"), _DIRECTIONS, "down", "pagination.direction")
        sort = _choice(req.get("sortField"), tuple(SORT_FIELDS), "start_time", "sortField")
        order = _choice(req.get("sortOrder"), _ORDERS, "desc", "sortOrder")
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
            limit = _limit(int(limit_text), limit, self.max_page_size, "limit")
        direction = _choice(params.get("direction"), _DIRECTIONS, "down", "direction")
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


def _without_cursor(query: str, body: bytes) -> tuple[str, bytes]:
    """Remove the pagination cursor from a query and a traces body (``repeat_cursor`` fault)."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "cursor"]
    try:
        req = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        req = None
    if isinstance(req, dict) and isinstance(req.get("pagination"), dict):
        req["pagination"].pop("cursor", None)
        body = json.dumps(req).encode()
    return urlencode(pairs), body


def _break_page(body: bytes, kind: str) -> bytes:
    """Strip item cursors (``drop_cursor``) or unwrap the envelope (``no_envelope``)."""
    payload = json.loads(body)
    block = payload.get("data")
    if kind == "no_envelope":
        return json.dumps(block).encode()
    if isinstance(block, dict) and isinstance(block.get("data"), list):
        for item in block["data"]:
            item.pop("cursor", None)
    return json.dumps(payload).encode()


class NetraHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server bound to a :class:`NetraApp`; tracks open connections.

    Examples
    --------
    >>> NetraHTTPServer.daemon_threads
    True
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: NetraApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Count and track an accepted connection, then serve it on a thread."""
        self.app.count(conn=True)
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away (reset, timed out); report anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            logger.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget and close a finished connection."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection so handler threads can finish."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: NetraHTTPServer
    server_version = "LocalNetra/0.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s - %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol-level errors (bad request line, 501, ...) with a JSON body."""
        self.close_connection = True
        self._send(Response.error(code, message or self.responses.get(code, ("error",))[0]))

    def _dispatch(self) -> None:
        app = self.server.app
        path, _, query = self.path.partition("?")
        try:
            body = self._read_body()
        except ApiError as exc:
            self._send(Response.error(exc.status, exc.message))
            return
        except OSError:
            self.close_connection = True
            return
        plan = app.faults.plan(path, self.headers.get("x-api-key", ""))
        if plan is not None and (plan.delay_s or plan.kind):
            if plan.kind:
                app.count(fault=plan.kind)
            if plan.delay_s:
                time.sleep(plan.delay_s)
            if plan.kind == "reset_before":
                self._reset()
                return
            if plan.kind in ("error", "429", "rate_limit", "fail_after"):
                headers = {"Retry-After": plan.retry_after} if plan.status == 429 else {}
                self._send(Response.error(plan.status, f"injected fault: {plan.kind}", headers))
                return
            if plan.kind == "repeat_cursor":
                query, body = _without_cursor(query, body)
        api_key = self.headers.get("x-api-key", "")
        self._send(app.handle(self.command, path, query, api_key, body), plan)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise ApiError(411, "chunked request bodies are not supported; send Content-Length")
        text = self.headers.get("Content-Length")
        if text is None:
            return b""
        if not text.strip().isdigit():
            self.close_connection = True
            raise ApiError(400, "invalid Content-Length header")
        size = int(text)
        if size > MAX_BODY_BYTES:
            if size <= _DRAIN_LIMIT:
                while size > 0:
                    chunk = self.rfile.read(min(size, 1 << 16))
                    if not chunk:
                        break
                    size -= len(chunk)
            else:
                self.close_connection = True
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(size)
        if len(body) < size:
            raise OSError("client closed the connection mid-body")
        return body

    def _reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _send(self, resp: Response, plan: FaultPlan | None = None) -> None:
        """Write status line, headers and body in one ``send`` (one GIL release, no Nagle)."""
        kind = plan.kind if plan is not None else None
        body = resp.body
        if kind == "malformed":
            body = body[: len(body) // 2] + b"\x00<html>"
        elif kind in ("drop_cursor", "no_envelope") and resp.status == 200:
            body = _break_page(body, kind)
        self.server.app.count(status=resp.status)
        self.log_request(resp.status)
        lines = [
            f"{self.protocol_version} {resp.status} {self.responses.get(resp.status, ('',))[0]}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in resp.headers.items()),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if self.command == "HEAD":
                self.wfile.write(head)
            elif kind in ("reset_mid", "truncate"):
                self.wfile.write(head + body[: len(body) // 2])
                if kind == "reset_mid":
                    self._reset()
                self.close_connection = True
            elif kind == "slow" and plan is not None:
                self.wfile.write(head)
                step = -(-len(body) // 10)
                for i in range(0, len(body), step):
                    time.sleep(plan.slow_s / 10)
                    self.wfile.write(body[i : i + step])
            else:
                self.wfile.write(head + body)
        except OSError:
            self.close_connection = True
