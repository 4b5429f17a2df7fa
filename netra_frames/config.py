"""Resolved client settings and every tunable default, in one place.

Precedence for each setting: explicit argument, else environment variable, else the
named ``DEFAULT_*`` constant. Nothing here reads the environment at import time.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

from .errors import ConfigurationError, InsecureTransportError

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_MAX_BACKOFF",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_WORKERS",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RATE_LIMIT_PATIENCE",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WINDOW_DAYS",
    "ENV_API_KEY",
    "ENV_BACKEND",
    "ENV_BASE_URL",
    "ENV_BASE_URL_FALLBACK",
    "ENV_HEADERS",
    "ENV_MAX_REQUESTS_PER_SECOND",
    "ENV_TIMEOUT",
    "MAX_PAGE_SIZE",
    "Backend",
    "Settings",
    "parse_headers",
    "resolve_settings",
]

ENV_API_KEY = "NETRA_API_KEY"
ENV_BASE_URL = "NETRA_OTLP_ENDPOINT"
ENV_BASE_URL_FALLBACK = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_HEADERS = "NETRA_HEADERS"
ENV_TIMEOUT = "NETRA_USAGE_TIMEOUT"
ENV_MAX_REQUESTS_PER_SECOND = "NETRA_FRAMES_MAX_REQUESTS_PER_SECOND"
ENV_BACKEND = "NETRA_FRAMES_BACKEND"

Backend = Literal["pandas", "polars"]
"""The frame libraries a frame builder can return."""
BACKENDS: tuple[Backend, ...] = ("pandas", "polars")
DEFAULT_BACKEND: Backend = "pandas"

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for a response (the official SDK's default)."""
DEFAULT_MAX_RETRIES = 5
"""Retries after the first attempt, for connection errors, timeouts, 429 and 5xx."""
DEFAULT_BACKOFF_FACTOR = 0.25
"""Seconds; the n-th retry waits a random time in ``[0, factor * 2**n]`` (full jitter)."""
DEFAULT_MAX_BACKOFF = 20.0
"""Seconds; the cap on one backoff sleep and on a server's ``Retry-After``."""
MAX_PAGE_SIZE = 100
"""Largest page size (``limit``) the API accepts; larger asks are refused before sending."""
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
"""Items per page asked by the frame builders (the API's maximum)."""
DEFAULT_MAX_WORKERS = 16
"""Concurrent requests of one frame builder."""
DEFAULT_WINDOW_DAYS = 7.0
"""Days covered when a frame builder gets no ``start`` (the window ends now unless ``end``)."""
DEFAULT_BUFFER_MB = 8.0
"""Megabytes of fetched rows a streaming door (scans, exports) lets wait for its consumer:
beyond it the workers pause (``buffer_mb=``; eager frames hold the whole result anyway).
8 keeps a 30-day export's peak memory within 1.25x a 7-day one's (16 did not, steadily:
benchmarks/README.md) and costs no speed at 100 ms a page."""
DEFAULT_RATE_LIMIT_PATIENCE = 600.0
"""Seconds one request may spend waiting out 429 answers before :class:`RateLimitError`.

These waits never use up ``max_retries``, which is the budget for failures."""

API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class Settings:
    """Everything a :class:`~netra_frames.NetraClient` needs, resolved and validated.

    The key is excluded from ``repr``; header values are masked there too.

    Examples
    --------
    >>> s = resolve_settings(api_key="k", base_url="http://127.0.0.1:8765/telemetry")
    >>> s.base_url
    'http://127.0.0.1:8765'
    """

    api_key: str = field(repr=False)
    base_url: str
    timeout: float = DEFAULT_TIMEOUT
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    max_backoff: float = DEFAULT_MAX_BACKOFF
    allow_insecure_http: bool = False
    max_requests_per_second: float | None = None
    rate_limit_patience: float = DEFAULT_RATE_LIMIT_PATIENCE

    def __repr__(self) -> str:
        masked = {k: "[secure]" for k in self.headers}
        return (
            f"Settings(api_key='[secure]', base_url={self.base_url!r}, timeout={self.timeout!r}, "
            f"headers={masked!r}, max_retries={self.max_retries!r}, "
            f"backoff_factor={self.backoff_factor!r}, max_backoff={self.max_backoff!r}, "
            f"allow_insecure_http={self.allow_insecure_http!r}, "
            f"max_requests_per_second={self.max_requests_per_second!r}, "
            f"rate_limit_patience={self.rate_limit_patience!r})"
        )


def parse_headers(raw: str) -> dict[str, str]:
    """Parse W3C-style ``k1=v1,k2=v2`` headers, percent-decoding the values.

    Examples
    --------
    >>> parse_headers("x-team=data%20science, x-env=prod")
    {'x-team': 'data science', 'x-env': 'prod'}
    """
    headers: dict[str, str] = {}
    for position, part in enumerate(raw.split(","), start=1):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            # The position, never the text: a stray comma inside a secret lands here.
            raise ConfigurationError(
                f"{ENV_HEADERS} entry #{position} is not 'name=value'; use the form "
                "k1=v1,k2=v2 and percent-encode commas inside values."
            )
        headers[unquote(name.strip())] = unquote(value.strip())
    return headers


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _check_header(name: object, value: object) -> None:
    """Refuse a header HTTP cannot carry, naming it but never echoing its value."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ConfigurationError(f"header name {name!r} is not a valid HTTP header name.")
    if not isinstance(value, str):
        raise ConfigurationError(f"header {name!r} must have a str value.")
    if any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in value):
        raise ConfigurationError(f"header {name!r} has a line break or control character.")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ConfigurationError(
            f"header {name!r} has characters HTTP headers cannot carry (not Latin-1); use ASCII."
        ) from None


def normalise_base_url(url: str) -> str:
    """Strip whitespace, a trailing ``/`` and a trailing ``/telemetry`` (as the SDK does)."""
    url = url.strip().rstrip("/")
    if url.endswith("/telemetry"):
        url = url[: -len("/telemetry")]
    return url.rstrip("/")


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str, allow_insecure_http: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"base URL {url!r} is not an http(s) URL with a host; pass base_url= or set "
            f"{ENV_BASE_URL}, e.g. https://api.getnetra.ai"
        )
    if parts.username or parts.password:
        raise ConfigurationError("the base URL must not carry credentials; pass api_key= instead.")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"base URL {url!r} must not have a query or fragment.")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise InsecureTransportError(
            f"refusing to send the API key over plain http to {parts.hostname!r}; use https, "
            "or pass allow_insecure_http=True if this network is trusted."
        )


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value and value.strip() else None


def _positive_seconds_or_rate(
    value: float | None, env: str, name: str, unit: str, example: str
) -> float | None:
    """``value``, else the environment variable ``env``, as a positive finite number."""
    if value is None:
        raw = _env(env)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"{env}={raw!r} is not a number of {unit}; set it to e.g. {example}."
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigurationError(f"{name} must be a positive number of {unit}, got {value!r}.")
    return float(value)


def _merge_headers(
    headers: Mapping[str, str] | None, api_key: str | None
) -> tuple[dict[str, str], str | None]:
    """Combine env and explicit headers; pull an ``x-api-key`` out of them, loudly."""
    merged: dict[str, str] = {}
    raw = _env(ENV_HEADERS)
    if raw is not None:
        merged.update(parse_headers(raw))
    if headers is not None:
        merged.update(headers)
    for name in [n for n in merged if n.lower() == API_KEY_HEADER]:
        header_key = merged.pop(name)
        if api_key is None:
            api_key = header_key
        elif header_key != api_key:
            raise ConfigurationError(
                f"the headers set {API_KEY_HEADER} to a different key than the API key; remove "
                f"it from {ENV_HEADERS} / headers= and pass the key as api_key= or "
                f"{ENV_API_KEY}."
            )
    return merged, api_key


def resolve_settings(
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
    max_backoff: float = DEFAULT_MAX_BACKOFF,
    allow_insecure_http: bool = False,
    max_requests_per_second: float | None = None,
    rate_limit_patience: float = DEFAULT_RATE_LIMIT_PATIENCE,
) -> Settings:
    """Resolve settings from arguments, then the environment, then defaults.

    Raises
    ------
    ConfigurationError
        When the key or base URL is missing or a value is invalid; the message names
        the argument and the environment variable to set, and lists every missing
        setting at once.

    Examples
    --------
    >>> resolve_settings(api_key="k", base_url="http://localhost:8765").timeout
    10.0
    """
    if api_key is None:
        api_key = _env(ENV_API_KEY)
    extra_headers, api_key = _merge_headers(headers, api_key)
    if base_url is None:
        base_url = _env(ENV_BASE_URL) or _env(ENV_BASE_URL_FALLBACK)
    missing = []
    if api_key is None or not api_key.strip():
        missing.append(f"no API key: pass api_key= or set {ENV_API_KEY}")
    if base_url is None:
        missing.append(
            f"no base URL: pass base_url= or set {ENV_BASE_URL} (or {ENV_BASE_URL_FALLBACK})"
        )
    if missing:
        raise ConfigurationError("; ".join(missing) + ".")
    assert api_key is not None and base_url is not None
    api_key = api_key.strip()
    try:
        _check_header(API_KEY_HEADER, api_key)
    except ConfigurationError:
        raise ConfigurationError(
            "the API key has a character HTTP headers cannot carry (a line break, control "
            "character or non-Latin-1 letter such as a pasted dash); check how it was loaded."
        ) from None
    for name, value in extra_headers.items():
        _check_header(name, value)
    base_url = normalise_base_url(base_url)
    _check_url(base_url, allow_insecure_http)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be an int >= 0, got {max_retries!r}.")
    for knob, amount in (
        ("backoff_factor", backoff_factor),
        ("max_backoff", max_backoff),
        ("rate_limit_patience", rate_limit_patience),
    ):
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not amount >= 0:
            raise ConfigurationError(f"{knob} must be a number >= 0, got {amount!r}.")
    return Settings(
        api_key=api_key,
        base_url=base_url,
        timeout=_positive_seconds_or_rate(timeout, ENV_TIMEOUT, "timeout", "seconds", "10")
        or DEFAULT_TIMEOUT,
        headers=extra_headers,
        max_retries=max_retries,
        backoff_factor=float(backoff_factor),
        max_backoff=float(max_backoff),
        allow_insecure_http=allow_insecure_http,
        max_requests_per_second=_positive_seconds_or_rate(
            max_requests_per_second,
            ENV_MAX_REQUESTS_PER_SECOND,
            "max_requests_per_second",
            "requests per second",
            "10 (or unset it for no cap)",
        ),
        rate_limit_patience=float(rate_limit_patience),
    )
