"""The demo job: what an analyst does with netra_frames, against an embedded local server.

``netra-frames demo`` calls :func:`run_demo` and prints its :class:`DemoReport`. Nothing
leaves the machine: the server is a :class:`~netra_frames.server.LocalNetra` with
synthetic data, in this process, on a loopback port.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import polars as pl

from .answers import Report, report
from .client import NetraClient, TenantUsage
from .config import ENV_API_KEY
from .frames import spans_frame, traces_frame
from .output import write_frame

__all__ = [
    "FILES",
    "DemoReport",
    "client_or_local",
    "cost_by_model_day",
    "cost_by_user",
    "print_report",
    "run_demo",
]

TENANT = "AceTech"
DAYS = 30
FILES = (
    "traces.parquet",
    "spans.parquet",
    "cost_by_user.csv",
    "cost_by_model_day.csv",
    "cost_by_model_day.png",
    "report.html",
)
"""The files the demo writes, in this order (the chart needs the ``plot`` extra)."""


@dataclass(frozen=True)
class DemoReport:
    """What the demo fetched, computed and wrote."""

    base_url: str
    start: datetime
    end: datetime
    traces: pl.DataFrame
    spans: pl.DataFrame
    by_user: pl.DataFrame
    by_model_day: pl.DataFrame
    usage: TenantUsage
    files: list[Path] = field(default_factory=list)
    report: Report | None = None
    chart_note: str | None = None
    seconds: float = 0.0
    server_traces: int = 0  # the server's traces, every tenant's (``traces`` is one tenant's)

    @property
    def usage_agrees(self) -> bool:
        """Whether the usage endpoint equals the sums over the drained traces."""
        t = self.traces
        return (
            self.usage.request_count == t.height
            and self.usage.token_count == int(t["total_tokens"].sum())
            and self.usage.session_count == t["session_id"].drop_nulls().n_unique()
            and math.isclose(self.usage.total_cost, float(t["total_cost"].sum()), rel_tol=1e-9)
        )


def cost_by_user(traces: pl.DataFrame) -> pl.DataFrame:
    """Cost, tokens, requests and sessions per user, most expensive first.

    Examples
    --------
    >>> cost_by_user(nf.traces_frame(tenant_id="AceTech", backend="polars"))  # doctest: +SKIP
    """
    return (
        traces.group_by("user_id")
        .agg(
            pl.col("total_cost").sum().alias("total_cost"),
            pl.col("total_tokens").sum().alias("total_tokens"),
            pl.len().cast(pl.Int64).alias("requests"),
            pl.col("session_id").drop_nulls().n_unique().cast(pl.Int64).alias("sessions"),
        )
        .sort(["total_cost", "user_id"], descending=[True, False], nulls_last=True)
    )


def cost_by_model_day(spans: pl.DataFrame) -> pl.DataFrame:
    """Daily cost and tokens per model, from the spans that name a model.

    Examples
    --------
    >>> cost_by_model_day(nf.spans_frame(ids, backend="polars"))  # doctest: +SKIP
    """
    return (
        spans.filter(pl.col("model_name").is_not_null())
        .group_by(pl.col("start_time").dt.date().alias("day"), "model_name")
        .agg(
            pl.col("total_cost").sum().alias("total_cost"),
            pl.col("total_tokens").sum().alias("total_tokens"),
            pl.len().cast(pl.Int64).alias("calls"),
        )
        .sort(["day", "model_name"])
    )


def _chart(by_model_day: pl.DataFrame, path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "chart skipped: install the plot extra (pip install 'netra-frames[plot]')"
    wide = (
        by_model_day.pivot(on="model_name", index="day", values="total_cost")
        .sort("day")
        .fill_null(0)
    )
    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    bottom = [0.0] * wide.height
    days = wide["day"].to_list()
    for model in wide.columns[1:]:
        values = wide[model].to_list()
        ax.bar(days, values, bottom=bottom, label=model)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(f"Daily LLM cost by model, tenant {TENANT} (synthetic data)")
    ax.set_ylabel("USD")
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    tmp = path.with_suffix(".part.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return None


def _fetch(
    client: NetraClient, start: datetime, end: datetime, progress: bool | None
) -> tuple[pl.DataFrame, pl.DataFrame, TenantUsage, Report]:
    """The demo's requests: one drain of the tenant's traces and their spans, its usage, and
    the cost report built on those same frames (so nothing is drained twice)."""
    trace_frame = traces_frame(
        start, end, tenant_id=TENANT, backend="polars", progress=progress, client=client
    )
    span_frame = spans_frame(trace_frame, backend="polars", progress=progress, client=client)
    usage = client.get_tenant_usage(TENANT, start, end)
    cost_report = report(
        start, end, tenant_id=TENANT, traces=trace_frame, spans=span_frame, client=client
    )
    return trace_frame, span_frame, usage, cost_report


def run_demo(
    out: str | Path = "netra-demo",
    *,
    traces: int = 5000,
    seed: int = 0,
    anchor: datetime | None = None,
    progress: bool | None = None,
) -> DemoReport:
    """Run the demo end to end and return what it found; files go into ``out``.

    Parameters
    ----------
    out:
        The folder of the :data:`FILES`.
    traces:
        The synthetic traces of the embedded server, every tenant's over its 30 days; the
        demo drains tenant AceTech's share of them.
    seed, anchor:
        The data's seed and end (default: now); the same pair gives the same data.
    progress:
        Progress bars: ``None`` on a terminal only.

    Examples
    --------
    >>> demo = run_demo("netra-demo", traces=200, progress=False)
    >>> demo.usage_agrees
    True
    >>> sorted(p.name for p in Path("netra-demo").glob("*.parquet"))
    ['spans.parquet', 'traces.parquet']
    """
    from .server import LocalNetra

    began = datetime.now()
    out_dir = Path(out)
    with (
        LocalNetra(seed=seed, traces=traces, anchor=anchor) as srv,
        NetraClient(srv.api_key, srv.base_url) as client,
    ):
        end = srv.anchor
        start = end - timedelta(days=DAYS)
        trace_frame, span_frame, usage, cost_report = _fetch(client, start, end, progress)
        base_url = srv.base_url
    by_user = cost_by_user(trace_frame)
    by_model_day = cost_by_model_day(span_frame)
    frames = (trace_frame, span_frame, by_user, by_model_day)
    files = [
        write_frame(frame, out_dir / name) for frame, name in zip(frames, FILES[:4], strict=True)
    ]
    chart = out_dir / FILES[4]
    note = _chart(by_model_day, chart)
    if note is None:
        files.append(chart)
    files.append(cost_report.write(out_dir / FILES[5]))
    return DemoReport(
        base_url=base_url,
        start=start,
        end=end,
        traces=trace_frame,
        spans=span_frame,
        by_user=by_user,
        by_model_day=by_model_day,
        usage=usage,
        files=files,
        report=cost_report,
        chart_note=note,
        seconds=(datetime.now() - began).total_seconds(),
        server_traces=traces,
    )


def _table_style(rows: int = 10) -> pl.Config:
    return pl.Config(
        tbl_rows=rows,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        float_precision=4,
        fmt_str_lengths=32,
        tbl_width_chars=120,
    )


def print_report(report: DemoReport, stream: IO[str] | None = None) -> None:
    """Print the demo's summary: top users, usage agreement, top traces and the files.

    Parameters
    ----------
    report:
        What :func:`run_demo` returned.
    stream:
        Where to print (default: standard output).

    Examples
    --------
    >>> print_report(run_demo("netra-demo", traces=500, progress=False))  # doctest: +SKIP
    netra-frames demo: synthetic data from a local server at http://127.0.0.1:...
    """
    out = stream or sys.stdout
    t, u = report.traces, report.usage

    def say(text: str = "") -> None:
        print(text, file=out)

    say(f"netra-frames demo: synthetic data from a local server at {report.base_url}")
    say("(no account, no network: the server runs inside this process)")
    say(
        f"Tenant {TENANT}, {report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC: "
        f"{t.height:,} traces (of the server's {report.server_traces:,}, every tenant's), "
        f"{report.spans.height:,} spans, in {report.seconds:.1f} s"
    )
    say()
    say("Top users by cost")
    with _table_style(rows=8):
        say(str(report.by_user.head(8)))
    say()
    rows = [
        ("tokens", f"{u.token_count:,}", f"{int(t['total_tokens'].sum()):,}"),
        ("requests", f"{u.request_count:,}", f"{t.height:,}"),
        ("sessions", f"{u.session_count:,}", f"{t['session_id'].drop_nulls().n_unique():,}"),
        ("cost (USD)", f"{u.total_cost:,.6f}", f"{float(t['total_cost'].sum()):,.6f}"),
    ]
    say(f"Tenant usage: {'':<10}{'usage endpoint':>18}{'sum over traces':>18}")
    for name, a, b in rows:
        say(f"  {name:<22}{a:>18}{b:>18}")
    say(f"  agree: {'yes' if report.usage_agrees else 'NO - this is a bug, please report it'}")
    if report.report is not None:
        say(f"Cost report: {report.report.summary()}")
    say()
    say("Most expensive traces")
    top = t.sort("total_cost", descending=True).head(5)
    with _table_style():
        say(str(top.select("trace_id", "name", "user_id", "total_tokens", "total_cost")))
    say()
    say(f"Files in {report.files[0].parent.resolve()}/:")
    for path in report.files:
        say(f"  {path.name:<24}{path.stat().st_size:>12,} bytes")
    if report.chart_note:
        say(f"  ({report.chart_note})")


@contextmanager
def client_or_local(*, traces: int = 2000, seed: int = 0) -> Iterator[NetraClient]:
    """Yield a client from the environment, or one on an embedded local server.

    With ``NETRA_API_KEY`` set, the client is configured from the environment as usual;
    without it, a :class:`~netra_frames.server.LocalNetra` with synthetic data is started
    for the duration of the block. The examples use this so they run anywhere.

    Examples
    --------
    >>> with client_or_local(traces=200) as client:
    ...     page = client.list_traces("2000-01-01", "2100-01-01", limit=1)
    >>> len(page.traces)
    1
    """
    if os.environ.get(ENV_API_KEY):
        with NetraClient() as client:
            yield client
        return
    from .server import LocalNetra

    with LocalNetra(seed=seed, traces=traces) as srv, NetraClient(srv.api_key, srv.base_url) as c:
        yield c
