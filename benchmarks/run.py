"""Benchmarks, side by side in one run: ``python -m benchmarks.run [--quick] [--out DIR]``.

Every figure is a ratio of two measurements taken in the same run on the same data (the
machine may be shared, so absolute times mean little). The local server runs in its own
process; per-request latency is injected there (``--latency-ms``, default 50).

1. ``decode_*``: already-fetched page bodies -> final typed frame, over bare ``json.loads``
   of the same bytes (median of interleaved repeats). Target <= 1.3.
2. ``traces_drain_<shape>``, ``spans_vs_urllib3``, ``client_cpu_ms_per_request``,
   ``rate_limit_*``, ``cancel_max_s``: the engine (see :mod:`benchmarks.engine`).
3. ``spans_many``: ``spans_frame`` of many traces at 50 ms vs the same sequential way.
   Target >= 8.
4. ``memory_*``: peak RSS growth during a span drain of ~200,000 spans (full mode), in a
   fresh subprocess: ``VmHWM`` is reset to the current RSS (``/proc/self/clear_refs``)
   after a warm-up, then read after the drain; divided by the final frame's own size
   (``estimated_size()`` / ``memory_usage(deep=True)``, which the frame holds until the
   end). Target <= 2.5. For pandas 1.0 is the floor. Polars' ``estimated_size()`` counts
   a String value's bytes but not its 16-byte view, which the frame holds too
   (``memory_polars_string_views_bytes``, ~0.7x the estimate on this data), so the polars
   floor is ~1.7. ``memory_*_end_growth_bytes`` is the RSS growth left after the drain,
   with the frame alive: the peak less it is what the drain held only for a while.
5. ``server_pages_per_s``: pages of 100 traces per second served to 8 keep-alive clients,
   each its own process (``http.client``, no JSON decode), no injected latency; reported
   (no longer a target since issue 29: it moved by +-40% with the minute on a shared machine).
6. ``cache_*``: the local cache (see :mod:`benchmarks.cache`).
7. ``efficiency_*``, ``inflight_*``: drains at 200 ms against pages x page time / workers
   (see :mod:`benchmarks.efficiency`).
8. ``polite_*``: drains under a rate limit, with and without rate-limit headers (see
   :mod:`benchmarks.polite`).

Results are printed as a table and written to ``benchmarks/results/<timestamp>.json``.
``--only memory,cache`` runs only those sections (their targets alone are checked); the
sections are ``decode``, ``engine``, ``spans_many``, ``cache``, ``polite``, ``memory``,
``server`` and ``efficiency``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import requests

import netra_frames as nf
from benchmarks._harness import MEMORY_PRELUDE, Server, sdk_pages
from benchmarks.cache import TARGETS as CACHE_TARGETS
from benchmarks.cache import bench_cache
from benchmarks.efficiency import TARGETS as EFFICIENCY_TARGETS
from benchmarks.efficiency import bench_efficiency
from benchmarks.engine import TARGETS as ENGINE_TARGETS
from benchmarks.engine import bench_engine
from benchmarks.pipeline import TARGETS as PIPELINE_TARGETS
from benchmarks.pipeline import bench_pipeline
from benchmarks.polite import TARGETS as POLITE_TARGETS
from benchmarks.polite import bench_polite
from netra_frames._wire.checks import Expect, SeenIds, check_batch
from netra_frames._wire.convert import to_backend as _to_backend
from netra_frames._wire.decode import decode_spans_page, decode_traces_page, finish
from netra_frames._wire.request import Request
from netra_frames.query import SpanQuery, TraceQuery
from netra_frames.schema import SPANS, TRACES

RESULTS = Path(__file__).parent / "results"
SECTIONS = (
    "decode", "engine", "spans_many", "cache", "polite", "memory", "server", "pipeline",
    "efficiency",
)  # fmt: skip
"""Every section of a run, in the order they run (``--only`` picks some)."""
REPORTED = ("client_cpu_vs_urllib3", "server_pages_per_s")
"""Figures reported without a target: they moved with the machine (issue 29)."""
TARGETS = {
    "decode_traces_polars": ("<=", 1.3),
    "decode_traces_pandas": ("<=", 1.3),
    "decode_spans_polars": ("<=", 1.3),
    "decode_spans_pandas": ("<=", 1.3),
    "check_share_traces": ("<=", 0.05),
    "check_share_spans": ("<=", 0.05),
    **ENGINE_TARGETS,
    "spans_many_speedup": (">=", 8.0),
    "memory_polars": ("<=", 2.5),
    "memory_pandas": ("<=", 2.5),
    **CACHE_TARGETS,
    **EFFICIENCY_TARGETS,
    **POLITE_TARGETS,
    **PIPELINE_TARGETS,
}


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one mode."""

    traces: int
    decode_trace_pages: int
    decode_span_traces: int
    spans_traces: int
    memory_traces: int
    throughput_seconds: float


FULL = Sizes(80_000, 100, 2000, 500, 39_500, 5.0)
"""The first org (the API key's) holds ~71% of the server's traces: ~56,000 in the traces
drain; 39,500 of its traces hold ~5 spans each, a drain of ~200,000 spans for memory."""
QUICK = Sizes(3_000, 10, 100, 40, 400, 1.0)


def to_backend(frame: Any) -> Any:
    """The pandas frame of a polars frame, as ``backend="pandas"`` builds it."""
    return _to_backend(frame, "pandas")


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _fetch_raw(client: nf.NetraClient, request: Request) -> bytes:
    body: bytes = client.transport.send(request, lambda b: b)
    return body


def bench_decode(
    client: nf.NetraClient, server: Server, sizes: Sizes, repeats: int
) -> dict[str, Any]:
    """Metric 1: decode overhead over ``json.loads`` of the same bytes."""
    start, end = server.anchor - timedelta(days=30), server.anchor
    trace_pages: list[bytes] = []
    cursor = None
    for _ in range(sizes.decode_trace_pages):
        query = TraceQuery.build(start, end, page_size=100)
        raw = _fetch_raw(client, query.request(cursor=cursor))
        trace_pages.append(raw)
        page = json.loads(raw)["data"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["data"][-1]["cursor"]
    ids = nf.traces_frame(
        start,
        end,
        max_rows=sizes.decode_span_traces,
        backend="polars",
        client=client,
        progress=False,
    )["trace_id"].to_list()
    span_pages = [_fetch_raw(client, SpanQuery.build(i, page_size=100).request()) for i in ids]
    out: dict[str, Any] = {
        "decode_trace_pages": len(trace_pages),
        "decode_trace_bytes": sum(map(len, trace_pages)),
        "decode_span_pages": len(span_pages),
        "decode_span_bytes": sum(map(len, span_pages)),
    }
    for name, pages, decode, columns in (
        ("traces", trace_pages, decode_traces_page, TRACES),
        ("spans", span_pages, decode_spans_page, SPANS),
    ):
        times: dict[str, list[float]] = {"loads": [], "polars": [], "pandas": []}
        for _ in range(repeats):  # interleaved, so load changes hit all three alike
            times["loads"].append(_timed(lambda p=pages: [json.loads(b) for b in p]))
            times["polars"].append(
                _timed(lambda p=pages, d=decode, c=columns: finish([d(b) for b in p], c))
            )
            times["pandas"].append(
                _timed(
                    lambda p=pages, d=decode, c=columns: to_backend(finish([d(b) for b in p], c))
                )
            )
        loads = statistics.median(times["loads"])
        out[f"decode_{name}_json_loads_s"] = loads
        for backend in ("polars", "pandas"):
            out[f"decode_{name}_{backend}"] = statistics.median(times[backend]) / loads
    out.update(_check_share(trace_pages, span_pages, ids, (start, end), repeats))
    return out


def _check_share(
    trace_pages: list[bytes],
    span_pages: list[bytes],
    ids: list[str],
    window: tuple[datetime, datetime],
    repeats: int,
) -> dict[str, Any]:
    """The row checks (``_wire/checks.py``) over the decoding they follow: the same pages
    decoded into one typed frame, then checked as the engine checks a batch (each row against
    its page's range, the filters, unique ids in the batch and the drain, required fields,
    the time order; the spans against the trace asked for). Target <= 5%."""
    out: dict[str, Any] = {}
    for name, pages, decode, columns in (
        ("traces", trace_pages, decode_traces_page, TRACES),
        ("spans", span_pages, decode_spans_page, SPANS),
    ):
        decoding, checking = [], []
        for _ in range(repeats):
            decoded = [decode(b) for b in pages]
            for page, trace_id in zip(decoded, ids if name == "spans" else pages, strict=False):
                if name == "spans":
                    page.expect = Expect(trace_id=str(trace_id))
                else:
                    page.expect = Expect(*window, window=window, order="desc")
            began = time.perf_counter()
            frame = finish(decoded, columns)
            decoding.append(time.perf_counter() - began)
            began = time.perf_counter()
            check_batch(frame, decoded, spans=name == "spans")
            if name == "traces":
                SeenIds().add(frame["trace_id"])
            checking.append(time.perf_counter() - began)
        out[f"check_share_{name}"] = statistics.median(checking) / statistics.median(decoding)
    return out


def _sdk_traces(base_url: str, api_key: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The official-SDK way: one page after another, one dict per row, a frame at the end."""
    rows: list[dict[str, Any]] = []
    for data, _ in sdk_pages(base_url, api_key, start, end, direction="down"):
        for item in data["data"]:
            rows.append(dict(item))
    return pd.DataFrame(rows)


def _sdk_spans(base_url: str, api_key: str, trace_ids: list[str]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    with requests.Session() as session:
        for trace_id in trace_ids:
            cursor = None
            while True:
                params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
                resp = session.get(
                    f"{base_url}/sdk/traces/{trace_id}/spans",
                    params=params,
                    headers={"x-api-key": api_key},
                    timeout=30,
                )
                resp.raise_for_status()
                data = resp.json()["data"]
                rows.extend(dict(item) for item in data["data"])
                if not data["pageInfo"]["hasNextPage"] or not data["data"]:
                    break
                cursor = data["data"][-1]["cursor"]
    return pd.DataFrame(rows)


def bench_spans_many(
    client: nf.NetraClient, server: Server, sizes: Sizes, latency: float
) -> dict[str, Any]:
    """Metric 3: spans of many traces at ``latency`` ms per request vs the sequential way."""
    start, end = server.anchor - timedelta(days=30), server.anchor
    ids = nf.traces_frame(
        start, end, max_rows=sizes.spans_traces, backend="polars", client=client, progress=False
    )["trace_id"].to_list()
    server.command(f"latency {latency}")
    try:
        began = time.perf_counter()
        frame = nf.spans_frame(ids, backend="pandas", client=client, progress=False)
        ours = time.perf_counter() - began
        began = time.perf_counter()
        base = _sdk_spans(server.base_url, server.api_key, ids)
        sdk = time.perf_counter() - began
    finally:
        server.command("latency 0")
    assert len(frame) == len(base), (len(frame), len(base))
    return {
        "spans_many_traces": len(ids),
        "spans_many_rows": len(frame),
        "spans_many_s": ours,
        "spans_many_sdk_s": sdk,
        "spans_many_speedup": sdk / ours,
    }


_MEMORY_CHILD = r"""
import json, sys
from datetime import timedelta, datetime
import polars as pl
import netra_frames as nf

base_url, api_key, anchor, n, backend = sys.argv[1:6]
anchor = datetime.fromisoformat(anchor)
start, end = anchor - timedelta(days=30), anchor
with nf.NetraClient(api_key, base_url) as client:
    ids = nf.traces_frame(start, end, max_rows=int(n), backend="polars", client=client,
                          progress=False)["trace_id"].to_list()
    nf.spans_frame(ids[:20], backend=backend, client=client, progress=False)  # warm up
    reset = reset_peak()
    before = status("VmRSS:")
    frame = nf.spans_frame(ids, backend=backend, client=client, progress=False)
    peak, after = status("VmHWM:"), status("VmRSS:")
    size = (frame.estimated_size() if backend == "polars"
            else int(frame.memory_usage(deep=True).sum()))
    views = 0  # 16 bytes a String value, left out of Polars' estimated_size
    for name, dtype in (frame.schema.items() if backend == "polars" else ()):
        if dtype == pl.String:
            views += 16 * frame.height
        elif dtype == pl.List(pl.String):
            views += 16 * int(frame[name].list.len().sum() or 0)
    print(json.dumps({"rows": len(frame), "peak_growth": peak - before, "frame_bytes": size,
                      "end_growth": after - before, "views": views, "hwm_reset": reset}))
"""


def bench_memory(server: Server, sizes: Sizes) -> dict[str, Any]:
    """Metric 4: peak RSS growth during a span drain over the final frame's size."""
    out: dict[str, Any] = {}
    for backend in ("polars", "pandas"):
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                MEMORY_PRELUDE + _MEMORY_CHILD,
                server.base_url,
                server.api_key,
                server.anchor.isoformat(),
                str(sizes.memory_traces),
                backend,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        out[f"memory_{backend}_rows"] = info["rows"]
        out[f"memory_{backend}_frame_bytes"] = info["frame_bytes"]
        out[f"memory_{backend}_peak_growth_bytes"] = info["peak_growth"]
        out[f"memory_{backend}_end_growth_bytes"] = info["end_growth"]
        if backend == "polars":
            out["memory_polars_string_views_bytes"] = info["views"]
        out[f"memory_{backend}"] = info["peak_growth"] / info["frame_bytes"]
        out["memory_hwm_reset"] = info["hwm_reset"]
    return out


_LOAD_CHILD = r"""
import http.client, json, socket, sys, time
from urllib.parse import urlsplit

base_url, api_key, body, start_at, seconds = sys.argv[1:6]
template, start_at, seconds = json.loads(body), float(start_at), float(seconds)
url = urlsplit(base_url)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
conn.connect()
conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
headers = {"x-api-key": api_key, "content-type": "application/json"}
path = url.path.rstrip("/") + "/sdk/traces"
cursor, pages = None, 0
time.sleep(max(0.0, start_at - time.time()))
end = start_at + seconds
while True:
    pagination = {"limit": 100, **({"cursor": cursor} if cursor else {})}
    conn.request("POST", path, json.dumps({**template, "pagination": pagination}), headers)
    resp = conn.getresponse()
    data = resp.read()
    if time.time() > end:
        break
    if resp.status != 200:
        raise SystemExit(f"HTTP {resp.status}: {data[:200]!r}")
    pages += 1
    cursor = None
    if data.endswith(b'"hasNextPage":true}}}'):
        at = data.rfind(b'"cursor":"') + len(b'"cursor":"')
        cursor = data[at : data.index(b'"', at)].decode()
print(pages)
"""


def bench_server(server: Server, sizes: Sizes, clients: int = 8) -> dict[str, Any]:
    """Metric 5: pages of 100 traces per second with ``clients`` keep-alive clients.

    Each client is its own process (stdlib ``http.client``, ``TCP_NODELAY``, no JSON
    decode: the next cursor is the bytes after the last ``"cursor":"``), so the figure
    measures the server, not a GIL-bound load generator. All clients start at the same
    wall-clock instant and count the pages completed in the same window.
    """
    start, end = server.anchor - timedelta(days=30), server.anchor
    body = json.dumps(
        {
            "startTime": nf.times.format_time(start),
            "endTime": nf.times.format_time(end),
            "filters": [],
        }
    )
    start_at = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _LOAD_CHILD,
                server.base_url,
                server.api_key,
                body,
                str(start_at),
                str(sizes.throughput_seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    time.sleep(max(0.0, start_at - time.time()))
    cpu = _cpu_seconds(server.proc.pid)
    time.sleep(sizes.throughput_seconds)
    cpu = _cpu_seconds(server.proc.pid) - cpu
    counts = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60 + sizes.throughput_seconds)
        if proc.returncode != 0:
            raise RuntimeError(f"a load client failed (exit {proc.returncode})")
        counts.append(int(out.strip()))
    pages = sum(counts)
    return {
        "server_pages": pages,
        "server_pages_per_s": pages / sizes.throughput_seconds,
        "server_clients": clients,
        "server_seconds": sizes.throughput_seconds,
        "server_cpu_share": cpu / sizes.throughput_seconds,
        "server_cpu_ms_per_page": 1000 * cpu / max(pages, 1),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_ticks() -> tuple[int, int] | None:
    """``(steal, total)`` CPU ticks of the machine so far (Linux), else ``None``."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return None
    ticks = [int(f) for f in fields] + [0] * (8 - len(fields))
    return ticks[7], sum(ticks)


def _steal_since(before: tuple[int, int] | None) -> float | None:
    """The share of CPU time the hypervisor took from this machine since ``before``.

    A shared virtual machine loses CPU to its neighbours ("steal"); a figure measured
    while it was high says more about them than about the code.
    """
    after = _cpu_ticks()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def _on_one_server(
    section: Callable[[str, Callable[[], dict[str, Any]]], None],
    only: Sequence[str],
    sizes: Sizes,
    latency: float,
) -> None:
    """Run the sections that share one server (all but ``efficiency``) that ``only`` names."""
    quick = sizes is QUICK
    server = Server(sizes.traces)
    try:
        with nf.NetraClient(server.api_key, server.base_url) as client:
            section(
                "decode", lambda: bench_decode(client, server, sizes, repeats=3 if quick else 7)
            )
            section(
                "engine",
                lambda: bench_engine(
                    client,
                    server,
                    sizes,
                    latency,
                    _sdk_traces,
                    lambda shape, days: Server(sizes.traces, shape, days),
                ),
            )
            section("spans_many", lambda: bench_spans_many(client, server, sizes, latency))
            if "cache" in only:
                server.command(f"latency {latency}")
            try:
                section(
                    "cache",
                    lambda: bench_cache(
                        client,
                        server,
                        repeats=1 if quick else 3,
                        span_traces=sizes.decode_span_traces,
                    ),
                )
            finally:
                if "cache" in only:
                    server.command("latency 0")
        section("polite", lambda: bench_polite(server, quick))
        section("memory", lambda: bench_memory(server, sizes))
        section("server", lambda: bench_server(server, sizes))
    finally:
        server.close()
    section(
        "pipeline",
        lambda: bench_pipeline(
            1_000 if quick else 19_400,
            repeats=1 if quick else 3,
            memory_traces=3_000 if quick else None,
        ),
    )


def run(
    quick: bool, latency: float, out_dir: Path, only: Sequence[str] = SECTIONS
) -> dict[str, Any]:
    """Run the benchmarks (the sections ``only``); return the results (also written as JSON
    under ``out_dir``)."""
    sizes = QUICK if quick else FULL
    started, ticks = time.perf_counter(), _cpu_ticks()
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "latency_ms": latency,
        "traces": sizes.traces,
        "sections": list(only),
    }

    def section(name: str, measure: Callable[[], dict[str, Any]]) -> None:
        if name not in only:
            return
        before = _cpu_ticks()
        results.update(measure())
        results[f"steal_share_{name}"] = _steal_since(before)

    if set(only) - {"efficiency"}:
        _on_one_server(section, only, sizes, latency)
    section("efficiency", lambda: bench_efficiency(Server, quick))
    results["steal_share"] = _steal_since(ticks)
    results["elapsed_s"] = time.perf_counter() - started
    results["targets"] = {
        name: {
            "op": op,
            "target": target,
            "value": results[name],
            "met": results[name] <= target if op == "<=" else results[name] >= target,
        }
        for name, (op, target) in TARGETS.items()
        if name in results
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = results["mode"] if tuple(only) == SECTIONS else f"{results['mode']}-{'-'.join(only)}"
    path = out_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{suffix}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
    results["path"] = str(path)
    return results


def _sections(text: str) -> tuple[str, ...]:
    """The ``--only`` value: known section names, in the order they run."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section {', '.join(unknown) or repr(text)}; choose from {', '.join(SECTIONS)}"
        )
    return tuple(name for name in SECTIONS if name in names)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory of the JSON")
    parser.add_argument(
        "--only",
        type=_sections,
        default=SECTIONS,
        metavar="SECTION[,SECTION...]",
        help=f"run only these sections, comma-separated: {', '.join(SECTIONS)}",
    )
    args = parser.parse_args(argv)
    results = run(args.quick, args.latency_ms, args.out, args.only)
    print(f"{'metric':<28} {'value':>10}  target   met")
    for name, t in results["targets"].items():
        met = "met" if t["met"] else "NOT MET"
        print(f"{name:<28} {t['value']:>10.2f}  {t['op']} {t['target']:<5} {met}")
    for name in REPORTED:
        if name in results:
            print(f"{name:<28} {results[name]:>10.2f}  (reported)")
    steal = results["steal_share"]
    stolen = "" if steal is None else f"; {steal:.0%} of the CPU stolen by the hypervisor"
    print(f"({results['mode']} mode, {results['elapsed_s']:.0f}s{stolen}; JSON: {results['path']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
