"""netra_frames: Netra's usage and tracing API as typed Polars and pandas DataFrames."""

from __future__ import annotations

from .__about__ import __version__
from ._defaults import configure, get_client, set_backend
from .answers import Report, report, sessions_frame, span_tree, usage_frame
from .cache import cache_clear, cache_info
from .client import NetraClient, SessionUsage, SpansPage, TenantUsage, TracesPage
from .errors import (
    APIError,
    AuthenticationError,
    CacheWarning,
    ConfigurationError,
    DrainError,
    EmptyResultWarning,
    InsecureTransportError,
    InvalidParameterError,
    NetraError,
    NetraWarning,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .export import export_traces
from .frames import (
    expand_attributes,
    session_usage_frame,
    spans_frame,
    tenant_usage_frame,
    traces_frame,
)
from .output import write_frame
from .scan import scan_spans, scan_traces

__all__ = [
    "APIError",
    "AuthenticationError",
    "CacheWarning",
    "ConfigurationError",
    "DrainError",
    "EmptyResultWarning",
    "InsecureTransportError",
    "InvalidParameterError",
    "NetraClient",
    "NetraError",
    "NetraWarning",
    "NotFoundError",
    "RateLimitError",
    "Report",
    "ServerError",
    "SessionUsage",
    "SpansPage",
    "TenantUsage",
    "TracesPage",
    "TransportError",
    "__version__",
    "cache_clear",
    "cache_info",
    "configure",
    "expand_attributes",
    "export_traces",
    "get_client",
    "report",
    "scan_spans",
    "scan_traces",
    "session_usage_frame",
    "sessions_frame",
    "set_backend",
    "span_tree",
    "spans_frame",
    "tenant_usage_frame",
    "traces_frame",
    "usage_frame",
    "write_frame",
]
