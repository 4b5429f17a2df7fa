"""netra_frames: Netra's usage and tracing API as typed Polars and pandas DataFrames."""

from __future__ import annotations

from .__about__ import __version__
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
]
