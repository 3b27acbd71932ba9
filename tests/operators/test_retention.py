"""RetentionOperator on a real sqlite MLflow registry."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException
from mlflow import MlflowClient

from airflow_registry_provider import tags
from airflow_registry_provider.governance.audit import parse_log
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.operators import RetentionOperator
from tests.helpers import task_context


def retain(**kwargs) -> dict:
    return RetentionOperator(task_id="retention", model_name="churn", **kwargs).execute(task_context("retention"))


@pytest.fixture
def eight_versions(mlflow_registry: str, make_versions) -> MlflowClient:
    make_versions("churn", 8)
    client = MlflowClient(mlflow_registry, mlflow_registry)
    client.set_registered_model_alias("churn", "champion", "2")
    client.transition_model_version_stage("churn", "3", "Production")
    client.transition_model_version_stage("churn", "4", "Staging")
    return client


def state(client: MlflowClient) -> dict[str, tuple[str, bool]]:
    return {
        str(mv.version): (mv.current_stage, tags.ARCHIVED in mv.tags)
        for mv in client.search_model_versions("name='churn'")
    }


def test_dry_run_then_archive_then_nothing(eight_versions: MlflowClient) -> None:
    before = state(eight_versions)
    plan = retain(keep_latest=2, dry_run=True)
    assert plan["archive"] == ["6", "5", "4", "1"]
    assert plan["kept"] == {"holds an alias": 1, "Production stage": 1, "latest 2": 2}
    assert state(eight_versions) == before

    retain(keep_latest="2", reason="monthly cleanup")
    after = state(eight_versions)
    assert {v for v, (_, archived) in after.items() if archived} == {"1", "4", "5", "6"}
    assert after["4"] == ("Archived", True)  # a staged version also moves to the Archived stage
    assert after["2"] == before["2"] and after["3"] == ("Production", False)
    log = parse_log(MlflowRegistryHook().get_model_tags("churn")[tags.AUDIT_LOG])
    assert sorted((r.action, r.version, r.reason) for r in log) == [
        ("archive", v, "monthly cleanup") for v in ("1", "4", "5", "6")
    ]
    assert parse_log(MlflowRegistryHook().get_version_tags("churn", "4")[tags.AUDIT_LOG])[0].before == {
        "stage": "Staging"
    }

    again = retain(keep_latest=2)
    assert (again["archive"], again["delete"]) == ([], [])
    assert again["kept"]["already archived"] == 4


def test_deletion_after_the_retention_period(eight_versions: MlflowClient) -> None:
    retain(keep_latest=2)
    assert retain(keep_latest=2, delete_after_days=30)["delete"] == []  # archived just now
    preview = retain(keep_latest=2, delete_after_days=0, dry_run=True)
    assert sorted(preview["delete"]) == ["1", "4", "5", "6"]
    assert len(state(eight_versions)) == 8
    retain(keep_latest=2, delete_after_days=0)
    assert sorted(state(eight_versions)) == ["2", "3", "7", "8"]
    log = parse_log(MlflowRegistryHook().get_model_tags("churn")[tags.AUDIT_LOG])
    assert sorted(r.version for r in log if r.action == "delete") == ["1", "4", "5", "6"]


@pytest.mark.parametrize(
    "kwargs", [{"keep_latest": 0}, {"keep_latest": "many"}, {"keep_latest": 1, "delete_after_days": -1}]
)
def test_bad_policy_fails_without_retry(mlflow_registry: str, kwargs: dict) -> None:
    with pytest.raises(AirflowFailException):
        retain(**kwargs)


def test_paged_listing_reports_aliases(eight_versions: MlflowClient) -> None:
    # MLflow's search leaves aliases out; the hook fills them in, or retention would miss them.
    listed = {v.version: v.aliases for v in MlflowRegistryHook().iter_versions("churn", page_size=3)}
    assert len(listed) == 8
    assert listed["2"] == ("champion",)
    assert list(MlflowRegistryHook().iter_versions("no_such_model")) == []
