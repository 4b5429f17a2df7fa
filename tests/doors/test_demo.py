"""The demo fetches once: its cost report is built on the frames it drained, not a second drain.

The command (``netra-frames demo``) is run end to end in ``tests/cli/test_cli.py``; here its
requests are counted on the session server.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import netra_frames as nf
from netra_frames import demo
from netra_frames.server import LocalNetra


def test_the_demo_drains_the_traces_and_their_spans_once(
    server: LocalNetra, client: nf.NetraClient, window: tuple[datetime, datetime]
) -> None:
    start = window[1] - timedelta(days=demo.DAYS)
    server.reset_stats()
    traces, spans, usage, report = demo._fetch(client, start, window[1], progress=False)
    requests = server.stats.requests
    server.reset_stats()
    nf.spans_frame(traces, client=client, progress=False)
    spans_drain = server.stats.requests  # a page or more per trace, the same on every run
    assert traces.height > 0 and spans_drain >= traces.height
    # The rest: the traces pages (fewer than a page per trace) and two usage requests (the
    # demo's own and the report's reconciliation). A second drain would cost another
    # spans_drain, and more.
    traces_pages = requests - spans_drain - 2
    assert 1 <= traces_pages < spans_drain
    assert report.agrees is True and usage.request_count == traces.height
    assert report.figures.totals["requests"][0] == traces.height
    assert spans["trace_id"].is_in(traces["trace_id"].implode()).all()
