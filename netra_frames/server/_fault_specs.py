"""Reading one ``NAME=VALUE`` fault spec's value by the type its field declares.

:meth:`~netra_frames.server.faults.FaultConfig.from_specs` uses these, so the grammar follows
the dataclass: a new field of a known kind needs no parser change.
"""

from __future__ import annotations

import types
import typing
from typing import Any

__all__ = ["describe", "read_value"]

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def read_value(raw: str, kind: Any) -> Any:
    """Read ``raw`` as a value of the type ``kind`` (a resolved field annotation).

    Examples
    --------
    >>> read_value("3:429,7:truncate", dict[int, str])
    {3: '429', 7: 'truncate'}
    """
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and raw.lower() in ("none", "off", ""):
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return read_value(raw, inner)
    if origin is tuple:
        return tuple(read_value(item.strip(), args[0]) for item in raw.split(","))
    if origin is dict:
        pairs = [item.partition(":") for item in raw.split(",") if item.strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError(raw)
        key, value = args
        return {read_value(k.strip(), key): read_value(v.strip(), value) for k, _, v in pairs}
    if kind is bool:
        if raw.lower() not in _TRUE + _FALSE:
            raise ValueError(raw)
        return raw.lower() in _TRUE
    if kind in (int, float, str):
        return kind(raw)
    raise TypeError(f"FaultConfig.from_specs cannot read a {kind!r} field")


def describe(kind: Any) -> str:
    """Say in words what :func:`_read_value` accepts for ``kind``."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return f"{describe(inner[0])} or none"
    if origin is tuple:
        return f"a comma-separated list ({describe(args[0])} each)"
    if origin is dict:
        return f"KEY:VALUE,... with KEY {describe(args[0])} and VALUE {describe(args[1])}"
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a text"}
    return names.get(kind, repr(kind))
