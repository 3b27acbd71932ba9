"""ModelCardOperator after a real register -> validate -> promote on a sqlite registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import tags
from airflow_registry_provider.governance.audit import parse_log
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.operators import (
    ModelCardOperator,
    PromoteVersionOperator,
    ValidateMetricsOperator,
)
from tests.governance.fixtures import log_model_operator
from tests.helpers import make_model_files, task_context


def test_card_is_stored_with_the_version(mlflow_registry: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    ref = log_model_operator(
        paths,
        metrics={"accuracy": 0.91},
        training_data=[paths["train"]],
        description="Churn risk for the retention team",
        tags={"owner": "growth-team"},
    ).execute(task_context("log_model"))
    ValidateMetricsOperator(task_id="validate", model_version=ref, thresholds={"accuracy": ">= 0.8"}).execute(
        task_context("validate")
    )
    PromoteVersionOperator(task_id="promote", model_version=ref, approver="carol", reason="first release").execute(
        task_context("promote", user="bob")
    )
    result = ModelCardOperator(
        task_id="model_card", model_version=ref, limitations="Not validated on customers under 18"
    ).execute(task_context("model_card"))
    assert result["markdown"].endswith("/model_card/model_card.md")
    assert result["html"].endswith("/model_card/model_card.html")

    hook = MlflowRegistryHook()
    markdown = Path(hook.download_artifact("churn", "1", "model_card/model_card.md", str(tmp_path))).read_text()
    for text in (
        "Churn risk for the retention team",
        "growth-team",
        "0.91",
        "**passed**",
        "approved by carol",
        "first release",
        "Not validated on customers under 18",
        Path(paths["train"]).name,
    ):
        assert text in markdown, text
    page = Path(hook.download_artifact("churn", "1", "model_card/model_card.html", str(tmp_path))).read_text()
    assert "<title>Model card: churn version 1 (1.0.0)</title>" in page
    assert hook.get_version_tags("churn", "1")[tags.MODEL_CARD] == "model_card/model_card.md"
    assert parse_log(hook.get_version_tags("churn", "1")[tags.AUDIT_LOG])[-1].action == "artifact"


def test_bad_limitations_fail_without_retry(mlflow_registry: str) -> None:
    ref = {"model_name": "churn", "version": "1"}
    with pytest.raises(AirflowFailException, match="limitations"):
        ModelCardOperator(task_id="card", model_version=ref, limitations=[1, 2]).execute(task_context("card"))
