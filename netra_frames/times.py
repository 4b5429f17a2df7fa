"""Time windows: parse what users pass, send what the API wants.

Accepted for a time: an ISO 8601 string (``2026-01-01``, ``2026-01-01T10:00:00Z``,
``...+02:00``), a :class:`datetime.datetime` or a :class:`datetime.date`.

Time zones: an aware datetime or a string with an offset is converted to UTC; a naive
datetime, a string without an offset and a date are taken as UTC. Mixing a naive and an
aware value in one window is refused, since one of them probably means local time.
Everything is sent as millisecond ISO with ``Z`` (``2026-01-01T00:00:00.000Z``).
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime, timedelta, timezone

from .errors import InvalidParameterError

__all__ = ["TimeLike", "format_time", "parse_time", "resolve_window", "split_window"]

TimeLike = str | datetime | date

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


def _naive(value: TimeLike) -> bool | None:
    """Whether a time has no zone: ``None`` for a date, which is a day and not a time."""
    if isinstance(value, datetime):
        return value.tzinfo is None or value.utcoffset() is None
    if isinstance(value, str):
        text = value.strip().upper()
        if "T" not in text and " " not in text:
            return None
        return not (text.endswith("Z") or "+" in text[10:] or "-" in text[10:])
    return None


def parse_time(value: TimeLike, name: str = "time") -> datetime:
    """Return ``value`` as an aware UTC datetime, rounded up to the millisecond.

    Every time here bounds a half-open window ``[start, end)`` over millisecond data, and
    rounding both bounds up selects exactly the traces the exact bounds would.

    Raises
    ------
    InvalidParameterError
        For a wrong type or an unparseable string; the message names ``name``.

    Examples
    --------
    >>> parse_time("2026-01-01")
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise InvalidParameterError(f"{name} is an empty string; pass an ISO 8601 time.")
        try:
            dt = from_iso(text)
        except ValueError:
            raise InvalidParameterError(
                f"{name}={value!r} is not an ISO 8601 time; use e.g. '2026-01-01T00:00:00Z'."
            ) from None
    else:
        raise InvalidParameterError(
            f"{name} must be an ISO string, datetime or date, got {type(value).__name__}."
        )
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
    return dt + timedelta(microseconds=1000 - extra) if extra else dt


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
        If a value does not parse, naive and aware values are mixed, or ``end <= start``.

    Examples
    --------
    >>> s, e = resolve_window("2026-01-01", "2026-02-01")
    >>> (e - s).days
    31
    """
    kinds = {_naive(start) if start is not None else None, _naive(end) if end is not None else None}
    if kinds >= {True, False}:
        if isinstance(start, datetime) or isinstance(end, datetime):
            raise InvalidParameterError(
                "start and end mix a naive and a timezone-aware time; make both aware "
                "(e.g. tzinfo=timezone.utc) so the window means what you intend."
            )
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
