"""Traces as a Dask DataFrame: one partition per time-window shard, fetched by the workers.

Needs the ``dask`` extra (``pip install "netra-frames[dask]"``). :func:`traces_frame`
splits the window into contiguous half-open shards (:func:`netra_frames.times.split_window`)
and builds a ``dask.dataframe`` with ``dd.from_map``: each task builds its own
:class:`~netra_frames.NetraClient` on the worker, drains its shard with
:func:`netra_frames.traces_frame` and returns a pandas frame with the dtypes of
``nf.traces_frame(backend="pandas")``. No client object travels; the connection
settings travel in a small :class:`ClientConfig` whose ``repr`` masks the key and whose
Dask token holds only a fingerprint of it. Better still, pass no key at all and set
``NETRA_API_KEY`` / ``NETRA_OTLP_ENDPOINT`` in the workers' environment (see
``docs/scale-out.md``).

Partitions run newest first, so ``ddf.compute()`` has the eager frame's row order
(``start_time`` descending); the index restarts in every partition.

Examples
--------
>>> from distributed import Client, LocalCluster
>>> import netra_frames.dask as nfd
>>> with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, \\
...         Client(cluster):
...     ddf = nfd.traces_frame("2026-11-01", "2026-12-01", partitions=30,
...                            api_key=srv.api_key, base_url=srv.base_url)
...     cost = ddf.groupby("tenant_id")["total_cost"].sum().compute()
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from math import ceil
from typing import cast

import pandas as pd

try:
    import dask.dataframe as dd
except ImportError as exc:  # the extra is not installed
    raise ImportError(
        'netra_frames.dask needs Dask: pip install "netra-frames[dask]" '
        f"(importing dask.dataframe failed: {exc})"
    ) from exc

from ._doors import warn_no_traces
from ._wire.convert import to_backend
from ._wire.decode import finish
from .cache.settings import key_fingerprint
from .client import NetraClient
from .config import DEFAULT_MAX_WORKERS, DEFAULT_PAGE_SIZE
from .errors import ConfigurationError, InvalidParameterError, NetraError
from .frames import _traces_frame_of
from .query import TraceFilters, TraceQuery, Unpack, filter_keywords
from .schema import TRACES
from .times import TimeLike, split_window

try:
    import dask.dataframe as dd
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError('netra_frames.dask needs Dask: pip install "netra-frames[dask]"') from exc

logger = logging.getLogger("netra_frames")

__all__ = ["ClientConfig", "Shard", "load_shard", "traces_frame", "traces_meta"]

_COLUMNS = [c.name for c in TRACES]


@dataclass(frozen=True)
class ClientConfig:
    """How a worker builds its client: explicit values, else the worker's environment.

    Picklable and small. The key never shows in ``repr`` and never enters a Dask key:
    its token holds a keyed BLAKE2b fingerprint of the key instead (so two organisations'
    graphs never share task keys).

    Examples
    --------
    >>> ClientConfig(api_key="secret", base_url="https://api.getnetra.ai")
    ClientConfig(api_key='[secure]', base_url='https://api.getnetra.ai', timeout=None)
    """

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    timeout: float | None = None

    def __repr__(self) -> str:
        key = None if self.api_key is None else "[secure]"
        return (
            f"ClientConfig(api_key={key!r}, base_url={self.base_url!r}, timeout={self.timeout!r})"
        )

    def __dask_tokenize__(self) -> tuple[str, str | None, float | None, str | None]:
        return ("netra_frames.ClientConfig", self.base_url, self.timeout, self.fingerprint)

    @property
    def fingerprint(self) -> str | None:
        """A short one-way digest of the key (``None`` when the key comes from the env)."""
        if self.api_key is None:
            return None
        return key_fingerprint(self.api_key)[:16]

    def client(self) -> NetraClient:
        """Build a client from these values and the environment (on the worker)."""
        return NetraClient(self.api_key, self.base_url, timeout=self.timeout)


@dataclass(frozen=True)
class Shard:
    """One partition: a half-open window ``[start, end)`` and the equality filters."""

    start: datetime
    end: datetime
    filters: tuple[tuple[str, str], ...] = ()
    page_size: int = DEFAULT_PAGE_SIZE


def traces_meta() -> pd.DataFrame:
    """Return the empty pandas frame with the columns and dtypes of a traces frame.

    Examples
    --------
    >>> str(traces_meta()["start_time"].dtype)
    'datetime64[us, UTC]'
    """
    meta = to_backend(finish([], TRACES), "pandas")
    assert isinstance(meta, pd.DataFrame)
    return meta


def load_shard(
    shard: Shard, config: ClientConfig, columns: list[str] | None = None
) -> pd.DataFrame:
    """Fetch one shard on a worker (the task behind every partition).

    Parameters
    ----------
    shard:
        The window and filters of this partition.
    config:
        How to build the worker's client.
    columns:
        Columns to keep (Dask pushes column selections here).

    Returns
    -------
    pandas.DataFrame
        The shard's traces, newest first, declared columns only.

    Examples
    --------
    >>> from netra_frames.times import parse_time
    >>> shard = Shard(parse_time("2026-11-01"), parse_time("2026-11-02"))
    >>> load_shard(shard, ClientConfig(srv.api_key, srv.base_url)).shape[1]
    27
    """
    query = TraceQuery(shard.start, shard.end, dict(shard.filters), page_size=shard.page_size)
    with config.client() as client:  # an empty partition is no news: no warning per shard
        frame = _traces_frame_of(
            query,
            max_rows=None,
            shards="auto",
            max_workers=DEFAULT_MAX_WORKERS,
            backend="pandas",
            progress=False,
            client=client,
        )
    assert isinstance(frame, pd.DataFrame)
    picked: pd.DataFrame = frame[columns if columns is not None else _COLUMNS]
    return picked


def _warn_if_nothing_matches(config: ClientConfig, query: TraceQuery) -> None:
    """One request of one row: warn at once when the query matches no trace at all, as
    every traces door does (its partitions, run later on the workers, stay quiet). Skipped
    when this machine has no key or base URL (the workers' environment may), and when the
    request fails (no retry: the partitions' own requests report a failure in full)."""
    try:
        client = NetraClient(config.api_key, config.base_url, timeout=config.timeout,
                             max_retries=0)  # fmt: skip
    except ConfigurationError:
        return
    try:
        with client:
            filters = cast("TraceFilters", dict(query.filters))
            page = client.list_traces(query.start, query.end, limit=1, **filters)
    except NetraError as exc:
        logger.debug("netra_frames: the Dask frame's check request failed: %s", exc)
        return
    if not page.traces:
        warn_no_traces(query.filters, (query.start, query.end))


@filter_keywords
def traces_frame(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    partitions: int | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    **filters: Unpack[TraceFilters],
) -> dd.DataFrame:
    """Return the traces of ``[start, end)`` as a lazy Dask DataFrame, one shard per partition.

    Nothing is fetched here; each partition is fetched by a worker when computed.

    Parameters
    ----------
    start, end:
        The window, as for :func:`netra_frames.traces_frame` (default: the last 7 days,
        resolved now, on the client).
    partitions:
        Number of time-window shards (default: one per day of the window). Fewer come
        back for a window shorter than that many milliseconds.
    page_size:
        Traces per request.
    api_key, base_url, timeout:
        Connection settings for the workers; what is not given comes from each worker's
        environment (``NETRA_API_KEY``, ``NETRA_OTLP_ENDPOINT``, ...).
    trace_id, session_id, user_id, tenant_id:
        Equality filters, combined with AND (:class:`~netra_frames.query.TraceFilters`).

    Returns
    -------
    dask.dataframe.DataFrame
        Columns and dtypes of ``nf.traces_frame(backend="pandas")``; partitions newest
        first; unknown divisions. Building it sends one request of one row: a query that
        matches no trace warns :class:`~netra_frames.EmptyResultWarning` at once.

    Raises
    ------
    InvalidParameterError
        For a bad argument, before any task is built.

    Examples
    --------
    >>> ddf = traces_frame("2026-11-01", "2026-12-01", partitions=8,
    ...                    api_key=srv.api_key, base_url=srv.base_url)
    >>> ddf.npartitions
    8
    >>> ddf["total_cost"].sum().compute()  # doctest: +SKIP
    """
    query = TraceQuery.for_frames(start, end, filters, page_size=page_size)
    window = query.start, query.end
    if partitions is None:
        partitions = max(1, ceil((window[1] - window[0]).total_seconds() / 86400))
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise InvalidParameterError(f"partitions must be an int >= 1, got {partitions!r}.")
    shards = [
        Shard(lo, hi, tuple(query.filters.items()), page_size)
        for lo, hi in reversed(split_window(window[0], window[1], partitions))
    ]
    config = ClientConfig(api_key, base_url, timeout)
    _warn_if_nothing_matches(config, query)
    frame: dd.DataFrame = dd.from_map(  # type: ignore[no-untyped-call]
        load_shard,
        shards,
        args=(config,),
        meta=traces_meta(),
        label="netra-traces",
        enforce_metadata=False,
    )
    return frame
