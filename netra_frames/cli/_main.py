"""The ``netra-frames`` command's entry: the parser of every command and one error boundary.

Exit codes: 0 success; 1 a failed request, drain or file; 2 bad usage *or configuration*
(a bad flag, value, setting or environment variable: fix the command or the environment);
130 interrupted (Ctrl-C, SIGINT or SIGTERM; ``serve``, which runs until stopped, exits 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ..__about__ import __version__
from ..errors import (
    ConfigurationError,
    InvalidParameterError,
    NetraError,
    NetraWarning,
    NotFoundError,
)
from ._options import Word, flag_words, in_cli_words
from ._parser import CommandFailed, CommandTable, Parser, UsageError, add_commands

__all__ = ["COMMANDS", "build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]

COMMANDS: CommandTable = {
    "traces": ("data", "every trace of a window, as a table or file"),
    "spans": ("data", "every span of some traces"),
    "usage": ("data", "token, request and cost totals of sessions or tenants"),
    "serve": ("serve", "run the local Netra-compatible server with synthetic data"),
    "demo": ("demo", "the tour: local server, AceTech's last 30 days, files and a chart"),
    "export": ("data", "stream traces to hive-partitioned Parquet/NDJSON/CSV files (resumable)"),
    "report": ("report", "one self-contained HTML cost report of a window"),
    "cache": ("cache", "show or clear the local cache of traces and spans"),
}
"""Each command: the module of :mod:`netra_frames.cli` that defines it, and its help line."""


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """Build the argument parser of every command.

    ``lazy=True`` adds a command's options only when it is chosen, so ``--help`` and
    ``--version`` import no data frame library (what :func:`main` does).

    Examples
    --------
    >>> build_parser().parse_args(["serve", "--port", "0"]).port
    0
    """
    parser = Parser(
        prog="netra-frames",
        description="Netra usage and traces as typed data frames, from the command line. "
        "Connects with NETRA_API_KEY and NETRA_OTLP_ENDPOINT, like the Netra SDK. "
        "Exit codes: 0 done, 1 a request, download or file failed, 2 bad usage or "
        "configuration (a flag, value or environment variable), 130 interrupted (serve, "
        "which runs until stopped, exits 0). Without a command, this help.",
    )
    parser.add_argument("--version", action="version", version=f"netra-frames {__version__}")
    add_commands(parser, COMMANDS, lazy=lazy)
    return parser


def _show_warnings(words: dict[str, Word]) -> Callable[..., None]:
    """``warnings.showwarning`` for the command line: one line on stderr, in its words."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        text = str(message).splitlines()[0] if str(message) else category.__name__
        print(f"netra-frames: warning: {in_cli_words(text, words)}", file=sys.stderr)

    return show


def _on_terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


_Handlers = dict[int, Any]


def _stop_on_signals() -> _Handlers:
    """Make SIGINT and SIGTERM raise ``KeyboardInterrupt``, however the process was started;
    return the handlers they had.

    A shell starts a background job with SIGINT ignored, and Python then installs no
    handler; ``kill -INT`` must still stop ``serve`` or a long download.
    """
    try:
        return {
            signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
            signal.SIGTERM: signal.signal(signal.SIGTERM, _on_terminate),
        }
    except ValueError:  # not the main thread (main() called from a thread): leave them
        return {}


def _restore(handlers: _Handlers) -> None:
    for signum, handler in handlers.items():
        if handler is not None:  # None: not set from Python, nothing to put back
            signal.signal(signum, handler)


def _ignore_sigint() -> None:
    """Ctrl-C again while we leave is ignored (the command is already stopping)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to ignore
        pass


def _interrupted() -> int:
    _ignore_sigint()
    print("netra-frames: interrupted", file=sys.stderr)
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    While it runs, SIGINT and SIGTERM stop the command (exit code 130; ``serve`` stops
    cleanly, with 0). Given ``argv``, as a program that calls it does, it puts back the
    signal handlers it found when it returns. Without (the ``netra-frames`` command), a
    second Ctrl-C after the first is ignored until the process has exited, so that
    leaving never prints a traceback.

    Examples
    --------
    >>> main(["usage", "tenant", "AceTech", "--format", "csv"])  # doctest: +SKIP
    0
    """
    found = _stop_on_signals()
    try:
        parser = build_parser(lazy=True)
        args = parser.parse_args(argv)  # imports the chosen command
        handler: Handler = args.handler
        return _run(handler, args, flag_words(parser))
    except KeyboardInterrupt:  # during start-up, or a second one while stopping
        return _interrupted()
    finally:
        if argv is not None:
            _restore(found)


def _run(handler: Handler, args: argparse.Namespace, words: dict[str, Word]) -> int:
    """Run a command; turn every failure into one line on stderr and an exit code.

    Messages and warnings come from the library in its Python words (``base_url=``); they
    are said in the command's (``--base-url``), from the options it declares (``words``).
    """

    def fail(message: str, code: int) -> int:
        print(f"netra-frames: error: {in_cli_words(message, words)}", file=sys.stderr)
        return code

    try:
        with warnings.catch_warnings():
            # our warnings are one line on stderr, never a traceback (even under -W error)
            warnings.simplefilter("default", NetraWarning)
            warnings.showwarning = _show_warnings(words)
            return handler(args)
    except (UsageError, InvalidParameterError, ConfigurationError) as exc:
        return fail(str(exc), 2)
    except NotFoundError as exc:
        if "no route" in (exc.server_message or ""):  # the path is wrong, not the id
            return fail(
                f"{exc.url} is not an endpoint of this server (HTTP 404: {exc.server_message}); "
                "check --base-url or NETRA_OTLP_ENDPOINT.",
                1,
            )
        return fail(str(exc), 1)
    except (CommandFailed, NetraError) as exc:
        return fail(str(exc), 1)
    except ImportError as exc:  # an optional extra is missing; the message names it
        return fail(str(exc), 1)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file we were asked to read or write
        return fail(str(exc), 1)
    except KeyboardInterrupt:
        return _interrupted()
