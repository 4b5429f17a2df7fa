"""Frame-building methods of ``NetraClient`` (``client.traces_frame(...)`` and friends).

Each method calls the function of :mod:`netra_frames.frames` of the same name with
``client=self``; the import is lazy to keep ``client`` and ``frames`` free of cycles.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from .config import DEFAULT_MAX_WORKERS, DEFAULT_PAGE_SIZE

if TYPE_CHECKING:
    from ._defaults import Backend
    from .client import NetraClient
    from .times import TimeLike

__all__ = ["FrameMethods"]


class FrameMethods:
    """Mixin that gives ``NetraClient`` the frame builders as methods."""

    def traces_frame(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        tenant_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        sort_field: str = "start_time",
        sort_order: Literal["asc", "desc"] = "desc",
        page_size: int = DEFAULT_PAGE_SIZE,
        max_rows: int | None = None,
        backend: Backend | None = None,
        progress: bool | None = None,
    ) -> Any:
        """Drain the traces of ``[start, end)`` into a frame; see :func:`netra_frames.traces_frame`.

        Examples
        --------
        >>> client.traces_frame(tenant_id="AceTech", backend="polars").height > 0
        True
        """
        from .frames import traces_frame

        return traces_frame(
            start,
            end,
            tenant_id=tenant_id,
            user_id=user_id,
            session_id=session_id,
            sort_field=sort_field,
            sort_order=sort_order,
            page_size=page_size,
            max_rows=max_rows,
            backend=backend,
            progress=progress,
            client=self._as_client(),
        )

    def spans_frame(
        self,
        trace_ids: str | Iterable[str] | Any,
        *,
        span_name: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        parse_json: bool = False,
        backend: Backend | None = None,
        progress: bool | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> Any:
        """Fetch the spans of one or many traces; see :func:`netra_frames.spans_frame`.

        Examples
        --------
        >>> client.spans_frame(client.traces_frame(max_rows=10)).shape[0] >= 10
        True
        """
        from .frames import spans_frame

        return spans_frame(
            trace_ids,
            span_name=span_name,
            page_size=page_size,
            parse_json=parse_json,
            backend=backend,
            progress=progress,
            max_workers=max_workers,
            client=self._as_client(),
        )

    def session_usage_frame(
        self,
        session_id: str | Iterable[str],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        backend: Backend | None = None,
        progress: bool | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> Any:
        """Usage of sessions as a frame; see :func:`netra_frames.session_usage_frame`.

        Examples
        --------
        >>> client.session_usage_frame(["sess_1", "sess_2"]).shape[0]
        2
        """
        from .frames import session_usage_frame

        return session_usage_frame(
            session_id,
            start,
            end,
            backend=backend,
            progress=progress,
            max_workers=max_workers,
            client=self._as_client(),
        )

    def tenant_usage_frame(
        self,
        tenant_id: str | Iterable[str],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        backend: Backend | None = None,
        progress: bool | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> Any:
        """Usage of tenants as a frame; see :func:`netra_frames.tenant_usage_frame`.

        Examples
        --------
        >>> client.tenant_usage_frame("AceTech").shape[0]
        1
        """
        from .frames import tenant_usage_frame

        return tenant_usage_frame(
            tenant_id,
            start,
            end,
            backend=backend,
            progress=progress,
            max_workers=max_workers,
            client=self._as_client(),
        )

    def _as_client(self) -> NetraClient:
        from .client import NetraClient

        assert isinstance(self, NetraClient)
        return self
