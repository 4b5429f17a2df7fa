"""The command line's argument parser: one-line errors with "did you mean", commands loaded lazily.

Each command's options are added only when that command is run (or when the whole parser is
built for docs and tests), so ``netra-frames --help`` and ``--version`` import no data
frame library.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .._validate import closest

__all__ = [
    "CommandFailed",
    "CommandTable",
    "Parser",
    "UsageError",
    "add_commands",
    "add_subcommands",
    "rows",
    "suggest",
]

Configure = Callable[[argparse.ArgumentParser], None]
CommandTable = dict[str, tuple[str, str]]
"""Command name -> (module under ``netra_frames.cli`` defining it, one-line help)."""


class UsageError(Exception):
    """Bad command-line usage found after parsing (exit code 2)."""


class CommandFailed(Exception):
    """A command failed, with a message already in the command line's words (exit code 1)."""


def suggest(word: str, candidates: Sequence[str]) -> str:
    """Return ``" (did you mean X?)"`` for the candidate closest to ``word``, else ``""``.

    Examples
    --------
    >>> suggest("--no-progres", ["--no-progress", "--output"])
    ' (did you mean --no-progress?)'
    """
    close = closest(word, candidates)
    return f" (did you mean {close}?)" if close else ""


_INVALID_CHOICE = re.compile(r"invalid choice: '?([^' ]+)'?")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (\S+)")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (with a suggestion), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            2, f"{self.prog}: error: {message}{self._hint(message)} (see '{self.prog} --help')\n"
        )

    def _hint(self, message: str) -> str:
        if match := _UNRECOGNIZED.search(message):
            word = match.group(1).split("=")[0]
            return suggest(word, _option_strings(self)) if word.startswith("-") else ""
        if match := _INVALID_CHOICE.search(message):
            word = match.group(1)
            for action in self._actions:
                if action.choices is not None and word not in action.choices:
                    hint = suggest(word, [str(c) for c in action.choices])
                    if hint:
                        return hint
        return ""


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option of ``parser`` and of the commands chosen below it."""
    found: list[str] = []
    for action in parser._actions:
        found += action.option_strings
        chosen = getattr(action, "chosen", None)
        if chosen is not None:
            found += _option_strings(chosen)
    return found


class _Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands whose options are added by their module when the command is chosen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.modules: dict[str, str] = {}
        self.configured: set[str] = set()
        self.chosen: argparse.ArgumentParser | None = None

    def configure(self, name: str) -> argparse.ArgumentParser:
        """Add command ``name``'s options (importing its module) once; return its parser."""
        parser: argparse.ArgumentParser = self._name_parser_map[name]
        if name not in self.configured:
            self.configured.add(name)
            module = importlib.import_module(f"netra_frames.cli.{self.modules[name]}")
            commands: dict[str, Configure] = module.COMMANDS
            commands[name](parser)
        return parser

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        assert isinstance(values, list)
        if values and values[0] in self.modules:
            self.chosen = self.configure(values[0])
        super().__call__(parser, namespace, values, option_string)


def add_subcommands(
    parser: argparse.ArgumentParser, dest: str, metavar: str, **kwargs: Any
) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """Add the subcommands of ``parser``; given none, the command prints its help (exit 0).

    So a bare ``netra-frames`` (or ``netra-frames usage``) lists what it can do instead
    of failing.

    Examples
    --------
    >>> p = Parser(prog="p"); sub = add_subcommands(p, "kind", "KIND")
    >>> p.parse_args([]).handler.__name__
    'show_help'
    """
    parser.set_defaults(handler=_helper(parser))
    return parser.add_subparsers(dest=dest, metavar=metavar, required=False, **kwargs)


def _helper(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    return show_help


def add_commands(parser: Parser, table: CommandTable, *, lazy: bool) -> None:
    """Add the commands of ``table`` to ``parser``; ``lazy=False`` adds every option now."""
    commands = add_subcommands(parser, "command", "COMMAND", action=_Commands)
    assert isinstance(commands, _Commands)
    for name, (module, help_text) in table.items():
        commands.add_parser(name, help=help_text)
        commands.modules[name] = module
        if not lazy:
            commands.configure(name)


def rows(n: int, noun: str = "row") -> str:
    """``1 row``, ``2 rows``: a count with its noun in the right number.

    Examples
    --------
    >>> rows(1), rows(0), rows(3, "file")
    ('1 row', '0 rows', '3 files')
    """
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
