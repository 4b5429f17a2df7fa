"""Monthly cost report: cost, tokens and requests per tenant and per user.

Run it against Netra (set NETRA_API_KEY and NETRA_OTLP_ENDPOINT) or, with no key set,
against an embedded local server with synthetic data:

    python examples/monthly_cost_report.py --month 2026-11 --out reports/
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

import netra_frames as nf
from netra_frames.demo import client_or_local


def month_window(month: str | None) -> tuple[datetime, datetime]:
    """Return [first day of the month, first day of the next month) in UTC."""
    if month is None:
        now = datetime.now(timezone.utc)
        month = f"{now.year:04d}-{now.month:02d}"
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=timezone.utc)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", help="YYYY-MM (default: the current month)")
    parser.add_argument("--out", default="reports", help="output folder")
    args = parser.parse_args()
    start, end = month_window(args.month)

    with client_or_local() as client:
        traces = nf.traces_frame(start, end, backend="polars", progress=False, client=client)
        tenants = traces["tenant_id"].drop_nulls().unique().sort().to_list()
        usage = nf.tenant_usage_frame(
            tenants, start, end, backend="polars", progress=False, client=client
        )

    by_tenant = (
        traces.group_by("tenant_id")
        .agg(
            pl.col("total_cost").sum(),
            pl.col("total_tokens").sum(),
            pl.len().cast(pl.Int64).alias("requests"),
            pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
        )
        .sort("total_cost", descending=True)
    )
    by_user = (
        traces.group_by("tenant_id", "user_id")
        .agg(
            pl.col("total_cost").sum(),
            pl.col("total_tokens").sum(),
            pl.len().cast(pl.Int64).alias("requests"),
        )
        .sort(["tenant_id", "total_cost"], descending=[False, True])
    )
    # The usage endpoint and the sum over traces must tell the same story.
    check = by_tenant.join(usage.select("tenant_id", "request_count"), on="tenant_id")
    assert (check["requests"] == check["request_count"]).all(), check

    by_tenant = by_tenant.with_columns(pl.col("tenant_id").fill_null("(no tenant)"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nf.write_frame(by_tenant, out / f"cost_by_tenant_{start:%Y-%m}.csv")
    nf.write_frame(by_user, out / f"cost_by_user_{start:%Y-%m}.csv")
    print(f"Cost report {start:%Y-%m}: {traces.height} traces, {len(tenants)} tenants")
    with pl.Config(tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True):
        print(by_tenant)
    print(f"written to {out}/")


if __name__ == "__main__":
    main()
