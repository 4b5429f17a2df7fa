"""Export every trace of a month to one CSV file for finance (formula-safe cells).

python examples/export_month_csv.py --month 2026-11 --out traces-2026-11.csv
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

import netra_frames as nf
from netra_frames.demo import client_or_local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", help="YYYY-MM (default: the current month)")
    parser.add_argument("--out", help="CSV path (default traces-YYYY-MM.csv)")
    args = parser.parse_args()
    now = datetime.now(timezone.utc)
    start = datetime.strptime(args.month or f"{now:%Y-%m}", "%Y-%m").replace(tzinfo=timezone.utc)
    end = (start + timedelta(days=32)).replace(day=1)
    out = args.out or f"traces-{start:%Y-%m}.csv"

    with client_or_local() as client:
        traces = nf.traces_frame(
            start, end, sort_order="asc", backend="polars", progress=False, client=client
        )
    nf.write_frame(traces, out)  # lists become JSON text; cells like '=...' are neutralised
    total = traces["total_cost"].sum()
    print(f"{traces.height} traces of {start:%Y-%m} written to {out}; total cost ${total:,.2f}")


if __name__ == "__main__":
    main()
