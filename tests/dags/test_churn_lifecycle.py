"""The churn lifecycle DAG, run for real with dag.test() on a sqlite MLflow registry."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from airflow_registry_provider import tags
from tests.conftest import REPO

MODEL = "customer_churn_predictor"


@pytest.fixture
def lifecycle_dag(airflow_db: None):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags" / "churn_model_lifecycle.py")).get_dag("churn_model_lifecycle")


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_lifecycle_runs_end_to_end_and_gates_the_second_version(
    lifecycle_dag, mlflow_registry: str, tmp_path: Path
) -> None:
    run = lifecycle_dag.test(run_conf={"data_dir": str(tmp_path)})
    assert str(run.state) == "success", _states(run)
    client = MlflowClient(mlflow_registry)
    (mv,) = client.search_model_versions(f"name = '{MODEL}'")
    assert mv.tags[tags.VERSION_NAME] == "1.0.0"
    assert mv.tags[tags.DAG_ID] == "churn_model_lifecycle"
    assert mv.tags[tags.TASK_ID] == "log_model"
    assert json.loads(mv.tags[tags.TRAINING_DATA_SHA256])
    assert mv.tags[tags.VALIDATION_STATUS] == "passed"
    assert {"accuracy", "roc_auc", "log_loss", "f1"} <= set(client.get_run(mv.run_id).data.metrics)
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    from airflow_registry_provider.hooks import MlflowRegistryHook

    schema = MlflowRegistryHook().input_schema(MODEL, "1")
    assert schema is not None
    assert [name for name, _ in schema][:3] == ["customer_age", "account_balance", "days_since_last_purchase"]
    predictions = pq.ParquetFile(tmp_path / "predictions.parquet")
    scoring = next((tmp_path / "runs").glob("*/scoring.parquet"))
    assert predictions.metadata.num_rows == pq.ParquetFile(scoring).metadata.num_rows == 20_000

    second = lifecycle_dag.test(run_conf={"data_dir": str(tmp_path)})
    states = _states(second)
    v2 = client.get_model_version(MODEL, "2")
    assert v2.tags[tags.VERSION_NAME] == "1.0.1"
    champion = str(client.get_model_version_by_alias(MODEL, "champion").version)
    if v2.tags[tags.VALIDATION_STATUS] == "passed":
        assert champion == "2"
        assert states["promote_version"] == "success"
    else:
        assert champion == "1"
        assert states["promote_version"] == "skipped"
    assert states["batch_inference"] == "success"


def test_impossible_thresholds_reject_and_keep_the_champion(
    lifecycle_dag, mlflow_registry: str, tmp_path: Path
) -> None:
    lifecycle_dag.test(run_conf={"data_dir": str(tmp_path)})
    run = lifecycle_dag.test(run_conf={"data_dir": str(tmp_path), "thresholds": {"accuracy": ">= 0.9999"}})
    states = _states(run)
    assert states["validate_metrics"] == "skipped"
    assert states["promote_version"] == "skipped"
    client = MlflowClient(mlflow_registry)
    assert client.get_model_version(MODEL, "2").tags[tags.VALIDATION_STATUS] == "rejected"
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
