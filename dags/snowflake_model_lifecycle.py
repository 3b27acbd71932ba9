"""Customer churn model lifecycle on the Snowflake Model Registry.

The same operators as ``churn_model_lifecycle``; only the connection differs: a
``snowflake`` connection (``snowflake_default``, or the ``registry_conn_id`` param)
whose database and schema hold the registry. Train on synthetic churn data, register
(``CUSTOMER_CHURN_PREDICTOR`` version ``V1_0_0``, ``V1_0_1``, …), gate with an inference
test that runs the registered version in the warehouse, promote to ``champion`` (and
the model's default version), grant the consuming role what it needs to score with the
model, then score a Snowflake table in the warehouse into another table. No row of the
scoring table passes through the Airflow worker.

The grants are least privilege and keep the DAG runnable on its next run: ``USAGE`` (run
the model's functions) for the consuming role (param ``grants``), nothing revoked, and
ownership stays with the connection's role, which every next LogModel and PromoteVersion
needs.

The file parses without credentials and without importing Snowflake, scikit-learn or
pandas; they are imported inside tasks.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import Param, dag, task

from airflow_registry_provider.operators import (
    BatchInferenceOperator,
    GrantModelOperator,
    LogModelOperator,
    PromoteVersionOperator,
    ValidateMetricsOperator,
)
from churn_example_data import LABEL, run_seed, train_churn_model, write_churn_dataset

DEFAULT_DATA_DIR = os.path.join(os.environ.get("AIRFLOW_HOME", tempfile.gettempdir()), "snowflake_churn_data")


@dag(
    dag_id="snowflake_model_lifecycle",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["model-registry", "snowflake", "example"],
    params={
        "registry_conn_id": Param("snowflake_default", type="string", description="Snowflake connection"),
        "model_name": Param(
            "CUSTOMER_CHURN_PREDICTOR", type="string", description="Model name (a Snowflake identifier)"
        ),
        "thresholds": Param(
            {"accuracy": ">= 0.75", "roc_auc": ">= 0.85"}, type="object", description="Quality gate: metric -> rule"
        ),
        "scoring_table": Param("CHURN_SCORING", type="string", description="Table of customers to score"),
        "predictions_table": Param("CHURN_PREDICTIONS", type="string", description="Table the predictions go to"),
        "grants": Param(
            {"DATA_SCIENTIST": "USAGE"},
            type="object",
            description="Who may use the model: role -> READ or USAGE (ownership stays with the connection's role)",
        ),
        "data_dir": Param(DEFAULT_DATA_DIR, type="string", description="Local folder for training files"),
    },
    doc_md=__doc__,
)
def snowflake_model_lifecycle() -> None:
    @task
    def prepare_data(data_dir: str, run_key: str) -> dict[str, str]:
        """A seeded synthetic customer-churn dataset: train, validation, sample and a scoring batch."""
        seed, folder = run_seed(run_key)
        return write_churn_dataset(os.path.join(data_dir, "runs", folder), seed, train_rows=4_000, scoring_rows=5_000)

    @task
    def load_scoring_table(data: dict[str, str], registry_conn_id: str, table: str) -> str:
        """Put the scoring batch in a Snowflake table (upper-case columns, as SQL users expect)."""
        import pandas as pd
        from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

        frame = pd.read_parquet(data["scoring"])
        frame.columns = [c.upper() for c in frame.columns]
        session = SnowflakeHook(snowflake_conn_id=registry_conn_id).get_snowpark_session()
        try:
            session.write_pandas(frame, table.upper(), auto_create_table=True, overwrite=True)
        finally:
            session.close()
        return table.upper()

    @task
    def train(data: dict[str, str]) -> dict:
        """Fit a scaled logistic regression and measure it on the validation split."""
        return train_churn_model(data)

    @task
    def next_version(model_name: str, registry_conn_id: str) -> str:
        """The next patch version after the highest one registered."""
        from airflow_registry_provider.hooks import get_registry_hook

        return get_registry_hook(registry_conn_id).next_version_name(model_name)

    data = prepare_data(data_dir="{{ params.data_dir }}", run_key="{{ run_id }}")
    scoring_table = load_scoring_table(data, "{{ params.registry_conn_id }}", "{{ params.scoring_table }}")
    trained = train(data)
    version = next_version("{{ params.model_name }}", "{{ params.registry_conn_id }}")

    log_model = LogModelOperator(
        task_id="log_model",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_name="{{ params.model_name }}",
        model=trained["model_path"],
        version_name=version,
        sample_input=data["sample"],
        metrics=trained["metrics"],
        training_data=[data["train"]],
        description="Logistic-regression churn classifier trained by snowflake_model_lifecycle",
        tags={"team": "growth", "framework": "scikit-learn"},
        # Served by a warehouse. The worker's versions are recorded with the version and
        # relaxed to ranges Snowflake's Anaconda channel can satisfy (snowflake-ml's default).
        backend_options={"target_platforms": ["WAREHOUSE"]},
    )
    validate = ValidateMetricsOperator(
        task_id="validate_metrics",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_version=log_model.output,
        thresholds="{{ params.thresholds }}",
        compare_to="champion",
        validation_data=data["validation"],
        label_column=LABEL,
        on_failure="skip",
    )
    promote = PromoteVersionOperator(
        task_id="promote_version",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_version=log_model.output,
        alias="champion",
        reason="passed thresholds, beat the champion and the warehouse inference test",
    )
    grant = GrantModelOperator(
        task_id="grant_model",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_name="{{ params.model_name }}",
        grants="{{ params.grants }}",
        reason="consumers score with the champion",
        # Also when this run's candidate was not promoted: the grant is on the model.
        trigger_rule="none_failed",
    )
    score = BatchInferenceOperator(
        task_id="batch_inference",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_name="{{ params.model_name }}",
        alias="champion",
        input_path=scoring_table,
        output_path="{{ params.predictions_table }}",
        # Score with whichever version is champion, also when this run's candidate was rejected.
        trigger_rule="none_failed",
    )
    validate >> promote >> [grant, score]


snowflake_model_lifecycle()
