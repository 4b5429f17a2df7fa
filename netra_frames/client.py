"""``NetraClient``: Netra's six documented usage calls, and nothing more.

The methods mirror the official SDK one to one, in Python naming, with these differences:
failures raise typed errors (never ``{}`` or ``None``), arguments are validated before any
request, ids in paths are percent-encoded, and every page item stays the plain ``dict``
the wire sent. Frames are built by the functions of :mod:`netra_frames` (pass
``client=``); the HTTP layer is :attr:`NetraClient.transport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import requests

from ._validate import check_id, check_limit, keywords_checked
from ._wire.pages import (
    PageWalk,
    SpansPage,
    TracesPage,
    iter_pages,
    parse_spans_page,
    parse_traces_page,
)
from ._wire.request import Request, segment, with_query
from ._wire.usage import parse_data_object, usage_field
from .config import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_WORKERS,
    DEFAULT_RATE_LIMIT_PATIENCE,
    Settings,
    resolve_settings,
)
from .query import (
    Direction,
    SortOrder,
    SpanQuery,
    TraceFilters,
    TraceQuery,
    Unpack,
    filter_keywords,
)
from .times import TimeLike, format_time
from .transport import Transport

__all__ = ["NetraClient", "SessionUsage", "SpansPage", "TenantUsage", "TracesPage"]

P = TypeVar("P", TracesPage, SpansPage)


@dataclass(frozen=True)
class SessionUsage:
    """Usage of one session over a window (``GET /usage/sessions/{id}``)."""

    session_id: str
    token_count: int
    request_count: int
    total_cost: float


@dataclass(frozen=True)
class TenantUsage:
    """Usage of one tenant over a window (``GET /usage/tenants/{id}``)."""

    tenant_id: str
    organisation_id: str | None
    token_count: int
    request_count: int
    session_count: int
    total_cost: float


class NetraClient:
    """A client for Netra's usage and traces API.

    Parameters
    ----------
    api_key:
        Sent as ``x-api-key``; defaults to ``NETRA_API_KEY``. Never logged or shown.
    base_url:
        Defaults to ``NETRA_OTLP_ENDPOINT`` (fallback ``OTEL_EXPORTER_OTLP_ENDPOINT``); a
        trailing ``/telemetry`` is stripped. May carry a path prefix.
    timeout:
        Seconds for the whole of one attempt: connecting, the headers and the body (a body
        that drips in slowly fails when its time is up); each retry has its own. Defaults
        to ``NETRA_USAGE_TIMEOUT``, else 10.
    headers:
        Extra headers, merged over ``NETRA_HEADERS``.
    session:
        A ``requests.Session`` to use as is (its adapters are left alone, and it is not
        closed by :meth:`close`); the retry policy and the rate limiter apply to it as to
        the client's own pool.
    max_retries, backoff_factor, max_backoff:
        Retry policy for connection errors, timeouts, broken bodies and 5xx (full-jitter
        exponential backoff; ``Retry-After`` honoured up to ``max_backoff`` seconds).
    allow_insecure_http:
        Allow plain ``http://`` to a non-loopback host (refused by default).

    A misspelt keyword is an :class:`~netra_frames.InvalidParameterError` naming the
    closest one (``NetraClient(timeuot=3)``: "did you mean 'timeout'?").
    pool_size:
        Connections kept alive per host; size it to the number of concurrent workers.
    max_requests_per_second:
        A ceiling on this client's request rate, for a plan whose limit you know; default
        ``NETRA_FRAMES_MAX_REQUESTS_PER_SECOND``, else none. Without it the client still
        slows down on its own when the server answers 429.
    rate_limit_patience:
        Seconds one request may wait out 429 answers before :class:`RateLimitError`
        (these waits do not use up ``max_retries``).

    Examples
    --------
    >>> from netra_frames.server import LocalNetra
    >>> with LocalNetra(traces=200) as srv, NetraClient(srv.api_key, srv.base_url) as client:
    ...     page = client.list_traces("2000-01-01", "2100-01-01", limit=5)
    >>> len(page.traces)
    5
    """

    @keywords_checked("NetraClient")
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        allow_insecure_http: bool = False,
        pool_size: int = DEFAULT_MAX_WORKERS,
        max_requests_per_second: float | None = None,
        rate_limit_patience: float = DEFAULT_RATE_LIMIT_PATIENCE,
    ) -> None:
        settings = resolve_settings(
            api_key,
            base_url,
            timeout=timeout,
            headers=headers,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            max_backoff=max_backoff,
            allow_insecure_http=allow_insecure_http,
            max_requests_per_second=max_requests_per_second,
            rate_limit_patience=rate_limit_patience,
        )
        self._transport = Transport(settings, session, pool_size)

    @property
    def transport(self) -> Transport:
        """The HTTP layer (shared by every drain of this client, with its rate limiter)."""
        return self._transport

    @property
    def settings(self) -> Settings:
        """The resolved settings (the key is masked in their ``repr``)."""
        return self._transport.settings

    @property
    def pool_size(self) -> int | None:
        """Connections kept alive per host, or ``None`` for a session passed in by the caller."""
        return self._transport.pool_size

    @property
    def base_url(self) -> str:
        """The base URL every path is joined to."""
        return self._transport.settings.base_url

    def __repr__(self) -> str:
        return f"NetraClient(base_url={self.base_url!r}, api_key='[secure]')"

    def __enter__(self) -> NetraClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections (only when the client created the session)."""
        self._transport.close()

    # -- the six documented calls --------------------------------------------------------

    def get_session_usage(
        self, session_id: str, start_time: TimeLike, end_time: TimeLike
    ) -> SessionUsage:
        """Return token, request and cost totals of one session over ``[start, end)``.

        A session without traces in the window (or unknown to this key) has zero usage.

        Examples
        --------
        >>> client.get_session_usage("sess_a05ba6e69be5ea90", "2026-01-01", "2026-02-01")
        SessionUsage(session_id='sess_a05ba6e69be5ea90', token_count=11743, request_count=5,
                     total_cost=0.03865484)
        """
        data = self._usage("sessions", check_id(session_id, "session_id"), start_time, end_time)
        return SessionUsage(
            session_id=usage_field(data, "session_id", str, session_id),
            token_count=usage_field(data, "tokenCount", int, 0),
            request_count=usage_field(data, "requestsCount", int, 0),
            total_cost=float(usage_field(data, "totalCost", (int, float), 0.0)),
        )

    def get_tenant_usage(
        self, tenant_id: str, start_time: TimeLike, end_time: TimeLike
    ) -> TenantUsage:
        """Return token, request, session and cost totals of one tenant over ``[start, end)``.

        Examples
        --------
        >>> client.get_tenant_usage("AceTech", "2026-01-01", "2026-02-01")
        TenantUsage(tenant_id='AceTech', organisation_id='org_565143ece0e17d59',
                    token_count=2626182, request_count=561, session_count=146,
                    total_cost=7.44305638)
        """
        data = self._usage("tenants", check_id(tenant_id, "tenant_id"), start_time, end_time)
        org = data.get("organisation_id")
        return TenantUsage(
            tenant_id=usage_field(data, "tenant_id", str, tenant_id),
            organisation_id=org if isinstance(org, str) else None,
            token_count=usage_field(data, "tokenCount", int, 0),
            request_count=usage_field(data, "requestsCount", int, 0),
            session_count=usage_field(data, "sessionsCount", int, 0),
            total_cost=float(usage_field(data, "totalCost", (int, float), 0.0)),
        )

    @filter_keywords
    def list_traces(
        self,
        start_time: TimeLike,
        end_time: TimeLike,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        direction: Direction | None = "down",
        sort_field: str | None = None,
        sort_order: SortOrder | None = None,
        **filters: Unpack[TraceFilters],
    ) -> TracesPage:
        """Fetch one page of traces whose ``start_time`` lies in ``[start_time, end_time)``.

        ``filters`` are ``tenant_id``, ``user_id``, ``session_id`` and ``trace_id``
        (equality, combined with AND; see :class:`~netra_frames.query.TraceFilters`).

        Examples
        --------
        >>> page = client.list_traces("2026-01-01", "2026-02-01", tenant_id="AceTech", limit=10)
        >>> len(page.traces), page.has_next_page, page.next_cursor  # an opaque cursor
        (10, True, 'WyJ...')
        """
        query = _trace_query(
            start_time, end_time, limit, direction, sort_field, sort_order, filters
        )
        page = query.request(cursor=_cursor(cursor))
        return self._transport.send(page, parse_traces_page)

    @filter_keywords
    def iter_traces(
        self,
        start_time: TimeLike,
        end_time: TimeLike,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        direction: Direction | None = "down",
        sort_field: str | None = None,
        sort_order: SortOrder | None = None,
        **filters: Unpack[TraceFilters],
    ) -> Iterator[dict[str, Any]]:
        """Yield every trace of the window across pages, fetching each page on demand.

        Arguments are those of :meth:`list_traces`, validated when this is called, before
        the first request.

        Examples
        --------
        >>> ids = [t["id"] for t in client.iter_traces("2026-01-01", "2026-02-01")]
        """
        query = _trace_query(
            start_time, end_time, limit, direction, sort_field, sort_order, filters
        )
        return self._items(PageWalk(query, _cursor(cursor)), parse_traces_page)

    def list_spans_by_trace_id(
        self,
        trace_id: str,
        *,
        cursor: str | None = None,
        direction: Direction | None = "down",
        limit: int | None = None,
        span_name: str | None = None,
    ) -> SpansPage:
        """Fetch one page of the spans of a trace.

        ``span_name`` matches a span's name or kind, as the official SDK documents.

        Examples
        --------
        >>> page = client.list_spans_by_trace_id(trace_id, limit=50)
        >>> [s["kind"] for s in page.spans][:2]
        ['workflow', 'generation']
        """
        query = _span_query(trace_id, limit, direction, span_name)
        return self._transport.send(query.request(cursor=_cursor(cursor)), parse_spans_page)

    def iter_spans_by_trace_id(
        self,
        trace_id: str,
        *,
        cursor: str | None = None,
        direction: Direction | None = "down",
        limit: int | None = None,
        span_name: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every span of a trace across pages, fetching each page on demand.

        Examples
        --------
        >>> spans = list(client.iter_spans_by_trace_id(trace_id))
        """
        query = _span_query(trace_id, limit, direction, span_name)
        return self._items(PageWalk(query, _cursor(cursor)), parse_spans_page)

    # -- what the calls share --------------------------------------------------------------

    def _usage(
        self, kind: str, key: str, start_time: TimeLike, end_time: TimeLike
    ) -> dict[str, Any]:
        query = TraceQuery.build(start_time, end_time)  # validates the window
        params = {"startTime": format_time(query.start), "endTime": format_time(query.end)}
        request = Request("GET", with_query(f"/usage/{kind}/{segment(key)}", params))
        return self._transport.send(request, parse_data_object)

    def _items(self, walk: PageWalk, parse: Callable[[bytes], P]) -> Iterator[dict[str, Any]]:
        for page in iter_pages(lambda request: self._transport.send(request, parse), walk):
            yield from page.items


def _trace_query(
    start_time: TimeLike,
    end_time: TimeLike,
    limit: int | None,
    direction: Direction | None,
    sort_field: str | None,
    sort_order: SortOrder | None,
    filters: Mapping[str, object],
) -> TraceQuery:
    return TraceQuery.build(
        start_time,
        end_time,
        filters=filters,
        sort_field=sort_field,
        sort_order=sort_order,
        page_size=check_limit(limit),
        direction=direction,
    )


def _span_query(
    trace_id: str, limit: int | None, direction: Direction | None, span_name: str | None
) -> SpanQuery:
    return SpanQuery.build(
        trace_id, span_name=span_name, page_size=limit, direction=direction, limit_name="limit"
    )


def _cursor(cursor: str | None) -> str | None:
    return None if cursor is None else check_id(cursor, "cursor")
