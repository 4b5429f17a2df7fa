"""netra_frames: Netra's usage and tracing API as typed Polars and pandas DataFrames.

The errors (a light module) are imported at once, every other public name on first use
(PEP 562), so ``import netra_frames``, the command line's ``--help`` and
``from netra_frames.server import LocalNetra`` load no data frame library;
``from netra_frames import traces_frame`` works as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .__about__ import __version__
from ._lazy import listing as _listing
from ._lazy import load as _load
from .errors import (
    APIError,
    AuthenticationError,
    CacheWarning,
    ConfigurationError,
    DrainError,
    EmptyResultWarning,
    ExportConflictError,
    InsecureTransportError,
    InvalidParameterError,
    NetraError,
    NetraWarning,
    NotFoundError,
    PageMismatchError,
    RateLimitError,
    ServerError,
    TransportError,
    WriteError,
)

if TYPE_CHECKING:
    from ._defaults import configure, get_client, set_backend
    from .answers import Report, report, sessions_frame, span_tree, usage_frame
    from .cache import cache_clear, cache_info
    from .client import NetraClient, SessionUsage, SpansPage, TenantUsage, TracesPage
    from .export import export_traces
    from .frames import expand_attributes, spans_frame, traces_frame
    from .output import write_frame
    from .scan import scan_spans, scan_traces
    from .usage_frames import session_usage_frame, tenant_usage_frame

_HOMES: dict[str, tuple[str, ...]] = {
    "._defaults": ("configure", "get_client", "set_backend"),
    ".answers": ("Report", "report", "sessions_frame", "span_tree", "usage_frame"),
    ".cache": ("cache_clear", "cache_info"),
    ".client": ("NetraClient", "SessionUsage", "SpansPage", "TenantUsage", "TracesPage"),
    ".export": ("export_traces",),
    ".frames": ("expand_attributes", "spans_frame", "traces_frame"),
    ".output": ("write_frame",),
    ".scan": ("scan_spans", "scan_traces"),
    ".usage_frames": ("session_usage_frame", "tenant_usage_frame"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
"""Public name -> the module defining it (imported when the name is first used)."""

__all__ = [
    "APIError",
    "AuthenticationError",
    "CacheWarning",
    "ConfigurationError",
    "DrainError",
    "EmptyResultWarning",
    "ExportConflictError",
    "InsecureTransportError",
    "InvalidParameterError",
    "NetraClient",
    "NetraError",
    "NetraWarning",
    "NotFoundError",
    "PageMismatchError",
    "RateLimitError",
    "Report",
    "ServerError",
    "SessionUsage",
    "SpansPage",
    "TenantUsage",
    "TracesPage",
    "TransportError",
    "WriteError",
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


def __getattr__(name: str) -> Any:
    """Import the module defining public ``name`` on first use, and keep the name here.

    A submodule (``nf.times``, ``nf.config``, ...) is imported on first use too, as an
    eager package face would have made it available.
    """
    return _load(globals(), name, _MODULE_OF, submodules=True)


def __dir__() -> list[str]:
    return _listing(globals())
