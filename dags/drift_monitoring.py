"""Daily drift monitoring for the churn model: score the latest batch against the champion.

The champion's reference profile was stored with it at registration (LogModelOperator
``reference_data``), so only the current batch is read. When the dataset drifts, the
check emits the ``drift:mlflow_default/customer_churn_predictor`` Asset, on which
``churn_model_lifecycle`` is scheduled: drift triggers retraining. The HTML report is
stored with the champion version.

The example draws its own batch; set the ``inject_drift`` param to shift some features.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import Param, dag, task

from airflow_registry_provider.operators import DriftCheckOperator
from churn_example_data import FEATURES, draw_customers, run_seed

DEFAULT_DATA_DIR = os.path.join(os.environ.get("AIRFLOW_HOME", tempfile.gettempdir()), "churn_data")


@dag(
    dag_id="drift_monitoring",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["model-registry", "example", "drift"],
    params={
        "model_name": Param("customer_churn_predictor", type="string"),
        "data_dir": Param(DEFAULT_DATA_DIR, type="string"),
        "inject_drift": Param(False, type="boolean", description="Shift some features (demo)"),
        "registry_conn_id": Param("mlflow_default", type="string"),
    },
    doc_md=__doc__,
)
def drift_monitoring() -> None:
    @task
    def latest_batch(data_dir: str, run_key: str, inject_drift: bool) -> str:
        """Stand-in for the day's production inputs: a fresh churn-like sample."""
        import numpy as np

        seed, folder = run_seed(run_key)
        frame = draw_customers(np.random.default_rng(seed), 20_000, shift=inject_drift)[FEATURES]
        path = os.path.join(data_dir, "batches", f"{folder}.parquet")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        frame.to_parquet(path, index=False)
        return path

    batch = latest_batch("{{ params.data_dir }}", "{{ run_id }}", "{{ params.inject_drift }}")
    DriftCheckOperator(
        task_id="drift_check",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_name="{{ params.model_name }}",
        alias="champion",
        current=batch,
        report_dir="{{ params.data_dir }}/drift_reports",
        on_drift="continue",
    )


drift_monitoring()
