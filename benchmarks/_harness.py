"""The local server in a process of its own, driven over a pipe (``benchmarks/_server.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from netra_frames.times import format_time

__all__ = ["MEMORY_PRELUDE", "Server", "sdk_pages"]

MEMORY_PRELUDE = r"""
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise KeyError(key)

def reset_peak():
    try:
        open("/proc/self/clear_refs", "w").write("5")  # reset VmHWM to the current RSS
        return True
    except OSError:
        return False
"""
"""What a memory benchmark's child process starts with: ``status("VmRSS:")`` and
``status("VmHWM:")`` in bytes, and ``reset_peak()`` (whether ``VmHWM`` could be reset)."""


def sdk_pages(
    base_url: str, api_key: str, start: datetime, end: datetime, direction: str | None = None
) -> Iterator[tuple[dict[str, Any], float]]:
    """The official SDK's way to walk a listing: ``(page data, seconds it took)``, in order."""
    cursor = None
    with requests.Session() as session:
        while True:
            pagination: dict[str, Any] = {"limit": 100}
            if direction:
                pagination["direction"] = direction
            if cursor:
                pagination["cursor"] = cursor
            body = {"startTime": format_time(start), "endTime": format_time(end),
                    "filters": [], "pagination": pagination}  # fmt: skip
            began = time.perf_counter()
            resp = session.post(f"{base_url}/sdk/traces", json=body,
                                headers={"x-api-key": api_key}, timeout=30)  # fmt: skip
            resp.raise_for_status()
            data = resp.json()["data"]
            yield data, time.perf_counter() - began
            if not data["pageInfo"]["hasNextPage"] or not data["data"]:
                return
            cursor = data["data"][-1]["cursor"]


class Server:
    """The local server in a child process (see ``benchmarks/_server.py``)."""

    def __init__(self, traces: int, shape: str = "uniform", days: int = 30) -> None:
        self.days = days
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server", str(traces), shape, str(days)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.base_url: str = info["base_url"]
        self.api_key: str = info["api_key"]
        self.anchor = datetime.fromisoformat(info["anchor"])

    def command(self, text: str) -> str:
        """Send one command and return the answer line."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stats(self) -> dict[str, Any]:
        """The server's counters: requests, connections, by_status, faults."""
        result: dict[str, Any] = json.loads(self.command("stats"))
        return result

    def faults(self, **knobs: Any) -> None:
        """Replace the server's faults (all others off)."""
        self.command("faults " + json.dumps(knobs))

    def close(self) -> None:
        """Stop the child process."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
