"""The slowest spans and every error span of one tenant over the days before --end.

python examples/slow_and_error_spans.py --tenant AceTech --days 7 --end 2026-02-01

Without NETRA_API_KEY it runs against an embedded local server whose data ends now (leave
--end out); against ``netra-frames serve --anchor 2026-02-01``, pass ``--end 2026-02-01``.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

import polars as pl

import netra_frames as nf
from netra_frames.demo import client_or_local


def utc_time(text: str) -> datetime:
    """An ISO 8601 time; without a zone, UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", default="AceTech")
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument(
        "--end",
        type=utc_time,
        default=datetime.now(timezone.utc),
        help="end of the window, ISO 8601, UTC (default: now); 2026-02-01 for the data of "
        "'netra-frames serve --anchor 2026-02-01'",
    )
    args = parser.parse_args()
    end = args.end
    start = end - timedelta(days=args.days)

    with client_or_local() as client:
        traces = nf.traces_frame(
            start, end, tenant_id=args.tenant, backend="polars", progress=False, client=client
        )
        spans = nf.spans_frame(traces, backend="polars", progress=False, client=client)

    columns = ["trace_id", "span_id", "name", "kind", "model_name", "latency_ms", "status"]
    # The root span lasts as long as its trace: rank the spans inside traces.
    children = spans.filter(pl.col("parent_span_id").is_not_null())
    slowest = children.sort("latency_ms", descending=True, nulls_last=True).head(args.top)
    errors = spans.filter(pl.col("has_error") | (pl.col("status") == "error"))
    by_kind = (
        errors.group_by("kind")
        .agg(pl.len().alias("errors"))
        .sort(["errors", "kind"], descending=[True, False])
    )
    print(
        f"{args.tenant}: {traces.height} traces, {spans.height} spans, the {args.days:g} days "
        f"before {end:%Y-%m-%d %H:%M} UTC"
    )
    with pl.Config(tbl_width_chars=140, fmt_str_lengths=32, tbl_hide_column_data_types=True):
        print(f"\nThe {args.top} slowest spans inside traces")
        print(slowest.select(columns))
        print(f"\n{errors.height} error spans, by kind")
        print(by_kind)


if __name__ == "__main__":
    main()
