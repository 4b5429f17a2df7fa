"""The kernel helper itself (kernel.py): what later notebook tests rely on.

Environment and working directory reach the kernel; a cell's streams, value and error come
back; a running cell is interrupted after a delay or at a message (the stop button); widget
comm messages and their state are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kernel import Kernel

SLEEP = "import time\ntime.sleep(100)"
COUNT = "import time\nfor i in range(500):\n    print(i, flush=True)\n    time.sleep(0.2)"
WIDGET = """\
from comm import create_comm
bar = create_comm(target_name="jupyter.widget", data={"state": {
    "_model_module": "@jupyter-widgets/controls", "_model_name": "FloatProgressModel",
    "value": 1.0}})
bar.send({"method": "update", "state": {"value": 5.0}})
"""


def test_a_cell_sees_the_environment_and_shows_what_it_prints(
    kernel: Callable[..., Kernel], tmp_path: Path
) -> None:
    k = kernel(env={"NF_TEST_VALUE": "42", "HOME_NOT_THERE": None}, cwd=tmp_path)
    cell = k.run("import os, sys\nprint(os.environ['NF_TEST_VALUE'])\nprint('e', file=sys.stderr)")
    assert (cell.status, cell.stdout, cell.stderr) == ("ok", "42\n", "e\n")
    cell = k.run("print(os.getcwd())\nprint('HOME_NOT_THERE' in os.environ)")
    assert cell.stdout.splitlines() == [str(tmp_path), "False"]
    assert k.run("6 * 7").result == "42"
    failed = k.run("1 / 0")
    assert failed.status == "error" and failed.error is not None
    assert failed.error["ename"] == "ZeroDivisionError"
    assert failed.traceback[-1] == "ZeroDivisionError: division by zero"


def test_a_running_cell_is_interrupted_after_a_delay(kernel: Callable[..., Kernel]) -> None:
    k = kernel()
    cell = k.run(SLEEP, timeout=60, interrupt_after=0.5)
    assert cell.status == "error" and cell.error is not None
    assert cell.error["ename"] == "KeyboardInterrupt"
    assert k.run("1 + 1").result == "2"  # the kernel lives on


def test_a_running_cell_is_interrupted_at_a_message(kernel: Callable[..., Kernel]) -> None:
    k = kernel()
    cell = k.run(
        COUNT,
        timeout=60,
        interrupt_when=lambda m: m["msg_type"] == "stream" and "3\n" in m["content"]["text"],
    )
    assert cell.error is not None and cell.error["ename"] == "KeyboardInterrupt"
    printed = cell.stdout.split()
    assert printed[:4] == ["0", "1", "2", "3"] and len(printed) < 100


def test_widget_messages_and_state_are_kept(kernel: Callable[..., Kernel]) -> None:
    k = kernel()
    cell = k.run(WIDGET)
    assert cell.status == "ok", cell.traceback
    assert [m["msg_type"] for m in cell.comms] == ["comm_open", "comm_msg"]
    (comm_id,) = cell.widget_state
    assert cell.comms[0]["content"]["comm_id"] == comm_id
    assert cell.widget_state[comm_id]["value"] == 5.0
