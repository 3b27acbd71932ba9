"""Drift monitoring end to end: a drifted batch emits the Asset that queues retraining."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from airflow_registry_provider import tags
from tests.conftest import REPO

MODEL = "customer_churn_predictor"


@pytest.fixture
def dags(airflow_db: None) -> dict:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(REPO / "dags"))
    # Consumers must be in the metadata DB for an Asset event to queue their runs.
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)
    return bag.dags


def _queued_retrains() -> list[str]:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session

    with create_session() as session:
        return [q.target_dag_id for q in session.query(AssetDagRunQueue).all()]


def _drift_events() -> int:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == f"model-registry://mlflow_default/{MODEL}/drift")
            .count()
        )


def test_clean_batch_is_quiet_and_drifted_batch_queues_retraining(
    dags: dict, mlflow_registry: str, tmp_path: Path
) -> None:
    lifecycle = dags["churn_model_lifecycle"].test(run_conf={"data_dir": str(tmp_path)})
    assert str(lifecycle.state) == "success"
    client = MlflowClient(mlflow_registry)
    assert client.get_model_version(MODEL, "1").tags[tags.REFERENCE_PROFILE] == "drift/reference_profile.json"
    before = _drift_events()

    clean = dags["drift_monitoring"].test(run_conf={"data_dir": str(tmp_path), "inject_drift": False})
    assert str(clean.state) == "success"
    summary = json.loads(client.get_model_version(MODEL, "1").tags[tags.DRIFT_SUMMARY])
    assert summary["dataset_drift"] is False
    assert _drift_events() == before
    assert "churn_model_lifecycle" not in _queued_retrains()

    drifted = dags["drift_monitoring"].test(run_conf={"data_dir": str(tmp_path), "inject_drift": True})
    assert str(drifted.state) == "success"
    summary = json.loads(client.get_model_version(MODEL, "1").tags[tags.DRIFT_SUMMARY])
    assert summary["dataset_drift"] is True
    assert {"days_since_last_purchase", "support_tickets", "monthly_spend", "account_balance"} <= set(
        summary["drifted_columns"]
    )
    assert _drift_events() == before + 1
    assert "churn_model_lifecycle" in _queued_retrains()
    reports = list((tmp_path / "drift_reports").glob("*.html"))
    assert len(reports) == 2
    assert "days_since_last_purchase" in reports[0].read_text()
