"""Argument checks shared by the client and the frame builders; all raise before any request."""

from __future__ import annotations

from typing import TypeVar

from .errors import InvalidParameterError

__all__ = [
    "MAX_LIMIT",
    "check_direction",
    "check_id",
    "check_limit",
    "check_page_size",
    "check_optional_id",
    "check_sort_field",
    "check_sort_order",
]

MAX_LIMIT = 1000
"""Largest page size the client will ask for (servers have their own, smaller maximum)."""

DIRECTIONS = ("down", "up")
SORT_ORDERS = ("asc", "desc")

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
        raise InvalidParameterError(f"{name} is empty or blank; pass the id to look up.")
    if "\x00" in value:
        raise InvalidParameterError(f"{name} contains a NUL character.")
    return value


def check_optional_id(value: object, name: str) -> str | None:
    """Like :func:`check_id`, but ``None`` passes through."""
    return None if value is None else check_id(value, name)


def check_limit(limit: object) -> int | None:
    """Return a valid page size or ``None``.

    Examples
    --------
    >>> check_limit(100)
    100
    """
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidParameterError(f"limit must be an int, got {type(limit).__name__}.")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}.")
    return limit


def check_page_size(page_size: object) -> int:
    """Return a valid ``page_size`` of the frame builders (an int, never ``None``).

    Examples
    --------
    >>> check_page_size(100)
    100
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise InvalidParameterError(f"page_size must be an int, got {type(page_size).__name__}.")
    if not 1 <= page_size <= MAX_LIMIT:
        raise InvalidParameterError(
            f"page_size must be between 1 and {MAX_LIMIT}, got {page_size}."
        )
    return page_size


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
    """Return a non-blank sort field name or ``None``."""
    return None if field is None else check_id(field, "sort_field")
