"""The local cache against a real LocalNetra: equal to a drain, few requests, safe on disk.

The server's data is anchored in the past (``ANCHOR``), so with the real clock every day
is final; tests of the live tail pass an explicit ``now`` to the cache core.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import netra_frames as nf
from netra_frames import NetraClient, cache
from netra_frames._files import MARKER, load_parquet_entry, read_marker
from netra_frames.cache.days import plan_window
from netra_frames.cache.settings import key_fingerprint, parse_duration
from netra_frames.cli import main
from netra_frames.query import SpanQuery, TraceQuery
from netra_frames.server import LocalNetra
from netra_frames.times import floor_day

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
REPO = Path(nf.__file__).resolve().parents[1]
SORTS = ["start_time", "end_time", "latency_ms", "total_cost", "total_tokens", "name"]
# a window cutting days at both ends: 8 days and 22 hours
CUT = (ANCHOR - timedelta(days=10, hours=5), ANCHOR - timedelta(days=2, hours=7))


@pytest.fixture(scope="module")
def client(srv: LocalNetra) -> Iterator[NetraClient]:
    with NetraClient(srv.api_key, srv.base_url) as c:
        yield c


@pytest.fixture(autouse=True)
def no_default_cache(monkeypatch: pytest.MonkeyPatch, srv: LocalNetra) -> Iterator[None]:
    monkeypatch.delenv(cache.ENV_CACHE, raising=False)
    monkeypatch.delenv(cache.ENV_SETTLE, raising=False)
    cache.set_default_cache(None)
    srv.set_faults(None)
    yield
    cache.set_default_cache(None)
    assert srv.errors == []


def traces(client: NetraClient, *window: datetime, **kw: object) -> pl.DataFrame:
    frame = nf.traces_frame(*window, backend="polars", progress=False, client=client, **kw)
    assert isinstance(frame, pl.DataFrame)
    return frame


def requests_of(srv: LocalNetra, run: object) -> tuple[object, int]:
    srv.reset_stats()
    result = run() if callable(run) else run
    return result, srv.stats.requests


def entries(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob(MARKER))


# -- equal to the uncached drain ---------------------------------------------------------


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("field", SORTS)
def test_cached_equals_uncached_for_every_sort(
    srv: LocalNetra, client: NetraClient, tmp_path: Path, field: str, order: str
) -> None:
    expected = traces(client, *CUT, sort_field=field, sort_order=order)
    assert expected.height > 100
    first, sent = requests_of(
        srv, lambda: traces(client, *CUT, sort_field=field, sort_order=order, cache=tmp_path)
    )
    again, resent = requests_of(
        srv, lambda: traces(client, *CUT, sort_field=field, sort_order=order, cache=tmp_path)
    )
    assert_frame_equal(first, expected)
    assert_frame_equal(again, expected)
    assert sent >= 9 and resent == 0  # 9 days touched, each fetched whole once


@pytest.mark.parametrize("field", ["start_time", "latency_ms", "name"])
def test_a_window_under_a_day_across_midnight(
    srv: LocalNetra, client: NetraClient, tmp_path: Path, field: str
) -> None:
    window = (ANCHOR - timedelta(days=3, hours=9), ANCHOR - timedelta(days=2, hours=21))
    for order in ("asc", "desc"):
        expected = traces(client, *window, sort_field=field, sort_order=order)
        for _ in range(2):
            got = traces(client, *window, sort_field=field, sort_order=order, cache=tmp_path)
            assert_frame_equal(got, expected)


def test_filters_and_pandas(srv: LocalNetra, client: NetraClient, tmp_path: Path) -> None:
    sample = traces(client, *CUT).drop_nulls(["user_id", "session_id"])
    row = sample.row(0, named=True)
    for filters in (
        {"tenant_id": row["tenant_id"]},
        {"user_id": row["user_id"]},
        {"session_id": row["session_id"]},
        {"tenant_id": row["tenant_id"], "user_id": row["user_id"]},
    ):
        expected = nf.traces_frame(*CUT, client=client, progress=False, **filters)
        for _ in range(2):
            got = nf.traces_frame(*CUT, client=client, cache=tmp_path, **filters)
            pd.testing.assert_frame_equal(got, expected)
    assert len({p.parent.name for p in tmp_path.glob("traces/*/date=*")}) == 4  # one query each


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("max_rows", [0, 1, 150, 10_000])
def test_max_rows(client: NetraClient, tmp_path: Path, max_rows: int, order: str) -> None:
    for field in ("start_time", "total_cost"):
        expected = traces(client, *CUT, sort_field=field, sort_order=order, max_rows=max_rows)
        for _ in range(2):
            got = traces(
                client, *CUT, sort_field=field, sort_order=order, max_rows=max_rows, cache=tmp_path
            )
            assert_frame_equal(got, expected)


def test_max_rows_fetches_only_the_days_it_needs(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    window = (ANCHOR - 30 * DAY, ANCHOR)
    _, sent = requests_of(srv, lambda: traces(client, *window, max_rows=5, cache=tmp_path))
    assert sent == 1  # the newest day has enough rows: no other day is fetched
    assert len(entries(tmp_path)) == 1


def test_scan_traces_with_the_cache(srv: LocalNetra, client: NetraClient, tmp_path: Path) -> None:
    def query(lf: pl.LazyFrame) -> pl.DataFrame:
        return (
            lf.filter(pl.col("latency_ms") > 1000)
            .select("trace_id", "start_time", "latency_ms")
            .collect()
        )

    expected = query(nf.scan_traces(*CUT, client=client))
    first = query(nf.scan_traces(*CUT, client=client, cache=tmp_path))
    again, sent = requests_of(
        srv, lambda: query(nf.scan_traces(*CUT, client=client, cache=tmp_path))
    )
    assert_frame_equal(first, expected)
    assert_frame_equal(again, expected)
    assert sent == 0
    head = nf.scan_traces(*CUT, sort_order="asc", client=client, cache=tmp_path).head(7).collect()
    assert_frame_equal(
        head, nf.scan_traces(*CUT, sort_order="asc", client=client).head(7).collect()
    )


# -- few requests ------------------------------------------------------------------------


def test_a_30_day_rerun_sends_at_most_a_few_requests(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    window = (ANCHOR - 30 * DAY, ANCHOR)
    expected = traces(client, *window)
    query = TraceQuery(*window, page_size=100)
    settings = cache.CacheSettings(tmp_path, settle=timedelta(hours=1))
    now = ANCHOR + timedelta(minutes=30)  # the last day is not final yet: the live tail

    def run() -> pl.DataFrame | pd.DataFrame:
        return cache.cached_traces_frame(
            client, query, max_rows=None, workers=8, settings=settings, backend="polars", now=now
        )

    first, sent = requests_of(srv, run)
    again, resent = requests_of(srv, run)
    assert_frame_equal(first, expected)
    assert_frame_equal(again, expected)
    assert sent >= 16 and 1 <= resent <= 3  # the tail: one day of ~50 traces
    assert len(entries(tmp_path)) == 29
    # with the real clock (days long final) a re-run sends nothing at all
    traces(client, *window, cache=tmp_path)
    _, none = requests_of(srv, lambda: traces(client, *window, cache=tmp_path))
    assert none == 0


def test_a_shifted_window_requests_only_what_is_new(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    start = ANCHOR - timedelta(days=20, hours=-3)
    traces(client, start, start + 15 * DAY, cache=tmp_path)
    hour = timedelta(hours=1)
    shifted, sent = requests_of(
        srv, lambda: traces(client, start + hour, start + 15 * DAY + hour, cache=tmp_path)
    )
    assert sent == 0  # the edge days were fetched whole
    assert_frame_equal(shifted, traces(client, start + hour, start + 15 * DAY + hour))
    new_day = floor_day(start + 15 * DAY + DAY)
    _, one_day = requests_of(srv, lambda: traces(client, new_day, new_day + DAY))
    moved, sent = requests_of(
        srv, lambda: traces(client, start + DAY, start + 16 * DAY, cache=tmp_path)
    )
    assert sent == one_day  # only the new day
    assert_frame_equal(moved, traces(client, start + DAY, start + 16 * DAY))


def test_a_shifted_live_window_refetches_only_the_tail(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    settings = cache.CacheSettings(tmp_path, settle=timedelta(hours=2))
    for hours in (0, 1):
        shift = timedelta(hours=hours)
        query = TraceQuery(ANCHOR - 10 * DAY + shift, ANCHOR - DAY / 2 + shift, page_size=100)

        def run(
            query: TraceQuery = query, now: datetime = query.end
        ) -> pl.DataFrame | pd.DataFrame:
            return cache.cached_traces_frame(
                client, query, max_rows=None, workers=8, settings=settings, backend="polars",
                now=now,
            )  # fmt: skip

        got, sent = requests_of(srv, run)
        assert_frame_equal(got, traces(client, query.start, query.end))
        if hours:
            assert sent == 1  # today's part (~25 traces), nothing else


def test_refresh_refetches_and_rewrites(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    _, sent = requests_of(srv, lambda: traces(client, *CUT, cache=tmp_path))
    before = {p: read_marker(p) for p in entries(tmp_path)}
    fresh, resent = requests_of(srv, lambda: traces(client, *CUT, cache=tmp_path, refresh=True))
    assert resent == sent
    assert_frame_equal(fresh, traces(client, *CUT))
    after = {p: read_marker(p) for p in entries(tmp_path)}
    assert before.keys() == after.keys()
    for path, marker in after.items():
        assert marker is not None and before[path] is not None
        assert marker["blake2b"] == before[path]["blake2b"]
        assert marker["files"] != before[path]["files"] or not marker["files"]
        assert sorted(f.name for f in path.glob("part-*")) == sorted(marker["files"])


# -- spans -------------------------------------------------------------------------------


def test_spans_rerun_sends_no_request(srv: LocalNetra, client: NetraClient, tmp_path: Path) -> None:
    frame = traces(client, *CUT).head(300)
    ids = frame["trace_id"].to_list()
    mixed = ids[200:] + ids[:50]
    for backend in ("polars", "pandas"):
        expected = nf.spans_frame(ids, backend=backend, client=client)
        first = nf.spans_frame(ids, backend=backend, client=client, cache=tmp_path)
        again, sent = requests_of(
            srv,
            lambda: nf.spans_frame(ids, backend=backend, client=client, cache=tmp_path),  # noqa: B023
        )
        check = assert_frame_equal if backend == "polars" else pd.testing.assert_frame_equal
        check(first, expected)
        check(again, expected)
        assert sent == 0
    reordered, sent = requests_of(
        srv, lambda: nf.spans_frame(mixed[::-1], backend="polars", client=client, cache=tmp_path)
    )
    assert sent == 0
    assert_frame_equal(reordered, nf.spans_frame(mixed[::-1], backend="polars", client=client))
    parsed = nf.spans_frame(frame, parse_json=True, backend="polars", client=client, cache=tmp_path)
    assert_frame_equal(
        parsed, nf.spans_frame(frame, parse_json=True, backend="polars", client=client)
    )
    assert len(list(tmp_path.glob("spans/*/pack=*"))) == 1  # one pack, read as one file


def test_spans_of_unsettled_traces_are_fetched_again(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    frame = traces(client, ANCHOR - 2 * DAY, ANCHOR, sort_order="asc").head(40)
    ids = frame["trace_id"].to_list()
    expected = nf.spans_frame(ids, backend="polars", client=client)
    ends = dict(zip(ids, frame["end_time"].to_list(), strict=True))
    latest = pl.max_horizontal("end_time", "start_time").max()
    seen = dict(expected.group_by("trace_id").agg(latest.alias("end")).iter_rows())
    now = sorted(ends.values())[25] + timedelta(hours=1)  # about 25 traces ended > 1 h ago
    template = SpanQuery.template(span_name=None, page_size=100)
    for given, known, name in ((frame, ends, "frame"), (ids, None, "spans")):
        settings = cache.CacheSettings(tmp_path / name, settle=timedelta(hours=1))
        source = known or seen
        unsettled = [i for i in ids if i not in source or source[i] > now - timedelta(hours=1)]
        assert 0 < len(unsettled) < len(ids)

        def run(settings: cache.CacheSettings = settings, given: object = given) -> pl.DataFrame:
            return cache.cached_spans_frame(
                client, ids, given, template=template, workers=4, settings=settings, now=now
            )

        run()
        again, sent = requests_of(srv, run)
        assert_frame_equal(again, expected)
        assert sent == len(unsettled)  # one page each


def test_spans_refresh_writes_a_new_pack_and_drops_the_old(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    ids = traces(client, *CUT).head(20)["trace_id"].to_list()
    nf.spans_frame(ids, client=client, cache=tmp_path)
    old = list(tmp_path.glob("spans/*/pack=*"))
    got, sent = requests_of(
        srv,
        lambda: nf.spans_frame(ids, backend="polars", client=client, cache=tmp_path, refresh=True),
    )
    new = list(tmp_path.glob("spans/*/pack=*"))
    assert sent == len(ids) and len(old) == len(new) == 1 and old != new
    assert_frame_equal(got, nf.spans_frame(ids, backend="polars", client=client))


# -- keys --------------------------------------------------------------------------------


def test_results_never_cross_keys_or_servers(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    window = (ANCHOR - 5 * DAY, ANCHOR)
    mine = traces(client, *window, cache=tmp_path)
    other_key = srv.api_keys[srv.organisations[1].org_id]
    with NetraClient(other_key, srv.base_url) as other:
        theirs = traces(other, *window, cache=tmp_path)
        assert_frame_equal(theirs, traces(other, *window))
    assert set(mine["organisation_id"]) != set(theirs["organisation_id"])
    with (
        LocalNetra(seed=0, traces=500, anchor=ANCHOR) as second,
        NetraClient(second.api_key, second.base_url) as elsewhere,
    ):
        assert second.api_key == srv.api_key  # the same key, another server
        assert_frame_equal(traces(elsewhere, *window, cache=tmp_path), traces(elsewhere, *window))
    assert len(list(tmp_path.glob("traces/*"))) == 3
    assert_frame_equal(traces(client, *window, cache=tmp_path), mine)

    fingerprint = key_fingerprint(srv.api_key)
    assert srv.api_key not in fingerprint and len(fingerprint) == 32
    secret = srv.api_key.encode()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
            assert srv.api_key not in path.name
    about = json.loads(next(tmp_path.glob("traces/*/_QUERY.json")).read_text())
    assert about["key"] in {key_fingerprint(srv.api_key), key_fingerprint(other_key)}


# -- safe on disk ------------------------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    if how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.write_text("{not json")


@pytest.mark.parametrize("how", ["truncate", "flip", "marker"])
def test_a_damaged_day_is_reported_once_and_refetched(
    srv: LocalNetra, client: NetraClient, tmp_path: Path, how: str
) -> None:
    expected = traces(client, *CUT, cache=tmp_path)
    day = next(p for p in entries(tmp_path) if (read_marker(p) or {}).get("rows"))
    target = day / MARKER if how == "marker" else day / read_marker(day)["files"][0]
    _damage(target, how)
    with pytest.warns(nf.CacheWarning, match="damaged") as caught:
        got, sent = requests_of(srv, lambda: traces(client, *CUT, cache=tmp_path))
    assert len(caught) == 1 and day.name in str(caught[0].message)
    assert_frame_equal(got, expected)
    assert sent == 1  # that day only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, sent = requests_of(srv, lambda: traces(client, *CUT, cache=tmp_path))
    assert sent == 0
    assert_frame_equal(again, expected)
    marker = read_marker(day)
    assert marker is not None and load_parquet_entry(day, marker)


def test_a_damaged_pack_is_reported_once_and_refetched(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    ids = traces(client, *CUT).head(30)["trace_id"].to_list()
    expected = nf.spans_frame(ids, backend="polars", client=client, cache=tmp_path)
    pack = next(tmp_path.glob("spans/*/pack=*"))
    _damage(pack / read_marker(pack)["files"][0], "truncate")
    with pytest.warns(nf.CacheWarning, match="damaged") as caught:
        got, sent = requests_of(
            srv, lambda: nf.spans_frame(ids, backend="polars", client=client, cache=tmp_path)
        )
    assert len(caught) == 1
    assert_frame_equal(got, expected)
    assert sent == len(ids)
    _, sent = requests_of(srv, lambda: nf.spans_frame(ids, client=client, cache=tmp_path))
    assert sent == 0


def test_private_directories_and_files(client: NetraClient, tmp_path: Path) -> None:
    root = tmp_path / "new" / "cache"
    traces(client, *CUT, cache=root)
    nf.spans_frame(traces(client, *CUT).head(3), client=client, cache=root)
    assert (
        (root / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert not list(root.rglob("*.tmp"))


def test_an_unusable_directory_warns_once_and_fetches(
    srv: LocalNetra, client: NetraClient, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    expected = traces(client, *CUT)
    with pytest.warns(nf.CacheWarning, match="cannot use the cache directory") as caught:
        got = traces(client, *CUT, cache=blocked)
        spans = nf.spans_frame(got.head(5), backend="polars", client=client, cache=blocked)
    assert len(caught) == 1
    assert_frame_equal(got, expected)
    assert_frame_equal(spans, nf.spans_frame(got.head(5), backend="polars", client=client))
    assert blocked.read_text() == "not a directory"


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import netra_frames as nf
    base_url, key, root, out, go, start, end = sys.argv[1:]
    while not Path(go).exists():
        time.sleep(0.01)
    with nf.NetraClient(key, base_url) as client:
        frame = nf.traces_frame(start, end, backend="polars", client=client, cache=root)
        spans = nf.spans_frame(frame.head(200), backend="polars", client=client, cache=root)
    frame.write_parquet(out + ".traces.parquet")
    spans.write_parquet(out + ".spans.parquet")
    """
)


def test_two_processes_fill_one_cache(srv: LocalNetra, client: NetraClient, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    go = tmp_path / "go"
    window = [t.isoformat() for t in (ANCHOR - 12 * DAY, ANCHOR - DAY)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NETRA_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    srv.set_faults(latency_ms=15, jitter_ms=15)  # both are mid-drain at the same time
    try:
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-W",
                    "error",
                    "-c",
                    _CHILD,
                    srv.base_url,
                    srv.api_key,
                    str(root),
                    str(tmp_path / f"out{n}"),
                    str(go),
                    *window,
                ],
                env=env,
                stderr=subprocess.PIPE,
            )  # fmt: skip
            for n in range(2)
        ]
        time.sleep(0.5)
        go.touch()
        for child in children:
            _, err = child.communicate(timeout=240)
            assert child.returncode == 0, err.decode()
    finally:
        srv.set_faults(None)
    expected = traces(client, *(datetime.fromisoformat(t) for t in window))
    expected_spans = nf.spans_frame(expected.head(200), backend="polars", client=client)
    for n in range(2):
        assert_frame_equal(pl.read_parquet(tmp_path / f"out{n}.traces.parquet"), expected)
        assert_frame_equal(pl.read_parquet(tmp_path / f"out{n}.spans.parquet"), expected_spans)
    for entry in entries(root):  # every entry verifies: sizes and checksums
        marker = read_marker(entry)
        assert marker is not None
        load_parquet_entry(entry, marker)
    assert not list(root.rglob("*.tmp"))
    _, sent = requests_of(srv, lambda: traces(client, ANCHOR - 12 * DAY, ANCHOR - DAY, cache=root))
    assert sent == 0


# -- settings and housekeeping -----------------------------------------------------------


def test_environment_and_defaults(
    srv: LocalNetra, client: NetraClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = (ANCHOR - 3 * DAY, ANCHOR)
    monkeypatch.setenv(cache.ENV_CACHE, str(tmp_path / "env"))
    traces(client, *window)
    _, sent = requests_of(srv, lambda: traces(client, *window))
    assert sent == 0 and entries(tmp_path / "env")
    _, sent = requests_of(srv, lambda: traces(client, *window, cache=False))
    assert sent > 0
    cache.set_default_cache(tmp_path / "configured", settle="2h")
    traces(client, *window)
    assert entries(tmp_path / "configured")
    cache.set_default_cache(False)
    _, sent = requests_of(srv, lambda: traces(client, *window))
    assert sent > 0
    monkeypatch.setenv(cache.ENV_CACHE, "off")
    cache.set_default_cache(None)
    assert cache.settings_for(None, None, False) is None
    monkeypatch.setenv(cache.ENV_CACHE, "1")
    monkeypatch.setenv(cache.ENV_SETTLE, "90m")
    settings = cache.settings_for(None, None, False)
    assert settings is not None and settings.root == cache.default_cache_dir()
    assert settings.settle == timedelta(minutes=90)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cache": 3}, "cache must be True"),
        ({"cache": ""}, "cache must be True"),
        ({"cache": "x", "settle": "soon"}, "not a duration"),
        ({"cache": "x", "settle": -1}, ">= 0"),
        ({"cache": "x", "refresh": "yes"}, "refresh must be"),
    ],
)
def test_bad_settings_are_refused_before_any_request(
    srv: LocalNetra, client: NetraClient, kwargs: dict[str, object], match: str
) -> None:
    srv.reset_stats()
    with pytest.raises(nf.InvalidParameterError, match=match):
        nf.traces_frame(*CUT, client=client, **kwargs)
    assert srv.stats.requests == 0


def test_parse_duration() -> None:
    assert parse_duration("3600") == timedelta(hours=1)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration(" 2d ") == timedelta(days=2)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("1w 2d") == timedelta(days=9)
    assert parse_duration("250ms") == timedelta(milliseconds=250)
    assert parse_duration(timedelta(0)) == timedelta(0)
    for bad in ("", "h", "1x", "1h 2", "-5", "nan", True, None, [1]):
        with pytest.raises(nf.InvalidParameterError):
            parse_duration(bad)


def test_plan_window_cuts_days_and_the_live_tail() -> None:
    hour = timedelta(hours=1)
    day0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    plan = plan_window(day0 + 5 * hour, day0 + 3 * DAY, now=day0 + 2 * DAY + hour / 2, settle=hour)
    assert plan.days == (day0,) and plan.live == (day0 + DAY, day0 + 3 * DAY)
    exact = plan_window(day0, day0 + 3 * DAY, now=day0 + 2 * DAY + hour, settle=hour)
    assert exact.days == (day0, day0 + DAY) and exact.live == (day0 + 2 * DAY, day0 + 3 * DAY)
    past = plan_window(day0, day0 + 2 * DAY, now=day0 + 30 * DAY, settle=hour)
    assert past.days == (day0, day0 + DAY) and past.live is None
    future = plan_window(day0, day0 + hour, now=day0 + 2 * hour, settle=hour)
    assert future.days == () and future.live == (day0, day0 + hour)


def test_cache_info_clear_and_cli(
    client: NetraClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = nf.cache_info(tmp_path / "nothing")
    assert (empty.entries, empty.size, empty.newest_slice) == (0, 0, None)
    traces(client, *CUT, cache=tmp_path)
    nf.spans_frame(traces(client, *CUT).head(10), client=client, cache=tmp_path)
    info = nf.cache_info(tmp_path)
    assert info.trace_slices == 9 and info.span_packs == 1 and info.span_traces == 10
    assert info.queries == 2 and info.entries == 10 and info.size > 0
    assert info.newest_slice == (CUT[1]).date() and info.oldest_slice == CUT[0].date()

    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "10 (9 trace days, 1 span packs)" in out and str(CUT[1].date()) in out
    assert nf.cache_clear("1h", cache=tmp_path) == 0
    assert main(["cache", "clear", "--older-than", "1d", "--cache-dir", str(tmp_path)]) == 0
    assert "removed 0 entries" in capsys.readouterr().out
    assert main(["cache", "clear", "--older-than", "soon", "--cache-dir", str(tmp_path)]) == 2
    assert "not a duration" in capsys.readouterr().err
    old = entries(tmp_path)[0]
    os.utime(old / MARKER, (time.time() - 7200, time.time() - 7200))
    assert nf.cache_clear(timedelta(hours=1), cache=tmp_path) == 1 and not old.exists()
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
    assert "removed 9 entries" in capsys.readouterr().out
    assert nf.cache_info(tmp_path).entries == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    (tmp_path / "mine.txt").write_text("not the cache's")
    with pytest.raises(nf.InvalidParameterError, match="not a netra_frames cache"):
        nf.cache_clear(cache=tmp_path)  # no cache left: a folder of other files
    assert (tmp_path / "mine.txt").exists()
