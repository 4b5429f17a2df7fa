"""Settings resolution: arguments, environment, defaults, and the errors for each miss."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from netra_frames import ConfigurationError, InsecureTransportError, InvalidParameterError
from netra_frames.config import DEFAULT_TIMEOUT, parse_headers, resolve_settings
from netra_frames.times import format_time, parse_time, resolve_window

ENV_VARS = (
    "NETRA_API_KEY",
    "NETRA_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "NETRA_HEADERS",
    "NETRA_USAGE_TIMEOUT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def test_environment_supplies_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRA_API_KEY", "env-key")
    monkeypatch.setenv("NETRA_OTLP_ENDPOINT", "https://api.example.com/telemetry/")
    monkeypatch.setenv("NETRA_HEADERS", "x-team=data%20science,x-env=prod")
    monkeypatch.setenv("NETRA_USAGE_TIMEOUT", "2.5")
    s = resolve_settings()
    assert s.api_key == "env-key"
    assert s.base_url == "https://api.example.com"
    assert dict(s.headers) == {"x-team": "data science", "x-env": "prod"}
    assert s.timeout == 2.5


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRA_API_KEY", "env-key")
    monkeypatch.setenv("NETRA_OTLP_ENDPOINT", "https://env.example.com")
    s = resolve_settings("arg-key", "https://arg.example.com/api", timeout=3)
    assert (s.api_key, s.base_url, s.timeout) == ("arg-key", "https://arg.example.com/api", 3.0)


def test_otel_endpoint_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example.com/telemetry")
    assert resolve_settings("k").base_url == "https://otel.example.com"


def test_defaults() -> None:
    assert resolve_settings("k", "http://127.0.0.1:1").timeout == DEFAULT_TIMEOUT


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="NETRA_API_KEY"):
        resolve_settings(base_url="https://api.example.com")


def test_missing_url_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="NETRA_OTLP_ENDPOINT"):
        resolve_settings("k")


@pytest.mark.parametrize("raw", ["abc", "-1", "0"])
def test_bad_timeout(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("NETRA_USAGE_TIMEOUT", raw)
    with pytest.raises(ConfigurationError, match="NETRA_USAGE_TIMEOUT|timeout"):
        resolve_settings("k", "https://api.example.com")


def test_plain_http_to_remote_host_is_refused() -> None:
    with pytest.raises(InsecureTransportError, match="allow_insecure_http"):
        resolve_settings("secret-key", "http://api.example.com")
    s = resolve_settings("k", "http://api.example.com", allow_insecure_http=True)
    assert s.base_url == "http://api.example.com"
    for host in ("127.0.0.1", "localhost", "[::1]", "127.5.6.7"):
        assert resolve_settings("k", f"http://{host}:8765").base_url.startswith("http://")


def test_headers_cannot_silently_override_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRA_HEADERS", "x-api-key=other,x-team=a")
    with pytest.raises(ConfigurationError, match="x-api-key") as info:
        resolve_settings("mine", "https://api.example.com")
    assert "other" not in str(info.value) and "mine" not in str(info.value)
    # Alone, a key in the headers is used as the key, and leaves the extra headers.
    s = resolve_settings(base_url="https://api.example.com")
    assert s.api_key == "other" and dict(s.headers) == {"x-team": "a"}


def test_malformed_headers() -> None:
    with pytest.raises(ConfigurationError, match="name=value"):
        parse_headers("novalue")


@pytest.mark.parametrize(
    "url", ["ftp://x.example.com", "api.example.com", "https://u:p@x.example.com", "https://"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        resolve_settings("k", url)


def test_repr_masks_key_and_header_values() -> None:
    s = resolve_settings("sk-very-secret", "https://api.example.com", headers={"x-t": "hidden"})
    assert "sk-very-secret" not in repr(s) and "hidden" not in repr(s)


def test_time_parsing_forms() -> None:
    utc = timezone.utc
    assert parse_time("2026-01-01") == datetime(2026, 1, 1, tzinfo=utc)
    assert parse_time(date(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=utc)
    assert parse_time("2026-01-01T02:00:00+02:00") == datetime(2026, 1, 1, tzinfo=utc)
    assert parse_time(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=utc)
    assert format_time(parse_time("2026-01-01T00:00:00.123456Z")) == "2026-01-01T00:00:00.124Z"
    assert format_time(parse_time("2026-01-01T00:00:00.123Z")) == "2026-01-01T00:00:00.123Z"


@pytest.mark.parametrize("bad", ["", "  ", "yesterday", "2026-13-01", 5, 1.5, None, [1]])
def test_bad_times(bad: object) -> None:
    with pytest.raises(InvalidParameterError):
        parse_time(bad, "start")  # type: ignore[arg-type]


def test_windows() -> None:
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    start, end = resolve_window(None, None, now=now)
    assert (start, end) == (now - timedelta(days=7), now)
    with pytest.raises(InvalidParameterError, match="after start"):
        resolve_window("2026-02-01", "2026-01-01")
    with pytest.raises(InvalidParameterError, match="after start"):
        resolve_window("2026-02-01", "2026-02-01")
    mixed = resolve_window(datetime(2026, 1, 1), datetime(2026, 2, 1, tzinfo=timezone.utc))
    assert mixed[0] == datetime(2026, 1, 1, tzinfo=timezone.utc)  # naive is UTC
    with pytest.raises(InvalidParameterError, match="after start"):  # one millisecond apart
        resolve_window("2026-01-01T00:00:00.0002Z", "2026-01-01T00:00:00.0008Z")


@pytest.mark.parametrize(
    "bad",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
        "0005-01-01",
        "1969-12-31T23:59:59Z",
    ],
)
def test_times_out_of_range_are_typed_errors(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="range|outside"):
        parse_time(bad, "start")  # type: ignore[arg-type]


def test_format_time_pads_the_year() -> None:
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc)).startswith(
        "2026-01-02T03:04:05.006"
    )


@pytest.mark.parametrize(
    "key", ["nk_secret\u2013pasted", "nk_secret\nX-Evil: 1", "nk_secret\x00", "nk_\x7fsecret"]
)
def test_keys_http_cannot_carry_are_refused_without_echo(key: str) -> None:
    with pytest.raises(ConfigurationError, match="API key") as info:
        resolve_settings(key, "https://api.example.com")
    assert "secret" not in str(info.value) and info.value.__cause__ is None


@pytest.mark.parametrize(
    "raw",
    [
        "authorization=Bearer%20sk-SECRET%0A",
        "x-city=%E6%9D%B1%E4%BA%AC-SECRET",
        "bad name=SECRET",
    ],
)
def test_headers_http_cannot_carry_are_refused_without_echo(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("NETRA_HEADERS", raw)
    with pytest.raises(ConfigurationError) as info:
        resolve_settings("k", "https://api.example.com")
    assert "SECRET" not in str(info.value)


def test_header_entry_without_value_is_named_by_position(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRA_HEADERS", "authorization=Bearer sk-abc,SECRETPART")
    with pytest.raises(ConfigurationError, match="#2") as info:
        resolve_settings("k", "https://api.example.com")
    assert "SECRETPART" not in str(info.value)


@pytest.mark.parametrize("timeout", [float("inf"), float("nan")])
def test_infinite_timeouts_are_refused(timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        resolve_settings("k", "https://api.example.com", timeout=timeout)


def test_dates_and_naive_datetimes_mix() -> None:
    start, end = resolve_window(date(2026, 1, 1), datetime(2026, 1, 2))
    assert (end - start).days == 1
    start, end = resolve_window("2026-01-01", datetime(2026, 1, 2, 12))
    assert end - start == timedelta(days=1, hours=12)
    resolve_window(date(2026, 1, 1), datetime(2026, 1, 2, tzinfo=timezone.utc))


def test_every_missing_setting_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NETRA_API_KEY", "NETRA_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError) as info:
        resolve_settings()
    text = str(info.value)
    assert "no API key" in text and "no base URL" in text  # both at once, one error
    assert "NETRA_API_KEY" in text and "NETRA_OTLP_ENDPOINT" in text
