"""Files that are whole or absent: atomic writes, per-folder markers, checked reads.

The light half of :mod:`netra_frames._files` (no data frame library): a folder's data
files are written under temporary names and renamed into place, then a ``_SUCCESS``
marker (JSON: the files, their sizes and BLAKE2b digests) is written last. Readers trust
a folder only through its marker. The cache's housekeeping (``cache info``/``clear``)
needs nothing more, so it loads no Polars.

A write that fails (a full disk, a read-only file system, no permission) leaves no
temporary file: :meth:`AtomicFile.abort` never raises, whatever state the file is in.
:func:`save` writes one whole file at a user's path and turns a failure into a
:class:`~netra_frames.WriteError` naming that path. Each step of a write passes one
seam (:func:`netra_frames._disk.inject_fault`), so tests can make any step fail as a
full disk would, where no small file system can be mounted.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as name:  # removed afterwards, with its files
...     folder = Path(name)
...     write_atomic(folder / "part-0.csv", b"a,1")
...     marker = write_marker(folder, {"rows": 1}, ["part-0.csv"])
...     read_verified(folder, read_marker(folder) or {})
[b'a,1']
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from ._disk import WriteStep, reach, write_error

__all__ = [
    "DIGEST_BYTES",
    "MARKER",
    "MARKER_VERSION",
    "AtomicFile",
    "CorruptEntry",
    "digest_file",
    "fsync_dir",
    "is_done",
    "is_temporary",
    "make_dirs",
    "matches",
    "read_marker",
    "read_verified",
    "remove_temporaries",
    "remove_unreferenced",
    "save",
    "write_atomic",
    "write_marker",
]

MARKER = "_SUCCESS"
"""Name of the per-partition completion marker, written last."""
MARKER_VERSION = 1
"""Version of the marker format (keys are only ever added, so readers of 1 read all)."""
DIGEST_BYTES = 16
"""Size of the BLAKE2b digest recorded per data file (an integrity check, not a secret)."""
_CHUNK = 1 << 20

_TEMPORARY = re.compile(r"\..+\.[0-9a-f]+\.tmp")
"""The name of an :class:`AtomicFile`'s temporary file: ``.<name>.<hex digits>.tmp``."""
_DIR_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EOPNOTSUPP}


class CorruptEntry(Exception):
    """A partition's marker or data files are damaged (message: what is wrong)."""


# -- atomic files ------------------------------------------------------------------------


def is_temporary(name: str) -> bool:
    """Whether ``name`` is an :class:`AtomicFile` temporary (``.<name>.<hex>.tmp``).

    Examples
    --------
    >>> is_temporary("._SUCCESS.0a1b2c3d.tmp"), is_temporary("notes.tmp")
    (True, False)
    """
    return _TEMPORARY.fullmatch(name) is not None


class AtomicFile:
    """A file written under a hidden unique temporary name and renamed into place on commit.

    ``private=True`` creates it readable by its owner only (mode 0600). Writers that write
    to :attr:`fh` themselves (Parquet, Polars) call :meth:`check` with ``"write"`` first.
    """

    def __init__(self, target: Path, *, private: bool = False) -> None:
        self.target = target
        self.tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        reach("open", self.tmp)
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
        self.fh: IO[bytes] = os.fdopen(fd, "wb")

    def check(self, step: WriteStep) -> None:
        """Pass the fault seam of ``step`` (:func:`inject_fault`) for this file."""
        reach(step, self.tmp)

    def write(self, data: bytes) -> None:
        """Append ``data``."""
        reach("write", self.tmp)
        self.fh.write(data)

    def size(self) -> int:
        """Bytes in the temporary file so far (0 once it is closed)."""
        try:
            return os.fstat(self.fh.fileno()).st_size
        except (OSError, ValueError):
            return 0

    def commit(self) -> None:
        """Flush, fsync and rename the file to its final name."""
        reach("flush", self.tmp)
        self.fh.flush()
        reach("fsync", self.tmp)
        os.fsync(self.fh.fileno())
        self.fh.close()
        reach("rename", self.target)
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        """Close and remove the temporary file; never raises.

        Closing flushes what is buffered, which fails again on a full disk: the file is
        closed all the same, and the first error is the one the caller reports.
        """
        try:
            self.fh.close()
        except (OSError, ValueError):
            pass
        try:
            self.tmp.unlink(missing_ok=True)
        except OSError:
            pass


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new names) to disk.

    A no-op where folders cannot be opened or synced (Windows, some file systems);
    any other failure (an I/O error, a full disk) is raised.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open a folder
        return
    try:
        reach("fsync_dir", path)
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def write_atomic(target: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``target`` atomically (temporary file, fsync, rename)."""
    out = AtomicFile(target, private=private)
    try:
        out.write(data)
        out.commit()
    except BaseException:
        out.abort()
        raise


def make_dirs(path: Path, *, private: bool = False) -> None:
    """Create ``path`` and missing parents (``private``: mode 0700, owner only)."""
    missing = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        reach("mkdir", folder)
        try:
            folder.mkdir(mode=0o700 if private else 0o777)
        except FileExistsError:
            if not folder.is_dir():
                raise
        if private:
            os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask


# -- whole files at a user's path --------------------------------------------------------


def save(target: Path, data: bytes) -> Path:
    """Write ``data`` as the whole file ``target`` (folders made), atomically; return it.

    Raises
    ------
    WriteError
        When it cannot be written, naming ``target`` (not the temporary file, which is
        removed) and what to do.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as name:
    ...     save(Path(name) / "out" / "r.html", b"<p>hi</p>").read_bytes()
    b'<p>hi</p>'
    """
    try:
        make_dirs(target.parent)
        write_atomic(target, data)
    except OSError as exc:
        raise write_error(target, exc) from None
    return target


# -- markers and checked reads -----------------------------------------------------------


def digest_file(path: Path) -> tuple[int, str]:
    """Return the byte size and BLAKE2b hex digest of a file."""
    h = hashlib.blake2b(digest_size=DIGEST_BYTES)
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).hexdigest()


def write_marker(
    folder: Path,
    fields: Mapping[str, Any],
    files: list[str],
    *,
    extra: Mapping[str, Any] | None = None,
    private: bool = False,
) -> dict[str, Any]:
    """Write the partition's marker (last, atomically) and return it.

    ``fields`` come first (the partition's identity and ``rows``), then ``files``,
    ``sizes`` and ``blake2b`` (read back from the files), then ``extra``.
    """
    reach("marker", folder / MARKER)
    sizes, digests = [], []
    for name in files:
        size, digest = digest_file(folder / name)
        sizes.append(size)
        digests.append(digest)
    marker = {**fields, "files": files, "sizes": sizes, "blake2b": digests, **(extra or {})}
    write_atomic(folder / MARKER, json.dumps(marker, indent=1).encode(), private=private)
    fsync_dir(folder)
    return marker


def read_marker(folder: Path) -> dict[str, Any] | None:
    """Return the partition's marker, or ``None`` when it has none.

    Raises
    ------
    CorruptEntry
        When the marker exists but is not a JSON object naming its files.
    """
    try:
        text = (folder / MARKER).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptEntry(f"its marker cannot be read ({exc})") from exc
    try:
        marker = json.loads(text)
    except ValueError:
        raise CorruptEntry("its marker is not valid JSON") from None
    if not isinstance(marker, dict) or not isinstance(marker.get("files"), list):
        raise CorruptEntry("its marker does not name its files")
    return marker


def matches(marker: Mapping[str, Any], key: Mapping[str, Any]) -> bool:
    """Whether ``marker`` records exactly the identity ``key``."""
    return all(marker.get(k) == v for k, v in key.items())


def is_done(folder: Path, key: Mapping[str, Any]) -> bool:
    """Whether ``folder`` holds a finished partition of ``key`` (an export's resume test).

    The marker must match ``key`` and every file it names must exist with its recorded
    size (markers of older versions record no sizes: then existence is not checked).
    """
    try:
        marker = read_marker(folder)
    except CorruptEntry:
        return False
    if marker is None or not matches(marker, key):
        return False
    sizes = marker.get("sizes")
    if not isinstance(sizes, list):
        return True
    try:
        return len(sizes) == len(marker["files"]) and all(
            (folder / str(name)).stat().st_size == size
            for name, size in zip(marker["files"], sizes, strict=True)
        )
    except OSError:
        return False


def read_verified(folder: Path, marker: Mapping[str, Any]) -> list[bytes]:
    """Read every file the marker names, checking sizes and digests.

    Raises
    ------
    CorruptEntry
        A file has the wrong size or checksum, or the marker lists none.
    FileNotFoundError
        A file is gone (e.g. replaced by a concurrent writer: re-read the marker).
    """
    files, sizes, digests = marker.get("files"), marker.get("sizes"), marker.get("blake2b")
    if not (
        isinstance(files, list)
        and isinstance(sizes, list)
        and isinstance(digests, list)
        and len(files) == len(sizes) == len(digests)
        and all(isinstance(n, str) and "/" not in n and n.startswith("part-") for n in files)
    ):
        raise CorruptEntry("its marker lists no valid sizes and checksums")
    out = []
    for name, size, digest in zip(files, sizes, digests, strict=True):
        data = (folder / name).read_bytes()  # FileNotFoundError: the caller re-reads the marker
        if len(data) != size:
            raise CorruptEntry(f"{name} has {len(data)} bytes, its marker says {size}")
        if _digest(data) != digest:
            raise CorruptEntry(f"{name} does not match its checksum")
        out.append(data)
    return out


# -- housekeeping ------------------------------------------------------------------------


def _remove_old(doomed: Iterable[Path], grace: float) -> int:
    limit = time.time() - grace
    removed = 0
    for path in doomed:
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def remove_unreferenced(folder: Path, keep: Iterable[str], *, grace: float) -> None:
    """Remove data and temporary files of ``folder`` not in ``keep`` and older than ``grace`` s.

    The grace period spares the files of a writer that has not committed its marker
    yet; a reader that read an older marker just before its files go re-reads it.
    """
    kept = set(keep) | {MARKER}
    try:
        paths = list(folder.iterdir())
    except OSError:
        return
    doomed = [
        p
        for p in paths
        if p.name not in kept and (p.name.startswith("part-") or is_temporary(p.name))
    ]
    _remove_old(doomed, grace)


def remove_temporaries(folder: Path, *, grace: float) -> int:
    """Remove the temporary files (:func:`is_temporary`) of ``folder`` older than ``grace`` s.

    What a writer killed before its rename left behind; the grace period spares those of
    a writer still at work. Returns how many were removed.
    """
    try:
        paths = [p for p in folder.iterdir() if is_temporary(p.name)]
    except OSError:
        return 0
    return _remove_old(paths, grace)
