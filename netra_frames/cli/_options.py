"""Every option group of the command line, each declared once and reused by the commands.

Also the type functions of sized options (one line and exit 2 for ``--traces -5``) and
the words the command line uses for the library's Python names (:func:`in_cli_words`).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import (
    DEFAULT_MAX_RETRIES,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_HEADERS,
    ENV_MAX_REQUESTS_PER_SECOND,
    ENV_TIMEOUT,
)
from ..query import FILTERS, SORT_FIELDS

Container = argparse._ActionsContainer
"""A parser or an argument group: where options are added."""

__all__ = [
    "SORT_FIELDS",
    "add_cache",
    "add_connection",
    "add_csv_safe",
    "add_filters",
    "add_output",
    "add_progress",
    "add_window",
    "cache_choice",
    "choice",
    "count",
    "filters",
    "flag_words",
    "in_cli_words",
    "positive_float",
    "port",
    "positive_int",
    "progress",
]


def _number(text: str, kind: type[float]) -> float:
    """Read ``text`` as a ``kind`` (``int`` or ``float``), or refuse it in one line."""
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    """Read a whole number >= 1 (an ``argparse`` type: a bad one is one line, exit 2).

    Examples
    --------
    >>> positive_int("5")
    5
    """
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """Read a finite number > 0 (an ``argparse`` type).

    Examples
    --------
    >>> positive_float("0.5")
    0.5
    """
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def count(text: str) -> int:
    """Read a whole number >= 0 (an ``argparse`` type).

    Examples
    --------
    >>> count("0")
    0
    """
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def port(text: str) -> int:
    """Read a TCP port, 0 to 65535 (0: any free one; an ``argparse`` type).

    Examples
    --------
    >>> port("8765")
    8765
    """
    value = count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def choice(choices: Sequence[str]) -> Callable[[str], str]:
    """Return an ``argparse`` type matching ``choices`` case-insensitively (``CSV`` is ``csv``).

    Examples
    --------
    >>> choice(("csv", "tsv"))("CSV")
    'csv'
    """

    def read(text: str) -> str:
        lowered = text.lower()
        return lowered if lowered in choices else text

    return read


def add_connection(p: Container) -> None:
    """Add ``--base-url``, ``--api-key-env``, ``--allow-insecure-http`` and ``--max-retries``."""
    g = p.add_argument_group("connection")
    g.add_argument("--base-url", help="API base URL (default: $NETRA_OTLP_ENDPOINT)")
    g.add_argument(
        "--api-key-env",
        default=ENV_API_KEY,
        metavar="NAME",
        help=f"environment variable holding the API key (default {ENV_API_KEY})",
    )
    g.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow plain http:// to a host that is not this machine (default: only https, "
        "or http to localhost)",
    )
    g.add_argument(
        "--max-retries",
        type=count,
        default=DEFAULT_MAX_RETRIES,
        metavar="N",
        help=f"retries of a failed request (default {DEFAULT_MAX_RETRIES})",
    )


def add_progress(p: Container, what: str = "never draw a progress bar") -> None:
    """Add ``--no-progress``."""
    p.add_argument("--no-progress", action="store_true", help=what)


def progress(args: argparse.Namespace) -> bool | None:
    """The ``progress=`` of a library call: off with ``--no-progress``, else automatic."""
    return False if args.no_progress else None


def add_csv_safe(p: Container) -> None:
    """Add ``--no-csv-safe``."""
    p.add_argument(
        "--no-csv-safe",
        action="store_true",
        help="write CSV cells starting with = + - @ as they are (default: prefix them with ')",
    )


def add_output(p: Container, formats: Sequence[str]) -> None:
    """Add the output group: ``--format``, ``-o``, ``--columns``, ``--all-columns``, ...."""
    g = p.add_argument_group("output")
    g.add_argument(
        "--format",
        type=choice(formats),
        choices=formats,
        help="output format, any case (default: from the --output extension, which it must "
        "agree with; else table on a terminal and CSV when piped)",
    )
    g.add_argument(
        "--output", "-o", metavar="PATH", help="write to PATH instead of stdout ('-': stdout)"
    )
    g.add_argument(
        "--keep-partial",
        action="store_true",
        help="when the download fails part way, write the rows fetched so far to PATH.partial "
        "(or stdout) and still exit 1 (default: write nothing)",
    )
    add_csv_safe(g)
    add_progress(g)
    # Not a mutually exclusive group: nested in an argument group, its options vanish from
    # --help. The output plan refuses the pair instead.
    g.add_argument(
        "--columns",
        "-c",
        metavar="A,B,...",
        help="write only these columns, in this order (every format)",
    )
    g.add_argument(
        "--all-columns",
        action="store_true",
        help="show every column in a table (default for traces and spans: a few key ones)",
    )


def add_cache(p: Container) -> None:
    """Add ``--cache``/``--no-cache``."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--cache",
        dest="cache",
        action="store_const",
        const=True,
        help="keep fetched days in the local cache and reuse them, in $NETRA_FRAMES_CACHE's "
        "directory, else the user cache dir (default: on only when NETRA_FRAMES_CACHE is set; "
        "'netra-frames cache info' shows it)",
    )
    g.add_argument(
        "--no-cache", dest="cache", action="store_const", const=False, help="never use the cache"
    )


def cache_choice(args: argparse.Namespace) -> bool | None:
    """The ``cache=`` of a library call: ``--cache`` True, ``--no-cache`` False, else None."""
    value: bool | None = args.cache
    return value


def add_window(p: Container, default: str = "7 days before --end") -> None:
    """Add ``--start`` and ``--end``."""
    p.add_argument("--start", help=f"window start, ISO 8601 (default: {default})")
    p.add_argument("--end", help="window end, exclusive, ISO 8601 (default: now)")


def _filter_flag(name: str) -> str:
    """``tenant_id`` -> ``--tenant`` (the CLI's short form of a traces filter)."""
    return "--" + name.removesuffix("_id").replace("_", "-")


class _Once(argparse.Action):
    """Keep a filter's one value: the same filter given again is an error naming the flag.

    The API's filters are equality tests combined with AND, so ``--tenant A --tenant B``
    cannot mean "A or B"; keeping the last one would silently drop the first.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        before = getattr(namespace, self.dest, None)
        if before is not None:
            raise argparse.ArgumentError(
                self,
                f"given twice ({before!r}, then {values!r}); a filter takes one id (filters "
                "are exact matches combined with AND): run the command once per id",
            )
        setattr(namespace, self.dest, values)


def add_filters(p: Container) -> None:
    """One flag per traces filter of :data:`netra_frames.query.FILTERS` (and its long form).

    Each takes one id; given twice, it is an error (exit 2) naming the flag.
    """
    for name in FILTERS:
        what = name.removesuffix("_id").replace("_", " ")
        p.add_argument(
            _filter_flag(name),
            "--" + name.replace("_", "-"),
            dest=name,
            action=_Once,
            metavar="ID",
            help=f"only this {what} id (exact, case-sensitive; once)",
        )


def filters(args: argparse.Namespace) -> dict[str, Any]:
    """The traces filters given on the command line, as keywords."""
    return {name: getattr(args, name) for name in FILTERS if getattr(args, name) is not None}


# -- the library's keywords in the command line's words ----------------------------------

KEYWORDS: dict[str, str] = {
    "max_rows": "--limit",
    "progress": "--no-progress",
    "csv_safe": "--no-csv-safe",
    "api_key": "--api-key-env",
}
"""Library keywords set by an option of another name; any other option's ``dest`` is the
keyword it sets (``sort_field`` is ``--sort-field``, ``tenant_id`` is ``--tenant``)."""

SETTINGS: dict[str, str] = {
    "base_url": ENV_BASE_URL,
    "timeout": ENV_TIMEOUT,
    "headers": ENV_HEADERS,
    "max_requests_per_second": ENV_MAX_REQUESTS_PER_SECOND,
    "api_key": ENV_API_KEY,
}
"""Library keywords the command line sets only through the environment (when no option)."""


@dataclass(frozen=True)
class Word:
    """How the command line spells a library keyword: an option, a positional or a variable."""

    text: str  # "--limit", "PATH", "NETRA_USAGE_TIMEOUT"
    takes_value: bool = True
    is_variable: bool = False


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every action of ``parser`` and of the (configured) commands under it."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _actions(sub)


def flag_words(parser: argparse.ArgumentParser) -> dict[str, Word]:
    """Each library keyword the options of ``parser`` set, and how the command line says it.

    Built from the options as declared (their ``dest``, and :data:`KEYWORDS` for those named
    otherwise); a keyword no option sets is its environment variable (:data:`SETTINGS`).

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_window(p)
    >>> flag_words(p)["start"]
    Word(text='--start', takes_value=True, is_variable=False)
    """
    words = {name: Word(env, is_variable=True) for name, env in SETTINGS.items()}
    named: dict[str, Word] = {}
    for action in _actions(parser):
        longs = [s for s in action.option_strings if s.startswith("--")]
        if action.dest in (argparse.SUPPRESS, "help") or (action.option_strings and not longs):
            continue
        text = longs[0] if longs else str(action.metavar or action.dest.upper())
        named.setdefault(action.dest, Word(text, takes_value=action.nargs != 0))
    for keyword, flag in KEYWORDS.items():
        by_flag = [w for w in named.values() if w.text == flag]
        if by_flag:
            named[keyword] = by_flag[0]
    return words | named


_KEYWORD = re.compile(
    r"(?<![\w.\-/&?=])(?P<name>[a-z][a-z0-9_]*)=(?P<value>'[^']*'|\"[^\"]*\"|[\w+\-](?:[\w.:+\-]*\w)?)?"
)
_ASKED = re.compile(
    r"\{'[a-z_]+': (?:'[^']*'|\"[^\"]*\")(?:, '[a-z_]+': (?:'[^']*'|\"[^\"]*\"))*\}"
)
_ITEM = re.compile(r"'([a-z_]+)': ('[^']*'|\"[^\"]*\")")
_TWICE = re.compile(r"\b([A-Z][A-Z0-9_]+)(?: / | or | \()\1\b\)?")


def in_cli_words(message: str, words: dict[str, Word]) -> str:
    """Say ``message`` (the library's) with the command line's words for Python keywords.

    ``start='x'`` becomes ``--start 'x'``, ``allow_insecure_http=True`` the flag alone,
    ``timeout=`` its environment variable, the filters asked ``{'tenant_id': 'x'}`` the
    options ``--tenant 'x'``; a keyword the command line cannot set stays.

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_connection(p)
    >>> in_cli_words("no base URL: pass base_url= or set NETRA_OTLP_ENDPOINT", flag_words(p))
    'no base URL: pass --base-url or set NETRA_OTLP_ENDPOINT'
    >>> in_cli_words("raise timeout= / NETRA_USAGE_TIMEOUT", flag_words(p))
    'raise NETRA_USAGE_TIMEOUT'
    """

    def say(match: re.Match[str]) -> str:
        word, value = words.get(match["name"]), match["value"]
        if word is None:
            return match[0]
        if word.is_variable:
            return f"{word.text}={value}" if value else word.text
        return f"{word.text} {value}" if value and word.takes_value else word.text

    def say_asked(match: re.Match[str]) -> str:
        items = [(words.get(name), value) for name, value in _ITEM.findall(match[0])]
        if any(word is None or word.is_variable for word, _ in items):
            return match[0]
        return " ".join(f"{word.text} {value}" for word, value in items if word is not None)

    said = _ASKED.sub(say_asked, _KEYWORD.sub(say, message))
    return _TWICE.sub(r"\1", said)
