"""The sockets of the local Netra server: a threaded HTTP/1.1 server and its handler.

Moves bytes between connections and :class:`~netra_frames.server.app.NetraApp`, applies
injected faults (:mod:`netra_frames.server.faults`) and counts connections.
"""

from __future__ import annotations

import json
import logging
import selectors
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from netra_frames.server.app import NetraApp
from netra_frames.server.faults import FaultPlan
from netra_frames.server.page_faults import PAGE_FAULTS, PageFaults
from netra_frames.server.protocol import ApiError, Response

__all__ = ["MAX_BODY_BYTES", "NetraHTTPServer"]

logger = logging.getLogger("netra_frames.server")

#: Largest accepted request body (1 MiB); larger bodies get a 413.
MAX_BODY_BYTES = 1 << 20
_DRAIN_LIMIT = 64 << 20  # bodies up to this size are read and discarded to keep the connection
_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


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


def _echo(method: str, path: str, api_key: str) -> str:
    """An ``echo_key`` error message: the request's key as gateways and WAFs echo it."""
    return (
        f"injected fault: echo_key. Request: {method} {path}?api_key={quote(api_key, safe='')}"
        f"\nx-api-key: {api_key}\nAuthorization: Bearer {api_key}\nkey: {api_key}"
    )


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
    """Threaded HTTP/1.1 server bound to a :class:`NetraApp`; tracks connections and threads.

    Each accepted connection is served on its own thread, named ``LocalNetra-PORT-conn-N``
    (:attr:`thread_name`, ``LocalNetra-PORT``, also names the serving thread). The server
    keeps every such thread, as :class:`socketserver.ThreadingMixIn` does with
    ``block_on_close``, so :meth:`server_close` can end them: it stops accepting, shuts down
    every open connection (a handler blocked on its socket or waiting out an injected delay
    returns at once) and joins the handler threads, at most :attr:`handler_join_seconds`.
    They stay daemon threads only so that one a stop could not end never blocks the exit.

    Examples
    --------
    >>> NetraHTTPServer.daemon_threads, NetraHTTPServer.block_on_close
    (True, True)
    """

    daemon_threads = True
    block_on_close = True
    allow_reuse_address = True
    # socketserver's default backlog (5) drops the SYNs of a burst of new connections, and
    # each dropped SYN costs the client a one-second retransmit: a real server accepts more
    request_queue_size = 128
    #: Longest :meth:`server_close` waits for the handler threads to end.
    handler_join_seconds = 10.0

    def __init__(self, address: tuple[str, int], app: NetraApp) -> None:
        self.app = app
        #: Set when the server closes: injected waits end at once.
        self.stopping = threading.Event()
        #: The faults in a page's rows, and the last listing page served (``replay``).
        self.page_faults = PageFaults()
        self._open: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()
        self._accepted = 0
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)
        self.thread_name = f"LocalNetra-{self.server_address[1]}"

    def process_request(self, request: Any, client_address: Any) -> None:
        """Count and track an accepted connection, then serve it on a tracked thread."""
        self.app.count(conn=True)
        with self._open_lock:
            self._accepted += 1
            thread = threading.Thread(
                target=self.process_request_thread, args=(request, client_address),
                name=f"{self.thread_name}-conn-{self._accepted}", daemon=self.daemon_threads,
            )  # fmt: skip
            self._handlers = {t for t in self._handlers if t.is_alive()}
            self._handlers.add(thread)
            self._open.add(request)
        thread.start()

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

    def server_close(self) -> None:
        """Stop accepting, end every open connection and join the handler threads (bounded).

        Call it after :meth:`shutdown` (or without ``serve_forever`` running), so that no new
        connection is accepted meanwhile. A handler thread still alive after
        :attr:`handler_join_seconds` is logged and left behind (a daemon thread).
        """
        self.stopping.set()
        super().server_close()
        self.close_connections()
        deadline = time.monotonic() + self.handler_join_seconds
        with self._open_lock:
            handlers = list(self._handlers)
        for thread in handlers:
            while thread.is_alive() and time.monotonic() < deadline:
                thread.join(0.1)  # timed: an untimed join cannot be interrupted by Ctrl-C
        left = [t.name for t in handlers if t.is_alive()]
        if left:
            logger.warning("LocalNetra stopped with handler threads still running: %s", left)


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
            if plan.delay_s and not self._wait(plan.delay_s):
                self.close_connection = True  # the client hung up or the server stops
                return
            if plan.kind == "reset_before":
                self._reset()
                return
            if plan.kind == "echo_key":
                message = _echo(self.command, path, self.headers.get("x-api-key", ""))
                self._send(Response.error(plan.status, message), plan)
                return
            if plan.kind in ("error", "429", "rate_limit", "fail_after"):
                headers = {"Retry-After": plan.retry_after} if plan.status == 429 else {}
                self._send(
                    Response.error(plan.status, f"injected fault: {plan.kind}", headers), plan
                )
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

    def _wait(self, seconds: float) -> bool:
        """Wait ``seconds``; return ``False`` at once if the client hangs up or the server stops.

        A waiting request has been read whole and an HTTP/1.1 client sends nothing more until
        it has the answer, so the socket turning readable means end of stream: the client gave
        up (a timeout) or :meth:`NetraHTTPServer.server_close` shut it down. Bytes that do
        arrive (a pipelining client) are left for the next request, and the rest of the wait
        is spent on the server's ``stopping`` event instead.
        """
        stopping = self.server.stopping
        deadline = time.monotonic() + seconds
        with selectors.DefaultSelector() as watch:
            try:
                watch.register(self.connection, selectors.EVENT_READ)
                while (left := deadline - time.monotonic()) > 0 and not stopping.is_set():
                    if not watch.select(left):
                        continue  # the time is up
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return False
                    stopping.wait(max(0.0, deadline - time.monotonic()))  # pipelined bytes
            except (OSError, ValueError):  # reset, or closed under us
                return False
        return not stopping.is_set()

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
        listing = resp.status == 200 and self.path.startswith("/sdk/traces")
        if listing:
            clean = body
            if kind in PAGE_FAULTS:
                body = self.server.page_faults.apply(body, kind)
            self.server.page_faults.served(clean)
        self.server.app.count(status=resp.status)
        self.log_request(resp.status)
        endless = kind == "drip" and plan is not None and plan.endless
        length = len(body) + (1 << 40 if endless else 0)  # an endless drip never gets there
        lines = [
            f"{self.protocol_version} {resp.status} {self.responses.get(resp.status, ('',))[0]}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json",
            f"Content-Length: {length}",
            *(f"{name}: {value}" for name, value in resp.headers.items()),
            *(f"{name}: {value}" for name, value in (plan.headers if plan is not None else ())),
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
                    if not self._wait(plan.slow_s / 10):
                        self.close_connection = True
                        return
                    self.wfile.write(body[i : i + step])
            elif kind == "drip" and plan is not None:
                self.wfile.write(head)
                self._drip(body, plan)
            else:
                self.wfile.write(head + body)
        except OSError:
            self.close_connection = True

    def _drip(self, body: bytes, plan: FaultPlan) -> None:
        """Send ``body`` a byte every ``plan.drip_s`` (then spaces, if endless) until the client
        hangs up or the server stops."""
        sent = 0
        while sent < len(body) or plan.endless:
            if not self._wait(plan.drip_s):
                self.close_connection = True
                return
            self.wfile.write(body[sent : sent + 1] if sent < len(body) else b" ")
            sent += 1
