"""The churn lifecycle DAG, run for real with dag.test() on a sqlite MLflow registry.

The runs share one registry: the first run registers 1.0.0 and promotes it (no champion
yet); each test then runs the DAG once more and checks its own version against whoever
is champion at that point, so the tests hold in any order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from airflow_registry_provider import tags
from tests.conftest import REPO

MODEL = "customer_churn_predictor"

# One registry for the module's runs: keep its tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("churn_lifecycle")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A sqlite MLflow registry behind ``mlflow_default`` for the module; (tracking URI, data dir)."""
    root = tmp_path_factory.mktemp("churn-lifecycle")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as monkeypatch:
        connection = {"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri}}
        monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(connection))
        yield uri, root / "data"


@pytest.fixture(scope="module")
def lifecycle(airflow_db: None, registry: tuple[str, Path]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags" / "churn_model_lifecycle.py")).get_dag("churn_model_lifecycle")


def _run(lifecycle: Any, data_dir: Path, **conf: Any) -> tuple[Any, dict[str, str]]:
    run = lifecycle.test(run_conf={"data_dir": str(data_dir), **conf})
    # Mapped tasks (batch_inference) by map index: batch_inference[0], ...
    return run, {
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
        for ti in run.get_task_instances()
    }


def _ok(states: dict[str, str]) -> bool:
    """Every task succeeded; GrantModel may skip: the sqlite store has no access control."""
    return all(state == "success" or (task, state) == ("grant_model", "skipped") for task, state in states.items())


def _version_of(client: MlflowClient, run: Any) -> Any:
    (version,) = [mv for mv in client.search_model_versions(f"name = '{MODEL}'") if mv.tags[tags.RUN_ID] == run.run_id]
    return version


def _champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias(MODEL, "champion").version)


def _manifest(data_dir: Path, run: Any) -> dict:
    (manifest,) = [
        m
        for m in (json.loads(p.read_text()) for p in data_dir.glob("runs/*/predictions/_manifest.json"))
        if m["run_id"] == run.run_id
    ]
    return manifest


def _scored_by(data_dir: Path, run: Any) -> set[str]:
    """The versions in the run's prediction files; the manifest must name the same single one."""
    manifest = _manifest(data_dir, run)
    found = set()
    for partition in manifest["partitions"]:
        table = pq.read_table(partition["output"], columns=["model_version"])
        found |= {str(v) for v in table.column("model_version").to_pylist()}
    assert found == {manifest["model_version"]["version"]}, (found, manifest["model_version"])
    return found


@pytest.fixture(scope="module")
def first_run(lifecycle: Any, registry: tuple[str, Path]) -> tuple[Any, dict[str, str]]:
    return _run(lifecycle, registry[1])


def test_first_run_registers_gates_promotes_and_scores(first_run: tuple[Any, dict[str, str]], registry) -> None:
    uri, data_dir = registry
    run, states = first_run
    assert _ok(states), states
    assert str(run.state) == "success", states
    client = MlflowClient(uri)
    mv = client.get_model_version(MODEL, "1")
    assert mv.tags[tags.RUN_ID] == run.run_id
    assert mv.tags[tags.VERSION_NAME] == "1.0.0"
    assert mv.tags[tags.DAG_ID] == "churn_model_lifecycle"
    assert mv.tags[tags.TASK_ID] == "log_model"
    assert json.loads(mv.tags[tags.TRAINING_DATA_SHA256])
    assert mv.tags[tags.VALIDATION_STATUS] == "passed"
    assert {"accuracy", "roc_auc", "log_loss", "f1"} <= set(client.get_run(mv.run_id).data.metrics)
    assert _champion(client) == "1"
    from airflow_registry_provider.hooks import MlflowRegistryHook

    schema = MlflowRegistryHook().input_schema(MODEL, "1")
    assert schema is not None
    assert [name for name, _ in schema][:3] == ["customer_age", "account_balance", "days_since_last_purchase"]
    # Four partitions, each scored by its own mapped task with the one pinned version.
    assert [states[f"batch_inference[{i}]"] for i in range(4)] == ["success"] * 4
    manifest = _manifest(data_dir, run)
    assert manifest["rows"] == 20_000 and manifest["model_version"]["version"] == "1"
    assert [p["partition"] for p in manifest["partitions"]] == [f"part-{i:04d}" for i in range(4)]
    ids = pd.concat(pd.read_parquet(p["output"], columns=["customer_id"]) for p in manifest["partitions"])
    assert sorted(ids["customer_id"]) == list(range(20_000))
    from airflow_registry_provider.partitions import sha256_path

    for partition in manifest["partitions"]:
        assert partition["rows"] == pq.ParquetFile(partition["output"]).metadata.num_rows
        assert partition["output_sha256"] == sha256_path(partition["output"])
        assert partition["input_sha256"] == sha256_path(partition["input"])
    assert _scored_by(data_dir, run) == {"1"}


def test_a_stronger_candidate_is_promoted(first_run: tuple[Any, dict[str, str]], lifecycle, registry) -> None:
    uri, data_dir = registry
    client = MlflowClient(uri)
    before = _champion(client)
    run, states = _run(lifecycle, data_dir, feature_set="full")
    assert _ok(states), states
    mv = _version_of(client, run)
    assert mv.tags[tags.VALIDATION_STATUS] == "passed"
    result = json.loads(mv.tags[tags.VALIDATION_RESULT])
    assert result["champion_version"] == before
    assert all(outcome["passed"] for outcome in result["metrics"].values()), result
    assert states["promote_version"] == "success"
    assert _champion(client) == str(mv.version)
    assert str(client.get_model_version_by_alias(MODEL, "previous_champion").version) == before
    assert _scored_by(data_dir, run) == {str(mv.version)}


def test_impossible_thresholds_reject_and_keep_the_champion(
    first_run: tuple[Any, dict[str, str]], lifecycle, registry
) -> None:
    uri, data_dir = registry
    client = MlflowClient(uri)
    before = _champion(client)
    run, states = _run(lifecycle, data_dir, thresholds={"accuracy": ">= 0.9999"})
    assert states["validate_metrics"] == "skipped"
    assert states["promote_version"] == "skipped"
    assert all(state == "success" for task, state in states.items() if task.startswith("batch_inference"))
    mv = _version_of(client, run)
    assert mv.tags[tags.VALIDATION_STATUS] == "rejected"
    assert _champion(client) == before
    assert _scored_by(data_dir, run) == {before}
