"""Argument checks shared by the client and the frame builders; all raise before any request."""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from .config import MAX_PAGE_SIZE
from .errors import InvalidParameterError

__all__ = [
    "MIN_BUFFER_MB",
    "SORT_FIELDS",
    "SORT_ORDERS",
    "check_buffer_mb",
    "check_count",
    "check_keywords",
    "closest",
    "keywords_checked",
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
P = ParamSpec("P")


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` (a likely typo of it), else ``None``.

    The one "did you mean" of the package: filters, keywords and the command line's
    options and choices all ask it.

    Examples
    --------
    >>> closest("timeuot", ["timeout", "max_retries"])
    'timeout'
    >>> closest("colour", ["timeout"]) is None
    True
    """
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def check_keywords(where: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise for the first keyword of ``given`` that ``where`` does not take, with the closest.

    Examples
    --------
    >>> try:
    ...     check_keywords("configure", ["timeuot"], ["timeout", "cache"])
    ... except InvalidParameterError as error:
    ...     print(error)
    configure() got an unexpected keyword 'timeuot'; did you mean 'timeout'?
    """
    names = list(known)
    for name in given:
        if name not in names:
            close = closest(name, names)
            hint = f"did you mean {close!r}?" if close else f"its keywords are {', '.join(names)}."
            raise InvalidParameterError(f"{where}() got an unexpected keyword {name!r}; {hint}")


def keywords_checked(where: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Make a function (or ``__init__``) refuse an unknown keyword with "did you mean".

    Python's own ``TypeError`` for a misspelt keyword names no alternative; this raises
    :class:`~netra_frames.errors.InvalidParameterError` naming the closest keyword instead.
    The signature is kept (``inspect.signature`` and type checkers see the original).

    Examples
    --------
    >>> @keywords_checked("connect")
    ... def connect(*, timeout: float = 1.0) -> float:
    ...     return timeout
    >>> try:
    ...     connect(timeuot=3)
    ... except InvalidParameterError as error:
    ...     print(error)
    connect() got an unexpected keyword 'timeuot'; did you mean 'timeout'?
    """

    def decorate(func: Callable[P, T]) -> Callable[P, T]:
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        names = [
            p.name
            for p in inspect.signature(func).parameters.values()
            if p.kind in kinds and p.name != "self"
        ]
        known = frozenset(names)

        @functools.wraps(func)
        def checked(*args: P.args, **kwargs: P.kwargs) -> T:
            if not known.issuperset(kwargs):
                check_keywords(where, kwargs, names)
            return func(*args, **kwargs)

        return checked

    return decorate


MIN_BUFFER_MB = 4.0
"""The smallest ``buffer_mb``: one batch of about 4 MB."""


def check_buffer_mb(value: object) -> int:
    """Return the bytes of a ``buffer_mb=`` (a number of megabytes, at least 8).

    Examples
    --------
    >>> check_buffer_mb(64)
    67108864
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidParameterError(f"buffer_mb must be a number of megabytes, got {value!r}.")
    if value < MIN_BUFFER_MB:
        raise InvalidParameterError(
            f"buffer_mb must be at least {MIN_BUFFER_MB:g} (one batch of about 4 MB), "
            f"got {value!r}."
        )
    return int(value * (1 << 20))


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
