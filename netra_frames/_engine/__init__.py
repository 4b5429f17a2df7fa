"""The engine: every drain, scan, export and Dask task runs on these pieces, once each.

This ``__init__`` is the only door in: the front doors (``frames``, ``scan``, ``export``,
``dask``, ``cache``) import the names below from :mod:`netra_frames._engine`, never
from its modules (an import-linter contract says so). Inside, from the top down:

* :mod:`.spans` -- the spans drain of many traces;
* :mod:`.drains` -- the traces drain, keyed drains (usage), and page streams (scans);
* :mod:`.walks` -- traces walks over time ranges, split adaptively when a worker is idle;
* :mod:`.policy` -- the drain policy: a failure after progress is a
  :class:`~netra_frames.DrainError` with ``.partial`` and ``.resume()``; Ctrl-C and errors
  cancel every worker;
* :mod:`.batch` -- the batcher: decoded pages to Arrow-backed batches of about 4 MB;
* :mod:`.pool` -- the bounded worker pool of one drain (threads sharing a cancel scope),
  its in-order map, and how many workers a drain gets.

The page walk itself is :class:`netra_frames._wire.pages.PageWalk` (the client's
``iter_*`` calls use it too).
"""

from .batch import polars_sink
from .drains import KeyedDrain, RowCollector, drain_traces, sink_for, span_pages, trace_pages
from .pool import plan_workers
from .shards import SHARDABLE_SORT_FIELDS, Shards, choose_shards, merge_by_sort
from .spans import drain_spans

__all__ = [
    "SHARDABLE_SORT_FIELDS",
    "KeyedDrain",
    "RowCollector",
    "Shards",
    "choose_shards",
    "drain_spans",
    "drain_traces",
    "merge_by_sort",
    "plan_workers",
    "polars_sink",
    "sink_for",
    "span_pages",
    "trace_pages",
]
