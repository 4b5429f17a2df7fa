"""Token usage by model per day, as a table and a chart (needs the ``plot`` extra).

python examples/tokens_by_model_per_day.py --tenant AceTech --days 30 --end 2026-02-01 \\
    --chart tokens.png

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
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--chart", default="tokens_by_model_per_day.png")
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
        spans = nf.spans_frame(
            traces, span_name="generation", backend="polars", progress=False, client=client
        )

    daily = (
        spans.filter(pl.col("model_name").is_not_null())
        .group_by(pl.col("start_time").dt.date().alias("day"), "model_name")
        .agg(pl.col("total_tokens").sum())
        .pivot(on="model_name", index="day", values="total_tokens")
        .sort("day")
        .fill_null(0)
    )
    daily = daily.select("day", *sorted(daily.columns[1:]))  # models in a stable order
    print(daily)
    if daily.height == 0:
        print(f"no model calls in [{start:%Y-%m-%d}, {end:%Y-%m-%d}): no chart (see --end)")
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("install the plot extra for the chart: pip install 'netra-frames[plot]'")
        return
    fig, ax = plt.subplots(figsize=(10, 4))
    for model in daily.columns[1:]:
        ax.plot(daily["day"].to_list(), daily[model].to_list(), marker="o", label=model)
    ax.set_title(f"Tokens per day by model, {args.tenant}")
    ax.set_ylabel("tokens")
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(args.chart)
    plt.close(fig)
    print(f"chart written to {args.chart}")


if __name__ == "__main__":
    main()
