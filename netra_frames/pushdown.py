"""Predicate pushdown: what a Polars filter lets a traces scan ask the API for.

:func:`pushdown_of` reads a predicate (from its JSON serialisation) into a
:class:`Pushdown`: equality filters on :data:`PUSHABLE_FIELDS` and ``start_time`` bounds;
:func:`narrowed` restricts a :class:`~netra_frames.query.TraceQuery` by it. Only AND-chains
of ``col == "literal"`` and ``start_time`` comparisons are understood; anything else pushes
nothing (the scans apply the whole predicate again to every page, see
:mod:`netra_frames.scan`).

Examples
--------
>>> import polars as pl
>>> pushdown_of((pl.col("tenant_id") == "AceTech") | (pl.col("user_id") == "u1")).is_trivial
True
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import polars as pl

from .query import FILTERS, TraceQuery

__all__ = ["PUSHABLE_FIELDS", "Pushdown", "narrowed", "pushdown_of"]

logger = logging.getLogger("netra_frames")

PUSHABLE_FIELDS = FILTERS
"""Columns whose ``== "literal"`` filters become API filters: every traces filter."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_UNITS = ("Nanoseconds", "Microseconds", "Milliseconds")
_FLIP = {"Eq": "Eq", "GtEq": "LtEq", "Gt": "Lt", "LtEq": "GtEq", "Lt": "Gt"}


@dataclass(frozen=True)
class Pushdown:
    """What a predicate lets a scan ask the API for (a superset of the matching rows).

    Attributes
    ----------
    equals:
        Field -> value for ``col == "value"`` conjuncts on :data:`PUSHABLE_FIELDS`.
    start, end:
        Bounds on ``start_time`` as a half-open window ``[start, end)`` on millisecond
        edges, or ``None`` when not constrained.
    empty:
        True when the conjuncts contradict each other (no row can match).

    Examples
    --------
    >>> pushdown_of(pl.col("tenant_id") == "AceTech").equals
    {'tenant_id': 'AceTech'}
    """

    equals: Mapping[str, str] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    empty: bool = False

    @property
    def is_trivial(self) -> bool:
        """Whether nothing at all is pushed."""
        return not self.equals and self.start is None and self.end is None and not self.empty


def pushdown_of(predicate: pl.Expr | None) -> Pushdown:
    """Return the part of ``predicate`` that a traces scan can push into the API request.

    The expression is read from its JSON serialisation; only AND-chains of ``col ==
    "literal"`` (on :data:`PUSHABLE_FIELDS`), comparisons of ``start_time`` with a
    timezone-aware datetime literal or a ``date`` literal (its midnight UTC, as Polars
    compares it with the column) and ``start_time.is_between(...)`` are understood.
    Anything else, including any ``|``, contributes nothing (it is still applied by the
    scan afterwards).

    Parameters
    ----------
    predicate:
        A Polars boolean expression, or ``None``.

    Returns
    -------
    Pushdown
        Equality filters and ``start_time`` bounds implied by the predicate.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> p = pushdown_of((pl.col("user_id") == "u1") & (pl.col("start_time") >= since))
    >>> p.equals, p.start
    ({'user_id': 'u1'}, datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
    >>> from datetime import date
    >>> pushdown_of(pl.col("start_time") < date(2026, 1, 2)).end == since + timedelta(days=1)
    True
    """
    if predicate is None:
        return Pushdown()
    try:
        tree = json.loads(predicate.meta.serialize(format="json"))
    except Exception as exc:  # noqa: BLE001 - an unreadable predicate is simply not pushed
        logger.debug("netra_frames: predicate not pushed (%s)", exc)
        return Pushdown()
    equals: dict[str, str] = {}
    start: datetime | None = None
    end: datetime | None = None
    empty = False
    for node in _conjuncts(tree):
        for kind, name, value in _constraints(node):
            if kind == "eq":
                assert isinstance(value, str)
                if equals.setdefault(name, value) != value:
                    empty = True
            elif kind == "ge":
                assert isinstance(value, datetime)
                start = value if start is None else max(start, value)
            else:
                assert isinstance(value, datetime)
                end = value if end is None else min(end, value)
    if start is not None and end is not None and end <= start:
        empty = True
    return Pushdown(equals, start, end, empty)


def _conjuncts(node: Any) -> Iterator[Any]:
    binary = node.get("BinaryExpr") if isinstance(node, dict) else None
    if isinstance(binary, dict) and binary.get("op") in ("And", "LogicalAnd"):
        yield from _conjuncts(binary.get("left"))
        yield from _conjuncts(binary.get("right"))
    else:
        yield node


def _constraints(node: Any) -> Iterator[tuple[str, str, str | datetime]]:
    """Yield ``("eq", field, str)``, ``("ge", "start_time", lo)``, ``("lt", ..., hi)``."""
    if not isinstance(node, dict):
        return
    binary = node.get("BinaryExpr")
    if isinstance(binary, dict):
        yield from _comparison(binary.get("left"), binary.get("op"), binary.get("right"))
        return
    function = node.get("Function")
    if not isinstance(function, dict):
        return
    spec = function.get("function")
    inputs = function.get("input")
    if (
        isinstance(spec, dict)
        and isinstance(spec.get("Boolean"), dict)
        and "IsBetween" in spec["Boolean"]
        and isinstance(inputs, list)
        and len(inputs) == 3
        and _column(inputs[0]) == "start_time"
    ):
        yield from _comparison(inputs[0], "GtEq", inputs[1])
        yield from _comparison(inputs[0], "LtEq", inputs[2])


def _comparison(left: Any, op: Any, right: Any) -> Iterator[tuple[str, str, str | datetime]]:
    if op not in _FLIP:
        return
    name = _column(left)
    literal = right
    if name is None:
        name, literal, op = _column(right), left, _FLIP[op]
    if name in PUSHABLE_FIELDS and op == "Eq":
        value = _scalar(literal).get("String")
        if isinstance(value, str):
            yield "eq", name, value
    elif name == "start_time":
        scalar = _scalar(literal)
        moment = _datetime(scalar.get("Datetime")) or _date(scalar.get("Date"))
        if moment is None:
            return
        floor = moment - timedelta(microseconds=moment.microsecond % 1000)
        if op in ("GtEq", "Gt", "Eq"):
            yield "ge", name, floor
        if op == "Lt":
            yield "lt", name, floor if floor == moment else floor + _MS
        elif op in ("LtEq", "Eq"):
            yield "lt", name, floor + _MS


def _column(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("Column"), str):
        return str(node["Column"])
    return None


def _scalar(node: Any) -> dict[str, Any]:
    if isinstance(node, dict):
        literal = node.get("Literal")
        if isinstance(literal, dict) and isinstance(literal.get("Scalar"), dict):
            scalar: dict[str, Any] = literal["Scalar"]
            return scalar
    return {}


def _datetime(value: Any) -> datetime | None:
    """``[value, unit, {"inner": tz}]`` -> aware datetime; naive literals are not pushed."""
    if not isinstance(value, list) or len(value) != 3 or value[2] is None:
        return None
    count, unit, _ = value
    if not isinstance(count, int) or unit not in _UNITS:
        return None
    micros = (
        count // 1000 if unit == "Nanoseconds" else count * (1000 if unit == "Milliseconds" else 1)
    )
    try:
        return _EPOCH + timedelta(microseconds=micros)
    except (OverflowError, ValueError):
        return None


def _date(days: Any) -> datetime | None:
    """A ``date`` literal (days since 1970-01-01) -> its midnight UTC, as Polars compares it
    with the UTC ``start_time`` column (and as a ``date`` is read everywhere in this package)."""
    if isinstance(days, bool) or not isinstance(days, int):
        return None
    try:
        return _EPOCH + timedelta(days=days)
    except (OverflowError, ValueError):
        return None


def narrowed(query: TraceQuery, pushed: Pushdown) -> TraceQuery | None:
    """Return ``query`` restricted by ``pushed``, or ``None`` if it matches nothing.

    Examples
    --------
    >>> q = TraceQuery.build("2026-01-01", "2026-01-08")
    >>> narrowed(q, pushdown_of(pl.col("user_id") == "u1")).filters
    {'user_id': 'u1'}
    """
    if pushed.empty:
        return None
    filters = dict(query.filters)
    for name, value in pushed.equals.items():
        if filters.setdefault(name, value) != value:
            return None
    start = query.start if pushed.start is None else max(query.start, pushed.start)
    end = query.end if pushed.end is None else min(query.end, pushed.end)
    if end <= start:
        return None
    ordered = {name: filters[name] for name in FILTERS if name in filters}
    return query.with_window(start, end).with_filters(ordered)
