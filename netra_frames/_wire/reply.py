"""The HTTP reply value, and what an error reply means: its exception class and message.

:func:`error_from_reply` is the one function that maps a status to its exception class
(:mod:`netra_frames.errors`), with the server's own message and what to do about it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._retry import parse_retry_after
from ..errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
    status_hint,
)

__all__ = ["Reply", "error_from_reply", "short"]


class Reply:
    """A response as the transport needs it: status, headers, body, URL."""

    __slots__ = ("body", "headers", "status", "url")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, url: str) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url


def short(exc: object) -> str:
    """Return ``str(exc)`` cut to 300 characters, for a one-line message.

    Examples
    --------
    >>> len(short("x" * 1000))
    303
    """
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."


def _server_message(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    err = payload.get("error") if isinstance(payload, dict) else None
    msg = err.get("message") if isinstance(err, dict) else None
    return str(msg) if msg is not None else None


def error_from_reply(method: str, reply: Reply) -> APIError:
    """Map an error reply to its exception class, with the server's message.

    Examples
    --------
    >>> err = error_from_reply("GET", Reply(404, {}, b'{"error":{"message":"no"}}', "u"))
    >>> type(err).__name__, err.server_message
    ('NotFoundError', 'no')
    """
    status = reply.status
    server_message = _server_message(reply.body)
    hint = status_hint(status, server_message)
    if 300 <= status < 400:
        location = short(reply.headers.get("Location", "?"))
        hint = (
            f"redirects to {location} are not followed, so the API key never travels to "
            "another URL; set base_url to the final API URL"
        )
    text = f"{method} {reply.url} returned HTTP {status}"
    text += f": {server_message}" if server_message else ""
    text += f" ({hint})." if hint else "."
    kwargs: dict[str, Any] = {"status": status, "url": reply.url, "server_message": server_message}
    if status in (401, 403):
        return AuthenticationError(text, **kwargs)
    if status == 404:
        return NotFoundError(text, **kwargs)
    if status == 429:
        retry_after = parse_retry_after(reply.headers.get("Retry-After"))
        return RateLimitError(text, retry_after=retry_after, **kwargs)
    if status >= 500:
        return ServerError(text, **kwargs)
    return APIError(text, **kwargs)
