"""The HTTP request value: what the transport sends, and how its target is spelled.

A :class:`Request` is a method, a target (path and query, relative to the base URL) and
an optional JSON body; :func:`with_query` and :func:`segment` spell targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import quote, urlencode

__all__ = ["Request", "segment", "with_query"]


class Request(NamedTuple):
    """One HTTP request of the API: ``target`` is the path and query, relative to the base URL.

    Examples
    --------
    >>> Request("GET", "/usage/tenants/AceTech?startTime=x").target
    '/usage/tenants/AceTech?startTime=x'
    """

    method: str
    target: str
    body: bytes | None = None


def with_query(path: str, params: Mapping[str, str]) -> str:
    """``path`` and its query string (values percent-encoded as a form, in the given order).

    Examples
    --------
    >>> with_query("/x", {"a": "1 2", "b": "c/d"})
    '/x?a=1+2&b=c%2Fd'
    """
    return f"{path}?{urlencode(params)}" if params else path


def segment(value: str) -> str:
    """Percent-encode an id as one path segment (``.`` and ``..`` too, or URLs drop them).

    Examples
    --------
    >>> segment("a/b")
    'a%2Fb'
    """
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded
