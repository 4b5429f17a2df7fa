"""The HTTP reply value, and what an error reply means: its exception class and message.

:func:`error_from_reply` is the one function that maps a status to its exception class
(:mod:`netra_frames.errors`), with the server's own message and what to do about it.

A :class:`Redactor` is where a server's text becomes ours: the API key is removed from it
(raw, percent-encoded, JSON-escaped) along with any ``Authorization`` / ``x-api-key`` value
it echoes (gateways and WAFs echo request headers in error bodies), before it reaches a
message, an attribute, a log line or a ``repr``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from .._retry import parse_retry_after
from ..errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
    status_hint,
)

__all__ = ["REDACTED", "Redacted", "Redactor", "Reply", "error_from_reply", "short"]

REDACTED = "[secure]"
"""What stands where a secret was (as in ``NetraClient``'s ``repr``)."""

_HEADER_VALUE = (
    r"(?P<name>\b(?:proxy-)?authorization|\bx-api-key)"  # an echoed request header ...
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)"  # ... as ``name: v``, ``name=v`` or ``"name": "v"``
    r"(?P<scheme>(?:bearer|basic|token|apikey)\s+)?"
    r"(?P<value>[^\s\"',;&<>)}\]]+)"
)
_SHORT = 8
"""A secret spelling shorter than this is only removed as a whole word (not inside one)."""


class Reply:
    """A response as the transport needs it: status, headers, body, URL."""

    __slots__ = ("body", "headers", "status", "url")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, url: str) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url


class Redacted(Exception):  # noqa: N818 - it stands for another exception
    """An error whose text held a secret, kept as its text with the secret removed."""


class Redactor:
    """Remove secrets from a server's text; see the module docstring.

    Parameters
    ----------
    secrets:
        The API key and any other secret header value sent (empty ones are ignored).

    Examples
    --------
    >>> redact = Redactor(["sk-live/42+secret"])
    >>> redact('echo: sk-live%2F42%2Bsecret, "x-api-key": "sk-live/42+secret"')
    'echo: [secure], "x-api-key": "[secure]"'
    >>> redact("Authorization: Bearer abc.def")
    'Authorization: Bearer [secure]'
    """

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= {secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
                          json.dumps(secret)[1:-1]}  # fmt: skip
        spelled = [
            re.escape(f) if len(f) >= _SHORT else rf"(?<![\w-]){re.escape(f)}(?![\w-])"
            for f in sorted(forms, key=len, reverse=True)
        ]
        self._pattern = re.compile("|".join([_HEADER_VALUE, *spelled]), re.IGNORECASE)

    def __call__(self, text: str) -> str:
        """Return ``text`` without the secrets (``text`` itself when it has none)."""
        return self._pattern.sub(_replace, text)

    def error(self, error: BaseException) -> BaseException:
        """Return ``error``, or a :class:`Redacted` copy of its text if a secret shows in it.

        The error's message, ``args``, attributes and cause chain are searched (a
        ``json.JSONDecodeError`` keeps the whole body it could not read, for one).

        Examples
        --------
        >>> Redactor(["sk-0123456789"]).error(ValueError("bad: sk-0123456789"))
        Redacted('ValueError: bad: [secure]')
        """
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            texts = (str(current), repr(current.args), repr(getattr(current, "__dict__", {})))
            if any(self._pattern.search(text) for text in texts):
                return Redacted(f"{type(error).__name__}: {self(short(error))}")
            current = current.__cause__ or current.__context__
        return error


def _replace(match: re.Match[str]) -> str:
    if match.group("value") is None:
        return REDACTED
    return f"{match['name']}{match['sep']}{match['scheme'] or ''}{REDACTED}"


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


def error_from_reply(method: str, reply: Reply, redact: Redactor) -> APIError:
    """Map an error reply to its exception class, with the server's message (redacted).

    Examples
    --------
    >>> body = b'{"error":{"message":"no such key: sk-0123456789"}}'
    >>> err = error_from_reply("GET", Reply(404, {}, body, "u"), Redactor(["sk-0123456789"]))
    >>> type(err).__name__, err.server_message
    ('NotFoundError', 'no such key: [secure]')
    """
    status = reply.status
    server_message = _server_message(reply.body)
    if server_message is not None:
        server_message = redact(server_message)
    hint = status_hint(status, server_message)
    if 300 <= status < 400:
        location = redact(short(reply.headers.get("Location", "?")))
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
