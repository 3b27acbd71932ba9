"""RegistryApprovalOperator's answer handling on a real sqlite registry: only allowed approvers
count, who and when land on the version and in the audit trail, reject and timeout record no
approval. The parked wait and the REST API answer run in a real Airflow in test_promotion_dag.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.providers.standard.exceptions import HITLTimeoutError
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import tags
from airflow_registry_provider.operators.approval import RegistryApprovalOperator
from tests.helpers import task_context
from tests.promotion.environments_fixtures import MODEL, Registries, registries  # noqa: F401 - fixture

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _operator(version: str, **kwargs: Any) -> RegistryApprovalOperator:
    ref = {"registry_conn_id": "mlflow_prd", "model_name": MODEL, "version": version}
    return RegistryApprovalOperator(task_id="approval", model_version=ref, approvers=["alice", "bob"], **kwargs)


def _answer(user: str | None, option: str = "Approve") -> dict[str, Any]:
    return {
        "chosen_options": [option],
        "params_input": {},
        "responded_at": AT,
        "responded_by_user": {"id": user, "name": user} if user else None,
        "timedout": False,
    }


def test_an_allowed_approver_is_recorded_on_the_version_and_in_the_audit(registries: Registries) -> None:  # noqa: F811
    version = registries.register("PRD", "1.0.0", champion=False)
    result = _operator(version).execute_complete(task_context("approval"), _answer("bob"))

    assert result["approved"] is True and result["approver"] == "bob"
    assert result["approved_at"] == AT.isoformat() and result["model_version"]["version"] == version
    found = registries.hook("PRD").get_version_tags(MODEL, version)
    assert found[tags.APPROVAL_STATUS] == "approved"
    assert found[tags.APPROVED_BY] == "bob" and found[tags.APPROVED_AT] == AT.isoformat()
    (record,) = json.loads(registries.hook("PRD").get_model_tags(MODEL)[tags.AUDIT_LOG])
    assert record["action"] == "tag" and record["approver"] == "bob" and record["version"] == version
    assert record["after"][tags.APPROVAL_STATUS] == "approved" and "bob at" in record["reason"]


def test_an_answer_from_anyone_else_does_not_count(registries: Registries) -> None:  # noqa: F811
    """E.g. under an auth manager where every admin may answer any HITL task."""
    version = registries.register("PRD", "1.0.0", champion=False)
    with pytest.raises(AirflowFailException, match="^approvers: .* mallory, who is not an allowed approver"):
        _operator(version).execute_complete(task_context("approval"), _answer("mallory"))
    with pytest.raises(AirflowFailException, match="nobody .timeout default."):
        _operator(version).execute_complete(task_context("approval"), _answer(None))
    assert tags.APPROVAL_STATUS not in registries.hook("PRD").get_version_tags(MODEL, version)


def test_a_rejection_is_recorded_and_approves_nothing(registries: Registries) -> None:  # noqa: F811
    version = registries.register("PRD", "1.0.0", champion=False)
    result = _operator(version).execute_complete(task_context("approval"), _answer("alice", "Reject"))
    assert result["approved"] is False
    found = registries.hook("PRD").get_version_tags(MODEL, version)
    assert found[tags.APPROVAL_STATUS] == "rejected" and found[tags.APPROVED_BY] == "alice"
    assert registries.champion("PRD") is None


def test_a_timeout_fails_and_records_nothing(registries: Registries) -> None:  # noqa: F811
    version = registries.register("PRD", "1.0.0", champion=False)
    event = {"error": "The Human-in-the-loop response timeout has passed", "error_type": "timeout"}
    with pytest.raises(HITLTimeoutError):
        _operator(version).execute_complete(task_context("approval"), event)
    assert tags.APPROVAL_STATUS not in registries.hook("PRD").get_version_tags(MODEL, version)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"approvers": []}, "^approvers: must name at least one"),
        ({"model_version": {"registry_conn_id": "mlflow_prd", "model_name": MODEL, "version": "9"}}, "^model_version"),
    ],
)
def test_bad_input_fails_before_asking_anyone(
    registries: Registries,  # noqa: F811
    kwargs: dict[str, Any],
    message: str,
) -> None:
    version = registries.register("PRD", "1.0.0", champion=False)
    operator = _operator(version)
    for key, value in kwargs.items():
        setattr(operator, key, value)
    with pytest.raises(AirflowFailException, match=message):
        operator.execute(task_context("approval"))


def test_a_rejected_version_is_not_put_to_the_approvers(registries: Registries) -> None:  # noqa: F811
    version = registries.register("PRD", "1.0.0", champion=False, status="rejected")
    with pytest.raises(AirflowFailException, match="rejected by validation"):
        _operator(version).execute(task_context("approval"))
