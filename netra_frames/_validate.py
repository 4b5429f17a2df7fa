"""Argument checks shared by the client and the frame builders; all raise before any request."""

from __future__ import annotations

from typing import TypeVar

from .config import MAX_PAGE_SIZE
from .errors import InvalidParameterError

__all__ = [
    "SORT_FIELDS",
    "SORT_ORDERS",
    "check_count",
    "check_direction",
    "check_id",
    "check_limit",
    "check_max_rows",
    "check_page_size",
    "check_optional_id",
    "check_sort_field",
    "check_sort_order",
]

DIRECTIONS = ("down", "up")
SORT_ORDERS = ("asc", "desc")
SORT_FIELDS = ("start_time", "end_time", "latency_ms", "total_cost", "total_tokens", "name")
"""The fields a traces listing sorts on (``sort_field=``, ``--sort-field``); the API refuses
any other."""

T = TypeVar("T")


def check_id(value: object, name: str) -> str:
    """Return ``value`` if it is a non-blank string, else raise naming ``name``.

    Examples
    --------
    >>> check_id("AceTech", "tenant_id")
    'AceTech'
    """
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be a string, got {type(value).__name__}.")
    if not value.strip():
        raise InvalidParameterError(f"{name}={value!r} is empty or blank; pass the id to look up.")
    if "\x00" in value:
        raise InvalidParameterError(f"{name} contains a NUL character.")
    return value


def check_optional_id(value: object, name: str) -> str | None:
    """Like :func:`check_id`, but ``None`` passes through."""
    return None if value is None else check_id(value, name)


def check_limit(limit: object) -> int | None:
    """Return a valid page size (``limit`` of the client's calls) or ``None``.

    Examples
    --------
    >>> check_limit(100)
    100
    """
    if limit is None:
        return None
    return _page_size(
        limit,
        "limit",
        " (it is the page size; to cap rows use max_rows= of traces_frame, or stop iterating)",
    )


def check_page_size(page_size: object) -> int:
    """Return a valid ``page_size`` of the frame builders (an int, never ``None``).

    Examples
    --------
    >>> check_page_size(100)
    100
    """
    return _page_size(page_size, "page_size", " (to cap rows use max_rows=)")


def _page_size(value: object, name: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError(f"{name} must be an int, got {type(value).__name__}.")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise InvalidParameterError(
            f"{name} must be between 1 and {MAX_PAGE_SIZE}, the API's largest page, got "
            f"{value}{hint if value > MAX_PAGE_SIZE else ''}."
        )
    return value


def check_count(value: object, name: str) -> int:
    """Return ``value`` if it is an int >= 1 (``max_workers``, ``shards``...), else raise.

    Examples
    --------
    >>> check_count(4, "max_workers")
    4
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(f"{name} must be an int >= 1, got {value!r}.")
    return value


def check_max_rows(max_rows: object) -> int | None:
    """Return ``max_rows`` if it is ``None`` or an int >= 0, else raise.

    Examples
    --------
    >>> check_max_rows(None) is None
    True
    """
    if max_rows is None:
        return None
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0:
        raise InvalidParameterError(f"max_rows must be None or an int >= 0, got {max_rows!r}.")
    return max_rows


def _choice(value: object, name: str, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in choices:
        raise InvalidParameterError(
            f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}."
        )
    return str(value)


def check_direction(direction: object) -> str | None:
    """Return ``'down'``, ``'up'`` or ``None``; anything else raises."""
    return _choice(direction, "direction", DIRECTIONS)


def check_sort_order(order: object) -> str | None:
    """Return ``'asc'``, ``'desc'`` or ``None``; anything else raises."""
    return _choice(order, "sort_order", SORT_ORDERS)


def check_sort_field(field: object) -> str | None:
    """Return one of :data:`SORT_FIELDS` or ``None``; anything else raises.

    Examples
    --------
    >>> check_sort_field("total_cost")
    'total_cost'
    """
    return _choice(field, "sort_field", SORT_FIELDS)
