"""Dask scale-out on a local distributed cluster against a real LocalNetra."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import netra_frames as nf  # noqa: E402
import netra_frames.dask as nfd  # noqa: E402
from netra_frames import NetraClient  # noqa: E402
from netra_frames.server import LocalNetra  # noqa: E402

Window = tuple[datetime, datetime]
ORDER = ["start_time", "trace_id"]


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as dc:
        yield dc


@pytest.fixture(scope="module")
def eager(client: NetraClient, window: Window) -> pd.DataFrame:
    return nf.traces_frame(*window, backend="pandas", client=client, progress=False)


def sort(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(ORDER, ascending=False).reset_index(drop=True)


@pytest.mark.usefixtures("dask_client")
def test_equals_eager(server: LocalNetra, window: Window, eager: pd.DataFrame) -> None:
    ddf = nfd.traces_frame(*window, partitions=6, api_key=server.api_key, base_url=server.base_url)
    assert ddf.npartitions == 6
    assert dict(ddf.dtypes) == dict(eager.dtypes)
    got = ddf.compute()
    pd.testing.assert_frame_equal(sort(got), sort(eager))
    # partitions run newest first, so even the order is the eager one
    pd.testing.assert_frame_equal(got.reset_index(drop=True), eager)


@pytest.mark.usefixtures("dask_client")
def test_projection_filters_and_aggregation(
    server: LocalNetra, window: Window, eager: pd.DataFrame
) -> None:
    ddf = nfd.traces_frame(
        *window, tenant_id="Globex", api_key=server.api_key, base_url=server.base_url
    )
    assert ddf.npartitions == 30  # one per day by default
    globex = eager[eager["tenant_id"] == "Globex"]
    got = ddf[["trace_id", "total_cost"]].compute()
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), globex[["trace_id", "total_cost"]].reset_index(drop=True)
    )
    total = nfd.traces_frame(
        *window, partitions=3, api_key=server.api_key, base_url=server.base_url
    )
    by_tenant = total.groupby("tenant_id")["total_cost"].sum().compute().sort_index()
    expected = eager.groupby("tenant_id")["total_cost"].sum().sort_index()
    pd.testing.assert_series_equal(by_tenant, expected, check_exact=False)


def _set_env(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_workers_read_the_environment(
    dask_client: Any,
    server: LocalNetra,
    window: Window,
    eager: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As on a real cluster: the key reaches the worker processes through their environment."""
    for name in ("NETRA_API_KEY", "NETRA_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)  # the driver has no key at all
    env = {"NETRA_API_KEY": server.api_key, "NETRA_OTLP_ENDPOINT": server.base_url}
    dask_client.run(_set_env, env)
    try:
        ddf = nfd.traces_frame(*window, partitions=2)
        assert server.api_key not in repr(dict(ddf.__dask_graph__()))
        pd.testing.assert_frame_equal(ddf.compute().reset_index(drop=True), eager)
    finally:
        dask_client.run(_set_env, dict.fromkeys(env))


def test_key_never_in_graph_or_repr(server: LocalNetra, window: Window) -> None:
    ddf = nfd.traces_frame(*window, partitions=3, api_key=server.api_key, base_url=server.base_url)
    graph = dict(ddf.__dask_graph__())
    for text in (repr(graph), str(list(graph)), repr(ddf), str(ddf.__dask_keys__())):
        assert server.api_key not in text
    config = nfd.ClientConfig(server.api_key, server.base_url)
    assert server.api_key not in repr(config) and "[secure]" in repr(config)
    assert pickle.loads(pickle.dumps(config)) == config
    other = nfd.traces_frame(*window, partitions=3, api_key="another-org", base_url=server.base_url)
    assert set(other.__dask_keys__()).isdisjoint(ddf.__dask_keys__())


def test_meta_and_bad_arguments(window: Window, eager: pd.DataFrame) -> None:
    meta = nfd.traces_meta()
    assert len(meta) == 0 and dict(meta.dtypes) == dict(eager.dtypes)
    with pytest.raises(nf.InvalidParameterError):
        nfd.traces_frame(*window, partitions=0)
    with pytest.raises(nf.InvalidParameterError):
        nfd.traces_frame(*window, tenant_id="")
