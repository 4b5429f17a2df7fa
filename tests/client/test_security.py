"""The API key never leaks, never travels in clear to a remote host, and cannot be overridden.

Leaks are looked for everywhere a key could surface: reprs, DEBUG logs (ours, urllib3's and
the server's), stderr with a progress bar, every exception of a failing call (str, repr,
args, attributes, ``.cause``, its whole cause chain) and a DrainError's partial frame; also
when the server echoes the key back in an error (the ``echo_key`` fault: raw, percent-encoded,
as ``x-api-key:`` and ``Authorization: Bearer`` lines), where the command line's stderr is
searched too, for every spelling of the key.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import quote, quote_plus

import polars as pl
import pytest

import netra_frames as nf
from netra_frames import (
    APIError,
    ConfigurationError,
    DrainError,
    InsecureTransportError,
    NetraClient,
    NetraError,
)
from netra_frames._wire.reply import Redacted, Redactor
from netra_frames.server import LocalNetra

Window = tuple[datetime, datetime]

#: A client timeout far above a normal answer on a loaded machine (tens of milliseconds) ...
TIMEOUT = 2.0
#: ... and a server stall far above the timeout, so a timeout surely fires (the server stops
#: waiting as soon as the client hangs up, so the test does not wait this long).
STALL_MS = 20 * TIMEOUT * 1000


SERVER = dict(seed=3, traces=300, anchor=datetime(2026, 1, 1, tzinfo=timezone.utc))
WINDOW = dict(days_before=31, days_after=1)  # all the data, and a day past both ends


@pytest.fixture(autouse=True)
def _reset(srv: LocalNetra) -> Iterator[None]:
    srv.set_faults(None)
    srv.reset_stats()
    yield
    srv.set_faults(None)


def _texts_of_error(exc: BaseException) -> list[str]:
    """Every text an exception shows, through its cause/context chain."""
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        texts += [repr(v) for v in vars(current).values()]
        cause = getattr(current, "cause", None)
        if isinstance(cause, BaseException) and cause is not current:
            texts += _texts_of_error(cause)
        if isinstance(current, DrainError):
            partial = current.partial
            frame = partial if isinstance(partial, pl.DataFrame) else pl.from_pandas(partial)
            texts.append(repr(frame.rows()))
        current = current.__cause__ or current.__context__
    return texts


def _error_texts(call: Callable[[], object]) -> list[str]:
    with pytest.raises(NetraError) as info:
        call()
    return _texts_of_error(info.value)


def test_key_never_in_reprs_logs_stderr_or_errors(
    srv: LocalNetra,
    window: Window,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # root: ours, urllib3's and the server's loggers
    for name in ("netra_frames", "urllib3", "netra_frames.server"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    key = srv.api_key
    texts: list[str] = []
    try:
        with (
            NetraClient(key, srv.base_url, max_retries=1, backoff_factor=0.001) as c,
            NetraClient(key, srv.base_url, rate_limit_patience=0.5) as throttled,
            NetraClient(key, srv.base_url, max_retries=0, timeout=TIMEOUT) as hasty,
        ):
            texts += [repr(c), str(c), repr(c.settings), str(c.settings), repr(hasty)]
            traces = nf.traces_frame(*window, backend="polars", progress=True, client=c)
            nf.spans_frame(traces["trace_id"][:5], progress=True, client=c)
            nf.tenant_usage_frame(["AceTech"], *window, progress=True, client=c)
            # every request of each call gets the fault (every=1): the call surely fails
            failing: list[tuple[dict[str, Any], Callable[[], object]]] = [
                ({}, lambda: c.list_spans_by_trace_id("f" * 32)),  # 404
                ({}, lambda: c.list_traces(*window, cursor="not-a-cursor")),  # 400
                ({"every": {"error": 1}}, lambda: c.list_traces(*window)),  # 5xx exhausted
                ({"every": {"429": 1}}, lambda: throttled.get_session_usage("s", *window)),
                ({"every": {"reset_before": 1}}, lambda: c.list_traces(*window)),
                ({"every": {"reset_mid": 1}}, lambda: c.list_traces(*window)),
                ({"every": {"truncate": 1}}, lambda: c.get_tenant_usage("AceTech", *window)),
                ({"every": {"malformed": 1}}, lambda: c.list_traces(*window)),
                (  # a body whose every chunk comes 20 timeouts late: a read timeout mid-body
                    {"every": {"slow": 1}, "slow_body_ms": 10 * STALL_MS},
                    lambda: hasty.list_traces(*window),
                ),
                (  # no answer for 20 timeouts: a read timeout before the headers
                    {"every": {"stall": 1}, "stall_ms": STALL_MS},
                    lambda: hasty.list_traces(*window),
                ),
                ({"every": {"repeat_cursor": 1}}, lambda: list(c.iter_traces(*window, limit=20))),
                ({}, lambda: c.list_traces("nope", "2026-01-01")),
                (
                    {"fail_after_requests": 2},
                    lambda: nf.traces_frame(*window, shards=1, page_size=20, client=c),
                ),
                (
                    {"fail_after_requests": 2},
                    lambda: nf.spans_frame(traces["trace_id"][:6], max_workers=1, client=c),
                ),
            ]
            for faults, call in failing:
                srv.set_faults(**faults)
                texts += _error_texts(call)
            srv.set_faults(fail_after_requests=1)
            with pytest.raises(DrainError) as drain:
                nf.traces_frame(*window, shards=1, page_size=20, progress=True, client=c)
            srv.set_faults(None)
            texts += [repr(drain.value.resume())]
    finally:
        for name in ("netra_frames", "urllib3", "netra_frames.server"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    out, err = capfd.readouterr()
    texts += [caplog.text, out, err, *(repr(vars(r)) for r in caplog.records)]
    assert "traces" in err, "progress bars were drawn on stderr"
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert any(r.name == "netra_frames" and r.levelno == logging.DEBUG for r in caplog.records)
    leaks = [t for t in texts if key in t]
    assert not leaks, leaks[:1]


def test_wrong_key_is_not_echoed(srv: LocalNetra, window: Window) -> None:
    wrong = "sk-wrong-0123456789abcdef"
    with NetraClient(wrong, srv.base_url, max_retries=0) as c:
        texts = _error_texts(lambda: c.list_traces(*window))
    assert not [t for t in texts if wrong in t]


# -- a key the server echoes back is scrubbed before it becomes ours -------------------------

#: A key whose percent-encoded spellings differ from it (faults come before the key is checked)
ODD_KEY = "sk-live/Ab+Cd=Ef_0123456789"


def _spellings(key: str) -> set[str]:
    return {key, quote(key, safe=""), quote(key), quote_plus(key)}


def _leaks(texts: list[str], key: str) -> list[str]:
    return [t for t in texts if any(spelling in t for spelling in _spellings(key))]


def test_an_echoed_key_never_shows(
    srv: LocalNetra, window: Window, caplog: pytest.LogCaptureFixture
) -> None:
    """401, 403, 404, 429 and 5xx (retried: their log lines too) echoing the key."""
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with NetraClient(ODD_KEY, srv.base_url, max_retries=2, backoff_factor=0.001,
                     rate_limit_patience=0.2) as c:  # fmt: skip
        for status, error in [(401, nf.AuthenticationError), (403, nf.AuthenticationError),
                              (404, nf.NotFoundError), (429, nf.RateLimitError),
                              (503, nf.ServerError), (400, APIError)]:  # fmt: skip
            srv.set_faults(every={"echo_key": 1}, error_statuses=(status,))
            with pytest.raises(error) as info:
                c.list_traces(*window)
            assert info.value.status == status and "[secure]" in str(info.value)
            assert "Bearer [secure]" in (info.value.server_message or "")
            texts += _texts_of_error(info.value)
    assert srv.stats.faults["echo_key"] >= 8  # the 503 was retried twice
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retried) == 2 and "x-api-key: [secure]" in retried[0]
    texts += [caplog.text, *(repr(vars(r)) for r in caplog.records)]
    leaks = _leaks(texts, ODD_KEY)
    assert not leaks, leaks[:1]


def test_an_echoed_key_never_shows_in_a_drain_error(srv: LocalNetra, window: Window) -> None:
    """A DrainError after some progress: its message, cause, attributes and partial."""
    srv.set_faults(schedule={2: "echo_key"}, error_statuses=(403,))
    with NetraClient(srv.api_key, srv.base_url, max_retries=0) as c:
        with pytest.raises(DrainError) as info:
            nf.traces_frame(*window, shards=1, page_size=20, backend="polars", client=c)
    assert isinstance(info.value, nf.AuthenticationError) and len(info.value.partial) == 20
    texts = _texts_of_error(info.value)
    assert any("x-api-key: [secure]" in t for t in texts)
    leaks = _leaks(texts, srv.api_key)
    assert not leaks, leaks[:1]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("status", [401, 503])
def test_an_echoed_key_never_shows_on_the_command_lines_stderr(
    srv: LocalNetra, window: Window, status: int
) -> None:
    srv.set_faults(every={"echo_key": 1}, error_statuses=(status,))
    env = {**os.environ, "NETRA_API_KEY": ODD_KEY, "NETRA_OTLP_ENDPOINT": srv.base_url}
    args = ["traces", "--start", "2025-12-01", "--end", "2026-01-01", "--max-retries", "1"]
    proc = subprocess.run([sys.executable, "-m", "netra_frames", *args], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1 and f"HTTP {status}" in proc.stderr
    assert "[secure]" in proc.stderr
    leaks = _leaks([proc.stdout, proc.stderr], ODD_KEY)
    assert not leaks, leaks[:1]


def test_the_redactor_removes_every_spelling_and_any_echoed_credential() -> None:
    redact = Redactor([ODD_KEY])
    for spelling in _spellings(ODD_KEY) | {json.dumps(ODD_KEY)[1:-1]}:
        assert redact(f"key={spelling};") == "key=[secure];"
    assert redact("X-API-Key: someone-elses") == "X-API-Key: [secure]"
    assert (
        redact('{"authorization": "Basic dXNlcjpwYXNz"}') == '{"authorization": "Basic [secure]"}'
    )
    assert redact("proxy-authorization=tok123&x=1") == "proxy-authorization=[secure]&x=1"
    assert redact("nothing secret here") == "nothing secret here"
    short = Redactor(["k1"])  # a short key is only removed as a word of its own
    assert short("check k1, not k10 or ak1") == "check [secure], not k10 or ak1"
    try:  # a cause holding the key anywhere (a JSONDecodeError keeps the whole body)
        json.loads(f'{{"echo": "{ODD_KEY}" oops')
    except ValueError as exc:
        decode_error = exc
    kept = redact.error(decode_error)
    assert isinstance(kept, Redacted) and not _leaks(_texts_of_error(kept), ODD_KEY)
    clean = ValueError("not JSON")
    assert redact.error(clean) is clean


def test_a_secret_header_of_the_caller_is_scrubbed_too(srv: LocalNetra) -> None:
    with NetraClient(
        srv.api_key, srv.base_url, headers={"Authorization": "Bearer tok-0123456789"}
    ) as c:
        assert c.transport.redact("gateway saw tok-0123456789") == "gateway saw [secure]"


# -- plain http to a remote host is refused before any connection --------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://api.getnetra.ai",
        "http://10.0.0.1:8080",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
        "http://[2001:db8::1]:80",
        "HTTP://API.GETNETRA.AI/telemetry",
    ],
)
def test_plain_http_to_remote_host_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch, clean_defaults: None
) -> None:
    with pytest.raises(InsecureTransportError) as info:
        NetraClient("secret-key-123", url)
    assert "allow_insecure_http=True" in str(info.value)
    assert "secret-key-123" not in repr(info.value)
    with pytest.raises(InsecureTransportError):
        nf.configure(api_key="secret-key-123", base_url=url)
    monkeypatch.setenv("NETRA_API_KEY", "secret-key-123")
    monkeypatch.setenv("NETRA_OTLP_ENDPOINT", url)
    with pytest.raises(InsecureTransportError):
        NetraClient()
    with pytest.raises(InsecureTransportError):
        nf.traces_frame("2026-01-01", "2026-01-02")  # the lazy default client refuses too
    NetraClient("secret-key-123", url, allow_insecure_http=True).close()
    NetraClient("secret-key-123", "https://" + url.split("://", 1)[1]).close()


@pytest.mark.parametrize(
    "url", ["http://localhost:1", "http://127.0.0.1:1", "http://[::1]:1", "http://127.0.0.2:1"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    NetraClient("k", url).close()


# -- redirects never carry the key elsewhere -------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Records the headers of every request and answers 404 (a stand-in for another host)."""

    seen: list[list[tuple[str, str]]] = []
    location = ""

    def do_GET(self) -> None:  # noqa: N802 - stdlib handler name
        if self.location:
            self.send_response(307)
            self.send_header("Location", self.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        type(self).seen.append(list(self.headers.items()))
        body = b'{"error":{"message":"nothing here"}}'
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


def test_redirect_to_another_host_is_not_followed() -> None:
    class Target(_Recorder):
        seen: list[list[tuple[str, str]]] = []

    target = HTTPServer(("127.0.0.1", 0), Target)

    class Redirect(_Recorder):
        location = f"http://localhost:{target.server_port}/stolen"

    redirect = HTTPServer(("127.0.0.1", 0), Redirect)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (target, redirect)]
    for t in threads:
        t.start()
    try:
        with NetraClient("secret-key-123", f"http://127.0.0.1:{redirect.server_port}") as c:
            with pytest.raises(APIError) as info:
                c.get_session_usage("s", "2026-01-01", "2026-01-02")
            with pytest.raises(APIError):
                c.list_traces("2026-01-01", "2026-01-02")
    finally:
        for s in (target, redirect):
            s.shutdown()
            s.server_close()
        for t in threads:
            t.join()
    assert info.value.status == 307 and "not followed" in str(info.value)
    assert Target.seen == []


# -- NETRA_HEADERS / headers= cannot override the key silently -------------------------------


def test_netra_headers_cannot_override_the_key(
    srv: LocalNetra, window: Window, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_key = srv.api_keys[srv.organisations[1].org_id]
    for spelling in ("x-api-key", "X-API-KEY", "x%2Dapi%2Dkey", " X-Api-Key "):
        monkeypatch.setenv("NETRA_HEADERS", f"x-team=data,{spelling}={other_key}")
        with pytest.raises(ConfigurationError) as info:
            NetraClient(srv.api_key, srv.base_url)
        assert "NETRA_HEADERS" in str(info.value)
        assert other_key not in repr(info.value) and srv.api_key not in repr(info.value)
    with pytest.raises(ConfigurationError):
        NetraClient(srv.api_key, srv.base_url, headers={"X-Api-Key": other_key})
    assert srv.stats.requests == 0 and srv.stats.connections_opened == 0

    # the same key in the headers is harmless; a key given only there is used
    monkeypatch.setenv("NETRA_HEADERS", f"x-api-key={srv.api_key}")
    with NetraClient(srv.api_key, srv.base_url) as c:
        org = c.list_traces(*window, limit=1).traces[0]["organisation_id"]
    assert org == srv.organisations[0].org_id
    monkeypatch.delenv("NETRA_API_KEY", raising=False)
    monkeypatch.setenv("NETRA_HEADERS", f"x-api-key={other_key}")
    with NetraClient(base_url=srv.base_url) as c:
        org = c.list_traces(*window, limit=1).traces[0]["organisation_id"]
    assert org == srv.organisations[1].org_id
    assert srv.stats.by_status == {200: 2}


def test_exactly_one_key_header_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    class Target(_Recorder):
        seen: list[list[tuple[str, str]]] = []

    server = HTTPServer(("127.0.0.1", 0), Target)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NETRA_HEADERS", "x-team=data%20science,X-Api-Key=the-key")
    try:
        with NetraClient("the-key", f"http://127.0.0.1:{server.server_port}") as c:
            with pytest.raises(APIError):
                c.get_session_usage("s", "2026-01-01", "2026-01-02")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    [headers] = Target.seen
    assert [v for k, v in headers if k.lower() == "x-api-key"] == ["the-key"]
    assert [v for k, v in headers if k.lower() == "x-team"] == ["data science"]
    assert not [k for k, _ in headers if k.lower() == "authorization"]
