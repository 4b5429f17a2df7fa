"""netra_frames: Netra's usage and tracing API as typed Polars and pandas DataFrames."""

from __future__ import annotations

from .__about__ import __version__
from ._defaults import configure, get_client, set_backend
from .client import NetraClient, SessionUsage, SpansPage, TenantUsage, TracesPage
from .errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    DrainError,
    InsecureTransportError,
    InvalidParameterError,
    NetraError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .frames import (
    expand_attributes,
    session_usage_frame,
    spans_frame,
    tenant_usage_frame,
    traces_frame,
)
from .output import write_frame

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "DrainError",
    "InsecureTransportError",
    "InvalidParameterError",
    "NetraClient",
    "NetraError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "SessionUsage",
    "SpansPage",
    "TenantUsage",
    "TracesPage",
    "TransportError",
    "__version__",
    "configure",
    "expand_attributes",
    "get_client",
    "session_usage_frame",
    "set_backend",
    "spans_frame",
    "tenant_usage_frame",
    "traces_frame",
    "write_frame",
]
