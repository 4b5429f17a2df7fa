"""The usage frames: token, request and cost totals of sessions or tenants as frames.

One request per id (``get_session_usage`` / ``get_tenant_usage``), many ids at once through
the engine's keyed drain; columns from :data:`netra_frames.schema.SESSION_USAGE` and
:data:`~netra_frames.schema.TENANT_USAGE`. Arguments are checked before any request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, TypedDict, overload

import pandas as pd
import polars as pl

from ._cancel import CancelScope
from ._defaults import client_and_workers
from ._doors import backend_following, warn_empty
from ._engine import keyed_pipeline
from ._progress import Progress, want_progress
from ._wire.convert import normalise_ids, to_backend
from .client import NetraClient, SessionUsage, TenantUsage
from .config import DEFAULT_MAX_WORKERS, DEFAULT_WINDOW_DAYS, Backend
from .query import Unpack
from .schema import SESSION_USAGE, TENANT_USAGE, polars_schema
from .times import TimeLike, resolve_window

__all__ = ["UsageFrameOptions", "session_usage_frame", "tenant_usage_frame"]


class UsageFrameOptions(TypedDict, total=False):
    """The keywords of the usage frames besides ``backend`` (for their overloads)."""

    progress: bool | None
    max_workers: int
    client: NetraClient | None


def _usage_frame(
    kind: Literal["session", "tenant"],
    ids: object,
    start: TimeLike | None,
    end: TimeLike | None,
    backend: Backend | None,
    progress: bool | None,
    max_workers: int,
    client: NetraClient | None,
) -> pd.DataFrame | pl.DataFrame:
    chosen = backend_following(ids, backend)
    name = f"{kind}_id"
    keys = normalise_ids(ids, name, column=name, skip_missing=True)
    window = resolve_window(start, end, default_days=DEFAULT_WINDOW_DAYS)
    cli, workers = client_and_workers(client, max_workers)
    fetch: Callable[[str, CancelScope], SessionUsage | TenantUsage]
    columns = SESSION_USAGE if kind == "session" else TENANT_USAGE
    if kind == "session":
        fetch = lambda key, scope: cli.get_session_usage(key, *window)  # noqa: E731
    else:
        fetch = lambda key, scope: cli.get_tenant_usage(key, *window)  # noqa: E731

    def build(rows: list[SessionUsage | TenantUsage]) -> pd.DataFrame | pl.DataFrame:
        data: dict[str, list[Any]] = {c.name: [] for c in columns}
        for row in rows:
            for c in columns:
                data[c.name].append(_usage_value(row, c.name, window))
        return to_backend(pl.DataFrame(data, schema=polars_schema(columns)), chosen)

    with Progress(want_progress(progress), f"{kind} usage", "ids", total=len(keys)) as bar:
        pipe = keyed_pipeline(fetch, keys, workers=workers, noun=f"{kind} ids", bar=bar)
        frame: pd.DataFrame | pl.DataFrame = pipe.collect(
            lambda groups: build([row for part in groups[0] if part for row in part])
        )
    unused = [k for k, n in zip(keys, frame["request_count"], strict=True) if n == 0]
    if unused:
        shown = ", ".join(map(repr, unused[:5])) + (" ..." if len(unused) > 5 else "")
        warn_empty(f"{len(unused)} {kind} id(s) had no usage", window, f": {shown}")
    return frame


def _usage_value(row: object, name: str, window: tuple[Any, Any]) -> Any:
    if name == "start":
        return window[0]
    if name == "end":
        return window[1]
    return getattr(row, name)


@overload
def session_usage_frame(
    session_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["pandas"],
    **options: Unpack[UsageFrameOptions],
) -> pd.DataFrame: ...
@overload
def session_usage_frame(
    session_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["polars"],
    **options: Unpack[UsageFrameOptions],
) -> pl.DataFrame: ...
@overload
def session_usage_frame(
    session_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Backend | None = ...,
    **options: Unpack[UsageFrameOptions],
) -> pd.DataFrame | pl.DataFrame: ...
def session_usage_frame(
    session_id: str | Iterable[str],
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    backend: Backend | None = None,
    progress: bool | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    client: NetraClient | None = None,
) -> pd.DataFrame | pl.DataFrame:
    """Return token, request and cost totals of one or many sessions as a frame.

    Parameters
    ----------
    session_id:
        One id (one row) or an iterable / Series of ids (one row per distinct id, input
        order, fetched concurrently). Missing values (``None``, ``NA``) are skipped, so
        a traces frame's ``session_id`` column can be passed as it is (its traces without
        a session have no session usage to ask for).
    start, end:
        The window, as for :func:`traces_frame` (default: the last 7 days).
    backend, progress, max_workers, client:
        As for :func:`spans_frame` (a Series of ids gives a frame of its backend); the
        bar counts ids.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        Columns of :data:`netra_frames.schema.SESSION_USAGE`. A session without traces
        in the window has zero counts and cost (and an
        :class:`~netra_frames.EmptyResultWarning` names it).

    Raises
    ------
    InvalidParameterError
        For a bad argument or id, before any request.

    Examples
    --------
    >>> nf.session_usage_frame(["sess_1", "sess_2"], client=client).shape
    (2, 6)
    """
    return _usage_frame("session", session_id, start, end, backend, progress, max_workers, client)


@overload
def tenant_usage_frame(
    tenant_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["pandas"],
    **options: Unpack[UsageFrameOptions],
) -> pd.DataFrame: ...
@overload
def tenant_usage_frame(
    tenant_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["polars"],
    **options: Unpack[UsageFrameOptions],
) -> pl.DataFrame: ...
@overload
def tenant_usage_frame(
    tenant_id: str | Iterable[str],
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Backend | None = ...,
    **options: Unpack[UsageFrameOptions],
) -> pd.DataFrame | pl.DataFrame: ...
def tenant_usage_frame(
    tenant_id: str | Iterable[str],
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    backend: Backend | None = None,
    progress: bool | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    client: NetraClient | None = None,
) -> pd.DataFrame | pl.DataFrame:
    """Return token, request, session and cost totals of one or many tenants as a frame.

    Parameters
    ----------
    tenant_id:
        One id (one row) or an iterable / Series of ids (one row per distinct id, input
        order, fetched concurrently). Missing values (``None``, ``NA``) are skipped, so
        a traces frame's ``tenant_id`` column can be passed as it is (its traces without
        a tenant have no tenant usage to ask for).
    start, end:
        The window, as for :func:`traces_frame` (default: the last 7 days).
    backend, progress, max_workers, client:
        As for :func:`spans_frame` (a Series of ids gives a frame of its backend); the
        bar counts ids.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        Columns of :data:`netra_frames.schema.TENANT_USAGE`; a tenant without traces in
        the window has zeros (and an :class:`~netra_frames.EmptyResultWarning`).

    Raises
    ------
    InvalidParameterError
        For a bad argument or id, before any request.

    Examples
    --------
    >>> usage = nf.tenant_usage_frame(["AceTech", "Globex"], "2026-01-01", "2026-02-01",
    ...                               backend="polars", client=client)
    >>> usage.select("tenant_id", "request_count", "total_cost").rows()
    [('AceTech', 561, 7.44305638), ('Globex', 167, 2.31588237)]
    """
    return _usage_frame("tenant", tenant_id, start, end, backend, progress, max_workers, client)
