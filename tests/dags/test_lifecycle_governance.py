"""The churn lifecycle DAG run with dag.test(): a model card per registered version, an
audit record per change, and OpenLineage events written by the real listener to a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from airflow_registry_provider import tags
from airflow_registry_provider.governance.audit import parse_log
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from tests.conftest import REPO

MODEL = "customer_churn_predictor"


@pytest.fixture
def lifecycle_dag(airflow_db: None):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags" / "churn_model_lifecycle.py")).get_dag("churn_model_lifecycle")


@pytest.fixture
def openlineage_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """OpenLineage's listener with the file transport, for this test only.

    The provider registers its listener when plugins load, which happened before this
    test set the transport; so the test configures the transport through the usual
    variables and adds a listener to the task runner's listener manager itself, and
    removes it afterwards. (The provider does not cache its settings under pytest.)
    """
    from airflow.providers.openlineage.plugins.listener import OpenLineageListener
    from airflow.sdk.listener import get_listener_manager

    path = tmp_path / "openlineage.jsonl"
    monkeypatch.setenv(
        "AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps({"type": "file", "log_file_path": str(path), "append": True})
    )
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD", "true")  # no fork inside pytest
    listener = OpenLineageListener()
    manager = get_listener_manager()
    manager.add_listener(listener)
    try:
        yield path
    finally:
        manager.pm.unregister(listener)


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _complete_events(path: Path) -> dict[str, dict]:
    return {
        e["job"]["name"].split(".")[-1]: e
        for e in _events(path)
        if e["eventType"] == "COMPLETE" and "." in e["job"]["name"]
    }


def _datasets(event: dict, side: str) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in event.get(side, [])]


def test_lifecycle_reports_lineage_and_writes_a_card_per_version(
    lifecycle_dag, mlflow_registry: str, tmp_path: Path, openlineage_events: Path
) -> None:
    run = lifecycle_dag.test(run_conf={"data_dir": str(tmp_path)})
    assert str(run.state) == "success", {ti.task_id: str(ti.state) for ti in run.get_task_instances()}

    events = _complete_events(openlineage_events)
    train = next((tmp_path / "runs").glob("*/train.parquet"))
    version = ("mlflow://localhost", f"{MODEL}/1")
    assert _datasets(events["log_model"], "inputs") == [("file", str(train))]
    assert _datasets(events["log_model"], "outputs") == [version]
    # One event per mapped partition task: the version and its partition in, its predictions out.
    (run_dir,) = (tmp_path / "runs").iterdir()
    scored = {
        (tuple(_datasets(e, "inputs")), tuple(_datasets(e, "outputs")))
        for e in _events(openlineage_events)
        if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith(".batch_inference")
    }
    assert scored == {
        (
            (version, ("file", str(run_dir / "scoring" / f"part-{i:04d}.parquet"))),
            (("file", str(run_dir / "predictions" / f"part-{i:04d}.parquet")),),
        )
        for i in range(4)
    }

    # The model-version Asset carries the same identity as the dataset.
    from airflow.models.asset import AssetModel
    from airflow.sdk import Asset
    from airflow.utils.session import create_session

    from airflow_registry_provider.assets import model_version_to_openlineage

    with create_session() as session:
        uris = {a.uri for a in session.query(AssetModel).all()}
    assert f"mlflow://localhost/{MODEL}/1" in uris
    dataset = model_version_to_openlineage(Asset(uri=f"mlflow://localhost/{MODEL}/1"))
    assert (dataset.namespace, dataset.name) == version

    client = MlflowClient(mlflow_registry)
    v1 = client.get_model_version(MODEL, "1")
    assert v1.tags[tags.MODEL_CARD] == "model_card/model_card.md"
    log = parse_log(client.get_registered_model(MODEL).tags[tags.AUDIT_LOG])
    # The version, the drift profile LogModel stores with it, the gate's tag, the champion
    # alias, the model card; GrantModel skipped (no access control on sqlite): no record.
    assert [r.action for r in log] == ["register", "artifact", "tag", "alias", "artifact"]
    assert {r.actor for r in log} == {"dag_test"}

    # A rejected candidate still gets its card.
    second = lifecycle_dag.test(run_conf={"data_dir": str(tmp_path), "thresholds": {"accuracy": ">= 0.9999"}})
    states = {ti.task_id: str(ti.state) for ti in second.get_task_instances()}
    assert states["promote_version"] == "skipped" and states["model_card"] == "success"
    card = Path(
        MlflowRegistryHook().download_artifact(MODEL, "2", "model_card/model_card.md", str(tmp_path))
    ).read_text()
    assert "**rejected**" in card
