"""``netra-frames cache info`` and ``cache clear``: what the local cache holds, and removing it.

Both look where ``--cache`` writes (``--cache-dir``, else ``$NETRA_FRAMES_CACHE``, else the
user cache directory). A directory that does not exist is "no cache here" (exit 0); one
that is not a cache is refused (exit 2) and left alone.
"""

from __future__ import annotations

import argparse

from .._disk import human_size
from ..cache import cache_clear, cache_info
from ._parser import Configure, add_subcommands, rows

__all__ = ["COMMANDS"]


def _cache(args: argparse.Namespace) -> int:
    where = args.cache_dir or None
    before = cache_info(where)  # refuses a directory that is not a cache: exit 2
    if not before.exists:
        nothing = "; nothing removed" if args.action == "clear" else ""
        print(f"no cache here: {before.path} does not exist (nothing was cached there){nothing}")
        return 0
    if args.action == "clear":
        removed = cache_clear(args.older_than, cache=where)
        freed = before.size - cache_info(where).size
        entries = "entry" if removed == 1 else "entries"
        print(f"removed {removed} {entries} ({human_size(freed)}) from {before.path}")
        return 0
    info = before
    newest = info.newest_slice.isoformat() if info.newest_slice else "-"
    oldest = info.oldest_slice.isoformat() if info.oldest_slice else "-"
    print(f"path          {info.path}")
    print(f"size          {human_size(info.size)} in {rows(info.files, 'file')}")
    kinds = f"{info.trace_slices} trace days, {info.span_packs} span packs"
    print(f"entries       {info.entries} ({kinds})")
    print(f"queries       {info.queries}")
    print(f"span traces   {info.span_traces}")
    print(f"newest slice  {newest}")
    print(f"oldest slice  {oldest}")
    return 0


def _configure_cache(p: argparse.ArgumentParser) -> None:
    p.description = "Show what the local cache holds, or remove entries from it."
    actions = add_subcommands(p, "action", "ACTION")
    info = actions.add_parser(
        "info",
        help="size, entries and newest day of the cache",
        description="Show the cache's directory, size, entries and newest day stored.",
        epilog="example: netra-frames cache info --cache-dir ~/.cache/netra-frames",
    )
    clear = actions.add_parser(
        "clear",
        help="remove cached entries",
        description="Remove every cached entry, or those stored longer ago than a duration.",
        epilog="example: netra-frames cache clear --older-than 30d",
    )
    clear.add_argument(
        "--older-than",
        metavar="DURATION",
        help="only entries stored more than this long ago: seconds or 90m, 12h, 30d, 2w",
    )
    for a in (info, clear):
        a.add_argument(
            "--cache-dir",
            metavar="DIR",
            help="the cache directory (default: where --cache writes: $NETRA_FRAMES_CACHE, "
            "else the user cache dir)",
        )
        a.set_defaults(handler=_cache)


COMMANDS: dict[str, Configure] = {"cache": _configure_cache}
"""How each command of this module adds its options (see :mod:`._parser`)."""
