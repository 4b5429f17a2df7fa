"""A LocalNetra in its own process, so its memory and CPU are not the client's.

Usage: ``python -m benchmarks._server TRACES [SHAPE [DAYS]]``: ``TRACES`` traces over ``DAYS``
days (default 30) ending at :data:`ANCHOR`, spread by ``SHAPE`` (``uniform``, the default,
``skewed`` or ``bursty``; see :class:`~netra_frames.server.LocalNetra`).

Protocol: prints one JSON line ``{"base_url", "api_key", "anchor", "days", "shape"}`` when
ready, then reads commands from stdin: ``latency <ms>`` (answers ``ok``), ``faults <json>``
(``set_faults(**json)``, all other faults off; answers ``ok``), ``stats`` (answers
``{"requests", "connections", "by_status", "faults"}``) and ``reset`` (zeroes the counters,
answers ``ok``); end of input stops it.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from netra_frames.server import LocalNetra

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)


def main() -> None:
    """Serve ``argv[1]`` traces (shape ``argv[2]``, over ``argv[3]`` days) until stdin closes."""
    traces = int(sys.argv[1])
    shape = sys.argv[2] if len(sys.argv) > 2 else "uniform"
    days: float = float(sys.argv[3]) if len(sys.argv) > 3 else 30
    if days == int(days):
        days = int(days)  # 30, not 30.0: the data is generated from the number as written
    with LocalNetra(seed=1, traces=traces, days=days, shape=shape, anchor=ANCHOR) as srv:
        info = {"base_url": srv.base_url, "api_key": srv.api_key, "anchor": ANCHOR.isoformat(),
                "days": days, "shape": shape}  # fmt: skip
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "latency":
                srv.set_faults(latency_ms=float(arg))
            elif cmd == "faults":
                srv.set_faults(**json.loads(arg))
            elif cmd == "reset":
                srv.reset_stats()
            elif cmd == "stats":
                st = srv.stats
                stats = {"requests": st.requests, "connections": st.connections_opened,
                         "by_status": st.by_status, "faults": st.faults}  # fmt: skip
                print(json.dumps(stats), flush=True)
                continue
            print("ok", flush=True)


if __name__ == "__main__":
    main()
