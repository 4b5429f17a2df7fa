"""The engine: one pipeline of ordered, bounded batches that every door consumes.

This ``__init__`` is the only door in: the front doors (``frames``, ``scan``, ``export``,
``dask``, ``usage_frames``) and the cache import the names below from
:mod:`netra_frames._engine`, never from its modules (an import-linter contract says so).
The public face is the pipeline (:class:`Pipeline`, its :class:`Batch` objects and the
three ways to build one) and what plans it; inside, from the top down:

* :mod:`.traces` and :mod:`.keyed` -- the producers: traces walks over windows, and one
  fetch per key (a trace's spans, a usage id); :func:`drain_traces` and
  :func:`drain_spans` collect their pipelines into frames;
* :mod:`.pipeline` -- the producer thread, the bounded queue, cancellation and the one
  failure policy (``DrainError`` with ``.partial`` and ``.resume()``);
* :mod:`.walks` / :mod:`.walk` -- traces walks over time ranges, split adaptively;
* :mod:`.batch`, :mod:`.pool`, :mod:`.shards` -- the batcher (decoded pages to ~4 MB
  batches), the bounded worker pool and its in-order map, how many sub-windows a drain
  starts with and merging a listing not in time order back.

The page walk itself is :class:`netra_frames._wire.pages.PageWalk` (the client's
``iter_*`` calls use it too).
"""

from .keyed import drain_spans, keyed_pipeline, spans_pipeline
from .pipeline import Batch, Pipeline
from .pool import plan_workers
from .shards import SHARDABLE_SORT_FIELDS, Shards, choose_shards, merge_by_sort
from .traces import drain_traces, traces_pipeline

__all__ = [
    "SHARDABLE_SORT_FIELDS",
    "Batch",
    "Pipeline",
    "Shards",
    "choose_shards",
    "drain_spans",
    "drain_traces",
    "keyed_pipeline",
    "merge_by_sort",
    "plan_workers",
    "spans_pipeline",
    "traces_pipeline",
]
