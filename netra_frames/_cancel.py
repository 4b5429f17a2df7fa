"""Cancellation: one scope per drain, honoured by every wait and every in-flight request.

A :class:`CancelScope` is what a drain's worker threads share. Cancelling it (on Ctrl-C in
the calling thread, or on the first error of any worker):

* wakes every wait of the scope at once (backoff sleeps, 429 waits, the rate limiter,
  the pool's hand-offs), which then raise :class:`Cancelled`;
* shuts down the socket each of the scope's threads is reading from (the transport
  registers it with :func:`track_socket`), so a request waiting for a slow page returns
  at once instead of when the server answers.

Waits are cut into slices of at most :data:`WAIT_SLICE` seconds: after ``import polars``
an untimed wait in the main thread cannot be interrupted by Ctrl-C, a sliced one can.
:data:`NEVER` is the scope of a plain client call: it is never cancelled, and its waits
are the same interruptible slices.
"""

from __future__ import annotations

import atexit
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "NEVER",
    "WAIT_SLICE",
    "CancelScope",
    "Cancelled",
    "current_scope",
    "interrupts_seen",
    "track_socket",
    "untrack_socket",
    "watch_interrupts",
]

WAIT_SLICE = 0.2
"""Longest single blocking wait, in seconds (keeps Ctrl-C prompt in the main thread)."""

_sockets: dict[int, socket.socket] = {}
_sockets_lock = threading.Lock()
_local = threading.local()


def track_socket(sock: socket.socket | None) -> None:
    """Remember ``sock`` as the socket the current thread is waiting on (see module doc).

    A thread whose scope was cancelled while it was still connecting cuts its own socket
    here: :meth:`CancelScope.cancel` sets the flag before it reads the registry, and this
    registers before it reads the flag, so one of the two always sees the other.
    """
    if sock is None:
        return
    with _sockets_lock:
        _sockets[threading.get_ident()] = sock
    if current_scope().cancelled:
        _cut(sock)


def _cut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def untrack_socket() -> None:
    """Forget the current thread's socket (its response has been read)."""
    with _sockets_lock:
        _sockets.pop(threading.get_ident(), None)


class Cancelled(BaseException):  # noqa: N818 - a signal to unwind, like KeyboardInterrupt
    """Raised inside a worker whose drain was cancelled; never reaches the caller."""


class CancelScope:
    """A cancellation flag shared by one drain's threads and waits.

    Examples
    --------
    >>> scope = CancelScope()
    >>> scope.sleep(0.0)
    >>> scope.cancel()
    >>> scope.cancelled
    True
    """

    def __init__(self) -> None:
        self._cancelled = False
        self._gate = threading.Lock()
        """Held until :meth:`cancel`; a wait is an ``acquire`` with a timeout. Not an
        ``Event``: its ``wait`` is Python code that holds a ``Condition``'s lock, and a
        Ctrl-C raised there between two bytecodes leaves that lock taken for good, so
        every later wait of the scope (:data:`NEVER` is shared by all plain calls)
        blocks forever. A gate left taken the same way only makes waits last their slice."""
        self._gate.acquire()
        self._threads: set[int] = set()
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled

    def cancel(self) -> None:
        """Cancel: wake every wait and cut the sockets the scope's threads are reading."""
        with self._lock:
            opened = not self._cancelled
            self._cancelled = True
            threads = set(self._threads)
        if opened:
            self._gate.release()
        with _sockets_lock:
            sockets = [s for ident, s in _sockets.items() if ident in threads]
        for sock in sockets:
            _cut(sock)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the scope was cancelled."""
        if self._cancelled:
            raise Cancelled()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` in interruptible slices; raise :class:`Cancelled` if cancelled."""
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            self.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._gate.acquire(timeout=min(left, WAIT_SLICE)):
                self._gate.release()  # open: let the next waiter through

    @contextmanager
    def enter(self) -> Iterator[None]:
        """Count the current thread in this scope while the block runs (workers do this)."""
        ident = threading.get_ident()
        with self._lock:
            self._threads.add(ident)
        outer = getattr(_local, "scope", None)
        _local.scope = self
        try:
            yield
        finally:
            _local.scope = outer
            with self._lock:
                self._threads.discard(ident)


class _Never(CancelScope):
    """The scope of plain client calls: :meth:`cancel` is refused."""

    def cancel(self) -> None:
        raise RuntimeError("the NEVER scope cannot be cancelled")


NEVER: CancelScope = _Never()
"""The scope of calls made outside a drain; never cancelled."""


def current_scope() -> CancelScope:
    """The scope of the drain the current thread works for, else :data:`NEVER`.

    A client call made inside a drain's worker (a usage lookup, say) is cancelled with
    that drain without being told so.
    """
    scope = getattr(_local, "scope", None)
    return scope if isinstance(scope, CancelScope) else NEVER


# -- interrupts seen from any thread ---------------------------------------------------------


class _Interrupts:
    """SIGINT and SIGTERM counted through Python's wakeup fd (see :func:`watch_interrupts`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reader: socket.socket | None = None
        self.writer: socket.socket | None = None
        self.count = 0

    def install(self) -> None:
        if self.reader is not None or threading.current_thread() is not threading.main_thread():
            return
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        try:
            previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):  # pragma: no cover - not the main interpreter
            reader.close()
            writer.close()
            return
        if previous != -1:  # someone else's (an event loop's): put it back, leave it alone
            signal.set_wakeup_fd(previous)
            reader.close()
            writer.close()
            return
        self.reader, self.writer = reader, writer
        atexit.register(self.uninstall)

    def uninstall(self) -> None:
        """Give the wakeup fd back and close the pair (at exit)."""
        if self.reader is None or self.writer is None:
            return
        try:
            if signal.set_wakeup_fd(-1) != self.writer.fileno():  # pragma: no cover
                pass  # replaced by someone else meanwhile; theirs is gone now too
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            return
        self.reader.close()
        self.writer.close()
        self.reader = self.writer = None

    def seen(self) -> int:
        reader = self.reader
        if reader is None:
            return self.count
        with self.lock:
            while True:
                try:
                    data = reader.recv(4096)
                except (BlockingIOError, InterruptedError, OSError):
                    break
                if not data:
                    break
                self.count += sum(1 for b in data if b in _STOPPING)
        return self.count


_STOPPING = frozenset({signal.SIGINT.value, signal.SIGTERM.value})
_interrupts = _Interrupts()


def watch_interrupts() -> None:
    """Count SIGINT and SIGTERM from now on, so that any thread can see them.

    Python runs signal handlers in the main thread only, between bytecodes. Code that
    runs on another thread while the main one waits inside a library (a Polars scan's
    source, while ``collect()`` waits in Rust) never sees Ctrl-C otherwise: Polars' own
    handler does not survive a kernel that resets SIGINT before every cell (ipykernel
    does). Python's C-level handler also writes each signal's number to the *wakeup
    fd*, at once, from any thread: this installs one (a socket pair) when the process
    has none and this is the main thread, and leaves an existing one alone (an event
    loop's). Harmless to call again.

    Examples
    --------
    >>> watch_interrupts()
    >>> interrupts_seen() >= 0
    True
    """
    _interrupts.install()


def interrupts_seen() -> int:
    """SIGINT and SIGTERM signals seen since :func:`watch_interrupts` (a running count)."""
    return _interrupts.seen()
