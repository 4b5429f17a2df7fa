"""The local server in a process of its own, driven over a pipe (``benchmarks/_server.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["Server"]


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
