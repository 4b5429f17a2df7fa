"""Every docstring example of the package runs, against a LocalNetra with the docs' data.

Each docstring with ``>>>`` examples is one test: it runs in a fresh temporary working
directory, with the module's globals plus ``nf``, ``pl``, ``pd``, ``srv`` and ``client``
(the server of ``docs/``: seed 0, anchor 2026-02-01), ``tmp`` (an empty directory),
``trace_id``/``ids`` (real trace ids), ``query``, ``template``, ``settings``, ``now``,
``stream`` and ``fetch`` (for the cache's internals). ``...`` matches anything; an example
that cannot run anywhere says ``# doctest: +SKIP``. Every example must hold.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import netra_frames as nf
from netra_frames import _defaults
from netra_frames.cache import CacheSettings, set_default_cache, spans_fetcher, window_stream
from netra_frames.query import SpanQuery, TraceQuery
from netra_frames.server import LocalNetra

ANCHOR = datetime(2026, 2, 1, tzinfo=timezone.utc)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder()
    found: list[doctest.DocTest] = []
    for info in pkgutil.walk_packages(nf.__path__, "netra_frames."):
        if info.name.endswith("__main__"):  # importing it runs the command line
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra (dask) not installed
            continue
        found += [t for t in finder.find(module, info.name) if t.examples]
    return sorted(found, key=lambda t: t.name)


EXAMPLES = _examples()


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalNetra]:
    with LocalNetra(seed=0, traces=2000, anchor=ANCHOR) as server:
        yield server


@pytest.fixture(scope="module")
def client(srv: LocalNetra) -> Iterator[nf.NetraClient]:
    with nf.NetraClient(srv.api_key, srv.base_url) as c:
        yield c


@pytest.mark.parametrize("test", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_docstring_examples_run(
    test: doctest.DocTest,
    srv: LocalNetra,
    client: nf.NetraClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))  # cache=True goes there
    monkeypatch.delenv("NETRA_FRAMES_CACHE", raising=False)
    monkeypatch.delenv("NETRA_FRAMES_SETTLE", raising=False)
    set_default_cache(None)
    window = (ANCHOR - timedelta(days=3), ANCHOR - timedelta(days=1))
    ids = nf.traces_frame(*window, max_rows=5, backend="polars", client=client)["trace_id"]
    template = SpanQuery.template(span_name=None, page_size=100)
    (tmp_path / "tmp").mkdir()
    test.globs.update(
        nf=nf, pl=pl, pd=pd, srv=srv, client=client, tmp=str(tmp_path / "tmp"),
        trace_id=ids[0], ids=ids.to_list(), query=TraceQuery(*window, page_size=100),
        template=template, settings=CacheSettings(tmp_path / "cache"), now=ANCHOR,
        stream=window_stream(client.transport, 4),
        fetch=spans_fetcher(client.transport, template, 4),
    )  # fmt: skip
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an example may show a warning's effect
            result = runner.run(test, out=out.write, clear_globs=True)
    finally:
        set_default_cache(None)
        _defaults.reset()
    assert result.failed == 0, out.getvalue()
