"""Entries on disk: whose data a folder holds, and writing or reporting one entry.

An entry is one partition of a query's folder (a final day ``date=YYYY-MM-DD/`` of a
traces query, a pack ``pack=<id>/`` of spans), written with the files and markers of
:mod:`netra_frames._files`. A query's folder is named by a digest of its description
(:func:`query_id`), which holds the base URL and the key fingerprint
(:class:`Scope`), never the key.

Writing never fails a call: a write that cannot be made (a full disk, a read-only file
system, no permission, at any step) leaves no file behind and gives one
:class:`~netra_frames.CacheWarning` naming the cache directory (once per directory in a
process, however many entries failed); the result is returned all the same. Each call
that opens a query's folder removes the temporaries of writers killed long ago
(:data:`GRACE_SECONDS`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .._files import (
    MARKER,
    CorruptEntry,
    PartWriter,
    disk_errno,
    make_dirs,
    read_marker,
    remove_temporaries,
    write_atomic,
    write_marker,
)
from .._warn import warn
from ..errors import CacheWarning
from ..times import format_time
from .settings import GRACE_SECONDS, CacheSettings, key_fingerprint, public_url

if TYPE_CHECKING:
    from ..client import NetraClient

__all__ = [
    "CACHEDIR_TAG",
    "FILE_ROWS",
    "GRACE_SECONDS",
    "Scope",
    "prepare_dir",
    "query_folder",
    "query_id",
    "cache_root",
    "report_damaged",
    "warn_once",
    "write_entry",
]

CACHEDIR_TAG = (
    b"Signature: 8a477f597d28d172789f06886806bc55\n"
    b"# A cache directory of netra-frames (https://bford.info/cachedir/): safe to delete.\n"
)
FILE_ROWS = 1_000_000
"""Rows per cached data file."""

_lock = threading.Lock()
_warned: set[str] = set()


@dataclass(frozen=True)
class Scope:
    """Whose data: the server's base URL and the fingerprint of the API key and headers."""

    base_url: str
    fingerprint: str

    @classmethod
    def of(cls, client: NetraClient) -> Scope:
        """The scope of a client's requests."""
        settings = client.settings
        return cls(settings.base_url, key_fingerprint(settings.api_key, settings.headers))


def query_id(description: Mapping[str, Any]) -> str:
    """The directory name of one cached query: a digest of its description."""
    blob = json.dumps(description, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def query_folder(
    settings: CacheSettings, scope: Scope, kind: str, **parts: Any
) -> tuple[Path, str, bool]:
    """The folder of one query of ``kind`` (``"traces"``, ``"spans"``), its id, and whether
    it can be used (see :func:`prepare_dir`)."""
    about = {"kind": kind, "base_url": public_url(scope.base_url), "key": scope.fingerprint}
    about.update(parts)
    qid = query_id({**about, "base_url": scope.base_url})
    folder = settings.root / kind / qid
    return folder, qid, prepare_dir(settings.root, folder, about)


def cache_root(entry: Path) -> Path:
    """The cache directory of an entry folder (``ROOT/<kind>/<query>/<entry>``)."""
    return entry.parents[2]


def prepare_dir(root: Path, folder: Path, description: Mapping[str, Any]) -> bool:
    """Create ``folder`` (mode 0700, under ``root``) and its ``_QUERY.json`` description.

    Returns ``False``, after a :class:`CacheWarning`, when the directory cannot be used:
    the call then runs without the cache rather than failing. Temporaries of writers
    killed long ago are removed from the root, the folder and its entries.
    """
    try:
        if not root.exists():
            make_dirs(root, private=True)
            write_atomic(root / "CACHEDIR.TAG", CACHEDIR_TAG, private=True)
        make_dirs(folder, private=True)
        about = folder / "_QUERY.json"
        if not about.exists():
            write_atomic(about, json.dumps(description, indent=1).encode(), private=True)
    except OSError as exc:
        warn_once(
            str(root),
            f"netra_frames cannot use the cache directory {root} ({_reason(exc)}); results "
            "are fetched without the cache.",
        )
        return False
    _sweep(root, folder)
    return True


def _sweep(root: Path, folder: Path) -> None:
    """Remove the stale temporaries of ``root``, the query ``folder`` and its entries."""
    remove_temporaries(root, grace=GRACE_SECONDS)
    remove_temporaries(folder, grace=GRACE_SECONDS)
    try:
        entries = [p for p in folder.iterdir() if "=" in p.name and p.is_dir()]
    except OSError:
        return
    for entry in entries:
        remove_temporaries(entry, grace=GRACE_SECONDS)


def _reason(exc: BaseException) -> str:
    code = disk_errno(exc)
    return os.strerror(code) if code is not None else str(exc)


def write_entry(
    folder: Path,
    key: Mapping[str, Any],
    frame: pl.DataFrame,
    now: datetime,
    *,
    tag: str = "",
    extra: Mapping[str, Any] | None = None,
) -> list[str] | None:
    """Write ``frame`` as the final entry ``folder`` (files, then its marker); return the
    files written, or ``None`` after a warning when it could not be stored (best effort:
    nothing of the failed write is left, and the call goes on)."""
    writer = PartWriter(folder, "parquet", FILE_ROWS, tag=tag, keep_empty=False, private=True)
    made = not folder.exists()
    files: list[str] = []
    try:
        make_dirs(folder, private=True)
        writer.write(frame)
        files = writer.finish()
        write_marker(
            folder,
            {**key, "rows": writer.rows},
            files,
            extra={"final": True, "written_at": format_time(now), **(extra or {})},
            private=True,
        )
    except Exception as exc:
        if not isinstance(exc, OSError) and disk_errno(exc) is None:
            raise  # not a failure of the disk: a bug to see
        if not _marked(folder, files):  # else only the folder's fsync failed: it is stored
            writer.discard()
            if made:
                _remove_empty(folder)
        root = cache_root(folder)
        warn_once(
            str(root),
            f"netra_frames could not write to the cache directory {root} ({_reason(exc)}); "
            "results are returned, but not stored.",
        )
        return None
    return files


def _marked(folder: Path, files: list[str]) -> bool:
    """Whether the marker of ``folder`` names exactly ``files`` (this write's)."""
    try:
        marker = read_marker(folder) if (folder / MARKER).exists() else None
    except (CorruptEntry, OSError):  # a marker that cannot be read is not ours
        return False
    return bool(files) and marker is not None and marker.get("files") == files


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (another writer's files) or gone


def report_damaged(folder: Path, problem: str, consequence: str) -> None:
    """Warn once that the entry ``folder`` is damaged, and what happens instead."""
    warn_once(
        str(folder),
        f"netra_frames cache entry {folder} is damaged ({problem}); {consequence}",
    )


def warn_once(key: str, message: str) -> None:
    """Issue a :class:`CacheWarning` once per ``key`` (a path) in this process."""
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    warn(message, CacheWarning)
