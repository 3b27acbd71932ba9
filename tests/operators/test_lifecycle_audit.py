"""LogModel, ValidateMetrics and PromoteVersion leave one audit record per change."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_registry_provider import tags
from airflow_registry_provider.audit_trail import load_records
from airflow_registry_provider.governance.audit import alias_history, parse_log, version_at
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.operators import (
    AliasHistoryOperator,
    PromoteVersionOperator,
    ValidateMetricsOperator,
)
from tests.governance.fixtures import log_model_operator
from tests.helpers import make_model_files, task_context


def lifecycle(paths: dict[str, str], version_name: str, audit_conn_id: str | None, **promote: object) -> dict:
    common = {"audit_conn_id": audit_conn_id}
    ref = log_model_operator(
        paths, version_name, metrics={"accuracy": 0.9}, description="weekly retrain", **common
    ).execute(task_context("log_model"))
    ValidateMetricsOperator(task_id="validate", model_version=ref, thresholds={"accuracy": ">= 0.5"}, **common).execute(
        task_context("validate")
    )
    PromoteVersionOperator(task_id="promote", model_version=ref, **common, **promote).execute(
        task_context("promote", user="bob")
    )
    return ref


@pytest.mark.integration
def test_every_change_is_audited_in_registry_and_postgres(
    mlflow_registry: str, tmp_path: Path, pg_conn_id: str
) -> None:
    paths = make_model_files(tmp_path)
    first = lifecycle(paths, "1.0.0", pg_conn_id, reason="first model", approver="carol")
    second = lifecycle(make_model_files(tmp_path, seed=1), "1.0.1", pg_conn_id, stage="Production")

    records = load_records(MlflowRegistryHook(), "churn", sql_conn_id=pg_conn_id)
    assert [(r.action, r.version, r.actor, r.task_id) for r in records] == [
        ("register", "1", "alice", "log_model"),
        ("tag", "1", "alice", "validate"),
        ("alias", "1", "bob", "promote"),
        ("register", "2", "alice", "log_model"),
        ("tag", "2", "alice", "validate"),
        ("alias", "1", "bob", "promote"),  # previous_champion -> 1
        ("alias", "2", "bob", "promote"),  # champion -> 2
        ("stage", "2", "bob", "promote"),
    ]
    assert records[0].after["artifact_sha256"] and records[0].reason == "weekly retrain"
    assert records[1].after == {tags.VALIDATION_STATUS: "passed"}
    assert (records[2].reason, records[2].approver) == ("first model", "carol")
    assert records[7].after == {"stage": "Production", "archive_existing": True}
    assert version_at(records, "champion", records[2].at) == first["version"]
    assert version_at(records, "champion", records[6].at) == second["version"]
    assert [s.version for s in alias_history(records, "previous_champion")] == ["1"]

    answer = AliasHistoryOperator(
        task_id="who", model_name="churn", alias="champion", at=records[5].at.isoformat(), audit_conn_id=pg_conn_id
    ).execute(task_context("who"))
    assert answer["version"] == "1"  # between the two promotions
    assert [(h["version"], h["actor"]) for h in answer["history"]] == [("1", "bob"), ("2", "bob")]

    # The registry keeps the same records: on the model, and per version.
    hook = MlflowRegistryHook()
    assert parse_log(hook.get_model_tags("churn")[tags.AUDIT_LOG]) == records
    version_log = parse_log(hook.get_version_tags("churn", "2")[tags.AUDIT_LOG])
    assert [r.action for r in version_log] == ["register", "tag", "alias", "stage"]


def test_a_retry_that_reuses_the_version_records_nothing_new(mlflow_registry: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    op = log_model_operator(paths)
    op.execute(task_context("log_model"))
    op.execute(task_context("log_model"))
    assert [r.action for r in load_records(MlflowRegistryHook(), "churn")] == ["register"]


def test_alias_history_from_the_registry_log(mlflow_registry: str, tmp_path: Path) -> None:
    ref = lifecycle(make_model_files(tmp_path), "1.0.0", None, reason="launch")
    op = AliasHistoryOperator(task_id="who", model_name="churn", alias="champion", at="2000-01-01")
    answer = op.execute(task_context("who"))
    assert answer["version"] is None  # before anything was recorded
    assert [(h["version"], h["reason"], h["end"]) for h in answer["history"]] == [(ref["version"], "launch", None)]
    op = AliasHistoryOperator(task_id="who", model_name="churn", alias="champion", at="2999-01-01T00:00:00Z")
    assert op.execute(task_context("who"))["version"] == ref["version"]


@pytest.mark.parametrize(("field", "value"), [("model_name", "churn; drop"), ("alias", "x y"), ("at", "yesterday")])
def test_alias_history_refuses_bad_input(mlflow_registry: str, field: str, value: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    kwargs = {"model_name": "churn", "alias": "champion", "at": None, field: value}
    with pytest.raises(AirflowFailException, match=field):
        AliasHistoryOperator(task_id="who", **kwargs).execute(task_context("who"))
