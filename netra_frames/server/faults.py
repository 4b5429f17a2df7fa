"""Fault injection for the local server: latency, error statuses, 429s, broken bodies.

Faults apply only to API routes (``/sdk/`` and ``/usage/``). They come from three sources,
checked in this order for every API request:

1. **Deterministic schedule** (:attr:`FaultConfig.schedule`, :attr:`FaultConfig.every`):
   the server numbers the API requests it receives ``1, 2, 3, ...`` in arrival order (the
   order in which it has read them, across every API key and connection), counting afresh
   from each :meth:`~netra_frames.server.LocalNetra.set_faults` (and from server start).
   ``schedule={3: "429", 7: "429", 12: "error"}`` faults exactly requests 3, 7 and 12;
   ``every={"truncate": 4}`` faults requests 4, 8, 12, ... A value is a kind name below, or
   an HTTP status from 400 to 599 as text (``"503"``): an ``error`` fault with that status
   (``"429"`` is the ``429`` kind, with ``Retry-After``). ``schedule`` wins over ``every``;
   among ``every`` entries the first listed wins. Use this in tests that assert a fault
   fired: it does not depend on the machine's speed or on chance.
2. **Token bucket** (``rate_limit_rps``): a per-API-key bucket of ``rate_limit_burst``
   tokens, refilled at ``rate_limit_rps``; a request that finds it empty gets a 429
   (``rate_limit``) whose ``Retry-After`` is the whole seconds until the next token. Each
   key's bucket is created at that key's first request holding
   ``rate_limit_initial_tokens`` (default: full); ``rate_limit_initial_tokens=0`` makes the
   first request of every key a ``rate_limit`` 429 however slow the machine is. With
   ``rate_limit_headers``, every answer to that key also says what is left:
   ``RateLimit-Limit`` (the burst), ``RateLimit-Remaining`` (whole tokens left) and
   ``RateLimit-Reset`` (seconds until those refill to the burst), and the same three as
   ``X-RateLimit-*``. Off by default: the documented API sends none.
3. **Random rates** (``error_rate``, ``rate_429``, ...): every API request consumes exactly
   three numbers from one ``random.Random(seed)`` under a lock (jitter, fault choice, error
   status), so a sequential client sees the same faults on every run with the same seed.
   Concurrent clients reach the stream in an order that depends on timing: rates suit
   property tests ("whatever the faults, the result is exact"), not assertions that a given
   fault fired. The per-request kinds are mutually exclusive: their rates are stacked on one
   draw and must sum to <= 1. A rate of 1 faults every request.

``fail_after_requests`` overrides all three: every API request after the first
``fail_after_requests`` (counted like the schedule) answers 503.

Kinds (:attr:`FaultPlan.kind`, and the keys of ``ServerStats.faults``):

``reset_before``  close the connection with a TCP reset before any response byte
``error``         answer ``error_status`` (one of ``error_statuses``) with a JSON error
``429``           answer 429 with ``Retry-After: <retry_after>``
``reset_mid``     send headers and half the body, then reset the connection
``truncate``      send headers (full Content-Length) and half the body, then close
``malformed``     send 200 with a body that is not valid JSON (Content-Length matches)
``slow``          send the headers, then the body in 10 chunks, one every ``slow_body_ms / 10``
``drip``          send the headers, then the body a byte every ``drip_ms``; with
                  ``drip_endless``, a ``Content-Length`` never reached and bytes (the body,
                  then spaces) until the client hangs up or the server stops
``stall``         wait ``stall_ms`` before sending anything (a read timeout before headers)
``echo_key``      answer ``error_status`` with a JSON error whose message echoes the request's
                  key as a gateway or WAF may: raw, percent-encoded in a URL, and as
                  ``x-api-key:`` and ``Authorization: Bearer`` lines
``repeat_cursor`` ignore the request's cursor and serve the first page again (a stuck cursor)
``drop_cursor``   send 200 with the page's items stripped of their ``cursor`` fields
``no_envelope``   send 200 with a JSON body that lacks the ``{"data": {"data", "pageInfo"}}``
``rate_limit``    per-key token bucket (``rate_limit_rps``/``rate_limit_burst``) is empty: 429
``fail_after``    every API request after the first ``fail_after_requests`` answers 503

and the faults in a page's rows (:mod:`netra_frames.server.page_faults`), for the
schedule and ``every`` only: ``stray_row``, ``stray_last``, ``replay``, ``foreign_span``,
``string_list``, ``dup_row``, ``null_id``, ``nan_cost``.

The ``error`` status of a scheduled or drawn fault is drawn from ``error_statuses`` by the
request's own draws, so it too depends only on the seed and the request's number. Scheduled
and drawn 429s send ``Retry-After: <retry_after>`` (default 0, so retries stay fast).
``retry_after_http_date`` sends it as an HTTP-date (``now + retry_after``) instead.

While it waits (latency, ``stall``, a ``slow`` body), the server watches the connection: if
the client hangs up (it timed out) or the server stops, the request is abandoned at once and
nothing more is sent or counted for it (its fault is still counted in ``ServerStats.faults``).

Example: a test asserting that a drain survives two 429s and a truncated body::

    srv.set_faults(schedule={2: "429", 3: "429", 5: "truncate"})
    frame = nf.traces_frame(start, end, shards=1, client=client)
    assert srv.stats.faults == {"429": 2, "truncate": 1}
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from netra_frames.server._fault_specs import describe, read_value
from netra_frames.server.page_faults import PAGE_FAULTS

__all__ = ["FAULT_KINDS", "FAULT_ROUTES", "FaultConfig", "FaultPlan", "fault_kind"]

#: Path prefixes subject to fault injection.
FAULT_ROUTES = ("/sdk/", "/usage/")

#: The per-request kinds that can be scheduled, drawn at a rate, or put on every Nth request.
FAULT_KINDS = (
    "reset_before", "error", "429", "reset_mid", "truncate", "malformed", "slow", "stall",
    "repeat_cursor", "drop_cursor", "no_envelope", "drip", "echo_key", *PAGE_FAULTS,
)  # fmt: skip


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
        Value of the ``Retry-After`` header of injected (scheduled or drawn) 429s, seconds.
    reset_before_rate, reset_mid_rate, truncate_rate, malformed_rate, slow_body_rate : float
        Shares of the body-breaking faults (see module docstring).
    slow_body_ms : float
        Duration over which a ``slow`` body is dribbled out.
    stall_rate : float
        Share of requests answered only after ``stall_ms``.
    stall_ms : float
        How long a ``stall`` fault waits before sending anything.
    drip_rate, drip_ms : float
        Share of bodies sent a byte at a time, and the wait before each byte.
    drip_endless : bool
        A ``drip`` body never ends: bytes keep coming until the client hangs up.
    echo_key_rate : float
        Share of requests answered with an error that echoes their API key.
    rate_limit_rps : float or None
        Per-API-key token bucket refill rate; ``None`` disables rate limiting.
    rate_limit_burst : int
        Token bucket capacity.
    rate_limit_initial_tokens : float or None
        Tokens in a key's bucket at its first request; ``None`` means ``rate_limit_burst``.
    repeat_cursor_rate, drop_cursor_rate, missing_envelope_rate : float
        Shares of the pagination bugs (see module docstring); they only affect listings.
    retry_after_http_date : bool
        Send ``Retry-After`` of injected 429s as an HTTP-date rather than seconds.
    rate_limit_headers : bool
        With ``rate_limit_rps``, send ``RateLimit-*`` and ``X-RateLimit-*`` headers on
        every API answer (see module docstring).
    fail_after_requests : int or None
        Answer 503 to every API request after this many; ``None`` disables it.
    schedule : dict of int to str
        Request number (1-based, in arrival order, all keys) -> fault kind or HTTP status.
    every : dict of str to int
        Fault kind or HTTP status -> N: requests N, 2N, 3N, ... get that fault.

    Examples
    --------
    >>> FaultConfig(latency_ms=50).latency_ms
    50
    >>> FaultConfig(schedule={3: "429", 12: "503"}, every={"truncate": 4}).validate()
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
    stall_rate: float = 0.0
    stall_ms: float = 0.0
    drip_rate: float = 0.0
    drip_ms: float = 0.0
    drip_endless: bool = False
    echo_key_rate: float = 0.0
    rate_limit_rps: float | None = None
    rate_limit_burst: int = 10
    rate_limit_initial_tokens: float | None = None
    repeat_cursor_rate: float = 0.0
    drop_cursor_rate: float = 0.0
    missing_envelope_rate: float = 0.0
    retry_after_http_date: bool = False
    rate_limit_headers: bool = False
    fail_after_requests: int | None = None
    schedule: dict[int, str] = field(default_factory=dict)
    every: dict[str, int] = field(default_factory=dict)

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
            ("stall", self.stall_rate),
            ("drip", self.drip_rate),
            ("echo_key", self.echo_key_rate),
        ]

    @classmethod
    def from_specs(cls, specs: Iterable[str]) -> FaultConfig:
        """Build a validated config from ``NAME=VALUE`` texts (``serve --fault``'s grammar).

        ``NAME`` is a field (``-`` may stand for ``_``); ``VALUE`` is read by the field's
        type, so a new field needs no new parsing: a number; ``true``/``false`` for a flag;
        ``none``/``off`` (or nothing) for an optional one; ``a,b,...`` for a tuple; and
        ``KEY:VALUE,...`` for a mapping (``schedule=3:429,7:truncate``, ``every=503:10``).
        A name given twice keeps the last value.

        Raises
        ------
        ValueError
            For an unknown name, a value that does not read as its field's type, or a
            config that :meth:`validate` refuses; the message quotes the spec.

        Examples
        --------
        >>> FaultConfig.from_specs(["latency-ms=50", "schedule=3:429,7:truncate"]).schedule
        {3: '429', 7: 'truncate'}
        >>> FaultConfig.from_specs(["every=503:10", "rate_limit_rps=none"]).every
        {'503': 10}
        """
        hints = typing.get_type_hints(cls)
        known = [f.name for f in fields(cls)]
        values: dict[str, Any] = {}
        for spec in specs:
            name, sep, raw = spec.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in known:
                names = ", ".join(known)
                raise ValueError(f"{spec!r}: expected NAME=VALUE with NAME one of {names}")
            try:
                values[name] = read_value(raw.strip(), hints[name])
            except ValueError:
                expected = describe(hints[name])
                raise ValueError(f"{spec!r}: {raw.strip()!r} is not {expected}") from None
        config = cls(**values)
        config.validate()
        return config

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
        if min(self.latency_ms, self.jitter_ms, self.slow_body_ms, self.stall_ms, self.drip_ms) < 0:
            raise ValueError(
                "latency_ms, jitter_ms, slow_body_ms, stall_ms and drip_ms must be >= 0"
            )
        if not self.error_statuses:
            raise ValueError("error_statuses must not be empty")
        if self.rate_limit_rps is not None and (
            self.rate_limit_rps <= 0 or self.rate_limit_burst < 1
        ):
            raise ValueError("rate_limit_rps must be > 0 and rate_limit_burst >= 1")
        initial = self.rate_limit_initial_tokens
        if initial is not None and not 0 <= initial <= self.rate_limit_burst:
            raise ValueError(
                f"rate_limit_initial_tokens must be in [0, rate_limit_burst], got {initial}"
            )
        if self.fail_after_requests is not None and self.fail_after_requests < 0:
            raise ValueError("fail_after_requests must be None or >= 0")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        for number, kind in self.schedule.items():
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise ValueError(f"schedule keys are request numbers >= 1, got {number!r}")
            fault_kind(kind)
        for kind, n in self.every.items():
            fault_kind(kind)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"every[{kind!r}] must be an integer >= 1, got {n!r}")


def fault_kind(text: str) -> tuple[str, int]:
    """Read a scheduled fault: a kind of :data:`FAULT_KINDS`, or an HTTP status 400-599.

    Returns ``(kind, status)``; ``status`` is 0 when the kind has none of its own.

    Examples
    --------
    >>> fault_kind("truncate"), fault_kind("503"), fault_kind("429")
    (('truncate', 0), ('error', 503), ('429', 429))
    """
    if text in FAULT_KINDS:
        return text, 429 if text == "429" else 0
    if isinstance(text, str) and text.isdigit() and 400 <= int(text) <= 599:
        return "error", int(text)
    raise ValueError(
        f"unknown fault {text!r}: use one of {', '.join(FAULT_KINDS)} or a status 400-599"
    )


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request: sleep ``delay_s``, then apply ``kind`` (``None`` = nothing).

    ``slow_s`` is a ``slow`` body's whole duration, ``drip_s`` the wait before each byte of
    a ``drip`` body (``endless``: one that never ends).

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
    headers: tuple[tuple[str, str], ...] = ()
    drip_s: float = 0.0
    endless: bool = False
