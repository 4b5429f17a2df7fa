"""Optional extras: without them the package works and the extra's module says what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import netra_frames

REPO = Path(netra_frames.__file__).resolve().parents[1]

# A fresh interpreter where every import of dask fails, as if the extra were not installed.
WITHOUT_DASK = """
import sys

class NoDask:
    def find_spec(self, name, path=None, target=None):
        if name == "dask" or name.startswith("dask."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoDask())
import netra_frames
assert "dask" not in sys.modules
try:
    import netra_frames.dask
except ImportError as exc:
    print(exc)
else:
    raise SystemExit("netra_frames.dask imported without dask")
"""


def test_dask_module_without_dask_names_the_extra() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", WITHOUT_DASK],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    message = proc.stdout.strip()
    assert message.startswith('netra_frames.dask needs Dask: pip install "netra-frames[dask]"')
    assert "No module named 'dask" in message
