"""Fault injection for the local server: latency, error statuses, 429s, broken bodies.

Faults apply only to API routes (``/sdk/`` and ``/usage/``). Every faultable request consumes
exactly three numbers from one ``random.Random(seed)`` under a lock (jitter, fault choice,
error status), so a sequential client sees the same faults on every run with the same seed.
The per-request fault kinds are mutually exclusive: their rates are stacked on one draw and
must sum to <= 1. The token-bucket rate limit is time based, not random.

Kinds (:attr:`FaultPlan.kind`):

``reset_before``  close the connection with a TCP reset before any response byte
``error``         answer ``error_status`` (one of ``error_statuses``) with a JSON error
``429``           answer 429 with ``Retry-After: <retry_after>``
``reset_mid``     send headers and half the body, then reset the connection
``truncate``      send headers (full Content-Length) and half the body, then close
``malformed``     send 200 with a body that is not valid JSON (Content-Length matches)
``slow``          send the body in 10 chunks spread over ``slow_body_ms``
``repeat_cursor`` ignore the request's cursor and serve the first page again (a stuck cursor)
``drop_cursor``   send 200 with the page's items stripped of their ``cursor`` fields
``no_envelope``   send 200 with a JSON body that lacks the ``{"data": {"data", "pageInfo"}}``
``rate_limit``    per-key token bucket (``rate_limit_rps``/``rate_limit_burst``) is empty: 429
``fail_after``    every API request after the first ``fail_after_requests`` answers 503

``fail_after_requests`` is counted per :class:`FaultInjector` (``LocalNetra.set_faults``
starts a new count); it makes "the server dies after N pages" reproducible for resumable
drain tests. ``retry_after_http_date`` sends the ``Retry-After`` of injected 429s as an
HTTP-date (``now + retry_after``) instead of seconds.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate

__all__ = ["FAULT_ROUTES", "FaultConfig", "FaultInjector", "FaultPlan"]

#: Path prefixes subject to fault injection.
FAULT_ROUTES = ("/sdk/", "/usage/")


@dataclass
class FaultConfig:
    """Mutable fault knobs of a :class:`~netra_frames.server.LocalNetra`; all off by default.

    Parameters
    ----------
    latency_ms : float
        Added latency per API request.
    jitter_ms : float
        Extra uniform random latency in ``[0, jitter_ms)``.
    seed : int
        Seed of the fault random stream (reset by ``LocalNetra.set_faults``).
    error_rate : float
        Share of requests answered with a status from ``error_statuses``.
    error_statuses : tuple of int
        Statuses chosen uniformly for ``error`` faults.
    rate_429 : float
        Share of requests answered 429 with ``Retry-After: retry_after``.
    retry_after : float
        Value of the ``Retry-After`` header of injected 429s (seconds).
    reset_before_rate, reset_mid_rate, truncate_rate, malformed_rate, slow_body_rate : float
        Shares of the body-breaking faults (see module docstring).
    slow_body_ms : float
        Duration over which a ``slow`` body is dribbled out.
    rate_limit_rps : float or None
        Per-API-key token bucket refill rate; ``None`` disables rate limiting.
    rate_limit_burst : int
        Token bucket capacity.
    repeat_cursor_rate, drop_cursor_rate, missing_envelope_rate : float
        Shares of the pagination bugs (see module docstring); they only affect listings.
    retry_after_http_date : bool
        Send ``Retry-After`` of injected 429s as an HTTP-date rather than seconds.
    fail_after_requests : int or None
        Answer 503 to every API request after this many; ``None`` disables it.

    Examples
    --------
    >>> FaultConfig(latency_ms=50).latency_ms
    50
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    seed: int = 0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    rate_429: float = 0.0
    retry_after: float = 0.0
    reset_before_rate: float = 0.0
    reset_mid_rate: float = 0.0
    truncate_rate: float = 0.0
    malformed_rate: float = 0.0
    slow_body_rate: float = 0.0
    slow_body_ms: float = 0.0
    rate_limit_rps: float | None = None
    rate_limit_burst: int = 10
    repeat_cursor_rate: float = 0.0
    drop_cursor_rate: float = 0.0
    missing_envelope_rate: float = 0.0
    retry_after_http_date: bool = False
    fail_after_requests: int | None = None

    def rates(self) -> list[tuple[str, float]]:
        """Return ``(kind, rate)`` of the exclusive per-request faults, in draw order.

        Examples
        --------
        >>> FaultConfig(error_rate=0.5).rates()[1]
        ('error', 0.5)
        """
        return [
            ("reset_before", self.reset_before_rate),
            ("error", self.error_rate),
            ("429", self.rate_429),
            ("reset_mid", self.reset_mid_rate),
            ("truncate", self.truncate_rate),
            ("malformed", self.malformed_rate),
            ("slow", self.slow_body_rate),
            ("repeat_cursor", self.repeat_cursor_rate),
            ("drop_cursor", self.drop_cursor_rate),
            ("no_envelope", self.missing_envelope_rate),
        ]

    def validate(self) -> None:
        """Raise ``ValueError`` when a knob is out of range.

        Examples
        --------
        >>> FaultConfig(error_rate=2).validate()
        Traceback (most recent call last):
        ...
        ValueError: error rate must be in [0, 1], got 2
        """
        total = 0.0
        for kind, rate in self.rates():
            if not 0 <= rate <= 1:
                raise ValueError(f"{kind} rate must be in [0, 1], got {rate}")
            total += rate
        if total > 1 + 1e-9:
            raise ValueError(f"fault rates must sum to at most 1, got {total}")
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.slow_body_ms < 0:
            raise ValueError("latency_ms, jitter_ms and slow_body_ms must be >= 0")
        if not self.error_statuses:
            raise ValueError("error_statuses must not be empty")
        if self.rate_limit_rps is not None and (
            self.rate_limit_rps <= 0 or self.rate_limit_burst < 1
        ):
            raise ValueError("rate_limit_rps must be > 0 and rate_limit_burst >= 1")
        if self.fail_after_requests is not None and self.fail_after_requests < 0:
            raise ValueError("fail_after_requests must be None or >= 0")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request: sleep ``delay_s``, then apply ``kind`` (``None`` = nothing).

    Examples
    --------
    >>> FaultPlan(0.0, None).kind is None
    True
    """

    delay_s: float
    kind: str | None
    status: int = 0
    retry_after: str = ""
    slow_s: float = 0.0


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class FaultInjector:
    """Turn a :class:`FaultConfig` into reproducible per-request :class:`FaultPlan` objects.

    Examples
    --------
    >>> inj = FaultInjector(FaultConfig(error_rate=1.0))
    >>> inj.plan("/sdk/traces", "key").kind
    'error'
    >>> inj.plan("/other", "key") is None
    True
    """

    config: FaultConfig
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _rng: random.Random = field(init=False, repr=False)
    _buckets: dict[str, _Bucket] = field(default_factory=dict, repr=False)
    _requests: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self.config.validate()
        self._rng = random.Random(self.config.seed)

    def plan(self, path: str, api_key: str) -> FaultPlan | None:
        """Decide the faults for one request to ``path`` made with ``api_key``.

        Returns ``None`` for routes outside :data:`FAULT_ROUTES`.

        Examples
        --------
        >>> FaultInjector(FaultConfig()).plan("/usage/sessions/x", "k")
        FaultPlan(delay_s=0.0, kind=None, status=0, retry_after='', slow_s=0.0)
        """
        if not path.startswith(FAULT_ROUTES):
            return None
        cfg = self.config
        with self._lock:
            jitter, draw = self._rng.random(), self._rng.random()
            pick = cfg.error_statuses[int(self._rng.random() * len(cfg.error_statuses))]
            limited = self._take_token(api_key, cfg)
            self._requests += 1
            dead = cfg.fail_after_requests is not None and self._requests > cfg.fail_after_requests
        delay = (cfg.latency_ms + jitter * cfg.jitter_ms) / 1000
        if dead:
            return FaultPlan(delay, "fail_after", 503)
        if limited is not None:
            return FaultPlan(delay, "rate_limit", 429, limited)
        edge = 0.0
        for kind, rate in cfg.rates():
            edge += rate
            if draw < edge:
                status = {"error": pick, "429": 429}.get(kind, 0)
                retry_after = (
                    _http_date(cfg.retry_after)
                    if cfg.retry_after_http_date
                    else _seconds(cfg.retry_after)
                )
                return FaultPlan(delay, kind, status, retry_after, cfg.slow_body_ms / 1000)
        return FaultPlan(delay, None)

    def _take_token(self, api_key: str, cfg: FaultConfig) -> str | None:
        """Take one token from the key's bucket; return a Retry-After value when empty."""
        if cfg.rate_limit_rps is None:
            return None
        now = time.monotonic()
        bucket = self._buckets.setdefault(api_key, _Bucket(float(cfg.rate_limit_burst), now))
        bucket.tokens = min(
            float(cfg.rate_limit_burst), bucket.tokens + (now - bucket.stamp) * cfg.rate_limit_rps
        )
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return str(math.ceil((1 - bucket.tokens) / cfg.rate_limit_rps))


def _http_date(seconds: float) -> str:
    """Format ``now + seconds`` as an HTTP-date (whole seconds, rounded up)."""
    return formatdate(math.ceil(time.time() + seconds), usegmt=True)


def _seconds(value: float) -> str:
    """Format a Retry-After value: an integer when whole, else a decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
