"""The spans drain of many traces, assembled once (``spans_frame`` and the spans cache)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._cancel import CancelScope
from .._progress import Progress
from ..query import SpanQuery
from .batch import Batcher, Sink
from .drains import KeyedDrain, PageCollector, spans_of

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = ["drain_spans"]


def drain_spans(
    transport: Transport,
    template: SpanQuery,
    trace_ids: Sequence[str],
    sink: Sink[Any],
    *,
    workers: int,
    bar: Progress | None = None,
) -> Any:
    """Fetch every span of ``trace_ids``, traces concurrently, into one result of ``sink``.

    Input trace order, then the API's span order; at most ``workers`` traces at once (no
    more than there are traces). A failure after progress is a
    :class:`~netra_frames.DrainError` (``.partial``, ``.resume()``).

    Examples
    --------
    >>> from netra_frames.schema import SPANS
    >>> from netra_frames._engine.batch import polars_sink
    >>> template = SpanQuery.template(span_name=None, page_size=100)
    >>> drain_spans(client.transport, template, [], polars_sink(SPANS), workers=4).height
    0
    """

    def fetch(trace_id: str, scope: CancelScope) -> Any:
        return spans_of(transport, template, trace_id, scope)

    return KeyedDrain(
        fetch,
        list(trace_ids),
        PageCollector(Batcher(sink)),
        workers=max(1, min(workers, len(trace_ids))),
        bar=bar or Progress(False, "spans", "traces"),
        noun="traces",
    ).run()
