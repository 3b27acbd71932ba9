"""A DAG run whose connections carry passwords (MLflow basic auth, PostgreSQL audit sink)
leaves the passwords in no task log, no log file and no audit record."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pendulum
import pytest

from tests.governance.fixtures import ADMIN, log_model_operator, mlflow_auth_server, pg_conn_id
from tests.helpers import make_model_files

__all__ = ["mlflow_auth_server", "pg_conn_id"]  # fixtures used here

pytestmark = pytest.mark.integration


def test_passwords_appear_nowhere(
    airflow_db: None,
    mlflow_auth_server: str,
    pg_conn_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from airflow.sdk import DAG

    from airflow_registry_provider.audit_trail import read_sql_records
    from airflow_registry_provider.operators import (
        AliasHistoryOperator,
        GrantModelOperator,
        RetentionOperator,
    )

    pg_password = "Pg-" + secrets.token_hex(12)
    audit = {**json.loads(os.environ["AIRFLOW_CONN_AUDIT_PG"]), "password": pg_password}
    monkeypatch.setenv("AIRFLOW_CONN_AUDIT_SECRET", json.dumps(audit))
    registry = {"conn_type": "mlflow_registry", "login": ADMIN[0], "password": ADMIN[1]}
    registry["extra"] = {"tracking_uri": mlflow_auth_server}
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_SECRET", json.dumps(registry))
    paths = make_model_files(tmp_path)
    common = {"registry_conn_id": "mlflow_secret", "audit_conn_id": "audit_secret"}

    with DAG("governance_secrets", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        log_model = log_model_operator(paths, model_name="secret_churn", **common)
        grants = GrantModelOperator(
            task_id="grant", model_name="secret_churn", grants={"GHOST_ROLE": "READ"}, **common
        )  # fails: the role does not exist, and the error is logged
        retention = RetentionOperator(
            task_id="retention", model_name="secret_churn", keep_latest=1, dry_run=True, **common
        )
        history = AliasHistoryOperator(task_id="history", model_name="secret_churn", alias="champion", **common)
        log_model >> [grants, retention, history]
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(tmp_path), collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)
    run = dag.test()

    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"log_model": "success", "grant": "failed", "retention": "success", "history": "success"}
    assert read_sql_records("audit_secret", "secret_churn")[0].action == "register"

    captured = capfd.readouterr()
    texts = {"stdout": captured.out, "stderr": captured.err, "log records": caplog.text}
    assert "GHOST_ROLE" in captured.out + captured.err + caplog.text  # the task logs were captured
    for log_file in Path(os.environ["AIRFLOW_HOME"]).rglob("*.log"):
        texts[str(log_file)] = log_file.read_text(errors="replace")
    texts["audit table"] = repr(read_sql_records("audit_secret", "secret_churn"))
    for password in (ADMIN[1], pg_password):
        leaks = [where for where, text in texts.items() if password in text]
        assert leaks == [], f"password found in {leaks}"
