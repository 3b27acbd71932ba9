"""CompareVersionsOperator on a real sqlite registry with two registered versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException
from mlflow import MlflowClient

from airflow_registry_provider.operators import CompareVersionsOperator
from tests.governance.fixtures import log_model_operator
from tests.helpers import make_model_files, task_context


@pytest.fixture
def two_versions(mlflow_registry: str, tmp_path: Path) -> tuple[dict, dict]:
    refs = []
    for seed, accuracy in ((0, 0.80), (1, 0.88)):
        folder = tmp_path / str(seed)
        folder.mkdir()
        paths = make_model_files(folder, seed)
        op = log_model_operator(paths, f"1.0.{seed}", metrics={"accuracy": accuracy}, training_data=[paths["train"]])
        refs.append(op.execute(task_context("log_model")))
    MlflowClient(mlflow_registry, mlflow_registry).set_registered_model_alias("churn", "champion", "1")
    return refs[0], refs[1]


def test_compare_champion_with_a_reference(two_versions: tuple[dict, dict]) -> None:
    op = CompareVersionsOperator(task_id="compare", model_name="churn", base="@champion", candidate=two_versions[1])
    diff = op.execute(task_context("compare"))
    assert (diff["base"]["version"], diff["candidate"]["version"]) == ("1", "2")
    accuracy = diff["metrics"]["accuracy"]
    assert accuracy["base"] == 0.80 and accuracy["candidate"] == 0.88
    assert abs(accuracy["pct"] - 10.0) < 1e-9
    assert diff["lineage"]["training_data_sha256"]["changed"] is True  # another seed, other data
    assert diff["tags"]["changed"]["airflow_registry.version_name"] == {"base": "1.0.0", "candidate": "1.0.1"}


def test_compare_by_version_id_and_json_reference(two_versions: tuple[dict, dict]) -> None:
    import json

    op = CompareVersionsOperator(task_id="compare", model_name="churn", base="2", candidate=json.dumps(two_versions[1]))
    diff = op.execute(task_context("compare"))
    assert diff["metrics"]["accuracy"]["delta"] == 0.0
    assert diff["lineage"]["training_data_sha256"]["changed"] is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": "@nobody", "candidate": "1"}, "no version"),
        ({"base": "@bad alias", "candidate": "1"}, "base"),
        ({"base": "1", "candidate": "1", "model_name": None}, "model_name"),
        ({"base": "1", "candidate": "1", "model_name": "churn'; --"}, "model_name"),
    ],
)
def test_bad_references_fail_without_retry(two_versions, kwargs: dict, message: str) -> None:
    kwargs = {"model_name": "churn", **kwargs}
    with pytest.raises(AirflowFailException, match=message):
        CompareVersionsOperator(task_id="compare", **kwargs).execute(task_context("compare"))
