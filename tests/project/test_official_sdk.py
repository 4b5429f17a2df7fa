"""The official Netra SDK, pointed at our local server, sees what NetraClient sees.

The SDK drags in OpenTelemetry and dozens of instrumentations, so it lives in a venv of
its own; ``.ci/run`` builds one and sets ``NETRA_SDK_PYTHON``. Without it this test is
skipped (run ``scripts/check_official_sdk.py`` by hand, see its docstring).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SDK_PYTHON = os.environ.get("NETRA_SDK_PYTHON")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_official_sdk.py"


@pytest.mark.skipif(not SDK_PYTHON, reason="NETRA_SDK_PYTHON (a python with netra-sdk) not set")
def test_official_sdk_gets_the_same_usage_traces_and_spans() -> None:
    assert SDK_PYTHON is not None
    run = subprocess.run(
        [sys.executable, str(SCRIPT), SDK_PYTHON],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) >= 8 and all(" equal " in line for line in lines), run.stdout
