"""Deterministic synthetic Netra data: organisations, traces and their span trees.

Everything here is a pure function of ``(seed, traces, days, anchor_ms)``: the same arguments
always give the same organisations, API keys, ids, times, tokens and costs.

Data model (decisions documented once, here):

* Three organisations; the first owns tenant ``"AceTech"`` and most traffic (70 %), the second
  also has a tenant named ``"AceTech"`` (isolation), tenant ids exercise escaping
  (``"Stark/Industries"``, ``"Zürich AG"``, ``"Q?Labs #7 100%"``).
* A trace's ``kind`` is the kind of its root span, always ``"workflow"``.
* Token fields are additive: ``total_tokens = prompt_tokens + completion_tokens +
  cached_tokens`` (``prompt_tokens`` counts the *uncached* input only), and every cost is its
  token count times a per-token price from :data:`PRICES_NANOS`. Costs are integer nano-USD.
* A trace's token and cost fields are exact sums over its spans; ``latency_ms`` is the root
  span's duration; ``models`` is the sorted set of its spans' models.
* About 2 % of traces copy the ``start_time`` of an earlier trace exactly (sort-key ties).
* Start times follow a shape (:data:`SHAPES`): ``uniform`` over ``[anchor - days, anchor)``;
  ``skewed``, all in the last quarter of it; ``bursty``, half of the traces in one day (the
  24 hours from ``floor(days / 2)`` days after the window's start, the window itself when
  shorter) and the rest uniform. Traces come in small runs of one session, 2 s to 10 min
  apart, wrapping around inside their range. ``uniform`` is the original behaviour, row for
  row; the other shapes draw the same organisations and tenants, not the same rows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "PRICES_NANOS",
    "SHAPES",
    "SPAN_FIELDS",
    "TRACE_FIELDS",
    "Organisation",
    "generate",
    "organisations",
]

#: Price in nano-USD per token: (prompt, completion, cached). 2500 = $2.50 per 1M tokens.
PRICES_NANOS: dict[str, tuple[int, int, int]] = {
    "gpt-4o": (2500, 10000, 1250),
    "gpt-4o-mini": (150, 600, 75),
    "claude-3-5-sonnet": (3000, 15000, 300),
    "text-embedding-3-small": (20, 0, 0),
}

#: How start times spread over the data window (see the module docstring).
SHAPES: tuple[str, ...] = ("uniform", "skewed", "bursty")
_DAY_MS = 86_400_000

#: Column order of the trace rows yielded by :func:`generate`.
TRACE_FIELDS: tuple[str, ...] = (
    "org_id", "id", "project_id", "name", "kind", "start_ms", "end_ms", "latency_ms",
    "session_id", "tenant_id", "user_id", "environment", "service", "models",
    "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens",
    "prompt_cost_n", "completion_cost_n", "cached_cost_n", "total_cost_n",
    "has_pii", "pii_entities", "has_violation", "violations", "has_error",
)  # fmt: skip

#: Column order of the span rows yielded by :func:`generate`.
SPAN_FIELDS: tuple[str, ...] = (
    "org_id", "trace_id", "id", "parent_span_id", "name", "kind", "start_ms", "end_ms",
    "latency_ms", "model_name",
    "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens",
    "prompt_cost_n", "completion_cost_n", "cached_cost_n", "total_cost_n",
    "has_pii", "pii_entities", "pii_actions", "has_violation", "violations",
    "violation_actions", "status", "attributes", "events", "links", "resources", "metadata",
    "has_error", "created_ms",
)  # fmt: skip

_ORG_SPECS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Acme Holdings",
        ("AceTech", "Globex", "Initech", "Umbrella Corp", "Stark/Industries", "Zürich AG",
         "Q?Labs #7 100%"),
    ),
    ("Bluebird Labs", ("AceTech", "Hooli", "Pied Piper")),
    ("Cobalt Systems", ("Vandelay", "Wonka")),
)  # fmt: skip
_ORG_WEIGHTS = (0.7, 0.2, 0.1)
_ACETECH_SHARE = 0.4
_USERS_PER_TENANT = 20
_SERVICES = ("chat-api", "rag-worker", "agent-runner")
_TRACE_NAMES = ("chat", "rag-query", "agent-run", "summarize", "classify", "extract")
_CHAT_MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet")
_EMBED_MODEL = "text-embedding-3-small"
_CHILD_KINDS = ("generation", "tool", "task", "embedding")
_CHILD_WEIGHTS = (0.4, 0.25, 0.2, 0.15)
_CHILD_COUNTS = (1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6, 7, 11)  # mean 4.07 -> ~5 spans/trace
_TOOL_NAMES = ("search_web", "fetch_url", "sql_query", "calculator")
_TASK_NAMES = ("retrieve-context", "rerank", "plan", "format-answer")
_PII = ("EMAIL", "PHONE_NUMBER", "CREDIT_CARD", "PERSON")
_VIOLATIONS = ("prompt_injection", "toxicity", "off_topic")
_ERROR_RATE = 0.03
_TIE_RATE = 0.02
_ROOT_METADATA = '{"sdk":"netra-python","sdk_version":"0.1.0"}'
_ERROR_EVENT = (
    '[{{"name":"exception","timestamp":"{ts}","attributes":'
    '{{"exception.type":"TimeoutError","exception.message":"upstream timed out"}}}}]'
)


@dataclass(frozen=True)
class Organisation:
    """One synthetic organisation with its API key, projects and tenants.

    Examples
    --------
    >>> organisations(0)[0].tenants[0]
    'AceTech'
    """

    org_id: str
    name: str
    api_key: str
    projects: tuple[str, ...]
    tenants: tuple[str, ...]


def organisations(seed: int) -> tuple[Organisation, ...]:
    """Return the three organisations for ``seed`` (ids and keys depend on the seed only).

    Parameters
    ----------
    seed : int
        Data seed.

    Returns
    -------
    tuple of Organisation
        The first one owns tenant ``"AceTech"`` and most of the traffic.

    Examples
    --------
    >>> organisations(0)[0].api_key.startswith("nk_")
    True
    """
    rng = random.Random(f"netra-orgs:{seed}")
    result = []
    for name, tenants in _ORG_SPECS:
        org_id = f"org_{rng.getrandbits(64):016x}"
        key = f"nk_{rng.getrandbits(128):032x}"
        projects = tuple(f"proj_{rng.getrandbits(48):012x}" for _ in range(2))
        result.append(Organisation(org_id, name, key, projects, tenants))
    return tuple(result)


@dataclass
class _Header:
    org: Organisation
    project: str
    tenant: str | None
    user: str | None
    session: str | None
    environment: str
    start_ms: int


def _ranges(shape: str, lo_ms: int, span_ms: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(start, width)`` of the regular range and of the burst range of a shape's window."""
    if shape == "skewed":
        quarter = max(1, span_ms // 4)
        return (lo_ms + span_ms - quarter, quarter), (0, 0)
    if shape == "bursty":
        day = (span_ms // 2) // _DAY_MS * _DAY_MS
        return (lo_ms, span_ms), (lo_ms + day, min(_DAY_MS, span_ms - day))
    return (lo_ms, span_ms), (0, 0)


def _plan(
    rng: random.Random,
    orgs: tuple[Organisation, ...],
    traces: int,
    lo_ms: int,
    span_ms: int,
    shape: str = "uniform",
) -> list[_Header]:
    users = {
        (o.org_id, t): [f"user_{rng.getrandbits(48):012x}" for _ in range(_USERS_PER_TENANT)]
        for o in orgs
        for t in o.tenants
    }
    first_weights = [_ACETECH_SHARE] + [(1 - _ACETECH_SHARE) / (len(orgs[0].tenants) - 1)] * (
        len(orgs[0].tenants) - 1
    )
    regular, burst = _ranges(shape, lo_ms, span_ms)
    in_burst = 0
    headers: list[_Header] = []
    while len(headers) < traces:
        org = rng.choices(orgs, _ORG_WEIGHTS)[0]
        if org is orgs[0]:
            picked = rng.choices(org.tenants, first_weights)[0]
        else:
            picked = rng.choice(org.tenants)
        tenant: str | None = picked
        user: str | None = rng.choice(users[(org.org_id, picked)])
        session: str | None = f"sess_{rng.getrandbits(64):016x}"
        if rng.random() < 0.05:
            session = None
        if rng.random() < 0.04:
            tenant = None
        if rng.random() < 0.04:
            user = None
        project = rng.choice(org.projects)
        environment = "production" if rng.random() < 0.8 else "staging"
        # bursty: a run goes to the burst day while the burst holds at most half the traces
        start_ms, width = burst if burst[1] and 2 * in_burst <= len(headers) else regular
        offset = rng.randrange(width)
        count = min(rng.randint(1, 6), traces - len(headers))
        if (start_ms, width) == burst:
            in_burst += count
        for _ in range(count):
            start = start_ms + offset % width
            headers.append(_Header(org, project, tenant, user, session, environment, start))
            offset += rng.randint(2_000, 600_000)
    for i in range(1, len(headers)):
        if rng.random() < _TIE_RATE:
            headers[i].start_ms = headers[rng.randrange(i)].start_ms
    return headers


def _service(project: str) -> str:
    return _SERVICES[int(project[-1], 16) % len(_SERVICES)]


def _leaf_ms(rng: random.Random, kind: str) -> int:
    if kind == "generation":
        return rng.randint(250, 6000)
    if kind == "embedding":
        return rng.randint(20, 400)
    if kind == "tool":
        return rng.randint(5, 2500)
    return rng.randint(1, 300)


def _spans(rng: random.Random, h: _Header, trace_id: str) -> list[list[object]]:
    """Build one trace's span rows (ordered root first) as mutable lists."""
    kinds = ["workflow"] + rng.choices(_CHILD_KINDS, _CHILD_WEIGHTS, k=rng.choice(_CHILD_COUNTS))
    n = len(kinds)
    children: list[list[int]] = [[] for _ in range(n)]
    tasks = [0]
    for i in range(1, n):
        parent = rng.choice(tasks) if len(tasks) > 1 and rng.random() < 0.5 else 0
        children[parent].append(i)
        if kinds[i] == "task":
            tasks.append(i)
    dur = [0] * n
    gap = [0] * n
    for i in range(n - 1, -1, -1):
        if children[i]:
            g = rng.randint(1, 20)
            gap[i] = g
            dur[i] = g + sum(dur[c] + g for c in children[i])
        else:
            dur[i] = _leaf_ms(rng, kinds[i])
    start = [0] * n
    start[0] = h.start_ms
    ids = [f"{rng.getrandbits(64):016x}" for _ in range(n)]
    parents: list[str | None] = [None] * n
    for i in range(n):
        t = start[i] + gap[i]
        for c in children[i]:
            start[c] = t
            parents[c] = ids[i]
            t += dur[c] + gap[i]
    service = _service(h.project)
    resources = f'{{"service.name":"{service}","deployment.environment":"{h.environment}"}}'
    rows: list[list[object]] = []
    for i in range(n):
        kind = kinds[i]
        model: str | None = None
        p = c = ca = 0
        if kind == "generation":
            model = rng.choice(_CHAT_MODELS)
            p, c = rng.randint(20, 3000), rng.randint(5, 1200)
            ca = rng.randint(64, 2048) if rng.random() < 0.3 else 0
            name = "anthropic.messages" if model.startswith("claude") else "openai.chat"
            temp = rng.choice((0.0, 0.2, 0.7, 1.0))
            attrs = (
                f'{{"gen_ai.system":"{name.split(".")[0]}","gen_ai.request.model":"{model}",'
                f'"llm.temperature":{temp},"gen_ai.usage.prompt_tokens":{p},'
                f'"gen_ai.usage.completion_tokens":{c}}}'
            )
        elif kind == "embedding":
            model, name, p = _EMBED_MODEL, "openai.embeddings", rng.randint(5, 2000)
            attrs = f'{{"gen_ai.request.model":"{model}","gen_ai.usage.prompt_tokens":{p}}}'
        elif kind == "tool":
            name = rng.choice(_TOOL_NAMES)
            attrs = '{"tool.name":"%s","http.status_code":%d}'
        elif kind == "task":
            name = rng.choice(_TASK_NAMES)
            attrs = '{"netra.span.type":"task"}'
        else:
            name = ""  # root: filled in by the caller
            attrs = '{"netra.span.type":"workflow"}'
        error = rng.random() < _ERROR_RATE
        if kind == "tool":
            attrs = attrs % (name, 500 if error else 200)
        if model is None:
            pc = cc = cac = 0
        else:
            pp, cp, cap = PRICES_NANOS[model]
            pc, cc, cac = p * pp, c * cp, ca * cap
        s, e = start[i], start[i] + dur[i]
        rows.append([
            h.org.org_id, trace_id, ids[i], parents[i], name, kind, s, e, dur[i], model,
            p, c, ca, p + c + ca, pc, cc, cac, pc + cc + cac,
            0, "[]", "{}", 0, "[]", "{}", "error" if error else "ok", attrs,
            _ERROR_EVENT.format(ts=e) if error else "[]", "[]", resources,
            _ROOT_METADATA if i == 0 else "{}", int(error), e + 250 + (s % 1000),
        ])  # fmt: skip
    return rows


def _flag(
    rng: random.Random, rows: list[list[object]], pool: tuple[str, ...], col: int
) -> list[str]:
    """Mark one span with PII (col 18) or a violation (col 21); return the entity list."""
    row = rng.choice(rows[1:])
    found = sorted(rng.sample(pool, rng.randint(1, 2)))
    action = "MASK" if col == 18 else "FLAG"
    row[col] = 1
    row[col + 1] = json.dumps(found)
    row[col + 2] = json.dumps({f: action for f in found})
    return found


def generate(
    seed: int,
    traces: int,
    days: float,
    anchor_ms: int,
    batch: int = 5000,
    *,
    shape: str = "uniform",
) -> Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
    """Yield batches of ``(trace_rows, span_rows)`` for the given parameters.

    Parameters
    ----------
    seed : int
        Data seed; the same arguments always give the same rows.
    traces : int
        Number of traces (about 5 spans each).
    days : float
        Traces start in ``[anchor_ms - days, anchor_ms)``.
    anchor_ms : int
        Exclusive end of the data window, epoch milliseconds.
    batch : int
        Traces per yielded batch.
    shape : str
        How start times spread over the window, one of :data:`SHAPES`.

    Yields
    ------
    tuple of (list, list)
        Rows in :data:`TRACE_FIELDS` and :data:`SPAN_FIELDS` order.

    Examples
    --------
    >>> rows, spans = next(generate(0, 10, 1, 1_767_225_600_000))
    >>> len(rows), len(spans) >= 20
    (10, True)
    """
    rng = random.Random(f"netra-data:{seed}:{traces}:{days}:{anchor_ms}")
    span_ms = max(1, int(days * 86_400_000))
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    headers = _plan(rng, organisations(seed), traces, anchor_ms - span_ms, span_ms, shape)
    trace_rows: list[tuple[object, ...]] = []
    span_rows: list[tuple[object, ...]] = []
    for h in headers:
        trace_id = f"{rng.getrandbits(128):032x}"
        rows = _spans(rng, h, trace_id)
        root = rows[0]
        root[4] = rng.choice(_TRACE_NAMES)
        pii = _flag(rng, rows, _PII, 18) if rng.random() < 0.02 else []
        violations = _flag(rng, rows, _VIOLATIONS, 21) if rng.random() < 0.01 else []
        sums = [sum(r[k] for r in rows) for k in range(10, 18)]  # type: ignore[misc]
        models = sorted({r[9] for r in rows if r[9] is not None})  # type: ignore[type-var]
        trace_rows.append((
            h.org.org_id, trace_id, h.project, root[4], "workflow", root[6], root[7], root[8],
            h.session, h.tenant, h.user, h.environment, _service(h.project), json.dumps(models),
            *sums,
            int(bool(pii)), json.dumps(pii), int(bool(violations)), json.dumps(violations),
            int(any(r[30] for r in rows)),
        ))  # fmt: skip
        span_rows.extend(tuple(r) for r in rows)
        if len(trace_rows) >= batch:
            yield trace_rows, span_rows
            trace_rows, span_rows = [], []
    if trace_rows:
        yield trace_rows, span_rows
