"""A cache write never fails a call: a full disk, a read-only file system or no permission,
at any step of a write, gives the result, exactly one CacheWarning naming the directory,
and no temporary file; stale temporaries go on the next run.

Against a real LocalNetra. A small tmpfs gives a real full disk where one can be mounted
(root, as CI runs); everywhere, the seam of :func:`netra_frames._disk.inject_fault` makes
each step fail with each errno.
"""

from __future__ import annotations

import errno
import os
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient, cache
from netra_frames._disk import WRITE_STEPS, inject_fault
from netra_frames._files import MARKER
from netra_frames.server import LocalNetra

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
WINDOW = (ANCHOR - timedelta(days=4), ANCHOR - timedelta(days=1))  # 3 final days
ERRNOS = {"ENOSPC": errno.ENOSPC, "EROFS": errno.EROFS, "EACCES": errno.EACCES,
          "EDQUOT": errno.EDQUOT}  # fmt: skip


@pytest.fixture(scope="module")
def client(srv: LocalNetra) -> Iterator[NetraClient]:
    with NetraClient(srv.api_key, srv.base_url) as c:
        yield c


@pytest.fixture(autouse=True)
def no_default_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(cache.ENV_CACHE, raising=False)
    cache.set_default_cache(None)
    yield
    cache.set_default_cache(None)


@pytest.fixture(scope="module")
def expected(client: NetraClient) -> pl.DataFrame:
    return traces(client)


def traces(client: NetraClient, **kw: object) -> pl.DataFrame:
    frame = nf.traces_frame(*WINDOW, backend="polars", progress=False, client=client, **kw)
    assert isinstance(frame, pl.DataFrame)
    return frame


def cache_warnings(run: Callable[[], object]) -> tuple[object, list[str]]:
    """Run ``run``; return its result and the messages of the CacheWarnings it gave."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = run()
    assert all(issubclass(w.category, nf.CacheWarning) for w in seen), [str(w) for w in seen]
    return result, [str(w.message) for w in seen]


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("full", [True, False], ids=["full-at-first", "fills-part-way"])
def test_a_full_disk_gives_the_result_and_one_warning(
    client: NetraClient,
    expected: pl.DataFrame,
    small_disk: Callable[..., Path],
    full: bool,
) -> None:
    root = small_disk("64k", full=full) / "cache"
    got, said = cache_warnings(lambda: traces(client, cache=root))
    assert_frame_equal(got, expected)
    assert len(said) == 1 and str(root) in said[0] and "No space left" in said[0], said
    assert not temporaries(root.parent)
    for entry in root.rglob("date=*"):  # whatever was stored is whole
        assert (entry / MARKER).exists(), sorted(p.name for p in entry.iterdir())
    spans, said = cache_warnings(
        lambda: nf.spans_frame(got.head(40), backend="polars", client=client, cache=root)
    )
    assert_frame_equal(spans, nf.spans_frame(got.head(40), backend="polars", client=client))
    assert said == []  # this directory has had its warning
    assert not temporaries(root.parent)


def test_a_read_only_disk_gives_the_result_and_one_warning(
    client: NetraClient, expected: pl.DataFrame, small_disk: Callable[..., Path]
) -> None:
    root = small_disk(read_only=True) / "cache"
    got, said = cache_warnings(lambda: traces(client, cache=root))
    assert_frame_equal(got, expected)
    assert len(said) == 1 and str(root) in said[0] and "Read-only file system" in said[0], said


def test_an_atomic_file_on_a_full_disk_aborts_without_an_error(
    small_disk: Callable[..., Path],
) -> None:
    from netra_frames._atomic import AtomicFile

    disk = small_disk("64k", full=True)
    out = AtomicFile(disk / "x.bin")
    with pytest.raises(OSError) as caught:
        out.write(b"x" * 100_000)
        out.commit()
    assert caught.value.errno == errno.ENOSPC
    out.abort()  # closing flushes again, which fails again: never raised
    out.abort()  # twice is fine
    assert sorted(p.name for p in disk.iterdir()) == [".filler"]


@pytest.mark.parametrize("after", [0, 2], ids=["first", "later"])
@pytest.mark.parametrize("step", WRITE_STEPS)
@pytest.mark.parametrize("code", ERRNOS.values(), ids=list(ERRNOS))
def test_each_write_step_failing_gives_the_result_and_one_warning(
    client: NetraClient, expected: pl.DataFrame, tmp_path: Path, step: str, code: int, after: int
) -> None:
    root = tmp_path / "cache"
    with inject_fault(step, code, under=tmp_path, after=after) as fault:  # type: ignore[arg-type]
        got, said = cache_warnings(lambda: traces(client, cache=root))
    assert fault.raised >= 1, f"the {step} step was never reached"
    assert_frame_equal(got, expected)
    assert len(said) == 1 and str(root) in said[0] and os.strerror(code) in said[0], said
    assert not temporaries(tmp_path)
    for entry in root.rglob("date=*"):
        assert (entry / MARKER).exists(), sorted(p.name for p in entry.iterdir())
    again, said = cache_warnings(lambda: traces(client, cache=root))  # the disk works again
    assert_frame_equal(again, expected)
    assert said == []


@pytest.mark.parametrize(("step", "after"), [("open", 2), ("write", 2), ("marker", 0)])
def test_a_failing_spans_write_gives_the_result_and_one_warning(
    client: NetraClient, expected: pl.DataFrame, tmp_path: Path, step: str, after: int
) -> None:
    root = tmp_path / "cache"
    ids = expected.head(30)
    want = nf.spans_frame(ids, backend="polars", client=client)
    with inject_fault(step, errno.ENOSPC, under=tmp_path, after=after) as fault:  # type: ignore[arg-type]
        got, said = cache_warnings(
            lambda: nf.spans_frame(ids, backend="polars", client=client, cache=root)
        )
    assert fault.raised >= 1, f"the {step} step of the pack was never reached"
    assert_frame_equal(got, want)
    assert len(said) == 1 and str(root) in said[0], said
    assert not temporaries(tmp_path) and not list(root.rglob("pack=*"))


def test_stale_temporaries_are_removed_by_the_next_run(
    client: NetraClient, expected: pl.DataFrame, tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    traces(client, cache=root)
    query = next((root / "traces").iterdir())
    day = next(query.glob("date=*"))
    stale = [
        root / ".CACHEDIR.TAG.0a1b2c3d.tmp",
        query / "._QUERY.json.0a1b2c3d.tmp",
        day / ".part-0-0a1b2c3d.parquet.0a1b2c3d.tmp",
        day / "._SUCCESS.0a1b2c3d.tmp",
    ]
    young = day / "._SUCCESS.feedbeef.tmp"  # a writer at work in another process
    for path in [*stale, young]:
        path.write_bytes(b"left by a writer killed before its rename")
    old = time.time() - 2 * cache.settings.GRACE_SECONDS
    for path in stale:
        os.utime(path, (old, old))
    notes = query / "notes.tmp"  # not a temporary of ours: never removed
    notes.write_text("mine")
    os.utime(notes, (old, old))
    assert_frame_equal(traces(client, cache=root), expected)
    assert [p.exists() for p in stale] == [False] * len(stale)
    assert young.exists() and notes.exists()
