"""Fixtures of the notebook tests: ``kernel`` starts real Jupyter kernels (see kernel.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kernel import Kernel, start_or_skip


@pytest.fixture
def kernel() -> Iterator[Callable[..., Kernel]]:
    """``kernel(env={...}, cwd=...)``: a started kernel (the test is skipped, saying why,
    where none can start); every kernel started is shut down after the test."""
    started: list[Kernel] = []

    def start(**options: Any) -> Kernel:
        started.append(start_or_skip(Kernel(**options)))
        return started[-1]

    yield start
    for k in started:
        k.shutdown()
