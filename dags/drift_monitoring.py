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
        import hashlib

        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(int(hashlib.sha256(run_key.encode()).hexdigest()[:8], 16))
        n = 20_000
        frame = pd.DataFrame(
            {
                "customer_age": rng.integers(18, 80, n).astype(float),
                "account_balance": rng.gamma(2.0, 12_000.0, n),
                "days_since_last_purchase": rng.exponential(40.0, n),
                "support_tickets": rng.poisson(1.5, n).astype(float),
                "monthly_spend": rng.normal(120.0, 40.0, n).clip(0),
                "tenure_months": rng.integers(1, 120, n).astype(float),
            }
        )
        if inject_drift:
            frame["days_since_last_purchase"] *= 2.5
            frame["support_tickets"] = rng.poisson(4.0, n).astype(float)
            frame["monthly_spend"] = rng.normal(70.0, 40.0, n).clip(0)
            frame["account_balance"] *= 0.4
        path = os.path.join(data_dir, "batches", f"{hashlib.sha256(run_key.encode()).hexdigest()[:12]}.parquet")
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
