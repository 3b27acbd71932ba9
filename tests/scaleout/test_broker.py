"""The Celery broker is unreachable: tasks fail with a clear message and are retried once it is back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.fixtures import start_cluster  # noqa: F401 - fixture
from tests.cluster.harness import AirflowCluster
from tests.conftest import POSTGRES_HEAVY

pytestmark = [pytest.mark.integration, pytest.mark.slow, POSTGRES_HEAVY]
PROBE_DAGS = Path(__file__).parent.parent / "cluster" / "dags"


def test_broker_outage_fails_tasks_clearly_and_they_are_retried(start_cluster) -> None:  # noqa: F811
    cluster: AirflowCluster = start_cluster(
        PROBE_DAGS,
        workers=1,
        own_broker=True,
        # The retry comes after the broker is back (the test restarts it at the first failure).
        env={"AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "2", "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "20"},
    )
    dag_id = "cluster_probe"
    cluster.wait_for_dag(dag_id)
    cluster.components["redis"].stop()
    run_id = cluster.trigger(dag_id, {"n": 1})
    failed = cluster.wait_for_task(dag_id, run_id, "items", {"up_for_retry", "failed"}, timeout=240)
    assert failed["state"] == "up_for_retry", "a broker outage is transient: the task is retried"
    log = cluster.components["scheduler"].tail(200_000)
    # The scheduler says what happened: the workload could not be sent, the broker refused.
    assert "Error sending Celery workload" in log
    assert "Error 111 connecting to" in log and "Connection refused" in log

    cluster.components["redis"].start()
    assert cluster.wait_for_run(dag_id, run_id, timeout=300) == "success"
    items = next(ti for ti in cluster.task_instances(dag_id, run_id) if ti["task_id"] == "items")
    assert items["try_number"] == 2, "one failed try while the broker was down, then the retry ran"
