"""SQLite storage of the synthetic data and every query the server runs; no HTTP here.

The schema (its SQL text is in :mod:`netra_frames.server.schema_sql`) keeps every sort key
``NOT NULL`` (tokens and costs are 0 when absent) so keyset
pagination ``WHERE (key, id) > (?, ?) ORDER BY key, id LIMIT n`` works for every sort field.
Costs are stored as integer nano-USD and only turned into float USD on the way out. Column
and sort-field names in SQL come from fixed whitelists; user values are always bound.

Speed: a trace's wire JSON (everything but ``cursor``) is rendered once at load time into the
``wire`` column; span items are rendered by SQLite per query. A page is fetched in ONE SQLite
step (see :meth:`Store._page`), because the ``sqlite3`` module releases the GIL on every row
step and busy handler threads then convoy on the GIL.

Concurrency: an in-memory database is a named shared-cache database kept alive by a "keeper"
connection; handler threads borrow connections from a small pool (:meth:`Store.connection`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from netra_frames.server import synth
from netra_frames.server.schema_sql import (
    INDEXES,
    SPAN_INSERT,
    SPAN_JSON,
    SPANS_TABLE,
    TRACE_INSERT,
    TRACE_JSON,
    TRACES_TABLE,
)

__all__ = ["SORT_FIELDS", "LoadProgress", "Store"]

logger = logging.getLogger("netra_frames.server")

_SCHEMA_VERSION = 1

LoadProgress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while data is made: stage ``"generate"``
counts traces, then ``"index"`` counts the rendering, indexing and analysis steps."""

#: Public sort field -> storage column.
SORT_FIELDS: dict[str, str] = {
    "start_time": "start_ms",
    "end_time": "end_ms",
    "latency_ms": "latency_ms",
    "total_cost": "total_cost_n",
    "total_tokens": "total_tokens",
    "name": "name",
}
_FILTER_COLUMNS = {"tenant_id": "tenant_id", "user_id": "user_id",
                   "session_id": "session_id", "trace_id": "id"}  # fmt: skip


def _no_progress(stage: str, done: int, total: int) -> None:
    """The default :data:`LoadProgress`: report nothing."""


class Store:
    """The server's SQLite database: load (or reuse) synthetic data and answer queries.

    Parameters
    ----------
    path : str or None
        ``None`` for a private in-memory database, else a file path that is reused when it
        already holds data generated with the same parameters.

    Examples
    --------
    >>> store = Store(None)
    >>> store.load(seed=0, traces=10, days=1, anchor_ms=1_767_225_600_000)
    True
    >>> store.close()
    """

    def __init__(self, path: str | None) -> None:
        if path is None:
            self._target, self._uri = (
                f"file:netra-{uuid.uuid4().hex}?mode=memory&cache=shared",
                True,
            )
        else:
            self._target, self._uri = path, False
        self._keeper = self._connect()
        self._pool: list[sqlite3.Connection] = []
        self._closed = False
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._target, uri=self._uri, check_same_thread=False)

    def close(self) -> None:
        """Close every connection; the in-memory database disappears.

        An idle connection closes now, a borrowed one when its ``with`` block ends: a
        connection is never closed under a query running on another thread.

        Examples
        --------
        >>> Store(None).close()
        """
        with self._lock:
            self._closed = True
            idle, self._pool = self._pool, []
        for conn in idle:
            conn.close()
        self._keeper.close()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a pooled connection for the duration of a ``with`` block.

        Raises
        ------
        sqlite3.ProgrammingError
            When the store is closed.

        Examples
        --------
        >>> store = Store(None)
        >>> with store.connection() as conn:
        ...     conn.execute("SELECT 1").fetchone()
        (1,)
        >>> store.close()
        """
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("the server's store is closed")
            conn = self._pool.pop() if self._pool else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            with self._lock:
                keep = not self._closed
                if keep:
                    self._pool.append(conn)
            if not keep:
                conn.close()

    # -- loading -----------------------------------------------------------------------------

    def load(
        self,
        *,
        seed: int,
        traces: int,
        days: float,
        anchor_ms: int,
        shape: str = "uniform",
        progress: LoadProgress | None = None,
    ) -> bool:
        """Generate the synthetic data unless the database already holds it.

        Parameters
        ----------
        seed, traces, days, anchor_ms, shape
            Passed to :func:`netra_frames.server.synth.generate`.
        progress : callable or None
            Called as ``progress(stage, done, total)`` (see :data:`LoadProgress`); never
            called when the database already holds the data.

        Returns
        -------
        bool
            ``True`` if the data was generated, ``False`` if the database already held it.

        Examples
        --------
        >>> store = Store(None)
        >>> store.load(seed=0, traces=10, days=1, anchor_ms=1_767_225_600_000)
        True
        >>> store.close()
        """
        key: list[object] = [_SCHEMA_VERSION, seed, traces, days, anchor_ms]
        if shape != "uniform":  # the uniform key predates shapes: its files stay valid
            key.append(shape)
        params = json.dumps(key)
        db = self._keeper
        try:
            row = db.execute("SELECT params FROM meta").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is not None and row[0] == params:
            return False
        report = progress or _no_progress
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA journal_mode = MEMORY")
        with db:
            for table in ("meta", "traces", "spans"):
                db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute("CREATE TABLE meta (params TEXT NOT NULL)")
            db.execute(TRACES_TABLE)
            db.execute(SPANS_TABLE)
            began = time.perf_counter()
            report("generate", 0, traces)
            done = 0
            for trace_rows, span_rows in synth.generate(seed, traces, days, anchor_ms, shape=shape):
                db.executemany(TRACE_INSERT, trace_rows)
                db.executemany(SPAN_INSERT, span_rows)
                done += len(trace_rows)
                report("generate", done, traces)
            logger.debug("generated and inserted rows in %.2fs", time.perf_counter() - began)
            steps = len(INDEXES) + 2
            report("index", 0, steps)
            db.execute("ALTER TABLE traces ADD COLUMN wire TEXT")
            db.execute(f"UPDATE traces SET wire = {TRACE_JSON}")
            report("index", 1, steps)
            for step, ddl in enumerate(INDEXES, 2):
                db.execute(ddl)
                report("index", step, steps)
            logger.debug("rendered and indexed in %.2fs", time.perf_counter() - began)
            db.execute("INSERT INTO meta VALUES (?)", (params,))
        db.execute("PRAGMA analysis_limit = 1000")
        db.execute("ANALYZE")
        report("index", steps, steps)
        return True

    # -- queries -----------------------------------------------------------------------------

    def _page(
        self, select: str, key: str, ident: str, sql: str, args: Sequence[Any], ascending: bool
    ) -> list[tuple[Any, str, str]]:
        """Run a page query and fetch the whole page in ONE SQLite step.

        ``fetchall`` releases and re-takes the GIL once per row, which makes busy handler
        threads convoy on the GIL; so SQLite renders every item as JSON and concatenates the
        page into one string: records split by \\x1e, fields (key, id, item) by \\x1f. Neither
        byte can occur in JSON text, hex ids or integer keys; text keys are JSON-quoted. The
        aggregate's order is not guaranteed, so the page is re-sorted here.
        """
        text_key = key.endswith("name")
        key_sql = f"json_quote({key})" if text_key else key
        record = f"{key_sql} || char(31) || {ident} || char(31) || {select}"
        wrapped = f"SELECT group_concat(rec, char(30)) FROM (SELECT {record} AS rec {sql})"
        with self.connection() as conn:
            (text,) = conn.execute(wrapped, args).fetchone()
        if not text:
            return []
        rows: list[tuple[Any, str, str]] = []
        for rec in text.split("\x1e"):
            k, i, item = rec.split("\x1f", 2)
            rows.append((json.loads(k) if text_key else int(k), i, item))
        rows.sort(key=lambda r: (r[0], r[1]), reverse=not ascending)
        return rows

    def trace_page(
        self,
        org_id: str,
        window: tuple[int, int],
        filters: Sequence[tuple[str, str]],
        sort_field: str,
        ascending: bool,
        after: tuple[Any, str] | None,
        limit: int,
    ) -> list[tuple[Any, str, str]]:
        """Return up to ``limit`` traces in walking order as ``(sort_key, id, item_json)``.

        Parameters
        ----------
        org_id : str
            Caller's organisation.
        window : tuple of int
            ``[lo_ms, hi_ms)`` on ``start_time``.
        filters : sequence of (field, value)
            Equality filters, ``field`` in ``tenant_id|user_id|session_id|trace_id``.
        sort_field : str
            A key of :data:`SORT_FIELDS`.
        ascending : bool
            Walk the ``(key, id)`` order upwards (``True``) or downwards.
        after : (key, id) or None
            Exclusive keyset position to continue from; ``None`` starts at the edge.
        limit : int
            Maximum number of rows.

        Returns
        -------
        list of (key, str, str)
            Sort-key value, trace id and the wire item as a JSON object text (no ``cursor``).

        Examples
        --------
        >>> store = Store(None)
        >>> store.load(seed=0, traces=10, days=1, anchor_ms=1_767_225_600_000)
        True
        >>> org = synth.organisations(0)[0].org_id
        >>> page = store.trace_page(org, (0, 2**62), [], "start_time", True, None, 2)
        >>> len(page) <= 2
        True
        >>> store.close()
        """
        key = SORT_FIELDS[sort_field]
        lo, hi = window
        op, order = (">", "ASC") if ascending else ("<", "DESC")
        # SQLite seeks an index only on plain bounds of a column, not on a row value; so the
        # cursor's key also becomes a plain bound (merged into the window for start_ms), or
        # every page would scan all the rows before it.
        key_bound = ""
        if after is not None and key == "start_ms":
            lo, hi = (max(lo, after[0]), hi) if ascending else (lo, min(hi, after[0] + 1))
        elif after is not None:
            key_bound = f"AND {key} {op}= ? "
        # For another sort key, "+start_ms" keeps SQLite off the start_ms index (a window
        # scan plus a sort of every row in it) and on the key's own index or a filter's.
        window_col = "start_ms" if key == "start_ms" else "+start_ms"
        sql = [f"FROM traces WHERE org_id = ? AND {window_col} >= ? AND {window_col} < ?"]
        args: list[Any] = [org_id, lo, hi]
        for field, value in filters:
            sql.append(f"AND {_FILTER_COLUMNS[field]} = ?")
            args.append(value)
        if after is not None:
            sql.append(f"{key_bound}AND ({key}, id) {op} (?, ?)")
            args.extend((after[0], *after) if key_bound else after)
        sql.append(f"ORDER BY {key} {order}, id {order} LIMIT ?")
        args.append(limit)
        return self._page("wire", key, "id", " ".join(sql), args, ascending)

    def has_trace(self, org_id: str, trace_id: str) -> bool:
        """Whether ``org_id`` has a trace with this id.

        Examples
        --------
        >>> store = Store(None)
        >>> store.load(seed=0, traces=1, days=1, anchor_ms=1_767_225_600_000)
        True
        >>> store.has_trace("org_nope", "0" * 32)
        False
        >>> store.close()
        """
        with self.connection() as conn:
            row = conn.execute(
                "SELECT 1 FROM traces WHERE id = ? AND org_id = ?", (trace_id, org_id)
            ).fetchone()
        return row is not None

    def span_page(
        self,
        org_id: str,
        trace_id: str,
        span_name: str | None,
        ascending: bool,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[tuple[int, str, str]]:
        """Return up to ``limit`` spans of a trace in walking order as ``(start, id, item_json)``.

        Spans are ordered by ``(start_time_ms, id)``. ``span_name`` keeps spans whose name
        contains it (case-insensitive) or whose kind equals it (case-insensitive).

        Examples
        --------
        >>> store = Store(None)
        >>> store.load(seed=0, traces=1, days=1, anchor_ms=1_767_225_600_000)
        True
        >>> store.span_page("org_nope", "0" * 32, None, True, None, 10)
        []
        >>> store.close()
        """
        sql = ["FROM spans s JOIN traces t ON t.id = s.trace_id",
               "WHERE s.org_id = ? AND s.trace_id = ?"]  # fmt: skip
        args: list[Any] = [org_id, trace_id]
        if span_name is not None:
            sql.append("AND (instr(lower(s.name), lower(?)) > 0 OR lower(s.kind) = lower(?))")
            args.extend((span_name, span_name))
        op, order = (">", "ASC") if ascending else ("<", "DESC")
        if after is not None:
            sql.append(f"AND s.start_ms {op}= ? AND (s.start_ms, s.id) {op} (?, ?)")
            args.extend((after[0], *after))
        sql.append(f"ORDER BY s.start_ms {order}, s.id {order} LIMIT ?")
        args.append(limit)
        return self._page(SPAN_JSON, "s.start_ms", "s.id", " ".join(sql), args, ascending)

    def session_usage(
        self, org_id: str, session_id: str, window: tuple[int, int]
    ) -> tuple[int, int, int]:
        """Return ``(tokens, traces, cost_nanos)`` of a session's traces in the window.

        Examples
        --------
        >>> store = Store(None)
        >>> store.load(seed=0, traces=1, days=1, anchor_ms=1_767_225_600_000)
        True
        >>> store.session_usage("org_nope", "sess_x", (0, 1))
        (0, 0, 0)
        >>> store.close()
        """
        with self.connection() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(total_tokens), 0), COUNT(*), COALESCE(SUM(total_cost_n), 0) "
                "FROM traces "
                "WHERE org_id = ? AND session_id = ? AND start_ms >= ? AND start_ms < ?",
                (org_id, session_id, *window),
            ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def tenant_usage(
        self, org_id: str, tenant_id: str, window: tuple[int, int]
    ) -> tuple[int, int, int, int]:
        """Return ``(tokens, traces, distinct_sessions, cost_nanos)`` of a tenant in the window.

        Examples
        --------
        >>> store = Store(None)
        >>> store.load(seed=0, traces=1, days=1, anchor_ms=1_767_225_600_000)
        True
        >>> store.tenant_usage("org_nope", "AceTech", (0, 1))
        (0, 0, 0, 0)
        >>> store.close()
        """
        with self.connection() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(total_tokens), 0), COUNT(*), COUNT(DISTINCT session_id), "
                "COALESCE(SUM(total_cost_n), 0) FROM traces "
                "WHERE org_id = ? AND tenant_id = ? AND start_ms >= ? AND start_ms < ?",
                (org_id, tenant_id, *window),
            ).fetchone()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])
