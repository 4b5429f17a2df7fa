"""Check that the official Netra SDK, pointed at our local server, sees what NetraClient sees.

The SDK (``netra-sdk`` on PyPI) pulls in OpenTelemetry and dozens of instrumentations, so it
lives in a venv of its own; pass that venv's python::

    python3 -m venv /tmp/sdk && /tmp/sdk/bin/pip install netra-sdk
    python scripts/check_official_sdk.py /tmp/sdk/bin/python

It starts a LocalNetra, runs the SDK's usage client in the other interpreter (configured
only through NETRA_API_KEY / NETRA_OTLP_ENDPOINT, as its users do), and compares session
and tenant usage, every trace id (both directions, every sort) and span ids with ours.
Exit code 0 when everything is equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

from netra_frames import NetraClient
from netra_frames.server import LocalNetra

SDK_SIDE = r"""
import json, sys
from netra.config import Config
from netra.usage import Usage

args = json.loads(sys.argv[1])
usage = Usage(Config(app_name="compat"))
start, end = args["start"], args["end"]
out = {}
t = usage.get_tenant_usage("AceTech", start, end)
out["tenant"] = [t.tenant_id, t.organisation_id, t.token_count, t.request_count,
                 t.session_count, t.total_cost]
s = usage.get_session_usage(args["session"], start, end)
out["session"] = [s.session_id, s.token_count, s.request_count, s.total_cost]
for name, kw in args["listings"].items():
    out[name] = [tr.id for tr in usage.iter_traces(start_time=start, end_time=end, **kw)]
out["spans"] = {tid: [sp.id for sp in usage.iter_spans_by_trace_id(tid, limit=3)]
                for tid in args["span_traces"]}
print(json.dumps(out))
"""

LISTINGS: dict[str, dict[str, object]] = {
    "default": {"limit": 50},
    "up": {"limit": 50, "direction": "up"},
    "acetech": {"limit": 100, "tenant_id": "AceTech"},
    "cost_asc": {"limit": 100, "sort_field": "total_cost", "sort_order": "asc"},
    "latency_desc": {"limit": 100, "sort_field": "latency_ms", "sort_order": "desc"},
}


def main(sdk_python: str) -> int:
    with LocalNetra(seed=1, traces=1500) as srv, NetraClient(srv.api_key, srv.base_url) as ours:
        start = (srv.anchor - timedelta(days=31)).isoformat().replace("+00:00", "Z")
        end = srv.anchor.isoformat().replace("+00:00", "Z")
        traces = list(ours.iter_traces(start, end, limit=100))
        session = next(t["session_id"] for t in traces if t["session_id"])
        span_traces = [t["id"] for t in traces[:25]]
        args = {
            "start": start,
            "end": end,
            "session": session,
            "listings": LISTINGS,
            "span_traces": span_traces,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NETRA_", "OTEL_"))}
        env.update(NETRA_API_KEY=srv.api_key, NETRA_OTLP_ENDPOINT=srv.base_url + "/telemetry")
        run = subprocess.run(
            [sdk_python, "-c", SDK_SIDE, json.dumps(args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            return 1
        sdk = json.loads(run.stdout.strip().splitlines()[-1])
        t = ours.get_tenant_usage("AceTech", start, end)
        s = ours.get_session_usage(session, start, end)
        expected: dict[str, object] = {
            "tenant": [
                t.tenant_id,
                t.organisation_id,
                t.token_count,
                t.request_count,
                t.session_count,
                t.total_cost,
            ],
            "session": [s.session_id, s.token_count, s.request_count, s.total_cost],
            "spans": {
                tid: [sp["id"] for sp in ours.iter_spans_by_trace_id(tid, limit=3)]
                for tid in span_traces
            },
        }
        for name, kw in LISTINGS.items():
            expected[name] = [tr["id"] for tr in ours.iter_traces(start, end, **kw)]  # type: ignore[arg-type]
    failures = [k for k in expected if expected[k] != sdk.get(k)]
    for key in expected:
        value = expected[key]
        size = len(value) if isinstance(value, list | dict) else 1
        print(f"{key:<14} {'equal' if key not in failures else 'DIFFERENT'} ({size} items)")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1]))
