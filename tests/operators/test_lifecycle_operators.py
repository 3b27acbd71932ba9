"""The four core operators against a real sqlite MLflow registry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from mlflow import MlflowClient

from airflow_registry_provider import tags
from airflow_registry_provider.assets import MODEL_EVENTS_ALIAS
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.audit import alias_history, parse_log
from airflow_registry_provider.operators import (
    BatchInferenceOperator,
    LogModelOperator,
    PromoteVersionOperator,
    ValidateMetricsOperator,
)
from tests.helpers import make_model_files, task_context


def _log(paths: dict[str, str], version_name: str = "1.0.0", **kwargs: object) -> LogModelOperator:
    params: dict = {
        "task_id": "log_model",
        "model_name": "churn",
        "model": paths["model"],
        "version_name": version_name,
        "sample_input": paths["sample"],
        "metrics": {"accuracy": 0.9},
        "training_data": [paths["train"]],
    }
    params.update(kwargs)
    return LogModelOperator(**params)


def _versions(uri: str, name: str = "churn") -> list:
    return MlflowClient(uri).search_model_versions(f"name = '{name}'")


def test_log_model_records_lineage_signature_and_emits_asset(mlflow_registry: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    context = task_context("log_model")
    ref = _log(paths).execute(context)
    expected = {
        "registry_conn_id": "mlflow_default",
        "model_name": "churn",
        "version": "1",
        "version_name": "1.0.0",
        "uri": "models:/churn/1",
        "aliases": [],
    }
    assert ref == {**expected, "model_version": expected}  # the one XCom shape
    mv = MlflowClient(mlflow_registry).get_model_version("churn", "1")
    assert mv.tags[tags.DAG_ID] == "test_dag" and mv.tags[tags.TASK_ID] == "log_model"
    assert mv.tags[tags.TRY_NUMBER] == "1"
    assert len(mv.tags[tags.ARTIFACT_SHA256]) == 64
    assert paths["train"] in mv.tags[tags.TRAINING_DATA_SHA256]
    from airflow_registry_provider.hooks import MlflowRegistryHook

    assert MlflowRegistryHook().input_schema("churn", "1") == [("f1", "double"), ("f2", "double"), ("f3", "double")]
    events = {asset.uri: extra for asset, extra in context["outlet_events"][MODEL_EVENTS_ALIAS].added}
    assert events["model-registry://mlflow_default/churn"]["version"] == "1"


def test_retry_returns_the_same_version(mlflow_registry: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    first = _log(paths).execute(task_context())
    retry = _log(paths).execute(task_context())
    assert first == retry
    assert len(_versions(mlflow_registry)) == 1


BAD_INPUTS = [
    ({"model_name": "bad name!"}, "model_name"),
    ({"version_name": "1.0"}, "version_name"),
    ({"metrics": {"accuracy": "high"}}, "metrics.accuracy"),
    ({"metrics": {"accuracy": float("nan")}}, "metrics.accuracy"),
    ({"model": "/nonexistent/model.joblib"}, "model"),
    ({"sample_input": None}, "sample_input"),
    ({"training_data": ["/nonexistent.parquet"]}, "training_data"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUTS)
def test_bad_input_names_the_field_and_leaves_registry_unchanged(
    mlflow_registry: str, tmp_path: Path, change: dict, field: str
) -> None:
    paths = make_model_files(tmp_path)
    # A literal value is refused when the DAG is parsed, a rendered one when the task runs.
    with pytest.raises((AirflowFailException, InvalidInputError), match=rf"^{field}: "):
        _log(paths, **change).execute(task_context())
    assert _versions(mlflow_registry) == []


def test_corrupt_model_file_and_mismatched_sample(mlflow_registry: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    corrupt = tmp_path / "corrupt.joblib"
    corrupt.write_bytes(b"not a pickle at all")
    with pytest.raises(AirflowFailException, match="^model: .*cannot be loaded"):
        _log(paths, model=str(corrupt)).execute(task_context())
    wrong = tmp_path / "wrong.parquet"
    pd.DataFrame({"f1": [1.0], "other": [2.0]}).to_parquet(wrong)
    with pytest.raises(AirflowFailException, match=r"^sample_input: .*missing columns \['f2', 'f3'\]"):
        _log(paths, sample_input=str(wrong)).execute(task_context())
    _log(paths).execute(task_context())
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(AirflowFailException, match="^version_name: .*already exists"):
        _log(make_model_files(other, seed=5)).execute(task_context())
    assert len(_versions(mlflow_registry)) == 1


def _validate(ref: dict, **kwargs: object) -> ValidateMetricsOperator:
    return ValidateMetricsOperator(task_id="validate", model_version=ref, **kwargs)


def test_gate_promote_rollback_cycle(mlflow_registry: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    v1 = _log(paths, metrics={"accuracy": 0.80}).execute(task_context())
    result = _validate(
        v1,
        thresholds={"accuracy": ">= 0.7"},
        compare_to="champion",
        validation_data=paths["validation"],
        label_column="label",
    ).execute(task_context())
    assert result["passed"] and "no champion" in result["notes"][0]
    assert result["metrics"]["accuracy"]["value"] > 0.9  # replaced by the inference test
    PromoteVersionOperator(task_id="promote", model_version=v1, reason="first").execute(task_context())

    (tmp_path / "two").mkdir()
    paths2 = make_model_files(tmp_path / "two", seed=1)
    v2 = _log(paths2, version_name="1.0.1", metrics={"accuracy": 0.95}).execute(task_context())
    _validate(v2, thresholds={"accuracy": ">= 0.7"}, compare_to="champion").execute(task_context())
    promoted = PromoteVersionOperator(task_id="promote", model_version=v2, reason="better").execute(
        task_context(user="bob")
    )
    assert promoted["version"] == "2" and promoted["previous_version"] == "1"

    client = MlflowClient(mlflow_registry)
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "2"
    assert str(client.get_model_version_by_alias("churn", "previous_champion").version) == "1"
    mv2 = client.get_model_version("churn", "2")
    assert mv2.tags[tags.PROMOTED_BY] == "bob" and mv2.tags[tags.PROMOTION_REASON] == "better"
    assert mv2.tags[tags.VALIDATION_STATUS] == "passed"

    # Re-running the same promotion is a no-op.
    again = PromoteVersionOperator(task_id="promote", model_version=v2).execute(task_context())
    assert again["previous_version"] == "2"
    assert str(client.get_model_version_by_alias("churn", "previous_champion").version) == "1"

    PromoteVersionOperator(task_id="rollback", model_name="churn", rollback=True, reason="incident").execute(
        task_context()
    )
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("churn", "previous_champion").version) == "2"
    # The audit trail is the alias history (PromoteVersion keeps no separate one).
    records = parse_log(client.get_registered_model("churn").tags[tags.AUDIT_LOG])
    history = [(span.version, span.reason) for span in alias_history(records, "champion")]
    assert history == [("1", "first"), ("2", "better"), ("1", "incident")]
    assert tags.ALIAS_HISTORY not in client.get_registered_model("churn").tags


def test_rejected_candidate_is_tagged_and_never_promoted(mlflow_registry: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    v1 = _log(paths, metrics={"accuracy": 0.9}).execute(task_context())
    with pytest.raises(AirflowSkipException, match="rejected"):
        _validate(v1, thresholds={"accuracy": ">= 0.999"}, on_failure="skip").execute(task_context())
    mv = MlflowClient(mlflow_registry).get_model_version("churn", "1")
    assert mv.tags[tags.VALIDATION_STATUS] == "rejected"
    assert '"passed": false' in mv.tags[tags.VALIDATION_RESULT]
    with pytest.raises(AirflowFailException, match="rejected"):
        PromoteVersionOperator(task_id="promote", model_version=v1).execute(task_context())
    assert MlflowClient(mlflow_registry).get_registered_model("churn").aliases == {}


def test_validate_bad_input(mlflow_registry: str, tmp_path: Path) -> None:
    v1 = _log(make_model_files(tmp_path)).execute(task_context())
    with pytest.raises(InvalidInputError, match="^thresholds.accuracy: "):  # refused when the DAG is parsed
        _validate(v1, thresholds={"accuracy": "good"})
    templated = _validate(v1, thresholds="{{ params.thresholds }}")
    templated.thresholds = '{"accuracy": "good"}'  # as Jinja renders it without native rendering
    with pytest.raises(AirflowFailException, match="^thresholds.accuracy: "):  # or when the task runs
        templated.execute(task_context())
    with pytest.raises(AirflowFailException, match="^compare_to: .*reserved"):
        _validate(v1, thresholds={"accuracy": ">= 0"}, compare_to="latest").execute(task_context())
    with pytest.raises(AirflowFailException, match="^alias: .*reserved"):
        PromoteVersionOperator(task_id="p", model_version=v1, alias="v1", require_validation=False).execute(
            task_context()
        )
    assert tags.VALIDATION_STATUS not in MlflowClient(mlflow_registry).get_model_version("churn", "1").tags


def test_batch_inference_with_champion(mlflow_registry: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    v1 = _log(paths).execute(task_context())
    PromoteVersionOperator(task_id="p", model_version=v1, require_validation=False).execute(task_context())
    out = tmp_path / "pred.parquet"
    summary = BatchInferenceOperator(
        task_id="score", model_name="churn", input_path=paths["validation"], output_path=str(out), batch_size=64
    ).execute(task_context())
    frame = pd.read_parquet(out)
    assert summary["rows"] == len(frame) == 200
    assert summary["model_version"]["version"] == "1"
    assert "label" in frame.columns  # non-feature columns pass through
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"f1": [1.0]}).to_parquet(bad)
    with pytest.raises(AirflowFailException, match=r"^input_path: missing columns the model needs: \['f2', 'f3'\]"):
        BatchInferenceOperator(
            task_id="score", model_name="churn", input_path=str(bad), output_path=str(tmp_path / "x.parquet")
        ).execute(task_context())
    assert not (tmp_path / "x.parquet").exists()
