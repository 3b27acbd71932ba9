"""The lifecycle operators and the MLflow hook against a real ``mlflow server`` over REST.

The server (``tests/integration/servers.py``) runs on loopback for the session, backed by
a fresh PostgreSQL database and a temp artifact store it proxies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException
from mlflow import MlflowClient

from airflow_registry_provider import tags
from airflow_registry_provider.hooks.base import ModelPackage
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.operators import (
    BatchInferenceOperator,
    LogModelOperator,
    PromoteVersionOperator,
    ValidateMetricsOperator,
)
from tests.helpers import FEATURES, make_data, make_model_files, task_context

pytestmark = pytest.mark.integration


@pytest.fixture
def server_conn(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ``mlflow_default`` connection pointing at the test server; returns its URL."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT",
        json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": mlflow_server, "timeout": 30}}),
    )
    return mlflow_server


def _log_operator(paths: dict[str, str], model_name: str, version_name: str = "1.0.0") -> LogModelOperator:
    return LogModelOperator(
        task_id="log_model",
        model_name=model_name,
        model=paths["model"],
        version_name=version_name,
        sample_input=paths["sample"],
        metrics={"accuracy": 0.9},
        training_data=[paths["train"]],
        tags={"team": "growth"},
    )


def _source_package(version_name: str, source_uri: str) -> ModelPackage:
    return ModelPackage(
        version_name=version_name,
        flavor="sklearn",
        artifact_sha256=version_name,
        source_uri=source_uri,
        tags={tags.VERSION_NAME: version_name, tags.ARTIFACT_SHA256: version_name},
    )


def test_lifecycle_operators_through_the_server(server_conn: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    scoring = make_data(1_000, seed=7)[FEATURES]
    scoring.insert(0, "customer_id", range(len(scoring)))
    scoring_path = str(tmp_path / "scoring.parquet")
    scoring.to_parquet(scoring_path, index=False)
    output_path = str(tmp_path / "predictions.parquet")

    log_model = _log_operator(paths, "it_churn")
    ref = log_model.execute(task_context("log_model"))
    assert ref["model_name"] == "it_churn" and ref["version"] == "1" and ref["version_name"] == "1.0.0"
    assert log_model.registry_version_url == f"{server_conn}/#/models/it_churn/versions/1"

    verdict = ValidateMetricsOperator(
        task_id="validate_metrics",
        model_version=ref,
        thresholds={"accuracy": ">= 0.8"},
        compare_to="champion",
        validation_data=paths["validation"],
        label_column="label",
    ).execute(task_context("validate_metrics"))
    assert verdict["passed"] is True

    promoted = PromoteVersionOperator(task_id="promote_version", model_version=ref).execute(
        task_context("promote_version")
    )
    assert promoted["version"] == "1" and promoted["previous_version"] is None

    summary = BatchInferenceOperator(
        task_id="batch_inference", model_name="it_churn", input_path=scoring_path, output_path=output_path
    ).execute(task_context("batch_inference"))
    assert summary["rows"] == len(scoring) and summary["model_version"]["version"] == "1"

    client = MlflowClient(server_conn)
    mv = client.get_model_version("it_churn", "1")
    assert mv.tags[tags.VERSION_NAME] == "1.0.0"
    assert mv.tags[tags.DAG_ID] == "test_dag" and mv.tags[tags.TASK_ID] == "log_model"
    assert mv.tags[tags.RUN_ID] == "manual__test" and mv.tags[tags.TRY_NUMBER] == "1"
    assert len(mv.tags[tags.ARTIFACT_SHA256]) == 64 and mv.tags[tags.FLAVOR] == "sklearn"
    assert paths["train"] in json.loads(mv.tags[tags.TRAINING_DATA_SHA256])
    assert mv.tags["team"] == "growth"
    assert mv.tags[tags.VALIDATION_STATUS] == tags.VALIDATION_PASSED
    assert mv.tags[tags.PROMOTED_BY] == "alice"
    assert client.get_run(mv.run_id).data.metrics == {"accuracy": 0.9}
    assert client.get_model_version_by_alias("it_churn", "champion").version == "1"
    # The move is in the audit trail, with the promotion tags; no separate alias history.
    model_tags = client.get_registered_model("it_churn").tags
    moves = [r for r in json.loads(model_tags[tags.AUDIT_LOG]) if r["action"] == "alias"]
    assert [(r["after"], r["actor"]) for r in moves] == [({"alias": "champion", "version": "1"}, "alice")]
    assert tags.ALIAS_HISTORY not in model_tags
    # The artifacts went through the server's proxy, not to a local path.
    assert client.get_run(mv.run_id).info.artifact_uri.startswith("mlflow-artifacts:")

    predictions = pd.read_parquet(output_path)
    assert len(predictions) == len(scoring)
    assert list(predictions.columns) == ["customer_id", "prediction", "model_name", "model_version"]
    assert set(predictions["model_name"].astype(str)) == {"it_churn"}
    assert set(predictions["model_version"].astype(str)) == {"1"}


def test_retry_is_idempotent_over_rest(server_conn: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    first = _log_operator(paths, "it_retry").execute(task_context("log_model"))
    # A retry of the same task (same version name, same file) gets the same version back.
    retry = _log_operator(paths, "it_retry").execute(task_context("log_model"))
    assert retry == first
    client = MlflowClient(server_conn)
    assert [v.version for v in client.search_model_versions("name = 'it_retry'")] == ["1"]
    # Another artifact under the same version name fails the task without retrying.
    other = make_model_files(tmp_path, seed=1)
    with pytest.raises(AirflowFailException, match="already exists"):
        _log_operator(other, "it_retry").execute(task_context("log_model"))
    assert len(client.search_model_versions("name = 'it_retry'")) == 1


def test_pagination_past_one_page_over_rest(server_conn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_model_files(tmp_path)
    _log_operator(paths, "it_paged").execute(task_context("log_model"))
    hook = MlflowRegistryHook()
    # A version logged with MLflow 3 has its logged model (models:/m-...) as source.
    logged_model = MlflowClient(server_conn).get_model_version("it_paged", "1").source
    assert logged_model.startswith("models:/m-")
    for i in range(1, 5):  # more versions of the same logged model, without uploading it again
        hook.register_version("it_paged", _source_package(f"1.0.{i}", logged_model))

    from airflow_registry_provider.hooks.mlflow.rest import RestReads

    calls: list[str | None] = []
    search = RestReads.search_model_versions

    def counting(self: RestReads, *args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("page_token"))  # type: ignore[arg-type]
        return search(self, *args, **kwargs)  # type: ignore[arg-type]

    # Reads from a server go through RestReads (no process-global state), never MlflowClient.
    monkeypatch.setattr(MlflowClient, "search_model_versions", lambda *a, **k: pytest.fail("MlflowClient read"))
    monkeypatch.setattr(RestReads, "search_model_versions", counting)
    assert [v.version for v in hook.iter_versions("it_paged", page_size=2)] == ["5", "4", "3", "2", "1"]
    assert len(calls) == 3 and calls[0] is None and all(calls[1:])  # three pages, following the tokens
    assert hook.next_version_name("it_paged") == "1.0.5"


def test_register_from_a_registered_version_over_rest(server_conn: str, tmp_path: Path) -> None:
    _log_operator(make_model_files(tmp_path), "it_copy").execute(task_context("log_model"))
    version, created = MlflowRegistryHook().register_version("it_copy", _source_package("2.0.0", "models:/it_copy/1"))
    assert created and version.version == "2"


def test_the_model_audit_log_stays_within_postgresql_limits(server_conn: str, tmp_path: Path) -> None:
    """Audited changes keep working once the model's log has seen far more than 5,000 characters."""
    from mlflow.exceptions import MlflowException

    from airflow_registry_provider.governance.audit import parse_log

    client = MlflowClient(server_conn)
    refs = [
        _log_operator(make_model_files(tmp_path, seed=seed), "it_audit", f"1.0.{seed}").execute(
            task_context("log_model")
        )
        for seed in range(2)
    ]
    # The limit is real on this server: a model tag over 5,000 characters is refused.
    with pytest.raises(MlflowException, match="5000|too long"):
        client.set_registered_model_tag("it_audit", "probe", "x" * 5001)
    hook = MlflowRegistryHook()
    assert hook.max_model_tag_length == 5000
    seen: dict[str, int] = {}
    promotions = 0
    while sum(seen.values()) <= 3 * hook.max_model_tag_length:
        ref = refs[promotions % 2]
        promoted = PromoteVersionOperator(
            task_id="promote_version", model_version=ref, require_validation=False, reason=f"round {promotions}"
        ).execute(task_context("promote_version", run_id=f"manual__{promotions}"))
        assert promoted["version"] == ref["version"]
        promotions += 1
        log = client.get_registered_model("it_audit").tags[tags.AUDIT_LOG]
        assert len(log) <= hook.max_model_tag_length
        for record in parse_log(log):
            seen.setdefault(json.dumps(record.to_dict(), sort_keys=True, default=str), 0)
        seen = {key: len(key) for key in seen}
        assert parse_log(log)[-1].reason == f"round {promotions - 1}"  # the newest record is kept
    assert client.get_model_version_by_alias("it_audit", "champion").version == refs[(promotions - 1) % 2]["version"]


def test_a_server_without_access_control_cannot_manage_grants(server_conn: str) -> None:
    from airflow_registry_provider.exceptions import UnsupportedOperationError
    from airflow_registry_provider.governance.grants import Grant

    hook = MlflowRegistryHook()
    for call in (
        lambda: hook.list_grants("anything"),
        lambda: hook.implicit_grants("anything"),
        lambda: hook.list_future_grants(),
        lambda: hook.apply_future_grants([Grant("ROLE", "READ")], []),
    ):
        with pytest.raises(UnsupportedOperationError, match="registry_conn_id: .*mlflow_default.*basic-auth"):
            call()
