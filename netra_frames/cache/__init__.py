"""A local cache of traces and spans that refetches only what can still change.

Turn it on per call (``cache=True``, or a directory), for every call
(``nf.configure(cache=...)``, which calls :func:`set_default_cache`) or from the
environment (``NETRA_FRAMES_CACHE=DIR``). It is off unless asked for. Where it lives is one
rule for every function and command (:func:`~netra_frames.cache.settings.cache_dir`): the
first directory named by the call, ``configure`` or ``NETRA_FRAMES_CACHE``, else the
platform's user cache directory.

* **What is final.** A UTC day of a traces query is final once it ended more than
  ``settle`` ago (default 1 hour; ``settle=`` per call, in ``configure`` or
  ``NETRA_FRAMES_SETTLE``). A final day is fetched once, whole, stored, and read from disk
  after that; the part of a window after the last final day is always fetched. The spans
  of a trace are final once the trace ended more than ``settle`` ago. See
  :mod:`netra_frames.cache.days` and :mod:`netra_frames.cache.packs`.
* **What keys it.** The base URL, a fingerprint of the API key and extra headers (a
  keyed BLAKE2b, never the key), the filters and the sort (spans: the ``span_name``).
  Results never cross keys or servers; windows of the same query share their days.
* **Equal to a drain.** A cached answer has the rows, order and dtypes of the uncached
  drain.
* **On disk.** The layout and markers of :mod:`netra_frames._files` (the same as
  :func:`~netra_frames.export_traces`): ``DIR/traces/<query>/date=YYYY-MM-DD/`` and
  ``DIR/spans/<query>/pack=<id>/``, folders of mode 0700, files written atomically and
  checked (size and BLAKE2b) on every read; a damaged file is reported once as a
  :class:`~netra_frames.CacheWarning` and fetched again, never returned.
* **Modules.** :mod:`.settings` (which cache, ``settle``, durations, the key
  fingerprint), :mod:`.entries` (query folders, writing one entry), :mod:`.days` and
  :mod:`.packs` (what is final, read and stored), :mod:`.slices` (a window put
  together), :mod:`.admin` (``cache_info``, ``cache_clear``) and :mod:`.fetch`, the only
  one that touches the engine.
* **Known limit.** A server that backfills a day already final is not seen until
  ``refresh=True`` or a longer ``settle``.

Examples
--------
>>> df = nf.traces_frame("2026-01-01", "2026-02-01", cache=True, client=client)
>>> again = nf.traces_frame("2026-01-01", "2026-02-01", cache=True, client=client)  # from disk
>>> nf.cache_info().trace_slices
31
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._lazy import listing as _listing
from .._lazy import load as _load
from .admin import CacheInfo, cache_clear, cache_info
from .settings import (
    DEFAULT_SETTLE,
    ENV_CACHE,
    ENV_SETTLE,
    CacheLike,
    CacheSettings,
    SettleLike,
    default_cache_dir,
    parse_duration,
    set_default_cache,
)

if TYPE_CHECKING:
    from .entries import Scope
    from .fetch import (
        cached_spans_frame,
        cached_trace_frames,
        cached_traces_frame,
        settings_for,
        spans_fetcher,
        window_stream,
    )
    from .packs import SpansFetcher
    from .slices import WindowStream

_HEAVY = {
    "WindowStream": ".slices",
    "Scope": ".entries",
    "SpansFetcher": ".packs",
    **dict.fromkeys(
        (
            "cached_spans_frame",
            "cached_trace_frames",
            "cached_traces_frame",
            "settings_for",
            "spans_fetcher",
            "window_stream",
        ),
        ".fetch",
    ),
}
"""Names whose modules load Polars: imported on first use (PEP 562), so the housekeeping
(``cache_info``, ``cache_clear``, ``netra-frames cache info``) loads no data frame library."""


def __getattr__(name: str) -> Any:
    """Import the module of a heavy public ``name`` on first use."""
    return _load(globals(), name, _HEAVY)


def __dir__() -> list[str]:
    return _listing(globals())


__all__ = [
    "CacheInfo",
    "CacheLike",
    "CacheSettings",
    "DEFAULT_SETTLE",
    "ENV_CACHE",
    "ENV_SETTLE",
    "Scope",
    "SettleLike",
    "SpansFetcher",
    "WindowStream",
    "cache_clear",
    "cache_info",
    "cached_spans_frame",
    "cached_trace_frames",
    "cached_traces_frame",
    "default_cache_dir",
    "parse_duration",
    "set_default_cache",
    "settings_for",
    "spans_fetcher",
    "window_stream",
]
