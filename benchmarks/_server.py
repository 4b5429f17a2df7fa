"""A LocalNetra in its own process, so its memory and CPU are not the client's.

Protocol: prints one JSON line ``{"base_url", "api_key", "anchor"}`` when ready, then
reads commands from stdin: ``latency <ms>`` (answers ``ok``); end of input stops it.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from netra_frames.server import LocalNetra

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)


def main() -> None:
    """Serve ``argv[1]`` traces over 30 days until stdin closes."""
    traces = int(sys.argv[1])
    with LocalNetra(seed=1, traces=traces, days=30, anchor=ANCHOR) as srv:
        info = {"base_url": srv.base_url, "api_key": srv.api_key, "anchor": ANCHOR.isoformat()}
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "latency":
                srv.set_faults(latency_ms=float(arg))
            elif cmd == "stats":
                st = srv.stats
                print(json.dumps({"requests": st.requests, "connections": st.connections_opened}))
                sys.stdout.flush()
                continue
            print("ok", flush=True)


if __name__ == "__main__":
    main()
