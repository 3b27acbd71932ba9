"""Pytest fixtures around ``AirflowCluster``; the API is documented in ``tests/cluster/__init__.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.harness import AirflowCluster, ClusterConfig, services_missing
from tests.conftest import require_service

StartCluster = Callable[..., AirflowCluster]


def _starter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartCluster]:
    started: list[AirflowCluster] = []

    def start(dags_folder: str | Path, **options: Any) -> AirflowCluster:
        missing = services_missing(options.get("executor", "CeleryExecutor"))
        require_service(missing is None, missing or "")
        cluster = AirflowCluster(tmp_path_factory.mktemp("cluster"), ClusterConfig(Path(dags_folder), **options))
        started.append(cluster)
        cluster.start()
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            cluster.stop()


@pytest.fixture
def start_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartCluster]:
    """Start clusters for one test; all are stopped and cleaned up after it."""
    yield from _starter(tmp_path_factory)


@pytest.fixture(scope="module")
def start_cluster_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartCluster]:
    """Like ``start_cluster``, for clusters shared by the tests of one module."""
    yield from _starter(tmp_path_factory)
