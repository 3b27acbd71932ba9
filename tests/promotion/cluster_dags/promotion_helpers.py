"""DAGs the promotion cluster tests run beside dags/environment_promotion.py.

``dev_champion`` promotes a DEV version (its Asset event schedules environment_promotion),
``probe`` takes the single worker slot for a moment, ``wait_for_version`` defers on the
ModelVersionSensor until a new version of ``watched`` appears in DEV.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_registry_provider.operators.promote_version import PromoteVersionOperator
from airflow_registry_provider.sensors.model_version import ModelVersionSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(dag_id="dev_champion", schedule=None, start_date=START, catchup=False, params={"version": "1"})
def dev_champion() -> None:
    PromoteVersionOperator(
        task_id="promote",
        registry_conn_id="mlflow_dev",
        model_version={"registry_conn_id": "mlflow_dev", "model_name": "churn", "version": "{{ params.version }}"},
    )


@dag(dag_id="probe", schedule=None, start_date=START, catchup=False)
def probe() -> None:
    @task
    def where() -> str | None:
        import os

        return os.environ.get("ARP_CLUSTER_NODE")

    where()


@dag(dag_id="wait_for_version", schedule=None, start_date=START, catchup=False)
def wait_for_version() -> None:
    ModelVersionSensor(
        task_id="wait",
        registry_conn_id="mlflow_dev",
        model_name="watched",
        deferrable=True,
        poke_interval=2,
        timeout=900,
    )


dev_champion()
probe()
wait_for_version()
