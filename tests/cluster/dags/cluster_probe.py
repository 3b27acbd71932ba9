"""Probe DAG of the cluster harness test: mapped tasks report the Celery worker that ran them,
and a deferrable sensor proves the triggerer serves deferred tasks."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import dag, task


@dag(
    dag_id="cluster_probe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"n": 4},
)
def cluster_probe() -> None:
    @task
    def items(params: dict | None = None) -> list[int]:
        return list(range(int((params or {}).get("n", 4))))

    @task
    def where(i: int) -> dict:
        import os
        import time

        from celery import current_task

        time.sleep(1)  # long enough that one worker cannot take every item
        request = current_task.request if current_task else None
        return {
            "item": i,
            "celery_hostname": getattr(request, "hostname", None),
            "node": os.environ.get("ARP_CLUSTER_NODE"),
        }

    TimeDeltaSensor(task_id="deferred", delta=timedelta(seconds=1), deferrable=True)
    where.expand(i=items())


cluster_probe()
