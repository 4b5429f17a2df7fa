"""``LocalNetra.stop()`` ends every server thread, even with requests in flight.

Each in-flight request here waits ten minutes (an injected latency, stall or slow body), so
a stop that did not interrupt the waits, or did not join the handler threads, leaves threads
behind and the assertion names them: nothing here depends on the machine's speed.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from netra_frames.server import LocalNetra
from netra_frames.server.store import Store

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
TEN_MINUTES_MS = 600_000
BODY = json.dumps({"startTime": "2025-12-01T00:00:00.000Z", "endTime": "2026-01-01T00:00:00.000Z",
                   "filters": [], "pagination": {"limit": 5}}).encode()  # fmt: skip


def threads_named(prefix: str) -> list[str]:
    """Names of the threads alive now whose name starts with ``prefix``."""
    return sorted(t.name for t in threading.enumerate() if t.name.startswith(prefix))


def post(srv: LocalNetra, outcome: list[Any]) -> None:
    """POST one traces page; record the status, or the error the client saw."""
    host, port = srv.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.request("POST", "/sdk/traces", BODY, {"x-api-key": srv.api_key})
        resp = conn.getresponse()
        resp.read()
        outcome.append(resp.status)
    except (OSError, http.client.HTTPException) as exc:
        outcome.append(type(exc).__name__)
    finally:
        conn.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("faults", "kind"),
    [
        ({"latency_ms": TEN_MINUTES_MS, "every": {"503": 1}}, "error"),  # latency, then a 503
        ({"stall_ms": TEN_MINUTES_MS, "every": {"stall": 1}}, "stall"),
        ({"slow_body_ms": 10 * TEN_MINUTES_MS, "every": {"slow": 1}}, "slow"),  # chunk per 10 min
    ],
)
def test_stop_leaves_no_server_thread_with_requests_in_flight(
    faults: dict[str, Any], kind: str
) -> None:
    srv = LocalNetra(traces=20, anchor=ANCHOR).start()
    clients: list[threading.Thread] = []
    outcomes: list[Any] = []
    try:
        host, port = srv.base_url.removeprefix("http://").split(":")
        prefix = f"LocalNetra-{port}"  # the serving thread, and its handlers' prefix
        idle = http.client.HTTPConnection(host, int(port), timeout=120)  # kept open, no request
        idle.request("POST", "/sdk/traces", BODY, {"x-api-key": srv.api_key})
        assert idle.getresponse().read()
        srv.set_faults(**faults)
        clients = [threading.Thread(target=post, args=(srv, outcomes)) for _ in range(3)]
        for client in clients:
            client.start()
        deadline = time.monotonic() + 60
        while srv.stats.faults.get(kind, 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.stats.faults == {kind: 3}  # all three are waiting in the server
        assert len(threads_named(prefix)) == 5  # serving, the idle connection's, three waiting
        srv.stop()
        assert threads_named(prefix) == []
    finally:
        srv.stop()
        for client in clients:
            client.join(60)
    assert not any(client.is_alive() for client in clients)
    assert len(outcomes) == 3 and 200 not in outcomes and 503 not in outcomes, outcomes
    idle.close()


def test_a_closed_store_closes_a_borrowed_connection_when_it_comes_back() -> None:
    store = Store(None)
    store.load(seed=0, traces=3, days=1, anchor_ms=1_767_225_600_000)
    with store.connection() as conn:
        store.close()  # meanwhile, as a stop would while a handler runs a query
        assert conn.execute("SELECT COUNT(*) FROM traces").fetchone() == (3,)
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")  # closed on return
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        with store.connection():
            pass
