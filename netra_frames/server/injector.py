"""Turn a :class:`~netra_frames.server.faults.FaultConfig` into per-request fault plans.

The rules are the ones :mod:`netra_frames.server.faults` documents: ``fail_after_requests``,
then the deterministic schedule, then the per-key token bucket, then the random rates. One
lock orders the request numbers, the random draws and the buckets, so the schedule follows
arrival order and a sequential client sees the same faults for the same seed.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field, replace
from email.utils import formatdate

from netra_frames.server.faults import FAULT_ROUTES, FaultConfig, FaultPlan, fault_kind

__all__ = ["FaultInjector"]


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class FaultInjector:
    """Turn a :class:`FaultConfig` into per-request :class:`FaultPlan` objects.

    Examples
    --------
    >>> inj = FaultInjector(FaultConfig(schedule={2: "503"}))
    >>> [inj.plan("/sdk/traces", "key").kind for _ in range(3)]
    [None, 'error', None]
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

    @property
    def requests(self) -> int:
        """How many API requests this injector has planned (the last request's number).

        Examples
        --------
        >>> FaultInjector(FaultConfig()).requests
        0
        """
        return self._requests

    def plan(self, path: str, api_key: str) -> FaultPlan | None:
        """Decide the faults for one request to ``path`` made with ``api_key``.

        Returns ``None`` for routes outside :data:`FAULT_ROUTES`.

        Examples
        --------
        >>> FaultInjector(FaultConfig()).plan("/usage/sessions/x", "k")
        FaultPlan(delay_s=0.0, kind=None, status=0, retry_after='', slow_s=0.0, headers=(), ...)
        """
        if not path.startswith(FAULT_ROUTES):
            return None
        cfg = self.config
        with self._lock:
            jitter, draw = self._rng.random(), self._rng.random()
            pick = cfg.error_statuses[int(self._rng.random() * len(cfg.error_statuses))]
            limited, budget = self._take_token(api_key, cfg)
            self._requests += 1
            number = self._requests
        delay = (cfg.latency_ms + jitter * cfg.jitter_ms) / 1000
        plan = self._plan(cfg, number, delay, pick, draw, limited)
        return replace(plan, headers=budget) if budget else plan

    def _plan(
        self,
        cfg: FaultConfig,
        number: int,
        delay: float,
        pick: int,
        draw: float,
        limited: str | None,
    ) -> FaultPlan:
        if cfg.fail_after_requests is not None and number > cfg.fail_after_requests:
            return FaultPlan(delay, "fail_after", 503)
        scheduled = _scheduled(cfg, number)
        if scheduled is not None:
            kind, status = fault_kind(scheduled)
            return self._fault(delay, kind, status or pick)
        if limited is not None:
            return FaultPlan(delay, "rate_limit", 429, limited)
        edge = 0.0
        for kind, rate in cfg.rates():
            edge += rate
            if draw < edge:
                return self._fault(delay, kind, 429 if kind == "429" else pick)
        return FaultPlan(delay, None)

    def _fault(self, delay: float, kind: str, pick: int) -> FaultPlan:
        """The plan of a scheduled or drawn fault of ``kind`` (``pick``: its error status)."""
        cfg = self.config
        if kind == "stall":
            return FaultPlan(delay + cfg.stall_ms / 1000, kind)
        status = pick if kind in ("error", "429", "echo_key") else 0
        retry_after = ""
        if status == 429:
            retry_after = (
                _http_date(cfg.retry_after)
                if cfg.retry_after_http_date
                else _seconds(cfg.retry_after)
            )
        if kind == "drip":
            return FaultPlan(delay, kind, drip_s=cfg.drip_ms / 1000, endless=cfg.drip_endless)
        return FaultPlan(delay, kind, status, retry_after, cfg.slow_body_ms / 1000)

    def _take_token(
        self, api_key: str, cfg: FaultConfig
    ) -> tuple[str | None, tuple[tuple[str, str], ...]]:
        """Take one token from the key's bucket: a Retry-After value when empty (else
        ``None``), and the rate-limit headers to send (with ``rate_limit_headers``)."""
        if cfg.rate_limit_rps is None:
            return None, ()
        now = time.monotonic()
        bucket = self._buckets.get(api_key)
        if bucket is None:
            initial = cfg.rate_limit_initial_tokens
            tokens = float(cfg.rate_limit_burst if initial is None else initial)
            bucket = self._buckets[api_key] = _Bucket(tokens, now)
        bucket.tokens = min(
            float(cfg.rate_limit_burst), bucket.tokens + (now - bucket.stamp) * cfg.rate_limit_rps
        )
        bucket.stamp = now
        retry_after = None
        if bucket.tokens >= 1:
            bucket.tokens -= 1
        else:
            retry_after = str(math.ceil((1 - bucket.tokens) / cfg.rate_limit_rps))
        if not cfg.rate_limit_headers:
            return retry_after, ()
        left = math.floor(bucket.tokens)
        reset = f"{(cfg.rate_limit_burst - left) / cfg.rate_limit_rps:.3f}".rstrip("0").rstrip(".")
        values = (str(cfg.rate_limit_burst), str(left), reset)
        names = ("Limit", "Remaining", "Reset")
        headers = tuple(
            (prefix + name, value)
            for prefix in ("RateLimit-", "X-RateLimit-")
            for name, value in zip(names, values, strict=True)
        )
        return retry_after, headers


def _scheduled(cfg: FaultConfig, number: int) -> str | None:
    """The fault ``schedule``/``every`` assign to request ``number``, if any."""
    kind = cfg.schedule.get(number)
    if kind is not None:
        return kind
    for name, n in cfg.every.items():
        if number % n == 0:
            return name
    return None


def _http_date(seconds: float) -> str:
    """Format ``now + seconds`` as an HTTP-date (whole seconds, rounded up)."""
    return formatdate(math.ceil(time.time() + seconds), usegmt=True)


def _seconds(value: float) -> str:
    """Format a Retry-After value: an integer when whole, else a decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
