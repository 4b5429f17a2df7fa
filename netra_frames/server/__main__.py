"""Run a local Netra server from the command line: ``python -m netra_frames.server``.

Examples
--------
``python -m netra_frames.server --traces 20000 --port 8080`` prints the base URL and API keys,
then serves until interrupted.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence

from netra_frames.server import LocalNetra


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, start a :class:`LocalNetra` and serve until Ctrl-C or SIGTERM.

    Parameters
    ----------
    argv : sequence of str or None
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit status.

    Examples
    --------
    >>> main(["--help"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(prog="python -m netra_frames.server", description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--traces", type=int, default=2000)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--db", default=None, help="SQLite file to store and reuse the data")
    parser.add_argument("--max-page-size", type=int, default=100)
    args = parser.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    server = LocalNetra(seed=args.seed, traces=args.traces, days=args.days, host=args.host,
                        port=args.port, db=args.db, max_page_size=args.max_page_size)  # fmt: skip
    with server:
        print(
            f"LocalNetra at {server.base_url}  (data generated in {server.generation_seconds:.2f}s)"
        )
        print(f"anchor {server.anchor.isoformat()}")
        for org in server.organisations:
            print(f"  {org.org_id}  {org.name:<16} NETRA_API_KEY={org.api_key}")
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
