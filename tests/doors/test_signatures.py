"""Every public function shows its parameters to every reader, and its hints resolve.

A function that takes the traces filters declares ``**filters: Unpack[TraceFilters]`` (for type
checkers) and is decorated with ``query.filter_keywords``, the one way to spell them: ``help()``,
``inspect.signature`` (Shift-Tab and completion in Jupyter) and ``typing.get_type_hints`` then
show ``trace_id``, ``session_id``, ``user_id`` and ``tenant_id`` by name, read from
``query.TraceFilters``: adding a filter there fails this test until every door shows it.

Every name a public annotation uses is imported at run time (not only under ``TYPE_CHECKING``),
so ``typing.get_type_hints`` resolves for every public function, method and overload, as
pydantic, typer-style wrappers and IDEs call it. On Python 3.10 ``Unpack`` comes from
``typing_extensions`` (a dependency there).
"""

from __future__ import annotations

import inspect
import pydoc
import sys
import typing
from collections.abc import Callable
from typing import Any

import pytest

import netra_frames as nf
from netra_frames.query import FILTERS, TraceFilters

dask = pytest.importorskip("netra_frames.dask")

DECLARES_FILTERS = "**filters: Unpack[TraceFilters]"


def public_functions() -> dict[str, Callable[..., Any]]:
    """Every public function: of ``nf.__all__``, the Dask door, and the public methods (and
    constructors) of the public classes."""
    found: dict[str, Callable[..., Any]] = {"netra_frames.dask.traces_frame": dask.traces_frame}
    for name in nf.__all__:
        obj = getattr(nf, name)
        if inspect.isfunction(obj):
            found[name] = obj
        elif inspect.isclass(obj) and obj.__module__.startswith("netra_frames"):
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and (attr == "__init__" or attr[0] != "_"):
                    found[f"{name}.{attr}"] = member
    return found


def declares_filters(function: Callable[..., Any]) -> bool:
    try:
        return DECLARES_FILTERS in inspect.getsource(function)
    except OSError:  # made at run time (a dataclass's __init__)
        return False


FUNCTIONS = public_functions()
TAKING_FILTERS = {n: f for n, f in FUNCTIONS.items() if declares_filters(f)}


def test_the_functions_taking_filters_are_found() -> None:
    assert set(TAKING_FILTERS) == {
        "traces_frame",
        "scan_traces",
        "export_traces",
        "netra_frames.dask.traces_frame",
        "sessions_frame",
        "usage_frame",
        "report",
        "NetraClient.list_traces",
        "NetraClient.iter_traces",
    }


@pytest.mark.parametrize("name", sorted(TAKING_FILTERS))
def test_every_function_taking_filters_lists_them_by_name(name: str) -> None:
    door = TAKING_FILTERS[name]
    signature = inspect.signature(door)
    parameters = signature.parameters.values()
    assert not any(p.kind is p.VAR_KEYWORD for p in parameters)  # no **filters to guess at
    shown = [p.name for p in parameters if p.name in TraceFilters.__annotations__]
    assert shown == list(TraceFilters.__annotations__) == list(FILTERS)
    for filter_name in shown:
        param = signature.parameters[filter_name]
        assert (param.kind, param.default) == (param.KEYWORD_ONLY, None)
    text = pydoc.render_doc(door, renderer=pydoc.plaintext)
    assert all(f"{f}: 'str | None' = None" in text for f in FILTERS), text[:400]
    assert "**filters" not in text.split("\n\n", 2)[1]  # the signature line(s) of help()
    hints = typing.get_type_hints(door)
    assert all(hints[f] == (str | None) for f in FILTERS)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_public_function_has_hints_that_resolve(name: str) -> None:
    function = FUNCTIONS[name]
    hints = typing.get_type_hints(function)  # NameError for a TYPE_CHECKING-only name
    signature = inspect.signature(function, eval_str=True)
    parameters = [p for p in signature.parameters if p != "self"]
    assert sorted(set(hints) - {"return"}) == sorted(parameters), "a parameter without a hint"
    if sys.version_info >= (3, 11):  # typing.get_overloads
        for overload in typing.get_overloads(function):
            typing.get_type_hints(overload)


def test_a_door_still_refuses_an_unknown_filter_by_name(client: nf.NetraClient) -> None:
    with pytest.raises(nf.InvalidParameterError, match="did you mean 'tenant_id'"):
        nf.traces_frame("2025-12-01", "2026-01-01", tenant="AceTech", client=client)  # type: ignore[call-overload]
    with pytest.raises(nf.InvalidParameterError, match="did you mean 'tenant_id'"):
        nf.sessions_frame("2025-12-01", "2026-01-01", tenant="AceTech", client=client)  # type: ignore[call-overload]
    frame = nf.traces_frame("2025-12-01", "2026-01-01", tenant_id="AceTech", client=client)
    assert len(frame) > 0 and set(frame["tenant_id"]) == {"AceTech"}
