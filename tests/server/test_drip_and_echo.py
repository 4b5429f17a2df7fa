"""The server's ``drip`` and ``echo_key`` faults, over raw sockets and http.client.

``drip`` sends a body a byte every ``drip_ms`` (``drip_endless``: a ``Content-Length`` it
never reaches, and spaces until the client hangs up); ``echo_key`` answers an error whose
message echoes the request's key as a gateway may. The client's side of both is in
``tests/client/test_deadline.py`` and ``tests/client/test_security.py``.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

import pytest

from netra_frames.server import FaultConfig, LocalNetra

ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
USAGE = "/usage/tenants/AceTech?startTime=2025-12-01T00:00:00Z&endTime=2026-01-01T00:00:00Z"
#: A key whose percent-encoded form differs from it (a wrong one: faults come before auth).
ODD_KEY = "sk-live/Ab+Cd=Ef_0123456789"


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalNetra]:
    with LocalNetra(seed=5, traces=50, anchor=ANCHOR) as server:
        yield server
        assert server.errors == []


@pytest.fixture(autouse=True)
def _faults_off(srv: LocalNetra) -> Iterator[None]:
    srv.set_faults(None)
    srv.reset_stats()
    yield
    srv.set_faults(None)


def _connect(srv: LocalNetra) -> http.client.HTTPConnection:
    parts = urlsplit(srv.base_url)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)


def _get(srv: LocalNetra, path: str, key: str) -> tuple[int, bytes]:
    conn = _connect(srv)
    try:
        conn.request("GET", path, headers={"x-api-key": key})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_drip_sends_the_same_body_a_byte_at_a_time(srv: LocalNetra) -> None:
    clean = _get(srv, USAGE, srv.api_key)
    srv.set_faults(every={"drip": 1}, drip_ms=1)
    conn = _connect(srv)
    try:
        conn.request("GET", USAGE, headers={"x-api-key": srv.api_key})
        resp = conn.getresponse()
        pieces = []
        while piece := resp.read1(1 << 16):
            pieces.append(piece)
    finally:
        conn.close()
    assert (resp.status, b"".join(pieces)) == clean
    assert len(pieces) > 1  # each byte waits a millisecond: it cannot all come at once
    assert srv.stats.faults == {"drip": 1}


def test_an_endless_drip_goes_on_until_the_client_hangs_up(srv: LocalNetra) -> None:
    _, clean = _get(srv, USAGE, srv.api_key)
    srv.set_faults(every={"drip": 1}, drip_ms=0, drip_endless=True)
    conn = _connect(srv)
    try:
        conn.request("GET", USAGE, headers={"x-api-key": srv.api_key})
        resp = conn.getresponse()
        assert int(resp.headers["Content-Length"]) > 2**40  # a length it never reaches
        got = b""
        while len(got) < len(clean) + 100:
            got += resp.read1(1 << 16)
    finally:
        conn.close()  # the client hangs up: the server stops sending
    assert got.startswith(clean) and got[len(clean) :].strip(b" ") == b""
    srv.set_faults(None)
    assert _get(srv, USAGE, srv.api_key)[0] == 200  # the server answers on
    assert srv.stats.faults == {"drip": 1} and srv.stats.by_status == {200: 3}


def test_an_echo_key_error_echoes_the_key_as_gateways_do(srv: LocalNetra) -> None:
    srv.set_faults(every={"echo_key": 1}, error_statuses=(502,))
    status, body = _get(srv, USAGE, ODD_KEY)
    message = json.loads(body)["error"]["message"]
    assert status == 502
    assert quote(ODD_KEY, safe="") in message and quote(ODD_KEY, safe="") != ODD_KEY
    assert f"x-api-key: {ODD_KEY}" in message
    assert f"Authorization: Bearer {ODD_KEY}" in message
    srv.set_faults(schedule={1: "echo_key"}, error_statuses=(401,))
    assert _get(srv, USAGE, srv.api_key)[0] == 401
    assert _get(srv, USAGE, srv.api_key)[0] == 200  # only request 1
    assert srv.stats.faults == {"echo_key": 2} and srv.stats.by_status == {502: 1, 401: 1, 200: 1}


def test_drip_and_echo_knobs_read_and_validate() -> None:
    config = FaultConfig.from_specs(["drip-rate=0.5", "drip-ms=20", "drip-endless=true"])
    assert (config.drip_rate, config.drip_ms, config.drip_endless) == (0.5, 20.0, True)
    assert FaultConfig.from_specs(["every=echo_key:3"]).every == {"echo_key": 3}
    with pytest.raises(ValueError, match="drip_ms"):
        FaultConfig(drip_ms=-1).validate()
    with pytest.raises(ValueError, match="sum to at most 1"):
        FaultConfig(drip_rate=0.6, echo_key_rate=0.6).validate()


def test_a_drip_stops_when_the_server_stops() -> None:
    """A stop ends an endless drip at once (the handler thread is joined, nothing left)."""
    server = LocalNetra(seed=5, traces=10, anchor=ANCHOR).start()
    try:
        server.set_faults(every={"drip": 1}, drip_ms=50, drip_endless=True)
        parts = urlsplit(server.base_url)
        sock = socket.create_connection((parts.hostname or "", parts.port or 0), timeout=30)
        request = f"GET {USAGE} HTTP/1.1\r\nHost: x\r\nx-api-key: {server.api_key}\r\n\r\n"
        sock.sendall(request.encode())
        assert sock.recv(1 << 16).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()
    with sock:
        while sock.recv(1 << 16):  # the server closed the connection: recv ends
            pass
    assert server.errors == []
