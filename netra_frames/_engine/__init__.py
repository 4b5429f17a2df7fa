"""The engine: every drain, scan, export and Dask task runs on these pieces, once each.

* :mod:`.pool` -- the bounded worker pool of one drain (threads sharing a cancel scope)
  and its in-order map;
* :mod:`.batch` -- the batcher: decoded pages to Arrow-backed batches of about 4 MB;
* :mod:`.policy` -- the drain policy: a failure after progress is a
  :class:`~netra_frames.DrainError` with ``.partial`` and ``.resume()``; Ctrl-C and errors
  cancel every worker;
* :mod:`.walks` -- traces walks over time ranges, split adaptively when a worker is idle;
* :mod:`.drains` -- the drains the front doors call (traces, spans, usage, page streams).

The page walk itself is :class:`netra_frames._wire.pages.PageWalk` (the client's ``iter_*``
calls use it too).
"""
