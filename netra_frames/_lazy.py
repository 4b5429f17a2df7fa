"""Names of a package imported on first use (PEP 562), so its face loads nothing heavy.

A package keeps a map ``public name -> module defining it`` and two one-line hooks::

    def __getattr__(name: str) -> Any:
        return load(globals(), name, _MODULE_OF)

    def __dir__() -> list[str]:
        return listing(globals())

``netra_frames`` and ``netra_frames.cache`` use it, so ``--help``, ``cache info`` and
``import netra_frames.server`` load no data frame library.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import Any

__all__ = ["listing", "load"]


def load(
    namespace: dict[str, Any], name: str, homes: Mapping[str, str], *, submodules: bool = False
) -> Any:
    """Import the module defining ``name``, keep the value in ``namespace`` and return it.

    Parameters
    ----------
    namespace
        The package's ``globals()``: its ``__name__`` anchors the relative module names,
        and the value is stored there, so the next lookup does not come back here.
    name
        The attribute asked for.
    homes
        Public name -> the module defining it, relative to the package (``".frames"``).
    submodules
        Also import a submodule of that name (``nf.times``), as an eager package face
        would have made it available.

    Raises
    ------
    AttributeError
        For a name that is neither in ``homes`` nor (with ``submodules``) a submodule.

    Examples
    --------
    >>> space = {"__name__": "netra_frames"}
    >>> load(space, "parse_duration", {"parse_duration": ".cache"}).__name__
    'parse_duration'
    >>> sorted(space)
    ['__name__', 'parse_duration']
    >>> load(space, "times", {}, submodules=True).__name__
    'netra_frames.times'
    """
    package = namespace["__name__"]
    module = homes.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, package), name)
    elif submodules and not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
        value = importlib.import_module(f".{name}", package)
    else:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    namespace[name] = value
    return value


def listing(namespace: dict[str, Any]) -> list[str]:
    """Return the names of a package: those loaded so far and its ``__all__``.

    Examples
    --------
    >>> listing({"__name__": "p", "__all__": ["b", "a"]})
    ['__all__', '__name__', 'a', 'b']
    """
    return sorted(set(namespace) | set(namespace.get("__all__", ())))
