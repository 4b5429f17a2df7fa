"""The public surface is exactly what ``__all__`` says, and every public function is documented."""

from __future__ import annotations

import inspect

import netra_frames as nf

PUBLIC = {
    "APIError",
    "AuthenticationError",
    "CacheWarning",
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
    "cache_clear",
    "cache_info",
    "configure",
    "expand_attributes",
    "export_traces",
    "get_client",
    "scan_spans",
    "scan_traces",
    "session_usage_frame",
    "set_backend",
    "spans_frame",
    "tenant_usage_frame",
    "traces_frame",
    "write_frame",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(nf.__all__) == PUBLIC
    assert nf.__all__ == sorted(nf.__all__)
    assert all(hasattr(nf, name) for name in nf.__all__)


def test_every_public_callable_has_a_docstring_with_an_example() -> None:
    for name in nf.__all__:
        obj = getattr(nf, name)
        if not callable(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        assert doc, f"{name} has no docstring"
        if inspect.isfunction(obj):
            assert "Example" in doc, f"{name}'s docstring has no example"


def test_errors_share_one_root() -> None:
    errors = [getattr(nf, n) for n in nf.__all__ if n.endswith("Error")]
    assert all(issubclass(e, nf.NetraError) for e in errors)
    assert issubclass(nf.InvalidParameterError, ValueError)
    assert issubclass(nf.ConfigurationError, ValueError)


def test_client_methods_mirror_the_sdk() -> None:
    for method in (
        "get_session_usage",
        "get_tenant_usage",
        "list_traces",
        "iter_traces",
        "list_spans_by_trace_id",
        "iter_spans_by_trace_id",
        "traces_frame",
        "spans_frame",
        "session_usage_frame",
        "tenant_usage_frame",
    ):
        assert callable(getattr(nf.NetraClient, method)), method
