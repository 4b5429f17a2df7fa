"""Usage answers: the ``{"data": {...}}`` object of a usage call, and its typed fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import TransportError

__all__ = ["parse_data_object", "usage_field"]


def parse_data_object(content: bytes) -> dict[str, Any]:
    """Parse ``{"data": {...}}`` (a usage answer); ``ValueError`` for anything else.

    Examples
    --------
    >>> parse_data_object(b'{"data": {"tokenCount": 3}}')
    {'tokenCount': 3}
    """
    try:
        payload = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not valid JSON ({exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise ValueError("the body has no 'data' object")
    data: dict[str, Any] = payload["data"]
    return data


def usage_field(
    data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any
) -> Any:
    """``data[name]`` if of ``kind`` (``default`` when missing or null), else raise.

    Examples
    --------
    >>> usage_field({"tokenCount": 3}, "tokenCount", int, 0)
    3
    """
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TransportError(f"the usage response has {name}={value!r} of an unexpected type.")
    return value
