"""One cache directory rule for every function and command, the environment included; and
``cache info`` / ``cache_info()`` saying plainly when there is no cache, or not a cache.

The rule (``netra_frames.cache.settings.cache_dir``): the first directory named by the
call's ``cache=``, ``nf.configure(cache=...)`` or ``NETRA_FRAMES_CACHE``, else the user
cache directory. Each entry point is checked against a real LocalNetra, by where its
files land or where it looks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import netra_frames as nf
from netra_frames import NetraClient, _defaults, cache
from netra_frames._files import MARKER
from netra_frames.cli import main
from netra_frames.server import LocalNetra

Window = tuple[datetime, datetime]


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """``user``: the user cache directory (XDG), ``env``: NETRA_FRAMES_CACHE's, ``mine``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(cache.ENV_CACHE, raising=False)
    cache.set_default_cache(None)
    yield {
        "user": tmp_path / "xdg" / "netra-frames",
        "env": tmp_path / "env",
        "mine": tmp_path / "mine",
    }
    cache.set_default_cache(None)
    _defaults.reset()


@pytest.fixture(scope="module")
def days(window: Window) -> Window:
    end = window[1].replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    return end - timedelta(days=2), end


def stored(root: Path) -> int:
    """Entries (trace days and span packs) stored under ``root``."""
    return len(list(root.rglob(MARKER))) if root.exists() else 0


def only(dirs: dict[str, Path], name: str) -> None:
    """Entries were stored in ``dirs[name]`` and in no other of the directories."""
    assert {k: stored(v) > 0 for k, v in dirs.items()} == {k: k == name for k in dirs}


def traces(client: NetraClient, days: Window, **kw: object) -> object:
    return nf.traces_frame(*days, tenant_id="AceTech", progress=False, client=client, **kw)


# -- Python ------------------------------------------------------------------------------


def test_cache_true_uses_the_user_directory_without_the_environment(
    client: NetraClient, days: Window, dirs: dict[str, Path]
) -> None:
    traces(client, days, cache=True)
    only(dirs, "user")
    assert nf.cache_info().path == dirs["user"] and nf.cache_info().entries > 0


def test_cache_true_uses_the_environments_directory(
    client: NetraClient, days: Window, dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.ENV_CACHE, str(dirs["env"]))
    traces(client, days, cache=True)
    only(dirs, "env")
    assert nf.cache_info().path == dirs["env"] and nf.cache_info(True).path == dirs["env"]


def test_the_environment_alone_turns_it_on_there(
    client: NetraClient, days: Window, dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.ENV_CACHE, str(dirs["env"]))
    traces(client, days)
    only(dirs, "env")
    assert nf.cache_info().entries == stored(dirs["env"])


def test_an_argument_directory_wins(
    client: NetraClient, days: Window, dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.ENV_CACHE, str(dirs["env"]))
    traces(client, days, cache=dirs["mine"])
    only(dirs, "mine")
    assert nf.cache_info(dirs["mine"]).entries == stored(dirs["mine"])


@pytest.mark.parametrize("configured", ["on", "a-directory"])
def test_configure(
    server: LocalNetra,
    days: Window,
    dirs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    configured: str,
) -> None:
    monkeypatch.setenv(cache.ENV_CACHE, str(dirs["env"]))
    chosen = True if configured == "on" else dirs["mine"]
    nf.configure(api_key=server.api_key, base_url=server.base_url, cache=chosen)
    client = nf.get_client()
    traces(client, days)
    where = "env" if configured == "on" else "mine"
    only(dirs, where)
    assert nf.cache_info().path == dirs[where]
    traces(client, days, cache=True)  # True names no directory: the same one
    only(dirs, where)


# -- the command line ----------------------------------------------------------------------


@pytest.fixture
def argv(server: LocalNetra, monkeypatch: pytest.MonkeyPatch, days: Window) -> list[str]:
    monkeypatch.setenv("NETRA_API_KEY", server.api_key)
    return ["--base-url", server.base_url, "--start", days[0].isoformat(),
            "--end", days[1].isoformat()]  # fmt: skip


@pytest.mark.parametrize("with_env", [True, False], ids=["NETRA_FRAMES_CACHE", "user-dir"])
@pytest.mark.parametrize("command", ["traces", "spans", "report"])
def test_each_cli_command_that_caches_writes_where_cache_info_looks(
    client: NetraClient,
    days: Window,
    dirs: dict[str, Path],
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: str,
    with_env: bool,
) -> None:
    if with_env:
        monkeypatch.setenv(cache.ENV_CACHE, str(dirs["env"]))
    quiet = ["--no-progress"]
    if command == "traces":
        args = ["traces", "--tenant", "AceTech", *argv, "-o", str(tmp_path / "t.csv"), *quiet]
    elif command == "spans":
        ids = nf.traces_frame(*days, max_rows=3, backend="polars", client=client)["trace_id"]
        base = argv[:2]  # no window
        args = ["spans", *ids, *base, "-o", str(tmp_path / "s.csv"), *quiet]
    else:
        args = ["report", "--tenant", "AceTech", *argv, "-o", str(tmp_path / "r.html"), *quiet]
    assert main([*args, "--cache"]) == 0, capsys.readouterr().err
    where = "env" if with_env else "user"
    only(dirs, where)
    capsys.readouterr()
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert f"path          {dirs[where]}\n" in out
    assert f"entries       {stored(dirs[where])} " in out
    assert main(["cache", "clear"]) == 0
    assert f"from {dirs[where]}" in capsys.readouterr().out
    assert stored(dirs[where]) == 0


# -- no cache here, not a cache ------------------------------------------------------------


def test_a_missing_directory_is_no_cache_here(
    dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = dirs["mine"] / "nowhere"
    info = nf.cache_info(missing)
    assert info.exists is False and (info.entries, info.size, info.files) == (0, 0, 0)
    assert nf.cache_clear(cache=missing) == 0
    for action in ("info", "clear"):
        assert main(["cache", action, "--cache-dir", str(missing)]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"no cache here: {missing} does not exist"), out
        assert out.count("\n") == 1
    assert not missing.exists()


@pytest.mark.parametrize("what", ["a-folder-of-other-files", "a-file"])
def test_a_folder_that_is_not_a_cache_is_refused_and_left_alone(
    dirs: dict[str, Path], capsys: pytest.CaptureFixture[str], what: str
) -> None:
    root = dirs["mine"]
    if what == "a-file":
        root.parent.mkdir(parents=True, exist_ok=True)
        root.write_text("a file")
        files = {root: b"a file"}
    else:  # as /etc would be
        (root / "ssl").mkdir(parents=True)
        files = {root / "hosts": b"127.0.0.1 localhost\n", root / "ssl" / "x.pem": b"pem"}
        for path, data in files.items():
            path.write_bytes(data)
    for call in (lambda: nf.cache_info(root), lambda: nf.cache_clear(cache=root)):
        with pytest.raises(nf.InvalidParameterError, match="not a netra_frames cache"):
            call()
    for action in ("info", "clear"):
        assert main(["cache", action, "--cache-dir", str(root)]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1
        assert captured.err.startswith(f"netra-frames: error: {root} ")
        assert "not a netra_frames cache" in captured.err
    assert {p: p.read_bytes() for p in files} == files


def test_a_cache_beside_other_files_counts_and_clears_only_its_own(
    client: NetraClient, days: Window, dirs: dict[str, Path]
) -> None:
    root = dirs["mine"]
    traces(client, days, cache=root)
    info = nf.cache_info(root)
    (root / "notes.txt").write_text("x" * 10_000)
    with_notes = nf.cache_info(root)
    assert (with_notes.size, with_notes.files, with_notes.entries) == (
        info.size,
        info.files,
        info.entries,
    )
    assert nf.cache_clear(cache=root) == info.entries
    assert sorted(p.name for p in root.iterdir()) == ["CACHEDIR.TAG", "notes.txt"]


def test_an_empty_folder_is_an_empty_cache(dirs: dict[str, Path]) -> None:
    dirs["mine"].mkdir()
    info = nf.cache_info(dirs["mine"])
    assert info.exists and (info.entries, info.size) == (0, 0)
