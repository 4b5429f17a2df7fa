"""``netra-frames serve``: run the local server until a signal, with a paste-ready banner."""

from __future__ import annotations

import argparse
import errno
import sys
import threading
import time
from dataclasses import fields
from typing import NoReturn

from .._progress import Progress, want_progress
from ..config import is_loopback_host
from ..server import LocalNetra
from ..server.faults import FaultConfig
from ..times import parse_time
from . import _options as o
from ._parser import Configure, UsageError

__all__ = ["COMMANDS", "banner"]


def _faults(specs: list[str] | None) -> FaultConfig | None:
    if not specs:
        return None
    try:
        return FaultConfig.from_specs(specs)
    except ValueError as exc:
        raise UsageError(f"--fault {exc}") from None


def _serve(args: argparse.Namespace) -> int:
    srv = LocalNetra(
        seed=args.seed,
        traces=args.traces,
        days=args.days,
        shape=args.shape,
        anchor=parse_time(args.anchor, "anchor") if args.anchor else None,
        host=args.host,
        port=args.port,
        db=args.db,
        faults=_faults(args.fault),
        progress=None if args.no_progress else _LoadReport(),
    )
    try:
        try:
            srv.start()  # binds first: a busy port fails before any data is made
        except OSError as exc:
            raise UsageError(_cannot_listen(args.host, args.port, exc)) from None
        print(banner(srv), flush=True)
        _wait_forever()
    except KeyboardInterrupt:  # SIGINT, or SIGTERM (the command line makes it one)
        print("netra-frames serve: stopped", file=sys.stderr, flush=True)
    finally:
        srv.stop()
    return 0


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    """Why ``serve`` cannot listen on ``host:port``, and what to type instead."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"--port {port}: {host}:{port} is already in use (another server?); pick another "
            "port, or pass --port 0 for any free one."
        )
    if exc.errno == errno.EACCES:
        return (
            f"--port {port}: not allowed to listen on {host}:{port} ({exc.strerror}); pick a "
            "port above 1023, or pass --port 0 for any free one."
        )
    return f"--host {host}: cannot listen on {host}:{port} ({exc.strerror or exc}); check --host."


def banner(srv: LocalNetra) -> str:
    """Where ``srv`` listens, its keys and faults: a block that pastes into a shell.

    Every line but the ``export`` ones is a ``#`` comment, except the last, which starts
    with ``ready:`` (scripts wait for it).
    """
    url = srv.base_url
    host, port = url.removeprefix("http://").rsplit(":", 1)
    lines = [f"# Local Netra server at {url}"]
    if not is_loopback_host(host):  # e.g. 0.0.0.0: this machine reaches it on loopback
        lines.append(
            f"# from another machine: NETRA_OTLP_ENDPOINT=http://THIS_HOST:{port} and "
            "--allow-insecure-http (plain http)"
        )
        url = f"http://127.0.0.1:{port}"
    lines += [
        f"export NETRA_OTLP_ENDPOINT={url}",
        f"export NETRA_API_KEY={srv.api_key}   # synthetic org owning AceTech",
        *(
            f"# other synthetic organisation {org}: NETRA_API_KEY={key}"
            for org, key in srv.api_keys.items()
            if key != srv.api_key
        ),
    ]
    default, now = FaultConfig(), srv.faults
    changed = [
        f"{f.name}={getattr(now, f.name)!r}"
        for f in fields(FaultConfig)
        if getattr(now, f.name) != getattr(default, f.name)
    ]
    lines.append(f"# faults: {', '.join(changed) if changed else 'none'}")
    lines.append(f"ready: serving {srv.base_url} until Ctrl-C")
    return "\n".join(lines)


def _wait_forever() -> NoReturn:
    """Sleep until a signal raises; in short timed waits, so Ctrl-C always gets through.

    After ``import polars`` an untimed ``Event.wait()`` (or ``join()``) is never
    interrupted by SIGINT; a timed one returns to the interpreter, which raises.
    """
    never = threading.Event()
    while True:
        never.wait(0.2)


class _LoadReport:
    """Shows ``serve``'s data generation on stderr: a bar on a terminal, else a few lines."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._stage, self._done = "", 0
        self._is_tty = want_progress(None)
        self._began = self._last_line = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self._start(stage, total)
        elif self._bar is not None:
            self._bar.update(done - self._done)
        elif time.monotonic() - self._last_line >= 5:
            what = "traces generated" if stage == "generate" else "indexing steps done"
            self._line(f"{done:,} of {total:,} {what}")
        self._done = done
        if stage == "index" and done == total:
            if self._bar is not None:
                self._bar.close()
            self._line(f"data ready in {time.monotonic() - self._began:.1f}s")

    def _start(self, stage: str, total: int) -> None:
        if self._bar is not None:
            self._bar.close()
        self._stage, self._done = stage, 0
        what = f"generating {total:,} synthetic traces" if stage == "generate" else "indexing"
        self._line(f"{what}...")
        if self._is_tty:
            unit = "trace" if stage == "generate" else "step"
            self._bar = Progress(True, f"serve: {stage}", unit, total)

    def _line(self, text: str) -> None:
        print(f"netra-frames serve: {text}", file=sys.stderr, flush=True)
        self._last_line = time.monotonic()


def _configure_serve(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Run the local Netra-compatible server (synthetic data) until Ctrl-C or SIGTERM. "
        "The keys it prints are synthetic keys of this local server only."
    )
    p.epilog = (
        "example: netra-frames serve --port 8765 --fault latency_ms=50 --fault error_rate=0.1"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=o.port, default=8765, help="port (default 8765; 0 = any free)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    p.add_argument("--traces", type=o.count, default=2000, help="number of traces (default 2000)")
    p.add_argument("--days", type=o.positive_float, default=30, help="days of history (default 30)")
    p.add_argument(
        "--shape",
        type=o.choice(("uniform", "skewed", "bursty")),
        choices=("uniform", "skewed", "bursty"),
        default="uniform",
        help="how traces spread over the days: uniform (default), skewed (all in the last "
        "quarter) or bursty (half of them in one day)",
    )
    p.add_argument(
        "--anchor",
        metavar="TIME",
        help="end of the data window, ISO 8601 (default: now); fix it for reproducible data",
    )
    p.add_argument("--db", default=None, help="SQLite file to keep the data in (default memory)")
    p.add_argument(
        "--fault",
        action="append",
        metavar="NAME=VALUE",
        help="inject faults, e.g. --fault latency_ms=50 --fault error_rate=0.1, or on set "
        "requests: --fault schedule=3:429,7:truncate --fault every=503:10 (repeatable; "
        "the names are FaultConfig's fields, see docs/local-server.md)",
    )
    o.add_progress(p, "say nothing on stderr while making the data")
    p.set_defaults(handler=_serve)


COMMANDS: dict[str, Configure] = {"serve": _configure_serve}
"""How each command of this module adds its options (see :mod:`._parser`)."""
