"""A real Jupyter kernel (ipykernel) driven by nbclient, for tests of what a notebook shows.

:class:`Kernel` starts a kernel with the environment variables a test gives (a ``LocalNetra``'s
``NETRA_API_KEY`` and ``NETRA_OTLP_ENDPOINT``), runs cells one at a time with a timeout and
returns everything a notebook would show for each (:class:`Cell`: streams, errors, displayed
data, widget comm messages and the widget state), can interrupt a running cell after a delay
or when a message arrives (what the notebook's stop button does: ``interrupt_kernel()``), and
shuts the kernel down. :func:`start_or_skip` skips the test, saying why, where no kernel can
start. The fixture ``kernel`` (``tests/notebook/conftest.py``) starts kernels and shuts them
down after the test.

Examples
--------
>>> with Kernel(env={"NETRA_API_KEY": key, "NETRA_OTLP_ENDPOINT": url}) as k:  # doctest: +SKIP
...     cell = k.run("import netra_frames as nf; nf.traces_frame(max_rows=3, progress=False).shape")
...     cell.result, cell.stderr
('(3, 27)', '')
>>> k.run("import time; time.sleep(60)", interrupt_after=1).error["ename"]  # doctest: +SKIP
'KeyboardInterrupt'
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    import nbformat
    from nbclient import NotebookClient
except ImportError as exc:  # the dev extra is not installed
    NotebookClient = object  # type: ignore[assignment,misc]
    MISSING: str | None = f"nbclient/nbformat are not installed ({exc}): pip install -e '.[dev]'"
else:
    MISSING = None

__all__ = ["Cell", "Kernel", "KernelUnavailable", "start_or_skip"]

Message = dict[str, Any]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class KernelUnavailable(RuntimeError):
    """No kernel could start here (the reason is the message)."""


@dataclass
class Cell:
    """What one cell showed: nbformat outputs, every iopub message, the reply's status."""

    source: str
    outputs: list[dict[str, Any]]
    messages: list[Message]
    status: str
    """``"ok"``, ``"error"`` or ``"aborted"`` (the execute reply's status)."""
    widget_state: dict[str, Any] = field(default_factory=dict)
    """The state of every widget so far, by comm id (nbclient's view of the comm messages)."""

    def stream(self, name: str) -> str:
        return "".join(o["text"] for o in self.outputs if o.get("name") == name)

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    @property
    def error(self) -> dict[str, Any] | None:
        """The error output (``ename``, ``evalue``, ``traceback``), if the cell raised."""
        return next((o for o in self.outputs if o["output_type"] == "error"), None)

    @property
    def traceback(self) -> list[str]:
        """The error's traceback as the notebook prints it, one line per item, no colours."""
        if self.error is None:
            return []
        text = "\n".join(self.error["traceback"])
        return ANSI.sub("", text).splitlines()

    @property
    def displayed(self) -> list[dict[str, Any]]:
        """The data bundles shown (``display_data`` and ``execute_result``), in order."""
        kinds = ("display_data", "execute_result")
        return [o["data"] for o in self.outputs if o["output_type"] in kinds]

    @property
    def result(self) -> str | None:
        """The ``text/plain`` of the cell's value (its last expression), if any."""
        results = [o for o in self.outputs if o["output_type"] == "execute_result"]
        return results[-1]["data"].get("text/plain") if results else None

    @property
    def comms(self) -> list[Message]:
        """The comm messages of the cell (``comm_open``, ``comm_msg``, ``comm_close``):
        widgets such as a progress bar."""
        return [m for m in self.messages if m["msg_type"].startswith("comm")]


class _Client(NotebookClient):  # type: ignore[misc,valid-type]
    """nbclient's NotebookClient that keeps every iopub message and can interrupt a cell."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Message] = []
        self.interrupt_when: Callable[[Message], bool] | None = None

    def process_message(self, msg: Message, cell: Any, cell_index: int) -> Any:
        self.seen.append(msg)
        if self.interrupt_when is not None and self.interrupt_when(msg):
            self.interrupt_when = None
            asyncio.ensure_future(self.km.interrupt_kernel())
        return super().process_message(msg, cell, cell_index)


class Kernel:
    """A Python kernel of this interpreter with ``env`` added to the environment, in ``cwd``.

    Parameters
    ----------
    env:
        Variables added to this process's environment for the kernel (a value of ``None``
        removes the variable).
    cwd:
        The kernel's working directory (default: this process's).
    startup_timeout:
        Seconds to wait for the kernel to answer.
    """

    def __init__(
        self,
        env: Mapping[str, str | None] | None = None,
        *,
        cwd: str | os.PathLike[str] | None = None,
        startup_timeout: float = 120,
    ) -> None:
        environment = dict(os.environ)
        environment.pop("PYTEST_CURRENT_TEST", None)
        for name, value in (env or {}).items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        self.env = environment
        self.cwd = str(cwd or Path.cwd())
        self.startup_timeout = startup_timeout
        self._stack = ExitStack()
        self._client: _Client | None = None
        self._notebook: Any = None

    def start(self) -> Kernel:
        """Start the kernel and wait until it answers; :class:`KernelUnavailable` if it cannot."""
        if MISSING is not None:
            raise KernelUnavailable(MISSING)
        self._notebook = nbformat.v4.new_notebook()
        self._client = _Client(
            self._notebook,
            kernel_name="python3",
            allow_errors=True,
            startup_timeout=int(self.startup_timeout),
            resources={"metadata": {"path": self.cwd}},
        )
        try:
            self._stack.enter_context(self._client.setup_kernel(env=self.env))
        except Exception as exc:  # no kernelspec, no zmq, a kernel that dies at start...
            self.shutdown()
            raise KernelUnavailable(f"no Jupyter kernel could start: {exc!r}") from exc
        return self

    def run(
        self,
        code: str,
        timeout: float = 120,
        *,
        interrupt_after: float | Sequence[float] | None = None,
        interrupt_when: Callable[[Message], bool] | None = None,
    ) -> Cell:
        """Run ``code`` as the next cell and return what it showed.

        ``interrupt_after`` seconds after it starts (several: once at each), or at the first
        iopub message for which ``interrupt_when`` is true, the kernel is interrupted (the
        notebook's stop button); the cell then usually ends in a ``KeyboardInterrupt``
        error. A cell still running after ``timeout`` seconds raises nbclient's
        ``CellTimeoutError``.
        """
        client = self._client
        if client is None:
            raise RuntimeError("the kernel is not started: use start() or a with block")
        cell = nbformat.v4.new_code_cell(code)
        self._notebook.cells.append(cell)
        client.timeout = int(timeout)
        client.seen = []
        client.interrupt_when = interrupt_when
        replies: list[Message] = []

        def kept(*, execute_reply: Message, **_: Any) -> None:
            replies.append(execute_reply)

        client.on_cell_executed = kept
        timers: list[asyncio.Future[None]] = []
        if interrupt_after is not None:
            delays = (
                [interrupt_after] if isinstance(interrupt_after, int | float) else interrupt_after
            )

            async def interrupt_later() -> None:
                waited = 0.0
                for delay in delays:
                    await asyncio.sleep(max(0.0, delay - waited))
                    waited = delay
                    await client.km.interrupt_kernel()

            def start_timer(**_: Any) -> None:  # called once the cell is sent
                timers.append(asyncio.ensure_future(interrupt_later()))

            client.on_cell_complete = start_timer
        else:
            client.on_cell_complete = None
        try:
            client.execute_cell(cell, len(self._notebook.cells) - 1)
        finally:
            for timer in timers:
                timer.cancel()
            client.interrupt_when = None
        status = replies[-1]["content"]["status"] if replies else "unknown"
        return Cell(
            code,
            [dict(o) for o in cell.outputs],
            list(client.seen),
            status,
            dict(client.widget_state),
        )

    def shutdown(self) -> None:
        """Stop the kernel and its channels (idempotent)."""
        self._stack.close()
        self._client = None

    def __enter__(self) -> Kernel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def start_or_skip(kernel: Kernel) -> Kernel:
    """Start ``kernel``, or skip the test with the reason where no kernel can start."""
    try:
        return kernel.start()
    except KernelUnavailable as exc:
        pytest.skip(str(exc))
