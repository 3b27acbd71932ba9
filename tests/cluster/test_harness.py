"""The cluster harness itself: two Celery workers and a triggerer serve one run, and stop() leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cluster.fixtures import start_cluster  # noqa: F401 - fixture
from tests.cluster.harness import AirflowCluster, pg_admin

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PROBE_DAGS = Path(__file__).parent / "dags"


def _database_exists(name: str) -> bool:
    import psycopg2

    from tests.cluster.harness import PG_HOST, PG_PORT, PG_USER

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cursor.fetchone() is not None
    finally:
        conn.close()


def test_workers_and_triggerer_serve_a_run_and_stop_cleans_up(start_cluster) -> None:  # noqa: F811
    cluster: AirflowCluster = start_cluster(PROBE_DAGS, workers=2, triggerer=True)
    cluster.wait_for_dag("cluster_probe")
    run_id = cluster.trigger("cluster_probe", {"n": 6})
    assert cluster.wait_for_run("cluster_probe", run_id, timeout=240) == "success"

    tis = cluster.task_instances("cluster_probe", run_id)
    mapped = [ti for ti in tis if ti["task_id"] == "where"]
    assert len(mapped) == 6 and all(ti["state"] == "success" for ti in mapped)
    workers = {cluster.node(name) for name in cluster.worker_names}
    assert {ti["hostname"] for ti in tis} <= workers
    assert len({ti["hostname"] for ti in mapped}) == 2, "both workers ran mapped tasks"
    # What a task sees of Celery agrees with what Airflow recorded.
    for ti in mapped:
        value = cluster.xcom("cluster_probe", run_id, "where", map_index=ti["map_index"])
        assert value["celery_hostname"] == value["node"] == ti["hostname"]
    # The sensor deferred and the triggerer fired its trigger.
    assert "deferred" in cluster.task_log("cluster_probe", run_id, "deferred").lower()
    assert "trigger" in cluster.components["triggerer"].tail(50_000).lower()

    pids = [c.pid for c in cluster.components.values()]
    assert cluster.redis_keys(), "the cluster used its own Redis keys"
    cluster.stop()
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    assert not _database_exists(cluster.database)
    assert cluster.redis_keys() == []
    pg_admin("SELECT 1")  # the server itself is untouched
