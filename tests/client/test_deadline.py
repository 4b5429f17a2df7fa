"""An attempt has a deadline: ``timeout`` bounds connecting, the headers and the body.

The server drips its answers (``drip``: a byte every ``drip_ms``, each far within the
timeout, so a timeout per socket read would never fire; ``drip_endless``: a body that never
ends). Bounding each read alone, ``NetraClient(timeout=2, max_retries=1)`` took 52 s to fail
on a 26-byte-a-second drip of a page and never returned from an endless one; bounding the
attempt, it fails after two attempts. Nothing here measures time: a client that reads by
the old rule fails these tests by the suite's timeout. Ctrl-C still stops a drip at once
(``tests/engine/_interrupt_child.py``, with an hour of timeout: only the interrupt ends it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from urllib3.exceptions import ReadTimeoutError

import netra_frames as nf
from netra_frames import NetraClient, TransportError
from netra_frames.server import LocalNetra

Window = tuple[datetime, datetime]

SERVER = dict(seed=4, traces=200, anchor=datetime(2026, 1, 1, tzinfo=timezone.utc))
WINDOW = dict(days_before=31, days_after=1)
#: A timeout far above a normal answer on a loaded machine ...
TIMEOUT = 2.0
#: ... and a wait before each byte far within it: only a deadline for the attempt fires.
DRIP_MS = 100.0


@pytest.fixture(autouse=True)
def _no_faults(srv: LocalNetra) -> Iterator[None]:
    srv.set_faults(None)
    srv.reset_stats()
    yield
    srv.set_faults(None)
    assert srv.errors == []


def _client(srv: LocalNetra, own_session: bool, **kwargs: object) -> NetraClient:
    session = requests.Session() if own_session else None
    options: dict[str, object] = {"backoff_factor": 0.002, "max_backoff": 0.02}
    return NetraClient(srv.api_key, srv.base_url, session=session, **{**options, **kwargs})


@pytest.mark.timeout(120)
@pytest.mark.parametrize("own_session", [False, True], ids=["pool", "callers_session"])
def test_a_dripping_body_fails_by_the_attempts_deadline(
    srv: LocalNetra, window: Window, own_session: bool
) -> None:
    """The issue's case: a page dripped a byte every 100 ms (a 10 ms read would not notice)."""
    srv.set_faults(every={"drip": 1}, drip_ms=DRIP_MS)
    with _client(srv, own_session, timeout=TIMEOUT, max_retries=1) as client:
        with pytest.raises(TransportError) as info:
            client.list_traces(*window, limit=20)  # some 20 KB: half an hour of drip
    text = str(info.value)
    assert f"no complete answer within timeout={TIMEOUT:g}s" in text and "2 attempts" in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert isinstance(info.value.cause, TimeoutError | ReadTimeoutError)
    assert srv.stats.faults == {"drip": 2}  # the first attempt and its one retry


@pytest.mark.timeout(120)
@pytest.mark.parametrize("own_session", [False, True], ids=["pool", "callers_session"])
def test_an_endless_body_ends_by_the_deadline(
    srv: LocalNetra, window: Window, own_session: bool
) -> None:
    srv.set_faults(every={"drip": 1}, drip_ms=10, drip_endless=True)
    with _client(srv, own_session, timeout=TIMEOUT, max_retries=0) as client:
        with pytest.raises(TransportError, match="no complete answer within timeout=2s"):
            client.get_tenant_usage("AceTech", *window)
    assert srv.stats.faults == {"drip": 1}


@pytest.mark.parametrize("own_session", [False, True], ids=["pool", "callers_session"])
def test_a_drip_that_ends_in_time_gives_the_whole_answer(
    srv: LocalNetra, window: Window, own_session: bool
) -> None:
    """A body read in many pieces (a byte each) is the same answer, on both paths."""
    with _client(srv, own_session) as client:
        clean = client.get_tenant_usage("AceTech", *window)
        page = client.list_traces(*window, limit=1)
        srv.set_faults(every={"drip": 1}, drip_ms=0.2)
        assert client.get_tenant_usage("AceTech", *window) == clean
        assert client.list_traces(*window, limit=1) == page
    assert srv.stats.faults == {"drip": 2}


def test_retries_come_on_top_of_the_deadline(srv: LocalNetra, window: Window) -> None:
    """Each attempt has its own deadline: a dripped attempt, then a clean one, succeeds."""
    with _client(srv, False, timeout=TIMEOUT, max_retries=1) as client:
        clean = client.list_traces(*window, limit=20)
        srv.set_faults(schedule={1: "drip"}, drip_ms=DRIP_MS)
        assert client.list_traces(*window, limit=20) == clean
    assert srv.stats.faults == {"drip": 1}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("kind", "drips"), [("iter_traces", 1), ("traces_frame", 4),
                                             ("spans_frame", 4)])  # fmt: skip
def test_ctrl_c_stops_a_drip(
    kind: str, drips: int, interrupt_child: Callable[..., dict[str, Any]]
) -> None:
    """An endless drip with an hour of timeout: Ctrl-C ends it, and leaves no worker."""
    interrupt_child(kind, str(drips), "200", "drip")


def test_the_timeout_is_documented_as_the_attempts() -> None:
    doc = (Path(nf.__file__).parents[1] / "docs" / "reliability.md").read_text()
    assert "the whole of one attempt" in doc
    assert "the whole of one attempt" in (NetraClient.__doc__ or "")


def test_each_promise_of_reliability_md_names_a_test_that_exists() -> None:
    """docs/reliability.md's table of promises: each test it names is in its file."""
    root = Path(nf.__file__).parents[1]
    doc = (root / "docs" / "reliability.md").read_text()
    table = doc[doc.index("## Promises and their tests") :]
    named = 0
    for row in table.splitlines()[4:]:
        path = ""
        for ref in re.findall(r"`((?:tests/[\w/]+\.py)?::\w+)`", row):
            file, _, name = ref.partition("::")
            path = file or path
            assert re.search(rf"^def {name}\(", (root / path).read_text(), re.M), ref
            named += 1
    assert named >= 12
