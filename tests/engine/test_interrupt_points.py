"""A Ctrl-C at any point of the consuming thread leaves no thread of the drain behind.

CPython raises ``KeyboardInterrupt`` between bytecodes, wherever the main thread is: also
inside the standard library's Python code that a drain's consumer calls, such as a
``threading.Condition`` that has just taken its lock, or ``Thread.start()`` waiting for its
thread. A lock left taken there stops the producer for good, and every worker with it: the
worker that outlived a Ctrl-C of issue 26. A Ctrl-C from a terminal lands on such a point
only by chance; here each point is hit on purpose, so the test fails every run without the fix.

Here every such point is tried, one per drain: a real SIGINT (``signal.raise_signal``, so the
handler in place decides what happens) is sent at one line, call or return that the
consuming thread runs in the pipeline, cancellation and threading code, at its first run
after the drain began, and again at its first run after the first batch came (the producer
is then paused on its budget, waiting for the consumer). After each, no thread of the drain
may be left. The points are those of a clean drain, recorded first, so the list follows the
code as it changes and as Python versions change the standard library.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import timedelta
from inspect import CO_GENERATOR
from types import FrameType
from typing import Any

import pytest

import netra_frames as nf
from netra_frames import NetraClient, _cancel
from netra_frames._engine import pipeline
from netra_frames._engine.batch import Batcher, sink_for
from netra_frames._engine.keyed import KeyedProducer, PageCollector, spans_of
from netra_frames.query import SpanQuery
from netra_frames.schema import SPANS
from netra_frames.server import LocalNetra

FILES = {
    os.path.realpath(module.__file__ or "") for module in (pipeline, _cancel, threading, queue)
}
"""Where the points are: the consumer's side of the pipeline and what it calls."""

Point = tuple[str, int, str]
"""(file name, line, what runs there) of a point."""


def drain_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("netra_frames")]


def left_after_a_while() -> dict[str, str]:
    """The drain's threads still alive after a generous wait (normally: none at once), with
    where each one is."""
    deadline = time.monotonic() + 10
    while drain_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    frames = sys._current_frames()
    return {
        t.name: "".join(traceback.format_stack(frames[t.ident])[-3:]) if t.ident in frames else ""
        for t in threading.enumerate()
        if t.name.startswith("netra_frames")
    }


def reached_from(frame: FrameType | None, name: str) -> bool:
    """Whether ``frame`` or one of its callers runs in the file ``name`` (a basename)."""
    while frame is not None:
        if os.path.basename(frame.f_code.co_filename) == name:
            return True
        frame = frame.f_back
    return False


class Interrupter:
    """A profile function: records the points of the consuming thread, or sends SIGINT at one.

    The points are where CPython itself may raise ``KeyboardInterrupt``: as a function (or
    a generator) starts or resumes (``call``), and just after a call into C returns
    (``c_return``), in the files of :data:`FILES`. ``after_first`` picks the phase: before
    the first batch came, or after.
    """

    def __init__(self, point: Point | None, *, after_first: bool, via: str = "") -> None:
        self.point = point
        self.after_first = after_first
        self.via = via
        """Only points reached from this file (a basename) count: ``""`` all."""
        self.got_first = False
        self.points: list[Point] = []
        self.sent = False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event not in ("call", "c_return") or self.got_first != self.after_first:
            return
        code = frame.f_code
        if os.path.realpath(code.co_filename) not in FILES:
            return
        if event == "call" and sys.version_info < (3, 11) and code.co_flags & CO_GENERATOR:
            # 3.10 leaves a generator frame at once when its profile function raises as it
            # resumes (its own handlers never run); a real SIGINT is raised at an instruction
            # inside the frame, where they do: not a point a Ctrl-C can hit
            return
        if self.via and not reached_from(frame, self.via):
            return
        what = event if event == "call" else f"after {getattr(arg, '__name__', '?')}()"
        here = (os.path.basename(code.co_filename), frame.f_lineno, what)
        if self.point is None:
            if here not in self.points:
                self.points.append(here)
        elif here == self.point and not self.sent:
            self.sent = True
            signal.raise_signal(signal.SIGINT)  # Ctrl-C: raised here, or held by a handler


def drain(client: NetraClient, ids: list[str], tracer: Interrupter) -> str:
    """Consume the spans of ``ids`` under ``tracer``; what it raised.

    A batch per trace, and a budget of one batch: after the first batch, the producer is
    paused until the consumer takes what waits (``spans_pipeline``, with a batch size).
    """
    template = SpanQuery.template(span_name=None, page_size=100)
    producer: KeyedProducer[Any] = KeyedProducer(
        lambda trace_id, scope: spans_of(client.transport, template, trace_id, scope),
        ids,
        PageCollector(Batcher(sink_for("polars", SPANS), size=1)),
        workers=2,
        noun="traces",
        budget=1,
    )
    pipe = pipeline.Pipeline(producer)
    sys.setprofile(tracer)
    try:
        for _ in pipe:
            tracer.got_first = True
    except KeyboardInterrupt:
        return "KeyboardInterrupt"
    finally:
        sys.setprofile(None)
    return "nothing"


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalNetra]:
    with LocalNetra(seed=8, traces=200, anchor=nf.times.parse_time("2026-01-01")) as server:
        yield server
        assert server.errors == []


@pytest.fixture(scope="module")
def ids(srv: LocalNetra) -> list[str]:
    with NetraClient(srv.api_key, srv.base_url) as client:
        frame = nf.traces_frame(srv.anchor - timedelta(days=30), srv.anchor, max_rows=6,
                                backend="polars", progress=False, client=client)  # fmt: skip
    return list(frame["trace_id"])[:6]


@pytest.mark.timeout(120)
@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need the main thread"
)
@pytest.mark.parametrize("after_first", [False, True], ids=["from-the-start", "after-a-batch"])
def test_a_ctrl_c_at_any_point_of_the_consumer_leaves_no_thread(
    srv: LocalNetra, ids: list[str], after_first: bool
) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # see conftest
    with NetraClient(srv.api_key, srv.base_url) as client:
        recorder = Interrupter(None, after_first=after_first)
        assert drain(client, ids, recorder) == "nothing"
        points = recorder.points
        assert len(points) >= 10, points  # the thread's start, the consumer's loop and locks
        interrupted = 0
        for point in points:
            tracer = Interrupter(point, after_first=after_first)
            raised = drain(client, ids, tracer)
            interrupted += raised == "KeyboardInterrupt"
            left = left_after_a_while()
            assert not left, f"{point} raised {raised}; left:\n" + "\n".join(
                f"{name}:\n{where}" for name, where in left.items()
            )
        assert interrupted >= len(points) // 2, (interrupted, len(points))


def call(client: NetraClient, srv: LocalNetra, tracer: Interrupter | None) -> str:
    """A plain call whose first attempt fails (503), so that it waits before its retry."""
    srv.set_faults(schedule={1: "503"})
    window = srv.anchor - timedelta(days=30), srv.anchor
    sys.setprofile(tracer)
    try:
        client.list_traces(*window, limit=5)
    except KeyboardInterrupt:
        return "KeyboardInterrupt"
    finally:
        sys.setprofile(None)
    return "nothing"


def waited(points: list[Point]) -> bool:
    """Whether ``points`` include the wait itself (the gate's timed ``acquire``)."""
    return any(p[0] == "threading.py" or "acquire" in p[2] for p in points)


def points_of_a_wait(client: NetraClient, srv: LocalNetra) -> list[Point]:
    """The points of clean calls that waited before their retry (urllib3's own locks: not ours).

    The wait is drawn at random in ``[0, backoff]`` (full jitter): a draw shorter than the
    profiled code before the gate ends the wait before it blocks, and that call's points lack
    the ``acquire``. Calls are recorded until one waited (their points merged, in order), so
    the list does not depend on the draw.
    """
    points: list[Point] = []
    for _ in range(20):
        recorder = Interrupter(None, after_first=False, via="_cancel.py")
        assert call(client, srv, recorder) == "nothing"
        points += [p for p in recorder.points if p not in points]
        if waited(recorder.points):
            return points
    raise AssertionError(f"20 calls never blocked in their wait: {points}")


def test_a_ctrl_c_at_any_point_of_a_plain_calls_wait_leaves_later_waits_working(
    srv: LocalNetra,
) -> None:
    """Plain calls wait in one scope (``NEVER``), on every thread: a Ctrl-C in one of them
    must leave nothing taken that the next wait of any other thread needs."""
    with NetraClient(srv.api_key, srv.base_url, backoff_factor=0.02, max_backoff=0.05,
                     max_retries=2) as client:  # fmt: skip
        points = points_of_a_wait(client, srv)
        for point in points:
            raised = call(client, srv, Interrupter(point, after_first=False, via="_cancel.py"))
            waited: list[str] = []
            other = threading.Thread(
                target=lambda out=waited: out.append(call(client, srv, None)), daemon=True
            )
            other.start()
            other.join(30)
            assert waited == ["nothing"], (point, raised)  # not blocked for good
    srv.set_faults(None)
