"""Cache housekeeping: what a cache directory holds, and removing entries from it.

Re-exported by :mod:`netra_frames.cache` (and ``nf.cache_info`` / ``nf.cache_clear``).
Both look only at the cache's own files, and refuse a directory that is not a cache
(:func:`is_cache`): a folder given by mistake is neither measured nor touched. A missing
directory is no cache yet: zeros, and ``CacheInfo.exists`` is ``False``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .._atomic import MARKER, is_temporary, remove_unreferenced
from ..errors import InvalidParameterError
from .settings import GRACE_SECONDS, CacheLike, SettleLike, cache_dir, parse_duration

__all__ = ["CacheInfo", "cache_clear", "cache_info", "is_cache"]

KINDS = ("traces", "spans")
"""The folders of a cache's queries, one per kind."""
TAG = "CACHEDIR.TAG"
_OURS = {TAG, *KINDS}


@dataclass(frozen=True)
class CacheInfo:
    """What a cache directory holds.

    Attributes
    ----------
    path:
        The cache directory.
    size, files:
        Bytes and number of files under it.
    trace_slices:
        Final UTC days of traces queries stored.
    span_packs, span_traces:
        Packs of spans stored, and the traces whose spans they hold.
    queries:
        Distinct queries (server, key, filters and sort; or span name).
    newest_slice, oldest_slice:
        The newest and oldest UTC day stored (``None`` when there is none).
    exists:
        ``False`` when the directory does not exist: no cache here (yet).

    Examples
    --------
    >>> info = nf.cache_info(tmp)
    >>> info.entries, info.size
    (0, 0)
    """

    path: Path
    size: int = 0
    files: int = 0
    trace_slices: int = 0
    span_packs: int = 0
    span_traces: int = 0
    queries: int = 0
    newest_slice: date | None = None
    oldest_slice: date | None = None
    exists: bool = True

    @property
    def entries(self) -> int:
        """Trace slices plus span packs."""
        return self.trace_slices + self.span_packs


def is_cache(root: Path) -> bool | None:
    """Whether ``root`` is a netra_frames cache (``None``: it does not exist).

    A cache is a folder that is empty, carries the cache's ``CACHEDIR.TAG`` or a query
    folder (``traces/<id>/_QUERY.json``), or holds only names the cache writes.

    Raises
    ------
    InvalidParameterError
        When ``root`` cannot be read.

    Examples
    --------
    >>> is_cache(Path("no-such-folder")), is_cache(Path(tmp))  # tmp: an empty folder
    (None, True)
    """
    if not root.exists():
        return None
    if not root.is_dir():
        return False
    try:
        names = [p.name for p in root.iterdir()]
    except OSError as exc:
        raise InvalidParameterError(
            f"cannot read the cache directory {root}: {exc.strerror or exc}."
        ) from None
    if all(name in _OURS or is_temporary(name) for name in names):
        return True
    try:
        if b"netra-frames" in (root / TAG).read_bytes():
            return True
    except OSError:
        pass
    return any(
        (root / kind).is_dir() and any((root / kind).glob("*/_QUERY.json")) for kind in KINDS
    )


def _root(cache: CacheLike) -> Path | None:
    """The cache directory of ``cache`` (:func:`cache_dir`); ``None``: it does not exist.

    Raises
    ------
    InvalidParameterError
        When it exists and is not a cache.
    """
    root = cache_dir(cache)
    state = is_cache(root)
    if state is False and not root.is_dir():
        raise InvalidParameterError(
            f"{root} is a file, not a netra_frames cache; name the cache's directory (a new "
            "or empty one is fine)."
        )
    if state is False:
        raise InvalidParameterError(
            f"{root} is not a netra_frames cache: it holds files the cache did not write, and "
            "no cache of netra-frames; name the cache's directory (a new or empty one is "
            "fine)."
        )
    return None if state is None else root


def _entries(root: Path) -> Iterator[tuple[str, Path, Path]]:
    """``(kind, query folder, entry folder)`` of every entry folder, marker or not."""
    for kind, prefix in zip(KINDS, ("date=", "pack="), strict=True):
        try:
            queries = sorted(p for p in (root / kind).iterdir() if p.is_dir())
        except OSError:
            continue
        for query in queries:
            try:
                found = sorted(p for p in query.iterdir() if p.name.startswith(prefix))
            except OSError:
                continue
            for entry in found:
                yield kind, query, entry


def _pack_traces(entry: Path) -> int:
    try:
        marker = json.loads((entry / MARKER).read_bytes())
        return len(marker.get("traces", []))
    except (OSError, ValueError, AttributeError, TypeError):
        return 0


def cache_info(cache: CacheLike = None) -> CacheInfo:
    """Describe a cache directory: its size, its entries and the newest day stored.

    Only the cache's own files are counted (a directory given as the cache may hold
    others).

    Parameters
    ----------
    cache:
        ``True`` or ``None`` (the configured directory: :func:`set_default_cache`, else
        ``NETRA_FRAMES_CACHE``, else the platform's user cache directory, as for
        ``cache=True``; see :func:`~netra_frames.cache.settings.cache_dir`) or a directory.

    Returns
    -------
    CacheInfo
        Sizes and counts; a missing directory gives zeros and ``exists=False`` (no cache
        here yet).

    Raises
    ------
    InvalidParameterError
        When the directory exists but is not a netra_frames cache (a folder of other
        files, or a file), or cannot be read.

    Examples
    --------
    >>> _ = nf.traces_frame("2026-11-01", "2026-11-03", cache=tmp, client=client)
    >>> info = nf.cache_info(tmp)
    >>> info.trace_slices, str(info.newest_slice)
    (2, '2026-11-02')
    >>> nf.cache_info("no-cache-here").exists
    False
    """
    root = _root(cache)
    if root is None:
        return CacheInfo(cache_dir(cache), exists=False)
    size = files = 0
    for path in _own_files(root):
        try:
            size += path.stat().st_size
            files += 1
        except OSError:
            continue
    slices: list[date] = []
    packs = traced = 0
    queries: set[Path] = set()
    for kind, query, entry in _entries(root):
        if not (entry / MARKER).exists():
            continue
        queries.add(query)
        if kind == "traces":
            slices.append(date.fromisoformat(entry.name.split("=", 1)[1]))
        else:
            packs += 1
            traced += _pack_traces(entry)
    return CacheInfo(
        root,
        size,
        files,
        len(slices),
        packs,
        traced,
        len(queries),
        max(slices, default=None),
        min(slices, default=None),
    )


def _own_files(root: Path) -> Iterator[Path]:
    """The cache's files under ``root``: its tag, its temporaries, and all under its kinds."""
    for path in (root / TAG, *(p for p in root.glob(".*") if is_temporary(p.name))):
        if path.is_file():
            yield path
    for kind in KINDS:
        for folder, _, names in os.walk(root / kind):
            for name in names:
                yield Path(folder, name)


def cache_clear(older_than: SettleLike = None, *, cache: CacheLike = None) -> int:
    """Remove cached entries: all of them, or those stored more than ``older_than`` ago.

    Only the cache's own files are removed (a directory given as the cache may hold
    other files). Entries being read by another process are removed marker first, so a
    reader there fetches them again instead of reading half of them.

    Parameters
    ----------
    older_than:
        A duration (``timedelta``, seconds, or a string like ``"30d"``, see
        :func:`parse_duration`); ``None`` removes everything.
    cache:
        Which cache, as for :func:`cache_info`.

    Returns
    -------
    int
        The number of entries (trace days and span packs) removed.

    Raises
    ------
    InvalidParameterError
        For a bad ``older_than`` or ``cache``, or a directory that is not a netra_frames
        cache (nothing is removed from it).

    Examples
    --------
    >>> nf.cache_clear("30d", cache=tmp)
    0
    >>> nf.cache_clear(cache=tmp) >= 0
    True
    """
    limit = None if older_than is None else parse_duration(older_than, "older_than")
    root = _root(cache)
    if root is None:
        return 0
    cutoff = None if limit is None else time.time() - limit.total_seconds()
    removed = 0
    for _, _query, entry in list(_entries(root)):
        marker = entry / MARKER
        try:
            stored = marker.stat().st_mtime
        except OSError:
            remove_unreferenced(entry, (), grace=GRACE_SECONDS)  # an unfinished write
            _rmdir(entry)
            continue
        if cutoff is not None and stored >= cutoff:
            continue
        marker.unlink(missing_ok=True)
        removed += 1
        for path in entry.iterdir():
            if path.name.startswith("part-") or path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)
        _rmdir(entry)
    for kind in KINDS:
        _prune(root / kind)
    return removed


def _rmdir(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (a file that is not ours, or a concurrent writer) or gone


def _prune(kind: Path) -> None:
    """Remove query folders left without entries, then the kind folder if empty."""
    try:
        queries = list(kind.iterdir())
    except OSError:
        return
    for query in queries:
        try:
            left = [p for p in query.iterdir() if p.name != "_QUERY.json"]
        except OSError:
            continue
        if not left:
            (query / "_QUERY.json").unlink(missing_ok=True)
            _rmdir(query)
    _rmdir(kind)
