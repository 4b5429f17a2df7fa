"""Shared fixtures: one LocalNetra per test session, a client on it, a clean default state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from netra_frames import NetraClient, _defaults
from netra_frames.server import LocalNetra


@pytest.fixture(scope="session")
def server() -> Iterator[LocalNetra]:
    """A local Netra server with 2000 traces over ``[anchor - 30 days, anchor)``."""
    with LocalNetra(seed=0, traces=2000) as srv:
        yield srv


@pytest.fixture(scope="session")
def client(server: LocalNetra) -> Iterator[NetraClient]:
    """A client of the first organisation (tenant ``AceTech``), closed at the end."""
    with NetraClient(server.api_key, server.base_url) as c:
        yield c


@pytest.fixture(scope="session")
def window(server: LocalNetra) -> tuple[datetime, datetime]:
    """The whole data window ``[anchor - 30 days, anchor)``."""
    return server.anchor - timedelta(days=30), server.anchor


@pytest.fixture
def clean_defaults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No default client or backend before and after the test; backend env unset."""
    monkeypatch.delenv(_defaults.ENV_BACKEND, raising=False)
    _defaults.reset()
    yield
    _defaults.reset()
