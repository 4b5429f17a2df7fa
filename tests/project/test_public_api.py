"""The public surface is exactly what ``__all__`` says, and every public function is documented."""

from __future__ import annotations

import inspect
import subprocess
import sys

import netra_frames as nf

PUBLIC = {
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


SDK_CALLS = {
    "get_session_usage",
    "get_tenant_usage",
    "list_traces",
    "iter_traces",
    "list_spans_by_trace_id",
    "iter_spans_by_trace_id",
}


def test_client_is_the_sdk_calls_and_nothing_more() -> None:
    public = {
        name
        for name, member in inspect.getmembers(nf.NetraClient)
        if not name.startswith("_") and inspect.isfunction(member)
    }
    assert public == SDK_CALLS | {"close"}
    properties = {n for n, m in inspect.getmembers(nf.NetraClient) if isinstance(m, property)}
    assert properties == {"base_url", "pool_size", "settings", "transport"}


def test_every_front_door_and_the_cli_take_every_traces_filter() -> None:
    """The parity of filters: one declaration (TraceFilters), every front door takes it."""
    from netra_frames.cli import build_parser
    from netra_frames.dask import traces_frame as dask_traces_frame
    from netra_frames.query import FILTERS, TraceFilters

    assert FILTERS == ("trace_id", "session_id", "user_id", "tenant_id")
    for door in (
        nf.traces_frame,
        nf.scan_traces,
        nf.export_traces,
        dask_traces_frame,
        nf.NetraClient.list_traces,
        nf.NetraClient.iter_traces,
        nf.sessions_frame,
        nf.usage_frame,
        nf.report,
    ):
        assert "**filters: Unpack[TraceFilters]" in inspect.getsource(door), door  # type checkers
        assert set(FILTERS) <= set(inspect.signature(door).parameters)  # help(), Shift-Tab
    parser = build_parser()
    for command in ("traces", "export"):
        args = parser.parse_args(
            [command, *(["out"] if command == "export" else [])]
            + [arg for name in FILTERS for arg in (f"--{name.replace('_', '-')}", name)]
        )
        assert {name: getattr(args, name) for name in FILTERS} == {n: n for n in FILTERS}
    assert set(TraceFilters.__annotations__) == set(FILTERS)


def test_submodules_load_on_first_use_through_the_lazy_face() -> None:
    code = (
        "import sys, netra_frames as nf\n"
        "assert nf.times.parse_time('2026-01-01').year == 2026\n"
        "assert nf.config.DEFAULT_MAX_WORKERS > 0\n"
        "try:\n    nf.no_such_module\nexcept AttributeError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "has no attribute 'no_such_module'" in out.stdout
