"""Partitioned batch scoring: one mapped BatchInference task per partition, one pinned version, a manifest.

The champion is resolved once (``pin_version``) and every partition scores with that
version, so an alias that moves mid-run does not split the run across versions.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from airflow_registry_provider.operators import BatchInferenceOperator


@dag(
    dag_id="partitioned_scoring",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    params={
        "input_root": Param("/tmp/scoring", type="string"),
        "output_dir": Param("/tmp/predictions", type="string"),
        "model_name": Param("customer_churn_predictor", type="string"),
        "alias": Param("champion", type="string"),
        "registry_conn_id": Param("mlflow_default", type="string"),
        "batch_size": Param(100_000, type="integer"),
    },
)
def partitioned_scoring() -> None:
    @task
    def partitions(input_root: str, output_dir: str) -> list[dict[str, str]]:
        from airflow_registry_provider.partitions import list_partitions

        return list_partitions(input_root, output_dir)

    @task
    def pin_version(model_name: str, alias: str, registry_conn_id: str) -> dict:
        """The version under the alias now: every partition of this run scores with it."""
        from airflow_registry_provider.hooks import get_registry_hook

        hook = get_registry_hook(registry_conn_id)
        return dict(hook.get_version(model_name, alias=alias).ref(registry_conn_id))

    @task
    def manifest(results: list[dict], parts: list[dict[str, str]], output_dir: str, dag_run_id: str) -> dict:
        from airflow_registry_provider.partitions import write_run_manifest

        return write_run_manifest(results, parts, output_dir, dag_run_id)

    parts = partitions("{{ params.input_root }}", "{{ params.output_dir }}")
    pinned = pin_version("{{ params.model_name }}", "{{ params.alias }}", "{{ params.registry_conn_id }}")
    score = BatchInferenceOperator.partial(
        task_id="score",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_version=pinned,
        batch_size="{{ params.batch_size }}",
    ).expand_kwargs(parts)
    manifest(score.output, parts, "{{ params.output_dir }}", "{{ run_id }}")


partitioned_scoring()
