"""A local Netra-compatible HTTP server with deterministic synthetic data.

Use it in tests, benchmarks and demos instead of the real Netra service; an official Netra SDK
pointed at :attr:`LocalNetra.base_url` works unchanged. Standard library and ``sqlite3`` only.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> with LocalNetra(traces=50, anchor=datetime(2026, 1, 1, tzinfo=timezone.utc)) as srv:
...     srv.base_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

from netra_frames.server import synth
from netra_frames.server.app import NetraApp, ServerStats
from netra_frames.server.faults import FaultConfig
from netra_frames.server.httpd import NetraHTTPServer
from netra_frames.server.injector import FaultInjector
from netra_frames.server.store import LoadProgress, Store

__all__ = ["FaultConfig", "LocalNetra", "ServerStats"]

logger = logging.getLogger("netra_frames.server")


class LocalNetra:
    """Serve synthetic Netra usage and traces over HTTP on a background thread.

    Parameters
    ----------
    seed : int
        Data seed; the same ``(seed, traces, days, anchor)`` always gives the same data.
    traces : int
        Number of traces (about 5 spans each).
    days : float
        Traces start in ``[anchor - days, anchor)``.
    shape : {"uniform", "skewed", "bursty"}
        How start times spread over the window: ``"uniform"`` evenly; ``"skewed"`` all in
        its last quarter; ``"bursty"`` half of the traces in one day (the 24 hours starting
        ``floor(days / 2)`` days after the window's start), the rest evenly. Ids, tenants,
        spans, tokens and costs follow the same rules in every shape.
    anchor : datetime or None
        End of the data window; ``None`` means now (UTC) truncated to the minute. A naive
        datetime is taken as UTC.
    host, port : str, int
        Listening address; port 0 picks a free port.
    db : str or None
        ``None`` keeps the data in memory; a path stores it in that SQLite file and reuses it
        when it already holds data generated with the same parameters.
    max_page_size, default_page_size : int
        Largest accepted ``limit`` and the page size used when none is given.
    faults : FaultConfig or None
        Initial fault injection settings (all off by default).
    progress : callable or None
        Called as ``progress(stage, done, total)`` while :meth:`start` makes the data:
        ``"generate"`` counts traces, then ``"index"`` counts indexing steps (see
        :data:`netra_frames.server.store.LoadProgress`). Runs on the thread calling
        :meth:`start`; not called when ``db`` already holds the data.
    inclusive_end : bool
        List the traces of ``[startTime, endTime]``, the end included, as a real server
        may read the seed's ``...T23:59:59.000Z`` windows (the documented API, and the
        default here, is half-open).

    Examples
    --------
    >>> srv = LocalNetra(traces=20, anchor=datetime(2026, 1, 1)).start()
    >>> srv.url_for("/sdk/traces") == srv.base_url + "/sdk/traces"
    True
    >>> srv.stop()
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        traces: int = 2000,
        days: float = 30,
        shape: str = "uniform",
        anchor: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        db: str | None = None,
        max_page_size: int = 100,
        default_page_size: int = 10,
        faults: FaultConfig | None = None,
        progress: LoadProgress | None = None,
        inclusive_end: bool = False,
    ) -> None:
        if traces < 0 or days <= 0:
            raise ValueError("traces must be >= 0 and days > 0")
        if shape not in synth.SHAPES:
            raise ValueError(f"shape must be one of {', '.join(synth.SHAPES)}, got {shape!r}")
        if not 1 <= default_page_size <= max_page_size:
            raise ValueError("need 1 <= default_page_size <= max_page_size")
        if anchor is None:
            anchor = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        elif anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=timezone.utc)
        self.seed, self.traces, self.days, self.shape = seed, traces, days, shape
        self.anchor = anchor.astimezone(timezone.utc).replace(
            microsecond=anchor.microsecond // 1000 * 1000
        )
        self.host, self.port, self.db = host, port, db
        self.max_page_size, self.default_page_size = max_page_size, default_page_size
        self.organisations = synth.organisations(seed)
        self.api_keys = {o.org_id: o.api_key for o in self.organisations}
        self.api_key = self.organisations[0].api_key
        self._faults = FaultInjector(faults or FaultConfig())
        self.inclusive_end = inclusive_end
        self._progress = progress
        self._app: NetraApp | None = None
        self._server: NetraHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.generation_seconds = 0.0
        self.data_reused = False

    @property
    def anchor_ms(self) -> int:
        """The anchor as epoch milliseconds.

        Examples
        --------
        >>> LocalNetra(anchor=datetime(1970, 1, 1, 0, 0, 1)).anchor_ms
        1000
        """
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        return (self.anchor - epoch) // timedelta(milliseconds=1)

    def start(self) -> LocalNetra:
        """Bind the address, load (or generate) the data and start serving; return ``self``.

        The address is bound first, so a port in use fails at once (``OSError``), before
        any data is made.

        Examples
        --------
        >>> srv = LocalNetra(traces=5).start(); srv.stop()
        """
        if self._server is not None:
            raise RuntimeError("LocalNetra is already running")
        store = Store(self.db)
        server = None
        try:
            keys = {o.api_key: o.org_id for o in self.organisations}
            app = NetraApp(store, keys, secrets.token_bytes(32), self.max_page_size,
                           self.default_page_size, self._faults,
                           inclusive_end=self.inclusive_end)  # fmt: skip
            server = NetraHTTPServer((self.host, self.port), app)
            started = time.perf_counter()
            self.data_reused = not store.load(
                seed=self.seed, traces=self.traces, days=self.days, anchor_ms=self.anchor_ms,
                shape=self.shape, progress=self._progress,
            )  # fmt: skip
            self.generation_seconds = time.perf_counter() - started
        except BaseException:
            if server is not None:
                server.server_close()
            store.close()
            raise
        self._app, self._server = app, server
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=self._server.thread_name, daemon=True,
        )  # fmt: skip
        self._thread.start()
        logger.debug(
            "LocalNetra serving %s (data in %.2fs)", self.base_url, self.generation_seconds
        )
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and free the database; idempotent.

        Requests in flight are abandoned (their connections are shut down, injected waits
        end), and every server thread has ended when this returns, unless a handler is still
        busy after :attr:`~netra_frames.server.httpd.NetraHTTPServer.handler_join_seconds`
        (then it is logged and left behind).

        Examples
        --------
        >>> LocalNetra(traces=5).stop()
        """
        server, self._server = self._server, None
        if server is None:
            return
        thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            server.shutdown()  # returns within poll_interval while serve_forever runs
        server.server_close()  # ends every connection and joins its thread (bounded)
        while thread is not None and thread.is_alive():
            thread.join(0.1)  # timed: an untimed join cannot be interrupted once polars loads
        assert self._app is not None
        self._app.store.close()

    def __enter__(self) -> LocalNetra:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()

    @property
    def is_running(self) -> bool:
        """Whether the server is accepting requests.

        Examples
        --------
        >>> LocalNetra(traces=5).is_running
        False
        """
        return self._server is not None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running server.

        Examples
        --------
        >>> with LocalNetra(traces=5) as srv:
        ...     srv.base_url.count(":")
        2
        """
        if self._server is None:
            raise RuntimeError("LocalNetra is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url_for(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this server.

        Examples
        --------
        >>> with LocalNetra(traces=5) as srv:
        ...     srv.url_for("usage/tenants/x").endswith("/usage/tenants/x")
        True
        """
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def faults(self) -> FaultConfig:
        """The live fault settings; mutate fields or replace with :meth:`set_faults`.

        Examples
        --------
        >>> LocalNetra(traces=5).faults.latency_ms
        0.0
        """
        return self._faults.config

    def set_faults(self, faults: FaultConfig | None = None, **changes: Any) -> None:
        """Replace the fault settings; restart the fault random stream and the request count.

        The next API request is request 1 of ``schedule``/``every``/``fail_after_requests``,
        and every key's token bucket starts again (see :mod:`netra_frames.server.faults`).

        Parameters
        ----------
        faults : FaultConfig or None
            New settings; ``None`` means all faults off.
        **changes
            Field overrides applied on top, e.g. ``latency_ms=50`` or
            ``schedule={3: "429", 7: "429"}``.

        Examples
        --------
        >>> srv = LocalNetra(traces=5)
        >>> srv.set_faults(latency_ms=20); srv.faults.latency_ms
        20
        >>> srv.set_faults(schedule={2: "503"}, every={"truncate": 5})
        """
        fields = {**vars(faults or FaultConfig()), **changes}
        fields.update(schedule=dict(fields["schedule"]), every=dict(fields["every"]))
        config = FaultConfig(**fields)
        injector = FaultInjector(config)
        self._faults = injector
        if self._app is not None:
            self._app.faults = injector

    @property
    def stats(self) -> ServerStats:
        """A snapshot of the request, connection, status and fault counters.

        Examples
        --------
        >>> LocalNetra(traces=5).stats.requests
        0
        """
        if self._app is None:
            return ServerStats()
        with self._app.lock:
            return self._app.stats.copy()

    def reset_stats(self) -> None:
        """Zero every counter (cheap per-test reset).

        Examples
        --------
        >>> LocalNetra(traces=5).reset_stats()
        """
        if self._app is not None:
            with self._app.lock:
                self._app.stats = ServerStats()

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised inside request handlers (each also answered with a 500).

        Examples
        --------
        >>> LocalNetra(traces=5).errors
        []
        """
        return self._app.errors if self._app is not None else []

    def __repr__(self) -> str:
        state = self.base_url if self._server is not None else "stopped"
        shape = "" if self.shape == "uniform" else f", shape={self.shape!r}"
        return (
            f"LocalNetra(seed={self.seed}, traces={self.traces}, days={self.days}{shape}, {state})"
        )
