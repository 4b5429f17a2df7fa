"""A child process for Ctrl-C tests and the cancellation benchmark (not collected by pytest).

Usage: ``python tests/engine/_interrupt_child.py KIND [STALLS] [LATENCY_MS] [FAULT]``.

It starts a ``LocalNetra`` (fixed data), makes every API request wait ``LATENCY_MS`` (a
stall: nothing is sent until then; default 10 minutes), runs the drain ``KIND`` (one of
:data:`KINDS`), and prints ``stalled`` once the server holds ``STALLS`` waiting requests.
With ``FAULT`` ``drip``, every answer is an endless body instead, a byte every
``LATENCY_MS`` (the client's timeout is an hour: only the interrupt can end it).
The parent then sends SIGINT. The child prints one JSON line: what was raised, the
worker threads still alive right then (``alive_at_raise``) and after up to 10 s
(``alive_after``, with their ``stacks``), and exits 130.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from tempfile import TemporaryDirectory

import netra_frames as nf
from netra_frames.server import LocalNetra

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
START, END = ANCHOR - timedelta(days=30), ANCHOR


def workers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("netra_frames")]


def stacks() -> dict[str, str]:
    """Where each worker still alive is (so a report of one that outlived Ctrl-C says why)."""
    frames = sys._current_frames()
    return {
        t.name: "".join(traceback.format_stack(frames[t.ident]))
        for t in threading.enumerate()
        if t.name.startswith("netra_frames") and t.ident in frames
    }


def main() -> int:
    # Python's usual Ctrl-C, even when started by a job that ignores SIGINT (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    kind = sys.argv[1]
    stalls = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    latency_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 600_000.0
    fault = sys.argv[4] if len(sys.argv) > 4 else "stall"
    with LocalNetra(seed=0, traces=2000, anchor=ANCHOR) as srv, TemporaryDirectory() as tmp:
        client = nf.NetraClient(srv.api_key, srv.base_url, timeout=3600)
        ids = nf.traces_frame(START, END, max_rows=60, backend="polars", progress=False,
                              client=client)["trace_id"].to_list()  # fmt: skip
        kinds: dict[str, Callable[[], object]] = {
            "traces_frame": lambda: nf.traces_frame(START, END, progress=False, client=client),
            "spans_frame": lambda: nf.spans_frame(ids, progress=False, client=client),
            "usage_frame": lambda: nf.session_usage_frame(
                [f"s{i}" for i in range(40)], START, END, progress=False, client=client
            ),
            "scan_traces": lambda: nf.scan_traces(START, END, client=client).collect(),
            "scan_traces_streaming": lambda: nf.scan_traces(START, END, client=client).collect(
                engine="streaming"
            ),
            "scan_traces_in_memory": lambda: nf.scan_traces(START, END, client=client).collect(
                engine="in-memory"
            ),
            "scan_traces_cached": lambda: nf.scan_traces(
                START, END, client=client, cache=Path(tmp) / "cache"
            ).collect(),
            "traces_frame_cached": lambda: nf.traces_frame(
                START, END, progress=False, client=client, cache=Path(tmp) / "cache"
            ),
            "scan_spans": lambda: nf.scan_spans(ids, client=client).collect(),
            "export_traces": lambda: nf.export_traces(
                Path(tmp) / "out", START, END, progress=False, client=client
            ),
            "iter_traces": lambda: list(client.iter_traces(START, END)),
        }
        if fault == "drip":
            srv.set_faults(every={"drip": 1}, drip_ms=latency_ms, drip_endless=True)
        else:
            srv.set_faults(every={"stall": 1}, stall_ms=latency_ms)

        def announce() -> None:
            while srv.stats.faults.get(fault, 0) < stalls:
                time.sleep(0.005)
            print("stalled", flush=True)

        threading.Thread(target=announce, daemon=True).start()
        raised = "nothing"
        try:
            try:
                kinds[kind]()
            except KeyboardInterrupt:
                raised = "KeyboardInterrupt"
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                raised = f"{type(exc).__name__}: {exc}"
        except KeyboardInterrupt:  # Polars raises its own, then Python's handler another one
            raised = "KeyboardInterrupt"
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        at_raise = workers()
        deadline = time.monotonic() + 10
        while workers() and time.monotonic() < deadline:
            time.sleep(0.05)
        alive = workers()
        print(json.dumps({"raised": raised, "alive_at_raise": at_raise, "alive_after": alive,
                          "stacks": stacks() if alive else {}}), flush=True)  # fmt: skip
        srv.set_faults(None)
        client.close()
    return 130 if raised == "KeyboardInterrupt" else 1


if __name__ == "__main__":
    raise SystemExit(main())
