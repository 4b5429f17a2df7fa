"""The transport's connections: sockets a cancel can cut, and a body read by a deadline.

The client's own pools (:class:`Adapter`) make connections that register their socket
while the headers of a response are awaited (:func:`~netra_frames._cancel.track_socket`),
and :func:`read_body` reads a body, on those and on a caller's own ``requests.Session``
alike, a chunk at a time: each socket read is bounded by the time left to the attempt and
the socket is registered meanwhile. So an attempt ends by its deadline however slowly the
server sends, and cancelling a drain cuts its requests at once.
"""

from __future__ import annotations

import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection

from ._cancel import track_socket, untrack_socket

__all__ = ["Adapter", "read_body"]

_CHUNK = 1 << 18
"""Bytes one read of a body asks for when its length is unknown (it takes what has come)."""
_MOST = 1 << 22
"""Most bytes one read asks for (its buffer is allocated whole, whatever a length says)."""


class _Tracked:
    """A connection mixin that registers its socket while its response is awaited.

    The socket stays registered after the headers, for :func:`read_body` (which forgets
    it once the body is read): registering it once per request is a cost on every one.
    """

    sock: Any

    def getresponse(self) -> Any:  # noqa: D102 - see the class docstring
        track_socket(self.sock)
        try:
            return super().getresponse()  # type: ignore[misc]
        except BaseException:
            untrack_socket()
            raise


class _TrackedHTTPConnection(_Tracked, HTTPConnection):
    """:class:`_Tracked` over plain TCP."""


class _TrackedHTTPSConnection(_Tracked, HTTPSConnection):
    """:class:`_Tracked` over TLS."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class Adapter(HTTPAdapter):
    """The client's own adapter: pools whose connections can be cut by a cancel."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def read_body(response: Any, deadline: float, *, registered: bool) -> bytes:
    """Read a urllib3 response's whole (decoded) body by ``deadline`` (``time.monotonic``).

    Each read takes what has arrived, at most one socket read, and that socket read is
    bounded by the time left; the socket is registered meanwhile (``registered``: it is
    already, by a connection of :class:`Adapter`), so a drain's cancel cuts it. The
    connection goes back to the pool after a whole body, and is closed otherwise.

    Raises
    ------
    TimeoutError
        When the deadline passes before the body is complete.
    """
    sock = getattr(response.connection, "sock", None)
    sized = "Content-Encoding" not in response.headers  # length_remaining counts what we get
    parts: list[bytes] = []
    if not registered:
        track_socket(sock)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the answer was not complete when the timeout ran out")
            if sock is not None:
                sock.settimeout(left)
            chunk = response.read1(min(response.length_remaining or _CHUNK, _MOST), True)
            if not chunk:
                break
            parts.append(chunk)
            if sized and response.length_remaining == 0:
                break  # the whole of its Content-Length: no need to ask for the end
    except BaseException:
        response.close()  # half read: the connection cannot be used again
        raise
    finally:
        untrack_socket()
        response.release_conn()
    return parts[0] if len(parts) == 1 else b"".join(parts)
