"""Render docs/columns.md from netra_frames.schema (the one declaration of every column).

    python docs/gen_columns.py            # rewrite docs/columns.md
    python docs/gen_columns.py --check    # exit 1 when docs/columns.md is stale

tests/project/test_docs.py checks that the committed file equals :func:`render`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import polars as pl

from netra_frames import schema

TARGET = Path(__file__).with_name("columns.md")

TABLES = (
    ("traces", "traces_frame", schema.TRACES),
    ("spans", "spans_frame", schema.SPANS),
    ("session usage", "session_usage_frame", schema.SESSION_USAGE),
    ("tenant usage", "tenant_usage_frame", schema.TENANT_USAGE),
)

ANSWERS = (
    (
        "span tree",
        "span_tree",
        schema.SPAN_TREE,
        "Added after the spans frame's own columns (computed; see docs/answers.md).",
    ),
    ("sessions", "sessions_frame", schema.SESSIONS, "Computed from the traces of the window."),
    (
        "usage",
        "usage_frame",
        schema.USAGE_KEYS + schema.USAGE,
        "Grouping columns first (`period` with `freq=`, then the `by=` names in the order "
        "given; only those asked for), then the totals (computed from the traces; from the "
        'spans that name a model with `by=["model"]`).',
    ),
)
"""The answers' frames (netra_frames.answers): computed columns, no wire field."""

COMPUTED = {
    "depth": "0 for a root, else the parent's depth + 1",
    "root_span_id": "the span its chain of parents ends at",
    "path": "span names from the root down to the span",
    "child_count": "spans whose parent is this span",
    "self_ms": "duration minus the union of the children's intervals clipped to the span",
    "subtree_tokens": "total_tokens over the span and its descendants",
    "subtree_cost": "total_cost over the span and its descendants",
    "subtree_spans": "the span and its descendants",
    "orphan": "the parent named is not in the frame (the span is then a root)",
    "cycle": "the parent links run into a loop (cut above its first span)",
    "sessions_frame.session_id": "the session",
    "sessions_frame.tenant_id": "tenant of the session's first trace",
    "user_ids": "distinct users, in order of first appearance",
    "start_time": "the first trace's start",
    "end_time": "the last trace's end",
    "duration_ms": "from the first start to the last end",
    "traces": "traces of the session (requests)",
    "errors": "traces (or model calls) with has_error",
    "trace_names": "names of the traces, in start order",
    "period": "start of the UTC period of the trace's start_time",
    "model": "the group: model_name of the span",
    "requests": 'traces (model calls with by=["model"])',
    "sessions": "distinct non-null session_id",
    "users": "distinct non-null user_id",
    "pii": "rows with has_pii",
    "violations": "rows with has_violation",
}
"""What a computed column of the answers holds (the "how" column of their tables)."""

READS = {
    "plain": "",
    "iso": "ISO 8601 string, read as a UTC datetime",
    "epoch_ms": "epoch milliseconds (sent as a string), read as a UTC datetime",
    "json": "JSON text (objects are encoded as JSON)",
}


USAGE_WIRE = {
    "session_id": "session_id",
    "tenant_id": "tenant_id",
    "organisation_id": "organisation_id",
    "token_count": "tokenCount",
    "request_count": "requestsCount",
    "session_count": "sessionsCount",
    "total_cost": "totalCost",
}
"""Wire names of the usage endpoints (docs/api-contract.md), by frame column."""


def _polars(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return f'Datetime("{dtype.time_unit}", "{dtype.time_zone}")'
    return str(dtype)


def _pandas(column: schema.Column) -> str:
    dtype = schema.arrow_to_pandas_dtype(schema.arrow_type(column.dtype))
    if isinstance(dtype, pd.StringDtype):
        return f"string[{dtype.storage}]"
    return str(dtype)


def _wire(column: schema.Column, usage: bool) -> str:
    if usage:
        return f"`{USAGE_WIRE[column.name]}`" if column.name in USAGE_WIRE else "—"
    return f"`{column.source}`"


def _note(column: schema.Column, usage: bool) -> str:
    if usage and column.name in ("start", "end"):
        return "the window asked for (not sent by the API)"
    return READS[column.read]


def _how(function: str, column: schema.Column) -> str:
    note = COMPUTED.get(f"{function}.{column.name}", COMPUTED.get(column.name))
    if note is not None:
        return note
    return "the group" if column.dtype == schema.STRING else "sum"


SAVING = """\
## Saving a pandas frame and reading it back

The list columns (`models`, `pii_entities`, `violations`, `user_ids`, ...) are
`list<item: string>[pyarrow]` in pandas: typed lists, which pickling, DuckDB and Dask keep
as lists (Dask would turn an `object` column of lists into strings). pandas writes them to
Parquet but cannot yet read its own file back
([pandas#57411](https://github.com/pandas-dev/pandas/issues/57411)); with
`dtype_backend="pyarrow"` it can, and the schema's dtypes then give the frame back exactly:

```python
>>> import pandas as pd
>>> import netra_frames as nf
>>> df = nf.traces_frame("2026-01-01", "2026-02-01", tenant_id="AceTech")
>>> df.to_parquet("traces.parquet")
>>> pd.read_parquet("traces.parquet")
TypeError: data type 'list<item: string>[pyarrow]' not understood
>>> back = pd.read_parquet("traces.parquet", dtype_backend="pyarrow")
>>> back.astype(nf.schema.pandas_dtypes(nf.schema.TRACES)).equals(df)
True
```

Dask's files read back the same way: `dd.read_parquet(path, dtype_backend="pyarrow")`
([scale-out](scale-out.md)). The files of `nf.write_frame(df, "traces.parquet")` and
`nf.export_traces` need nothing: a plain `pd.read_parquet` reads them (lists as arrays,
numbers as NumPy dtypes), as do Polars and DuckDB. `df.to_csv` writes a list as
pandas prints it (`['gpt-4o' 'gpt-4o-mini']`); `nf.write_frame(df, "traces.csv")` joins it
with `"; "` for a spreadsheet. `tests/doors/test_round_trips.py` checks each of these.
"""


def render() -> str:
    """Return the text of docs/columns.md."""
    lines = [
        "# Column reference",
        "",
        "<!-- Generated by docs/gen_columns.py from netra_frames/schema.py; do not edit. -->",
        "",
        "Every frame has exactly these columns, in this order, with these types, also when it",
        "is empty. The pandas dtypes are nullable (never `object`). Wire fields that the schema",
        "does not know are kept after these columns, with an inferred type. Wire fields dropped",
        f"from every frame: {', '.join(f'`{n}`' for n in sorted(schema.DROPPED_WIRE_FIELDS))}.",
        "",
    ]
    for title, function, columns in TABLES:
        usage = "usage" in title
        lines += [
            f"## {title.capitalize()} — `{function}`",
            "",
            "| column | Polars | pandas | wire field | read as |",
            "|---|---|---|---|---|",
        ]
        for c in columns:
            lines.append(
                f"| `{c.name}` | `{_polars(c.dtype)}` | `{_pandas(c)}` | {_wire(c, usage)} "
                f"| {_note(c, usage)} |"
            )
        lines.append("")
    for title, function, columns, intro in ANSWERS:
        lines += [
            f"## {title.capitalize()} — `{function}`",
            "",
            intro,
            "",
            "| column | Polars | pandas | how |",
            "|---|---|---|---|",
        ]
        for c in columns:
            lines.append(
                f"| `{c.name}` | `{_polars(c.dtype)}` | `{_pandas(c)}` | {_how(function, c)} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n" + SAVING


def main(argv: list[str] | None = None) -> int:
    """Write docs/columns.md, or with ``--check`` compare it."""
    parser = argparse.ArgumentParser(description="Render docs/columns.md from the schema.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run python docs/gen_columns.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
