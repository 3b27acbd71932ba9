"""RollbackOperator on real sqlite registries, after a real PromoteVersion and a failed
post-promotion ValidateMetrics: the previous champion is back, the failed version and its
source are marked, the audit says why, and re-runs converge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_registry_provider import tags
from airflow_registry_provider.operators.promote_version import PromoteVersionOperator
from airflow_registry_provider.operators.rollback import RollbackOperator, rolled_back
from airflow_registry_provider.operators.validate_metrics import ValidateMetricsOperator
from tests.helpers import task_context
from tests.promotion.environments_fixtures import MODEL, THRESHOLDS, Registries, registries  # noqa: F401 - fixture


def _promote(version: str) -> dict[str, Any]:
    ref = {"registry_conn_id": "mlflow_prd", "model_name": MODEL, "version": version}
    operator = PromoteVersionOperator(task_id="promote", registry_conn_id="mlflow_prd", model_version=ref)
    return operator.execute(task_context("promote"))


def _check(found: Registries, promotion: dict[str, Any]) -> None:
    """The post-promotion check on fresh labelled data."""
    ValidateMetricsOperator(
        task_id="post_promotion_check",
        registry_conn_id="mlflow_prd",
        model_version=promotion,
        thresholds=THRESHOLDS,
        validation_data=str(found.fresh_data),
        label_column="label",
    ).execute(task_context("post_promotion_check"))


def _rollback(promotion: Any, **kwargs: Any) -> dict[str, Any]:
    operator = RollbackOperator(task_id="rollback", promotion=promotion, environment="PRD", **kwargs)
    return operator.execute(task_context("rollback"))


@pytest.fixture
def failed_promotion(registries: Registries) -> dict[str, Any]:  # noqa: F811
    """PRD: 1.0.0 was champion; 1.1.0 (bad on real data) was promoted and failed its check."""
    registries.register("PRD", "1.0.0")
    bad = registries.register("PRD", "1.1.0", good=False, champion=False)
    source = registries.register("DEV", "1.1.0", good=False)
    promotion = _promote(bad)
    assert promotion["previous_version"] == "1" and registries.champion("PRD") == bad
    with pytest.raises(AirflowFailException, match="rejected on \\['accuracy'\\]"):
        _check(registries, promotion)
    return {"promotion": promotion, "bad": bad, "source": {"registry_conn_id": "mlflow_dev", **_ref(source)}}


def _ref(version: str) -> dict[str, str]:
    return {"model_name": MODEL, "version": version}


def test_the_previous_champion_is_restored_and_the_failed_version_marked(
    registries: Registries,  # noqa: F811
    failed_promotion: dict[str, Any],
) -> None:
    result = _rollback(failed_promotion["promotion"], lineage=[failed_promotion["source"]])

    assert registries.champion("PRD") == "1"
    assert result["version"] == "1" and result["rolled_back_version"] == failed_promotion["bad"]
    assert result["reason"].startswith("post-promotion check failed: accuracy >= 0.8: failed")
    prd = registries.hook("PRD")
    failed = prd.get_version_tags(MODEL, failed_promotion["bad"])
    assert failed[tags.VALIDATION_STATUS] == tags.VALIDATION_REJECTED
    mark = rolled_back(failed)
    assert mark is not None and mark["environment"] == "PRD" and mark["reason"] == result["reason"]
    # The source it was copied from is marked too: the next run does not promote it again.
    source = registries.hook("DEV").get_version_tags(MODEL, failed_promotion["source"]["version"])
    assert rolled_back(source) == mark and source[tags.VALIDATION_STATUS] == tags.VALIDATION_REJECTED
    # Recorded with its reason.
    moves = [r for r in json.loads(prd.get_model_tags(MODEL)[tags.AUDIT_LOG]) if r["action"] == "alias"]
    assert moves[-1]["before"] == {"alias": "champion", "version": failed_promotion["bad"]}
    assert moves[-1]["after"] == {"alias": "champion", "version": "1"}
    assert moves[-1]["reason"] == result["reason"]
    # PromoteVersion refuses the failed version from now on.
    with pytest.raises(AirflowFailException, match="rejected by validation"):
        _promote(failed_promotion["bad"])


def test_a_rerun_converges_without_new_records(registries: Registries, failed_promotion: dict[str, Any]) -> None:  # noqa: F811
    _rollback(failed_promotion["promotion"])
    prd = registries.hook("PRD")
    log = prd.get_model_tags(MODEL)[tags.AUDIT_LOG]
    again = _rollback(json.dumps(failed_promotion["promotion"]))
    assert again["version"] == "1" and registries.champion("PRD") == "1"
    assert prd.get_model_tags(MODEL)[tags.AUDIT_LOG] == log


def test_a_newer_promotion_is_not_rolled_over(registries: Registries, failed_promotion: dict[str, Any]) -> None:  # noqa: F811
    newer = registries.register("PRD", "1.2.0")  # someone promoted another version meanwhile
    with pytest.raises(AirflowFailException, match=f"^alias: 'champion' of churn moved to version {newer}"):
        _rollback(failed_promotion["promotion"])
    assert registries.champion("PRD") == newer


def test_without_a_previous_champion_the_alias_is_removed(registries: Registries) -> None:  # noqa: F811
    only = registries.register("PRD", "1.0.0", champion=False)
    promotion = _promote(only)
    result = _rollback(promotion, reason="smoke test failed")
    assert registries.champion("PRD") is None
    assert result["version"] is None and result["model_version"] is None and result["reason"] == "smoke test failed"


def test_nothing_promoted_skips(registries: Registries) -> None:  # noqa: F811
    with pytest.raises(AirflowSkipException, match="nothing to roll back"):
        _rollback(None)


@pytest.mark.parametrize(
    ("promotion", "message"),
    [
        ({"model_name": MODEL, "version": "1", "registry_conn_id": "mlflow_prd"}, "^promotion: expected Promote"),
        ("not a reference", "^promotion: cannot read"),
        ({"model_name": MODEL, "version": "9", "registry_conn_id": "mlflow_prd", "previous_version": "1"}, "9"),
    ],
)
def test_bad_input_changes_nothing(registries: Registries, promotion: Any, message: str) -> None:  # noqa: F811
    registries.register("PRD", "1.0.0")
    with pytest.raises(AirflowFailException, match=message):
        _rollback(promotion)
    assert registries.champion("PRD") == "1"
