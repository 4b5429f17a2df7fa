"""``NetraClient``: Netra's six documented usage calls on one pooled ``requests.Session``.

The methods mirror the official SDK one to one, in Python naming, with these differences:
failures raise typed errors (never ``{}`` or ``None``), arguments are validated before any
request, ids in paths are percent-encoded, and every page item stays the plain ``dict``
the wire sent.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

import requests
import urllib3
from requests.adapters import HTTPAdapter

from . import __about__
from ._client_frames import FrameMethods
from ._pages import SpansPage, TracesPage, iter_pages, parse_spans_page, parse_traces_page
from ._retry import backoff_delay, make_retry, parse_retry_after
from ._validate import (
    check_direction,
    check_id,
    check_limit,
    check_optional_id,
    check_sort_field,
    check_sort_order,
)
from .config import (
    API_KEY_HEADER,
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_WORKERS,
    Settings,
    resolve_settings,
)
from .errors import (
    APIError,
    AuthenticationError,
    InvalidParameterError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .times import TimeLike, format_time, parse_time, resolve_window

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["NetraClient", "SessionUsage", "SpansPage", "TenantUsage", "TracesPage"]

logger = logging.getLogger("netra_frames")

T = TypeVar("T")
Direction = Literal["up", "down"]
SortOrder = Literal["asc", "desc"]


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


class NetraClient(FrameMethods):
    """A client for Netra's usage and traces API.

    Parameters
    ----------
    api_key:
        Sent as ``x-api-key``; defaults to ``NETRA_API_KEY``. Never logged or shown.
    base_url:
        Defaults to ``NETRA_OTLP_ENDPOINT`` (fallback ``OTEL_EXPORTER_OTLP_ENDPOINT``); a
        trailing ``/telemetry`` is stripped. May carry a path prefix.
    timeout:
        Seconds per request; defaults to ``NETRA_USAGE_TIMEOUT``, else 10.
    headers:
        Extra headers, merged over ``NETRA_HEADERS``.
    session:
        A ``requests.Session`` to use as is (its adapters are left alone, so our retry
        policy is not mounted on it, and it is not closed by :meth:`close`).
    max_retries, backoff_factor, max_backoff:
        Retry policy for connection errors, timeouts, 429 and 5xx (full-jitter
        exponential backoff; ``Retry-After`` honoured up to ``max_backoff`` seconds).
    allow_insecure_http:
        Allow plain ``http://`` to a non-loopback host (refused by default).
    pool_size:
        Connections kept alive per host; size it to the number of concurrent workers.

    Examples
    --------
    >>> from netra_frames.server import LocalNetra
    >>> with LocalNetra(traces=200) as srv, NetraClient(srv.api_key, srv.base_url) as client:
    ...     page = client.list_traces("2000-01-01", "2100-01-01", limit=5)
    >>> len(page.traces)
    5
    """

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
    ) -> None:
        self._settings = resolve_settings(
            api_key,
            base_url,
            timeout=timeout,
            headers=headers,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            max_backoff=max_backoff,
            allow_insecure_http=allow_insecure_http,
        )
        self._owns_session = session is None
        self._pool_size = max(1, pool_size) if session is None else None
        self._session = session if session is not None else self._new_session(pool_size)
        self._headers = {
            "Accept": "application/json",
            "User-Agent": f"netra-frames/{__about__.__version__}",
            **self._settings.headers,
            API_KEY_HEADER: self._settings.api_key,
        }

    def _new_session(self, pool_size: int) -> requests.Session:
        s = self._settings
        session = requests.Session()
        adapter = HTTPAdapter(
            pool_connections=4,
            pool_maxsize=max(1, pool_size),
            max_retries=make_retry(s.max_retries, s.backoff_factor, s.max_backoff),
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    @property
    def settings(self) -> Settings:
        """The resolved settings (the key is masked in their ``repr``)."""
        return self._settings

    @property
    def pool_size(self) -> int | None:
        """Connections kept alive per host, or ``None`` for a session passed in by the caller."""
        return self._pool_size

    @property
    def base_url(self) -> str:
        """The base URL every path is joined to."""
        return self._settings.base_url

    def __repr__(self) -> str:
        return f"NetraClient(base_url={self._settings.base_url!r}, api_key='[secure]')"

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
        if self._owns_session:
            self._session.close()

    # -- transport ---------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self._settings.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        decode: Callable[[bytes], T],
    ) -> T:
        """Send one request and decode its body, retrying unreadable bodies.

        Status and connection retries happen in urllib3 (see ``_retry``); a body that is
        cut short or does not decode is fetched again, up to ``max_retries`` times.
        ``decode`` raises ``ValueError`` for a body it cannot use.
        """
        url = self._url(path)
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        headers = (
            self._headers if data is None else {**self._headers, "Content-Type": "application/json"}
        )
        s = self._settings
        for attempt in range(s.max_retries + 1):
            last = attempt == s.max_retries
            content = self._send(method, url, params, data, headers, retry_body=not last)
            if content is None:
                time.sleep(backoff_delay(attempt, s.backoff_factor, s.max_backoff))
                continue
            try:
                return decode(content)
            except ValueError as exc:
                if last:
                    raise TransportError(
                        f"{method} {url} returned an unusable body after {attempt + 1} "
                        f"attempt(s): {exc}.",
                        url=url,
                    ) from exc
                logger.warning("netra_frames: retrying %s %s: %s", method, url, exc)
                time.sleep(backoff_delay(attempt, s.backoff_factor, s.max_backoff))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        data: bytes | None,
        headers: Mapping[str, str],
        *,
        retry_body: bool,
    ) -> bytes | None:
        """Return the body of a 2xx response, ``None`` for a body cut short, or raise.

        urllib3 retries everything up to the response headers (connection errors, resets,
        timeouts, retryable statuses). The body is read here, outside urllib3, so a body
        that breaks off (reset, truncated, timed out mid-body) is reported as ``None``
        for :meth:`request` to fetch again.
        """
        started = time.perf_counter()
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self._settings.timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            if _timed_out(exc):
                raise TransportError(
                    f"{method} {url} timed out after {self._settings.timeout}s (and retries); "
                    "raise timeout= or NETRA_USAGE_TIMEOUT if the server is slow.",
                    url=url,
                ) from exc
            raise TransportError(f"{method} {url} failed: {_describe_exc(exc)}", url=url) from exc
        try:
            content = response.content
        except requests.exceptions.RequestException as exc:
            response.close()
            if retry_body:
                logger.warning(
                    "netra_frames: body of %s %s broke off (%s); retrying",
                    method,
                    url,
                    type(exc).__name__,
                )
                return None
            raise TransportError(
                f"{method} {url}: the response body broke off ({_describe_exc(exc)}); the "
                "connection was reset, cut short or timed out mid-body.",
                url=url,
            ) from exc
        logger.debug(
            "netra_frames: %s %s -> %s in %.1f ms",
            method,
            url,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        if response.status_code >= 300:
            raise error_from_response(method, response)
        return content

    # -- the six documented calls --------------------------------------------------------

    def get_session_usage(
        self, session_id: str, start_time: TimeLike, end_time: TimeLike
    ) -> SessionUsage:
        """Return token, request and cost totals of one session over ``[start, end)``.

        A session without traces in the window (or unknown to this key) has zero usage.

        Examples
        --------
        >>> client.get_session_usage("sess_1", "2026-01-01", "2026-02-01")
        SessionUsage(session_id='sess_1', token_count=1234, request_count=3, total_cost=0.02)
        """
        check_id(session_id, "session_id")
        params = _window_params(start_time, end_time)
        path = f"/usage/sessions/{_segment(session_id)}"
        data = self.request("GET", path, params=params, decode=_decode_data_object)
        return SessionUsage(
            session_id=_field(data, "session_id", str, session_id),
            token_count=_field(data, "tokenCount", int, 0),
            request_count=_field(data, "requestsCount", int, 0),
            total_cost=float(_field(data, "totalCost", (int, float), 0.0)),
        )

    def get_tenant_usage(
        self, tenant_id: str, start_time: TimeLike, end_time: TimeLike
    ) -> TenantUsage:
        """Return token, request, session and cost totals of one tenant over ``[start, end)``.

        Examples
        --------
        >>> client.get_tenant_usage("AceTech", "2026-01-01", "2026-02-01")
        TenantUsage(tenant_id='AceTech', organisation_id='org_1', token_count=..., ...)
        """
        check_id(tenant_id, "tenant_id")
        params = _window_params(start_time, end_time)
        path = f"/usage/tenants/{_segment(tenant_id)}"
        data = self.request("GET", path, params=params, decode=_decode_data_object)
        org = data.get("organisation_id")
        return TenantUsage(
            tenant_id=_field(data, "tenant_id", str, tenant_id),
            organisation_id=org if isinstance(org, str) else None,
            token_count=_field(data, "tokenCount", int, 0),
            request_count=_field(data, "requestsCount", int, 0),
            session_count=_field(data, "sessionsCount", int, 0),
            total_cost=float(_field(data, "totalCost", (int, float), 0.0)),
        )

    def traces_body(
        self,
        start_time: TimeLike,
        end_time: TimeLike,
        *,
        tenant_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        trace_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        direction: Direction | None = "down",
        sort_field: str | None = None,
        sort_order: SortOrder | None = None,
    ) -> dict[str, Any]:
        """Validate arguments and build the ``POST /sdk/traces`` body, exactly as the SDK does.

        Examples
        --------
        >>> client.traces_body("2026-01-01", "2026-01-02", tenant_id="AceTech")["filters"]
        [{'field': 'tenant_id', 'operator': 'equals', 'type': 'string', 'value': 'AceTech'}]
        """
        window = _window_params(start_time, end_time)
        filters = []
        for name, value in (
            ("trace_id", trace_id),
            ("session_id", session_id),
            ("user_id", user_id),
            ("tenant_id", tenant_id),
        ):
            if check_optional_id(value, name) is not None:
                filters.append(
                    {"field": name, "operator": "equals", "type": "string", "value": value}
                )
        body: dict[str, Any] = {**window, "filters": filters}
        pagination: dict[str, Any] = {}
        if check_limit(limit) is not None:
            pagination["limit"] = limit
        if cursor is not None:
            pagination["cursor"] = check_id(cursor, "cursor")
        if check_direction(direction) is not None:
            pagination["direction"] = direction
        if pagination:
            body["pagination"] = pagination
        if check_sort_field(sort_field) is not None:
            body["sortField"] = sort_field
        if check_sort_order(sort_order) is not None:
            body["sortOrder"] = sort_order
        return body

    def list_traces(
        self,
        start_time: TimeLike,
        end_time: TimeLike,
        *,
        tenant_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        trace_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        direction: Direction | None = "down",
        sort_field: str | None = None,
        sort_order: SortOrder | None = None,
    ) -> TracesPage:
        """Fetch one page of traces whose ``start_time`` lies in ``[start_time, end_time)``.

        Examples
        --------
        >>> page = client.list_traces("2026-01-01", "2026-02-01", tenant_id="AceTech", limit=10)
        >>> page.has_next_page, page.next_cursor
        (True, 'eyJ...')
        """
        body = self.traces_body(
            start_time,
            end_time,
            tenant_id=tenant_id,
            user_id=user_id,
            session_id=session_id,
            trace_id=trace_id,
            limit=limit,
            cursor=cursor,
            direction=direction,
            sort_field=sort_field,
            sort_order=sort_order,
        )
        return self.post_traces(body)

    def post_traces(self, body: Mapping[str, Any]) -> TracesPage:
        """Send an already built ``POST /sdk/traces`` body (see :meth:`traces_body`)."""
        return self.request("POST", "/sdk/traces", body=body, decode=parse_traces_page)

    def iter_traces(
        self,
        start_time: TimeLike,
        end_time: TimeLike,
        *,
        tenant_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        trace_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        direction: Direction | None = "down",
        sort_field: str | None = None,
        sort_order: SortOrder | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every trace of the window across pages, fetching each page on demand.

        Arguments are validated when this is called, before the first request.

        Examples
        --------
        >>> ids = [t["id"] for t in client.iter_traces("2026-01-01", "2026-02-01")]
        """
        body = self.traces_body(
            start_time,
            end_time,
            tenant_id=tenant_id,
            user_id=user_id,
            session_id=session_id,
            trace_id=trace_id,
            limit=limit,
            cursor=cursor,
            direction=direction,
            sort_field=sort_field,
            sort_order=sort_order,
        )
        return _items(iter_pages(self._traces_fetcher(body), cursor))

    def _traces_fetcher(self, body: dict[str, Any]) -> Callable[[str | None], TracesPage]:
        def fetch(cursor: str | None) -> TracesPage:
            pagination = {k: v for k, v in body.get("pagination", {}).items() if k != "cursor"}
            if cursor is not None:
                pagination["cursor"] = cursor
            page_body = {k: v for k, v in body.items() if k != "pagination"}
            if pagination:
                page_body["pagination"] = pagination
            return self.post_traces(page_body)

        return fetch

    def spans_params(
        self,
        *,
        cursor: str | None = None,
        direction: Direction | None = "down",
        limit: int | None = None,
        span_name: str | None = None,
    ) -> dict[str, str]:
        """Validate arguments and build the query of ``GET /sdk/traces/{id}/spans``."""
        params: dict[str, str] = {}
        if cursor is not None:
            params["cursor"] = check_id(cursor, "cursor")
        if check_direction(direction) is not None:
            params["direction"] = str(direction)
        if check_limit(limit) is not None:
            params["limit"] = str(limit)
        if span_name is not None:
            params["spanName"] = check_id(span_name, "span_name")
        return params

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
        check_id(trace_id, "trace_id")
        params = self.spans_params(
            cursor=cursor, direction=direction, limit=limit, span_name=span_name
        )
        return self.get_spans(trace_id, params)

    def get_spans(self, trace_id: str, params: Mapping[str, str]) -> SpansPage:
        """Send an already validated spans query (see :meth:`spans_params`)."""
        path = spans_path(trace_id)
        return self.request("GET", path, params=params, decode=parse_spans_page)

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
        check_id(trace_id, "trace_id")
        params = self.spans_params(
            cursor=cursor, direction=direction, limit=limit, span_name=span_name
        )

        def fetch(page_cursor: str | None) -> SpansPage:
            query = {k: v for k, v in params.items() if k != "cursor"}
            if page_cursor is not None:
                query["cursor"] = page_cursor
            return self.get_spans(trace_id, query)

        return _items(iter_pages(fetch, cursor))


def _items(pages: Iterator[TracesPage | SpansPage]) -> Iterator[dict[str, Any]]:
    for page in pages:
        yield from page.items


def spans_path(trace_id: str) -> str:
    """Return the path of a trace's spans, the id percent-encoded as one segment.

    Examples
    --------
    >>> spans_path("a/b")
    '/sdk/traces/a%2Fb/spans'
    """
    return f"/sdk/traces/{_segment(trace_id)}/spans"


def _segment(value: str) -> str:
    """Percent-encode an id as one path segment (``.`` and ``..`` too, or URLs drop them)."""
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _window_params(start_time: TimeLike, end_time: TimeLike) -> dict[str, str]:
    start, end = parse_time(start_time, "start_time"), parse_time(end_time, "end_time")
    if end <= start:
        raise InvalidParameterError(
            f"end_time ({end_time!r}) must be after start_time ({start_time!r}); the window "
            "is [start_time, end_time)."
        )
    resolve_window(start_time, end_time)  # refuses a naive and an aware time in one window
    return {"startTime": format_time(start), "endTime": format_time(end)}


def _decode_data_object(content: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not valid JSON ({exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise ValueError("the body has no 'data' object")
    data: dict[str, Any] = payload["data"]
    return data


def _field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TransportError(f"the usage response has {name}={value!r} of an unexpected type.")
    return value


def _timed_out(exc: requests.exceptions.RequestException) -> bool:
    """Whether a request failed by timing out (urllib3 wraps it once retries are spent)."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.TimeoutError)


def _describe_exc(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."


_STATUS_HINTS = {
    400: "check the arguments",
    401: "check NETRA_API_KEY / api_key=",
    403: "check NETRA_API_KEY / api_key= and the key's permissions",
    404: "check the id and that it belongs to this key's organisation",
    429: "slow down or raise max_retries",
}


def error_from_response(method: str, response: requests.Response) -> APIError:
    """Map an error response to its exception class, with the server's message.

    Examples
    --------
    >>> err = error_from_response("GET", response_404)
    >>> type(err).__name__
    'NotFoundError'
    """
    status = response.status_code
    server_message: str | None = None
    try:
        payload = response.json()
        err = payload.get("error") if isinstance(payload, dict) else None
        msg = err.get("message") if isinstance(err, dict) else None
        server_message = str(msg) if msg is not None else None
    except ValueError:
        server_message = None
    url = response.url
    hint = _STATUS_HINTS.get(status, "the server failed; try again later" if status >= 500 else "")
    if 300 <= status < 400:
        location = _describe_exc(ValueError(response.headers.get("Location", "?")))
        hint = (
            f"redirects to {location} are not followed, so the API key never travels to "
            "another URL; set base_url to the final API URL"
        )
    text = f"{method} {url} returned HTTP {status}"
    text += f": {server_message}" if server_message else ""
    text += f" ({hint})." if hint else "."
    kwargs: dict[str, Any] = {"status": status, "url": url, "server_message": server_message}
    if status in (401, 403):
        return AuthenticationError(text, **kwargs)
    if status == 404:
        return NotFoundError(text, **kwargs)
    if status == 429:
        return RateLimitError(
            text, retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    if status >= 500:
        return ServerError(text, **kwargs)
    return APIError(text, **kwargs)
