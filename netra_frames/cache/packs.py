"""The spans cache: write-once packs of settled traces' spans.

The spans of a trace are final once the trace ended more than ``settle`` ago. Its end
is the ``end_time`` of the traces frame the ids came from, when given, else the latest
``end_time`` (or ``start_time``) among its spans; a trace without spans and without a
known end is never stored. The final traces of one fetch are written as one *pack*,
``pack=<time>-<random>/`` in the span query's folder: one or a few ``part-*.parquet``
files holding their spans (trace after trace, API order within each) and a
``_SUCCESS`` marker listing ``traces``: ``[[trace_id, rows], ...]`` in file order. So
the spans of 2,000 cached traces are read from one or a few files, not 2,000.

Packs are never rewritten. When two packs hold a trace (``refresh=True``, or two
processes fetching it at once), the newest wins; a pack whose every trace a newer pack
holds is removed. The result is put together in input trace order by one gather.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import polars as pl

from .._files import MARKER, MARKER_VERSION, CorruptEntry, load_parquet_entry, matches, read_marker
from .._wire.convert import concat_frames
from .._wire.decode import finish
from ..schema import SPANS
from .entries import Scope, query_folder, report_damaged, write_entry
from .settings import CacheSettings

__all__ = ["SpansFetcher", "pack_frames", "trace_ends"]


class SpansFetcher(Protocol):
    """Fetch the spans of traces, as ``spans_frame`` does (what the cache asks of the engine).

    One Polars frame: the spans of ``trace_ids`` in input trace order, then API order.
    """

    def __call__(self, trace_ids: Sequence[str]) -> pl.DataFrame: ...


@cache
def _empty() -> pl.DataFrame:
    """The empty spans frame (one, shared: frames are immutable)."""
    return finish([], SPANS)


@dataclass
class _Pack:
    name: str
    marker: dict[str, Any]
    traces: list[tuple[str, int, int]]  # (trace id, offset in the pack, rows)


@dataclass
class _Index:
    packs: dict[str, _Pack] = field(default_factory=dict)
    where: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # id -> pack, off, n


def trace_ends(source: object) -> dict[str, datetime]:
    """``trace_id -> end_time`` of a traces frame given as ``trace_ids`` (else empty)."""
    if isinstance(source, pd.DataFrame):
        if not {"trace_id", "end_time"} <= set(source.columns):
            return {}
        try:
            source = pl.from_pandas(source[["trace_id", "end_time"]])
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            return {}
    if not isinstance(source, pl.DataFrame) or not {"trace_id", "end_time"} <= set(source.columns):
        return {}
    dtype = source.schema["end_time"]
    if not isinstance(dtype, pl.Datetime):
        return {}
    end = pl.col("end_time")
    end = (
        end.dt.replace_time_zone("UTC")
        if dtype.time_zone is None
        else end.dt.convert_time_zone("UTC")
    )
    pairs = source.select("trace_id", end).drop_nulls()
    return dict(zip(pairs["trace_id"].to_list(), pairs["end_time"].to_list(), strict=True))


def _traces_of(marker: Mapping[str, Any]) -> list[tuple[str, int, int]] | None:
    listed = marker.get("traces")
    if not isinstance(listed, list):
        return None
    out, offset = [], 0
    for item in listed:
        if not (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and item[1] >= 0
        ):
            return None
        out.append((item[0], offset, item[1]))
        offset += item[1]
    return out if offset == marker.get("rows") else None


class _Packs:
    """The packs of one span query's folder."""

    def __init__(self, folder: Path, query_id: str) -> None:
        self.folder = folder
        self.key = {"version": MARKER_VERSION, "format": "parquet", "query": query_id}

    def index(self) -> _Index:
        found: list[_Pack] = []
        try:
            folders = sorted(p for p in self.folder.iterdir() if p.name.startswith("pack="))
        except OSError:
            folders = []
        for folder in folders:
            try:
                marker = read_marker(folder)
            except CorruptEntry as exc:
                self.drop(folder.name, str(exc))
                continue
            if marker is None or not matches(marker, self.key) or marker.get("final") is not True:
                continue  # being written, or of another format
            traces = _traces_of(marker)
            if traces is None:
                self.drop(folder.name, "its marker lists no valid traces")
                continue
            found.append(_Pack(folder.name, marker, traces))
        found.sort(key=lambda p: (str(p.marker.get("written_at", "")), p.name))
        index = _Index()
        for pack in found:  # oldest first: a newer pack overrides
            index.packs[pack.name] = pack
            for trace_id, offset, rows in pack.traces:
                index.where[trace_id] = (pack.name, offset, rows)
        return index

    def load(self, pack: _Pack) -> pl.DataFrame:
        frames = load_parquet_entry(self.folder / pack.name, pack.marker)
        return concat_frames(frames) if frames else _empty()

    def drop(self, name: str, problem: str | None = None) -> None:
        """Remove a pack (marker first, so readers stop using it), reporting damage once."""
        folder = self.folder / name
        if problem is not None:
            report_damaged(folder, problem, "its traces' spans are fetched again.")
        try:
            (folder / MARKER).unlink(missing_ok=True)
            for path in folder.iterdir():
                path.unlink(missing_ok=True)
            folder.rmdir()
        except OSError:
            pass

    def write(
        self, frame: pl.DataFrame, traces: list[tuple[str, int]], now: datetime
    ) -> str | None:
        """Write a new pack of ``frame`` (rows of ``traces``, in order); return its name."""
        name = f"pack={now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        extra = {"traces": [list(t) for t in traces]}
        files = write_entry(self.folder / name, self.key, frame, now, extra=extra)
        return None if files is None else name


def _runs(frame: pl.DataFrame, ids: Sequence[str]) -> dict[str, tuple[int, int]] | None:
    """``id -> (offset, rows)`` of a fetched frame whose spans come trace by trace in
    ``ids`` order; ``None`` when the frame is not laid out so."""
    if not frame.height:
        return {i: (0, 0) for i in ids}
    runs = frame["trace_id"].rle()
    values = runs.struct.field("value").to_list()
    lengths = runs.struct.field("len").to_list()
    position = {trace_id: n for n, trace_id in enumerate(ids)}
    if len(set(values)) != len(values) or any(v not in position for v in values):
        return None
    if [position[v] for v in values] != sorted(position[v] for v in values):
        return None
    out = {i: (0, 0) for i in ids}
    offset = 0
    for value, length in zip(values, lengths, strict=True):
        out[value] = (offset, length)
        offset += length
    return out


def _ends_of(frame: pl.DataFrame) -> dict[str, datetime]:
    if not frame.height:
        return {}
    latest = pl.max_horizontal("end_time", "start_time")
    ends = frame.group_by("trace_id").agg(latest.max().alias("end")).drop_nulls()
    return dict(zip(ends["trace_id"].to_list(), ends["end"].to_list(), strict=True))


def _gather(sources: list[pl.DataFrame], picks: list[tuple[int, int, int]]) -> pl.DataFrame:
    """Rows ``(source, offset, rows)`` of ``sources``, in the order of ``picks``."""
    bases, total = [], 0
    for frame in sources:
        bases.append(total)
        total += frame.height
    kept = [(bases[s] + off, n) for s, off, n in picks if n]
    if not kept:
        return _empty() if not sources else sources[0].clear()
    index = np.concatenate([np.arange(start, start + n, dtype=np.int64) for start, n in kept])
    combined = concat_frames(sources)
    if len(index) == combined.height and bool((index == np.arange(combined.height)).all()):
        return combined
    return combined[index]


def pack_frames(
    ids: Sequence[str],
    ends: Mapping[str, datetime],
    settings: CacheSettings,
    scope: Scope,
    fetch: SpansFetcher,
    *,
    span_name: str | None,
    now: datetime,
) -> pl.DataFrame:
    """Return the spans of ``ids`` (input order), from packs and fetched as needed.

    ``ends``: known ``end_time`` per trace (from a traces frame); otherwise a trace's end
    is the latest end of its spans. ``span_name`` is part of the key.

    Examples
    --------
    >>> spans = pack_frames(ids, {}, settings, Scope.of(client), fetch, span_name=None, now=now)
    >>> spans["trace_id"].unique(maintain_order=True).to_list() == ids  # doctest: +SKIP
    True
    """
    folder, query_id, usable = query_folder(settings, scope, "spans", span_name=span_name)
    if not usable:
        return fetch(list(ids))
    packs = _Packs(folder, query_id)
    index = _Index()
    loaded: dict[str, pl.DataFrame] = {}
    for _ in range(3):
        index, loaded = packs.index(), {}
        if settings.refresh:
            break
        try:
            for name in sorted({index.where[i][0] for i in ids if i in index.where}):
                loaded[name] = packs.load(index.packs[name])
        except FileNotFoundError:
            continue  # removed by another writer meanwhile: look again
        except (CorruptEntry, OSError) as exc:
            packs.drop(name, str(exc))
            continue
        break
    missing = [i for i in ids if i not in index.where or index.where[i][0] not in loaded]
    fetched = fetch(missing) if missing else None
    runs = _runs(fetched, missing) if fetched is not None else {}
    if runs is None:
        return fetch(ids)  # a layout the cache cannot split: everything live
    if fetched is not None:
        _store_final(packs, index, fetched, missing, runs, ends, settings, now)
    names = sorted(loaded)
    sources = [loaded[n] for n in names] + ([fetched] if fetched is not None else [])
    slot = {n: k for k, n in enumerate(names)}
    picks = []
    for trace_id in ids:
        if trace_id in runs:
            picks.append((len(names), *runs[trace_id]))
        else:
            pack, offset, rows = index.where[trace_id]
            picks.append((slot[pack], offset, rows))
    return _gather(sources, picks)


def _store_final(
    packs: _Packs,
    index: _Index,
    fetched: pl.DataFrame,
    ids: list[str],
    runs: Mapping[str, tuple[int, int]],
    ends: Mapping[str, datetime],
    settings: CacheSettings,
    now: datetime,
) -> None:
    """Write the fetched traces that are final as one pack; drop packs it supersedes."""
    cutoff = now - settings.settle
    seen = _ends_of(fetched)
    final = []
    for trace_id in ids:
        end = ends.get(trace_id) or seen.get(trace_id)
        if end is not None and end <= cutoff:
            final.append(trace_id)
    if not final:
        return
    rows = _gather([fetched], [(0, *runs[i]) for i in final])
    name = packs.write(rows, [(i, runs[i][1]) for i in final], now)
    if name is None:
        return
    stored = set(final)
    for old in index.packs.values():
        if all(trace_id in stored for trace_id, _, _ in old.traces):
            packs.drop(old.name)
