"""Time windows: parse what users pass, send what the API wants.

Accepted for a time: an ISO 8601 string (``2026-01-01``, ``2026-01-01T10:00:00Z``,
``...+02:00``), a :class:`datetime.date`, a :class:`datetime.datetime`, a
:class:`pandas.Timestamp` or a :class:`numpy.datetime64`.

One rule for every type: a time that carries a zone or offset (an aware ``datetime`` or
``Timestamp``, a string ending in ``Z`` or ``+02:00``) is converted to UTC; a time without
one (a naive ``datetime`` or ``Timestamp``, a string without an offset, a ``date``, any
``datetime64``, which has no zone) is taken as UTC, never as local time. The two ends of a
window may mix both kinds. Everything is sent as millisecond ISO with ``Z``
(``2026-01-01T00:00:00.000Z``), each bound rounded up to the millisecond.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, TypeAlias

from .errors import InvalidParameterError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DAY",
    "TimeLike",
    "floor_day",
    "format_time",
    "parse_time",
    "resolve_window",
    "split_window",
    "utc_days",
]

if TYPE_CHECKING:
    TimeLike: TypeAlias = str | datetime | date | np.datetime64
else:
    TimeLike = str | datetime | date
DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1)
# Python 3.10's fromisoformat reads only 3 or 6 fraction digits and "+HH:MM" offsets.
_FRACTION = re.compile(r"(:\d\d)[.,](\d+)")
_OFFSET = re.compile(r"([+-]\d\d)(\d\d)$")


def from_iso(text: str) -> datetime:
    """Read ISO 8601 text as Python 3.11's ``datetime.fromisoformat`` does, ``Z`` included.

    Examples
    --------
    >>> from_iso("2026-01-01T00:00:00.0008Z").isoformat()
    '2026-01-01T00:00:00.000800+00:00'
    """
    text = text[:-1] + "+00:00" if text[-1:] in ("z", "Z") else text
    if sys.version_info < (3, 11):
        text = _FRACTION.sub(lambda m: f"{m[1]}.{m[2][:6]:0<6}", text, count=1)
        text = _OFFSET.sub(r"\1:\2", text) if "T" in text or " " in text else text
    return datetime.fromisoformat(text)


def _wall_time(value: object, name: str) -> tuple[datetime, bool]:
    """``value`` as a datetime (aware, or naive meaning UTC) and whether it lost sub-µs time."""
    if type(value).__name__ == "NaTType" or (
        type(value).__name__ == "datetime64" and str(value) == "NaT"
    ):
        raise InvalidParameterError(f"{name} is NaT (a missing time); pass a time.")
    if isinstance(value, datetime):
        nanos = int(getattr(value, "nanosecond", 0))  # pandas.Timestamp below the microsecond
        plain = value.to_pydatetime(warn=False) if hasattr(value, "to_pydatetime") else value
        return plain, nanos > 0
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day), False
    if type(value).__name__ == "datetime64" and hasattr(value, "astype"):  # numpy, no zone
        micro = value.astype("datetime64[us]")
        try:
            wall = _EPOCH + timedelta(microseconds=int(micro.astype("int64")))
        except OverflowError:
            raise InvalidParameterError(f"{name}={value!r} is out of the range.") from None
        return wall, bool(micro < value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise InvalidParameterError(f"{name} is an empty string; pass an ISO 8601 time.")
        try:
            return from_iso(text), False
        except ValueError:
            raise InvalidParameterError(
                f"{name}={value!r} is not an ISO 8601 time; use e.g. '2026-01-01T00:00:00Z'."
            ) from None
    raise InvalidParameterError(
        f"{name} must be an ISO string, datetime, date, pandas Timestamp or numpy datetime64, "
        f"got {type(value).__name__}."
    )


def parse_time(value: TimeLike, name: str = "time") -> datetime:
    """Return ``value`` as an aware UTC datetime, rounded up to the millisecond.

    A time with a zone is converted to UTC, a time without one is taken as UTC, whatever
    its type (see the module docstring). Every time here bounds a half-open window
    ``[start, end)`` over millisecond data, and rounding both bounds up selects exactly
    the traces the exact bounds would.

    Raises
    ------
    InvalidParameterError
        For a wrong type, ``NaT`` or an unparseable string; the message names ``name``.

    Examples
    --------
    >>> parse_time("2026-01-01")
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> parse_time("2026-01-01T02:00:00+02:00") == parse_time(datetime(2026, 1, 1))
    True
    """
    dt, below_micro = _wall_time(value, name)
    try:
        dt = (
            dt.replace(tzinfo=timezone.utc)
            if dt.utcoffset() is None
            else dt.astimezone(timezone.utc)
        )
    except OverflowError:
        raise InvalidParameterError(f"{name}={value!r} is out of the supported range.") from None
    if not 1970 <= dt.year <= 9998:
        raise InvalidParameterError(
            f"{name}={value!r} is outside 1970..9998; pass a time within the data's range."
        )
    extra = dt.microsecond % 1000
    return dt + timedelta(microseconds=1000 - extra) if extra or below_micro else dt


def format_time(value: datetime) -> str:
    """Format an aware datetime as the API's millisecond ISO form.

    Examples
    --------
    >>> format_time(parse_time("2026-01-02T03:04:05.678901+00:00"))
    '2026-01-02T03:04:05.679Z'
    """
    utc = value.astimezone(timezone.utc)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def resolve_window(
    start: TimeLike | None,
    end: TimeLike | None,
    *,
    default_days: float = 7.0,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """Resolve a half-open window ``[start, end)``; missing ends default to the last days.

    ``end`` defaults to now, ``start`` to ``end - default_days``.

    Raises
    ------
    InvalidParameterError
        If a value does not parse, or ``end <= start``.

    Examples
    --------
    >>> s, e = resolve_window("2026-01-01", "2026-02-01")
    >>> (e - s).days
    31
    """
    end_dt = parse_time(end, "end") if end is not None else None
    if end_dt is None:
        end_dt = parse_time(now or datetime.now(timezone.utc), "now")
    start_dt = (
        parse_time(start, "start") if start is not None else end_dt - timedelta(days=default_days)
    )
    if end_dt <= start_dt:
        raise InvalidParameterError(
            f"the window is empty: end ({format_time(end_dt)}) must be after start "
            f"({format_time(start_dt)})."
        )
    return start_dt, end_dt


def split_window(start: datetime, end: datetime, parts: int) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end)`` into ``parts`` contiguous half-open windows on millisecond edges.

    The windows cover the whole range with no gap and no overlap, so a trace whose
    ``start_time`` is exactly on an edge falls in exactly one window. Fewer windows come
    back when the range has fewer milliseconds than ``parts``.

    Examples
    --------
    >>> a, b = parse_time("2026-01-01"), parse_time("2026-01-03")
    >>> [format_time(s) for s, _ in split_window(a, b, 2)]
    ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z']
    """
    if parts < 1:
        raise InvalidParameterError(f"parts must be >= 1, got {parts}.")
    if end <= start:
        raise InvalidParameterError("split_window needs end after start.")
    total_ms = (end - start) // timedelta(milliseconds=1)
    parts = max(1, min(parts, total_ms))
    edges = [start + timedelta(milliseconds=total_ms * i // parts) for i in range(parts)] + [end]
    return list(zip(edges[:-1], edges[1:], strict=True))


def floor_day(moment: datetime) -> datetime:
    """Return the UTC midnight at or before ``moment``.

    Examples
    --------
    >>> floor_day(parse_time("2026-01-02T15:00")).isoformat()
    '2026-01-02T00:00:00+00:00'
    """
    return moment.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def utc_days(start: datetime, end: datetime, days: int = 1) -> list[tuple[datetime, datetime]]:
    """Cut ``[start, end)`` on UTC midnights into windows of ``days`` days, oldest first.

    The first and last windows are clipped to ``[start, end)``, so they may be parts of
    days; the windows cover the range with no gap and no overlap.

    Examples
    --------
    >>> a, b = parse_time("2026-01-01T12:00"), parse_time("2026-01-04")
    >>> [(lo.day, lo.hour, hi.day) for lo, hi in utc_days(a, b, 2)]
    [(1, 12, 3), (3, 0, 4)]
    """
    step = DAY * max(1, days)
    out = []
    edge = floor_day(start)
    while edge < end:
        out.append((max(start, edge), min(end, edge + step)))
        edge += step
    return out
