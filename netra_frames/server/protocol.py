"""The wire protocol of the local Netra server, independent of sockets and storage.

Errors and responses (:class:`ApiError`, :class:`Response`), time parsing, opaque signed
cursors (:class:`CursorCodec`) and the checks of every request parameter. Every bad input
becomes a 4xx :class:`ApiError` with a one-sentence message.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from hashlib import blake2b
from typing import Any

__all__ = [
    "ApiError",
    "CursorCodec",
    "Response",
    "check_choice",
    "check_filters",
    "check_limit",
    "check_window",
    "parse_time_ns",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"([Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
_HEX = re.compile(r"[0-9a-f]+")
_MAC_BYTES = 16
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FILTER_FIELDS = frozenset({"tenant_id", "user_id", "session_id", "trace_id"})


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
    and the keyed BLAKE2b MAC covers the organisation and listing too, so a cursor from another
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
        self._issued: dict[tuple[bytes, str, str, Any, str], str] = {}

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
        issued = self._issued
        tokens = []
        for key, item_id in positions:
            memo = (prefix, sort, order, key, item_id)
            token = issued.get(memo)  # a page served again: its cursors are the same
            if token is None:
                if type(key) is int and _HEX.fullmatch(item_id):  # skip the JSON encoder
                    payload = f'["{sort}","{order}",{key},"{item_id}"]'.encode()
                else:
                    text = json.dumps([sort, order, key, item_id], separators=(",", ":"))
                    payload = text.encode()
                mac = blake2b(prefix + payload, key=secret, digest_size=_MAC_BYTES).digest()
                token = f"{_b64(payload)}.{_b64(mac)}"
                if len(issued) >= _ISSUED_MAX:
                    issued.clear()
                issued[memo] = token
            tokens.append(token)
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
        netra_frames.server.protocol.ApiError: invalid cursor: malformed token
        """
        try:
            head, _, tail = token.partition(".")
            payload, mac = _unb64(head), _unb64(tail)
        except (ValueError, binascii.Error):
            raise ApiError(400, "invalid cursor: malformed token") from None
        signed = self._prefix(org_id, listing) + payload
        expected = blake2b(signed, key=self._secret, digest_size=_MAC_BYTES).digest()
        if not hmac.compare_digest(mac, expected):
            raise ApiError(400, "invalid cursor: not issued for this listing or organisation")
        c_sort, c_order, key, item_id = json.loads(payload)
        if (c_sort, c_order) != (sort, order):
            raise ApiError(400, f"invalid cursor: issued for sort {c_sort} {c_order}, "
                                f"not {sort} {order}")  # fmt: skip
        return key, item_id


_ISSUED_MAX = 200_000
"""Cursors remembered (a cursor is a pure function of its position): ~40 MB at most."""


def _b64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_window(start: object, end: object) -> tuple[int, int]:
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


def check_limit(value: object, default: int, maximum: int, name: str = "pagination.limit") -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ApiError(400, f"{name} must be an integer from 1 to {maximum}, got {value!r}")
    return value


def check_choice(value: object, allowed: tuple[str, ...], default: str, name: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise ApiError(400, f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def check_filters(value: object) -> list[tuple[str, str]]:
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
