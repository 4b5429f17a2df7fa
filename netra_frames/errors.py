"""Every exception netra_frames raises.

The tree::

    NetraError
    ├── ConfigurationError (also ValueError)       missing key or base URL, bad settings
    │   └── InsecureTransportError                 API key over plain http to a remote host
    ├── InvalidParameterError (also ValueError)    bad argument, raised before any request
    │   └── ExportConflictError                    the folder holds another export, or no export
    ├── APIError                                   the server answered with an error status
    │   ├── AuthenticationError                    401 / 403
    │   ├── NotFoundError                          404
    │   ├── RateLimitError                         429, carries ``retry_after``
    │   └── ServerError                            5xx
    ├── TransportError                             connection, timeout, unreadable body
    │   └── PageMismatchError                      a page's rows do not answer its request
    ├── DrainError                                 a multi-page drain failed part way
    └── WriteError (also OSError)                  a file of ours could not be written


    CacheWarning (a UserWarning, not an error)     a cache file was damaged or unwritable

A :class:`DrainError` keeps the class of the error that stopped the drain: the one raised
for a missing trace is both a ``DrainError`` and a ``NotFoundError``, so either ``except``
catches it (see :func:`drain_error`).

Warnings: :class:`NetraWarning` (a ``UserWarning``), and :class:`EmptyResultWarning` for a
traces listing or usage call that found nothing (ids are case-sensitive), with the window.

No message, attribute or ``repr`` of these ever contains the API key.

In IPython and Jupyter an error shows the caller's lines and its message, without the frames
inside the package (:meth:`NetraError._render_traceback_`); elsewhere the traceback is whole.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

from ._warn import PACKAGE_DIR

__all__ = [
    "APIError",
    "AuthenticationError",
    "CacheWarning",
    "ConfigurationError",
    "DrainError",
    "EmptyResultWarning",
    "ExportConflictError",
    "InsecureTransportError",
    "InvalidParameterError",
    "NetraError",
    "NetraWarning",
    "NotFoundError",
    "PageMismatchError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "WriteError",
    "drain_error",
    "status_hint",
]


class NetraError(Exception):
    """Base class of every error raised by netra_frames."""

    def _render_traceback_(self) -> list[str]:
        """How IPython and Jupyter show the error: the lines of the caller's code that led to
        it, then the message, without the frames inside netra_frames (the message says what
        to do; ``traceback.print_exception(sys.last_value)`` or ``%debug`` show every frame).
        Elsewhere Python shows the whole traceback as usual.
        """
        frames = traceback.extract_tb(self.__traceback__)
        yours = [f for f in frames if not f.filename.startswith(PACKAGE_DIR)]
        if yours and f"{os.sep}IPython{os.sep}" in yours[0].filename:
            yours = yours[1:]  # IPython's own frame that ran the cell
        lines = ["Traceback (most recent call last):"]
        lines += "".join(traceback.format_list(yours)).rstrip("\n").split("\n") if yours else []
        hidden = sum(f.filename.startswith(PACKAGE_DIR) for f in frames)
        if hidden:
            lines.append(
                f"  ({hidden} frame(s) inside netra_frames not shown: "
                "traceback.print_exception(sys.last_value) shows them)"
            )
        lines.append(f"{type(self).__name__}: {self}")
        lines += getattr(self, "__notes__", [])
        return lines


class ConfigurationError(NetraError, ValueError):
    """The client is not configured: a key or base URL is missing or invalid."""


class InsecureTransportError(ConfigurationError):
    """The API key would travel over plain ``http://`` to a host that is not loopback."""


class InvalidParameterError(NetraError, ValueError):
    """An argument is invalid; raised before any request is sent."""


class ExportConflictError(InvalidParameterError):
    """The export folder holds an export of another query, or files that are no export.

    Raised before any request; ``overwrite=True`` (``--overwrite``) replaces such an
    export. Files netra_frames did not write are never deleted.
    """


class APIError(NetraError):
    """The server answered with an error status.

    Attributes
    ----------
    status:
        The HTTP status code.
    url:
        The request URL (never contains the key: it travels in a header).
    server_message:
        The ``error.message`` of the response body, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.server_message = server_message


class AuthenticationError(APIError):
    """The API key was refused (HTTP 401 or 403)."""


class NotFoundError(APIError):
    """The resource does not exist or belongs to another organisation (HTTP 404)."""


class RateLimitError(APIError):
    """Too many requests (HTTP 429); ``retry_after`` is the server's hint in seconds."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        url: str | None = None,
        server_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, url=url, server_message=server_message)
        self.retry_after = retry_after


class ServerError(APIError):
    """The server failed (HTTP 5xx), after every allowed retry."""


class TransportError(NetraError):
    """The request did not produce a usable response: connection, timeout, bad body.

    Attributes
    ----------
    url:
        The request URL (never contains the key: it travels in a header).
    cause:
        What failed underneath (urllib3's or the socket's error, or why the body did not
        decode), kept here rather than chained, so that a traceback shows one clear error
        instead of pages of library internals. Its text never holds the API key.
    """

    def __init__(
        self, message: str, *, url: str | None = None, cause: BaseException | None = None
    ) -> None:
        super().__init__(message)
        self.url = url
        self.cause = cause


class PageMismatchError(TransportError):
    """A page's rows do not answer the request that asked for them, twice in a row.

    A row outside the window or the walk's range, a row that fails an equality filter, a
    span of another trace, an id seen twice, a required field missing: the page is not
    trusted, fetched once more, and when the second answer is as wrong, this is raised
    (no row of it is kept, none is dropped quietly). A buggy server, or a cache or load
    balancer in front of it that replays another request's body, answers like that.

    Attributes
    ----------
    field:
        The column whose value is wrong (``start_time``, ``tenant_id``, ``trace_id``, ...).
    value:
        The value found, as text.
    request:
        What was asked, as text: method, path, window, filters, cursor (never the key).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str = "",
        value: str = "",
        request: str = "",
        url: str | None = None,
    ) -> None:
        super().__init__(message, url=url)
        self.field = field
        self.value = value
        self.request = request


class WriteError(NetraError, OSError):
    """A file could not be written (disk full, read-only, no permission), naming the user's path.

    Also an :class:`OSError`, with the ``errno`` of the cause (``errno.ENOSPC``, ...), so an
    ``except OSError`` written for the plain error still catches it. No temporary file is
    left behind.
    """

    def __init__(self, message: str, *, errno: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.errno = errno
        self.filename = path

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), self.args, {"errno": self.errno, "filename": self.filename}


class DrainError(NetraError):
    """A drain over many pages failed part way.

    Attributes
    ----------
    partial:
        The rows fetched before the failure, as a frame of the requested backend.
    cause:
        The underlying error (also set as ``__cause__``).

    Call :meth:`resume` to fetch the rest: it continues from the failure point and
    returns the complete result, exactly the rows an uninterrupted drain would give.
    """

    def __init__(
        self,
        message: str,
        *,
        partial: Any,
        resume: Callable[[], Any],
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.partial = partial
        self.cause = cause
        self._resume = resume

    def resume(self) -> Any:
        """Continue the failed drain and return the complete frame."""
        return self._resume()


_DRAIN_CLASSES: dict[type[NetraError], type[DrainError]] = {}


def _drain_class(cause: type[NetraError]) -> type[DrainError]:
    """``DrainError`` mixed with the class of the error that stopped the drain (made once)."""
    if issubclass(cause, DrainError):
        return cause
    kind = _DRAIN_CLASSES.get(cause)
    if kind is None:
        kind = type(f"Drain{cause.__name__}", (DrainError, cause), {"__module__": __name__})
        _DRAIN_CLASSES[cause] = kind
    return kind


def drain_error(
    message: str, *, partial: Any, resume: Callable[[], Any], cause: BaseException
) -> DrainError:
    """Build the :class:`DrainError` of a drain stopped by ``cause``, keeping its class.

    The result is an instance of ``DrainError`` *and* of ``type(cause)`` (when ``cause``
    is one of ours), with the cause's attributes (``status``, ``url``, ...) copied, so
    ``except NotFoundError`` and ``except DrainError`` both catch it.

    Examples
    --------
    >>> err = drain_error("x", partial=None, resume=lambda: None,
    ...                   cause=NotFoundError("gone", status=404))
    >>> isinstance(err, NotFoundError), isinstance(err, DrainError), err.status
    (True, True, 404)
    """
    kind = _drain_class(type(cause)) if isinstance(cause, NetraError) else DrainError
    error = kind.__new__(kind, message)
    DrainError.__init__(error, message, partial=partial, resume=resume, cause=cause)
    for name, value in vars(cause).items():  # status, url, retry_after, ...
        if name not in ("partial", "cause", "_resume"):
            setattr(error, name, value)
    return error


_STATUS_HINTS = {
    400: "check the arguments",
    401: "check NETRA_API_KEY / api_key=",
    403: "check NETRA_API_KEY / api_key= and the key's permissions",
    404: "check the id and that it belongs to this key's organisation",
    429: "the server is rate limiting this key",
}
_WRONG_ENDPOINT = (
    "the API has no such endpoint, so the base URL looks wrong (not the id): check "
    "NETRA_OTLP_ENDPOINT / base_url="
)


def status_hint(status: int, server_message: str | None = None) -> str:
    """Return what to do about an error status (``""`` when there is nothing to say).

    A 404 whose message says ``no route`` means the path does not exist on the server, so
    the base URL is wrong; any other 404 is about the id asked for.

    Examples
    --------
    >>> status_hint(404, "trace not found")
    "check the id and that it belongs to this key's organisation"
    >>> status_hint(404, "no route for /v2/sdk/traces")[:45]
    'the API has no such endpoint, so the base URL'
    """
    if status == 404 and server_message and "no route" in server_message.lower():
        return _WRONG_ENDPOINT
    return _STATUS_HINTS.get(status, "the server failed; try again later" if status >= 500 else "")


class NetraWarning(UserWarning):
    """Base class of the warnings netra_frames emits."""


class EmptyResultWarning(NetraWarning):
    """A traces listing or usage call found nothing in its window (ids are case-sensitive)."""


class CacheWarning(NetraWarning):
    """The local cache found a damaged file (refetched) or could not store a result.

    The result returned is always correct; the warning says what happened to the cache.
    Silence it with ``warnings.filterwarnings("ignore", category=nf.CacheWarning)``.
    """
