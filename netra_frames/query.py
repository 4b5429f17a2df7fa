"""Query specs: what one listing asks for, declared once and validated before any request.

* :class:`TraceFilters` declares the equality filters of ``POST /sdk/traces``. Every
  front door (``traces_frame``, ``scan_traces``, ``export_traces``, the Dask frame, the
  CLI's flags) takes exactly these keywords, read from this one declaration
  (:data:`FILTERS`); adding a filter is a line here and its support in the server.
* :class:`TraceQuery` is one traces listing: window, filters, sort, page size and
  direction. :meth:`TraceQuery.request` builds the wire request of one page.
* :class:`SpanQuery` is the spans listing of one trace.
* :class:`~netra_frames._wire.request.Request` (what the transport sends) is built by
  :meth:`TraceQuery.request` and :meth:`SpanQuery.request`.

Examples
--------
>>> q = TraceQuery.build("2026-01-01", "2026-01-02", filters={"tenant_id": "AceTech"})
>>> q.request(limit=10).body
b'{"startTime":"2026-01-01T00:00:00.000Z",...
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any, Literal, TypedDict, TypeVar
from urllib.parse import urlencode

from ._validate import (
    SORT_FIELDS,
    check_direction,
    check_id,
    check_limit,
    check_optional_id,
    check_page_size,
    check_sort_field,
    check_sort_order,
    closest,
)
from ._wire.request import Request, segment, with_query
from .config import DEFAULT_WINDOW_DAYS
from .errors import InvalidParameterError
from .times import TimeLike, format_time, parse_time, resolve_window

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # a dependency on Python 3.10 (pyproject.toml)
    from typing_extensions import Unpack

__all__ = [
    "FILTERS",
    "Direction",
    "SORT_FIELDS",
    "SortOrder",
    "SpanQuery",
    "TraceFilters",
    "TraceQuery",
    "Unpack",
    "check_filters",
    "filter_keywords",
]

Direction = Literal["up", "down"]
SortOrder = Literal["asc", "desc"]


class TraceFilters(TypedDict, total=False):
    """The equality filters of a traces listing (combined with AND); ids are case-sensitive.

    Every front door takes them as keywords: ``traces_frame(tenant_id="AceTech")``.
    """

    trace_id: str
    session_id: str
    user_id: str
    tenant_id: str


FILTERS: tuple[str, ...] = tuple(TraceFilters.__annotations__)
"""Names of the traces filters, in the order they are sent (from :class:`TraceFilters`; the
official SDK's order)."""


F = TypeVar("F", bound=Callable[..., Any])


def filter_keywords(func: F) -> F:
    """Show :class:`TraceFilters` as keyword-only parameters of ``func``, to every reader.

    The one way every public function that takes the filters spells them: it is declared
    with ``**filters: Unpack[TraceFilters]`` (what type checkers and IDEs read from the
    source) and decorated with this, which gives :func:`help`, :func:`inspect.signature`
    (Shift-Tab and completion in Jupyter) and :func:`typing.get_type_hints` one
    ``name: str | None = None`` per filter instead of ``**filters``, after the positional
    parameters, read from :class:`TraceFilters`: a new filter appears on every door at once.

    Examples
    --------
    >>> @filter_keywords
    ... def listing(start=None, *, page_size=100, **filters: Unpack[TraceFilters]): ...
    >>> str(inspect.signature(listing))
    "(start=None, *, trace_id: 'str | None' = None, session_id: 'str | None' = None, \
user_id: 'str | None' = None, tenant_id: 'str | None' = None, page_size=100)"
    >>> list(listing.__annotations__)
    ['trace_id', 'session_id', 'user_id', 'tenant_id']
    """
    signature = inspect.signature(func)
    kept = list(signature.parameters.values())
    if not kept or kept[-1].kind is not inspect.Parameter.VAR_KEYWORD:
        raise TypeError(f"{func.__qualname__} takes no **filters to show")
    kept.pop()
    named = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None"
        )
        for name in FILTERS
    ]
    first_keyword = next(
        (i for i, p in enumerate(kept) if p.kind is inspect.Parameter.KEYWORD_ONLY), len(kept)
    )
    parameters = kept[:first_keyword] + named + kept[first_keyword:]
    func.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    declared = func.__annotations__
    func.__annotations__ = {
        **{p.name: p.annotation for p in parameters if p.name in declared or p.name in FILTERS},
        **({"return": declared["return"]} if "return" in declared else {}),
    }
    return func


def check_filters(filters: Mapping[str, object]) -> dict[str, str]:
    """Return the given filters (``None`` values dropped), each checked, in :data:`FILTERS` order.

    Raises
    ------
    InvalidParameterError
        For a name that is not a filter (with the closest name) or a bad value.

    Examples
    --------
    >>> check_filters({"user_id": "u1", "tenant_id": None})
    {'user_id': 'u1'}
    """
    for name in filters:
        if name not in FILTERS:
            close = closest(str(name), FILTERS)
            hint = f"did you mean {close!r}? " if close else ""
            raise InvalidParameterError(
                f"{name!r} is not a traces filter; {hint}the filters are {', '.join(FILTERS)}."
            )
    return {
        name: value
        for name in FILTERS
        if (value := check_optional_id(filters.get(name), name)) is not None
    }


@dataclass(frozen=True)
class TraceQuery:
    """One traces listing: ``[start, end)`` on ``start_time``, filters, order, page size.

    Fields left ``None`` are not sent (the server's defaults apply), as the SDK does. The
    frame builders fill ``sort_field``/``sort_order``/``page_size``; build one with
    :meth:`build`, which validates everything.

    Examples
    --------
    >>> q = TraceQuery.build("2026-01-01", "2026-01-08", sort_field="total_cost")
    >>> q.sort_field, q.filters
    ('total_cost', {})
    """

    start: datetime
    end: datetime
    filters: Mapping[str, str] = field(default_factory=dict)
    sort_field: str | None = "start_time"
    sort_order: SortOrder | None = "desc"
    page_size: int | None = None
    direction: Direction | None = "down"

    @classmethod
    def build(
        cls,
        start: TimeLike | None,
        end: TimeLike | None,
        *,
        filters: Mapping[str, object] | None = None,
        sort_field: str | None = "start_time",
        sort_order: SortOrder | None = "desc",
        page_size: int | None = None,
        direction: Direction | None = "down",
        default_days: float | None = None,
    ) -> TraceQuery:
        """Validate arguments into a query; ``default_days`` allows an open window.

        Without ``default_days`` both ends are required (the client's calls); with it, a
        missing ``end`` is now and a missing ``start`` is ``end - default_days``.

        Raises
        ------
        InvalidParameterError
            For any bad argument, naming it.
        """
        if default_days is None:
            if start is None or end is None:
                raise InvalidParameterError("start_time and end_time are both required.")
            parse_time(start, "start_time"), parse_time(end, "end_time")  # names the argument
            window = resolve_window(start, end)
        else:
            window = resolve_window(start, end, default_days=default_days)
        return cls(
            *window,
            filters=check_filters(filters or {}),
            sort_field=check_sort_field(sort_field),
            sort_order=check_sort_order(sort_order),  # type: ignore[arg-type]
            page_size=None if page_size is None else check_page_size(page_size),
            direction=check_direction(direction),  # type: ignore[arg-type]
        )

    @classmethod
    def for_frames(
        cls,
        start: TimeLike | None,
        end: TimeLike | None,
        filters: Mapping[str, object],
        *,
        page_size: int,
        sort_field: str = "start_time",
        sort_order: SortOrder = "desc",
    ) -> TraceQuery:
        """The query of a front door: a page size always (1 to 100), the last
        :data:`~netra_frames.config.DEFAULT_WINDOW_DAYS` days by default.

        Examples
        --------
        >>> TraceQuery.for_frames(None, "2026-01-08", {}, page_size=100).start.day
        1
        """
        return cls.build(
            start,
            end,
            filters=filters,
            sort_field=sort_field,
            sort_order=sort_order,
            page_size=check_page_size(page_size),
            default_days=DEFAULT_WINDOW_DAYS,
        )

    def with_window(self, start: datetime, end: datetime) -> TraceQuery:
        """The same listing over another window."""
        return replace(self, start=start, end=end)

    def with_filters(self, filters: Mapping[str, str]) -> TraceQuery:
        """The same listing with other (already checked) filters."""
        return replace(self, filters=dict(filters))

    @property
    def is_time_ordered(self) -> bool:
        """Whether pages walk the window in ``start_time`` order (the server default)."""
        return self.sort_field in (None, "start_time")

    @property
    def walks_backward(self) -> bool:
        """Whether pages go from the window's end to its start (newest first)."""
        descending = self.sort_order in (None, "desc")
        return descending != (self.direction == "up")

    def body(self, *, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        """The JSON body of one page, keys exactly as the official SDK sends them.

        Examples
        --------
        >>> TraceQuery.build("2026-01-01", "2026-01-02").body(limit=5)["pagination"]
        {'limit': 5, 'direction': 'down'}
        """
        body: dict[str, Any] = {
            "startTime": format_time(self.start),
            "endTime": format_time(self.end),
            "filters": [
                {"field": name, "operator": "equals", "type": "string", "value": value}
                for name, value in self.filters.items()
            ],
        }
        pagination: dict[str, Any] = {}
        size = self.page_size if limit is None else limit
        if size is not None:
            pagination["limit"] = size
        if cursor is not None:
            pagination["cursor"] = cursor
        if self.direction is not None:
            pagination["direction"] = self.direction
        if pagination:
            body["pagination"] = pagination
        if self.sort_field is not None:
            body["sortField"] = self.sort_field
        if self.sort_order is not None:
            body["sortOrder"] = self.sort_order
        return body

    def request(self, *, limit: int | None = None, cursor: str | None = None) -> Request:
        """The wire request of one page (``limit`` overrides ``page_size``)."""
        data = json.dumps(self.body(limit=limit, cursor=cursor), separators=(",", ":"))
        return Request("POST", "/sdk/traces", data.encode())

    def describe(self) -> str:
        """A one-line description for logs and progress (no secrets in a query)."""
        return f"[{format_time(self.start)}, {format_time(self.end)}) filters={dict(self.filters)}"


@dataclass(frozen=True)
class SpanQuery:
    """The spans listing of one trace: ``GET /sdk/traces/{trace_id}/spans``.

    Examples
    --------
    >>> SpanQuery.build("a/b", page_size=50).request().target
    '/sdk/traces/a%2Fb/spans?direction=down&limit=50'
    """

    trace_id: str
    span_name: str | None = None
    page_size: int | None = None
    direction: Direction | None = "down"

    @classmethod
    def template(cls, *, span_name: str | None = None, page_size: int) -> SpanQuery:
        """A validated listing for many traces (``page_size`` required): see :meth:`for_trace`."""
        return cls.build("-", span_name=span_name, page_size=check_page_size(page_size)).for_trace(
            ""
        )

    @classmethod
    def build(
        cls,
        trace_id: str,
        *,
        span_name: str | None = None,
        page_size: int | None = None,
        direction: Direction | None = "down",
        limit_name: str = "page_size",
    ) -> SpanQuery:
        """Validate arguments into a query (``limit_name`` names ``page_size`` in errors)."""
        size = None
        if page_size is not None:
            size = check_limit(page_size) if limit_name == "limit" else check_page_size(page_size)
        return cls(
            check_id(trace_id, "trace_id"),
            None if span_name is None else check_id(span_name, "span_name"),
            size,
            check_direction(direction),  # type: ignore[arg-type]
        )

    def for_trace(self, trace_id: str) -> SpanQuery:
        """The same listing for another (already checked) trace."""
        twin = SpanQuery(trace_id, self.span_name, self.page_size, self.direction)
        twin.__dict__["_tail"] = self._tail  # computed once for every trace
        return twin

    @cached_property
    def _tail(self) -> str:
        """The query parameters after the cursor (the same for every page and trace)."""
        params: dict[str, str] = {}
        if self.direction is not None:
            params["direction"] = self.direction
        if self.page_size is not None:
            params["limit"] = str(self.page_size)
        if self.span_name is not None:
            params["spanName"] = self.span_name
        return urlencode(params)

    def request(self, *, limit: int | None = None, cursor: str | None = None) -> Request:
        """The wire request of one page; parameters not given are not sent (SDK order)."""
        path = f"/sdk/traces/{segment(self.trace_id)}/spans"
        if limit is not None:
            return Request("GET", with_query(path, self._params(limit, cursor)))
        tail = self._tail
        if cursor is not None:
            head = urlencode({"cursor": cursor})
            return Request("GET", f"{path}?{head}&{tail}" if tail else f"{path}?{head}")
        return Request("GET", f"{path}?{tail}" if tail else path)

    def _params(self, limit: int, cursor: str | None) -> dict[str, str]:
        params: dict[str, str] = {}
        if cursor is not None:
            params["cursor"] = cursor
        if self.direction is not None:
            params["direction"] = self.direction
        params["limit"] = str(limit)
        if self.span_name is not None:
            params["spanName"] = self.span_name
        return params
