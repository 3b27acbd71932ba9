from __future__ import annotations

import pytest

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.grants import (
    FROM_MLFLOW_PERMISSIONS,
    MLFLOW_PERMISSIONS,
    PRIVILEGES,
    Grant,
    GrantCapabilities,
    GrantPolicy,
    parse_grants,
    plan_grants,
)
from airflow_registry_provider.hooks.snowflake.grants import CAPABILITIES as SNOWFLAKE

from .payloads import INJECTIONS

MLFLOW = GrantCapabilities(privileges=frozenset(PRIVILEGES), users=True, single_owner=False)
POLICY = GrantPolicy.build(["ml_admin"])
DECLARED = {"ML_ADMIN": "OWNERSHIP", "DATA_SCIENTIST": "USAGE", "ml_engineer": "read"}


def test_parse_normalizes_names_and_privileges() -> None:
    assert parse_grants(DECLARED, POLICY, MLFLOW) == {
        Grant("ML_ADMIN", "OWNERSHIP"),
        Grant("DATA_SCIENTIST", "USAGE"),
        Grant("ML_ENGINEER", "READ"),
    }


def test_parse_accepts_json_text_from_templates() -> None:
    assert parse_grants('{"user:alice": "EDIT"}', POLICY, MLFLOW) == {Grant("user:alice", "EDIT")}


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_role_is_refused(payload: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_grants({payload: "READ"}, POLICY, MLFLOW)


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_admin_roles_is_refused(payload: str) -> None:
    with pytest.raises(InvalidInputError):
        GrantPolicy.build([payload])


@pytest.mark.parametrize(
    ("declared", "policy", "message"),
    [
        ({"PUBLIC": "OWNERSHIP"}, GrantPolicy.build(["PUBLIC"], allow_public=True), "OWNERSHIP to PUBLIC"),
        ({"PUBLIC": "READ"}, POLICY, "allow_public"),
        ({"DATA_SCIENTIST": "OWNERSHIP"}, POLICY, "only go to admin roles"),
        ({"DATA_SCIENTIST": "SUPERUSER"}, POLICY, "unknown privilege"),
        ({"DATA_SCIENTIST": None}, POLICY, "unknown privilege"),
        ({"DS": "READ", "ds": "USAGE"}, POLICY, "declared twice"),
    ],
)
def test_policy_refusals(declared, policy, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_grants(declared, policy, MLFLOW)


def test_public_usage_with_allow_public() -> None:
    assert parse_grants({"public": "USAGE"}, GrantPolicy(allow_public=True), MLFLOW) == {Grant("PUBLIC", "USAGE")}


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(InvalidInputError) as err:
        parse_grants({"r; DROP MODEL m": "READ", "X": "ALL", "Y": "OWNERSHIP"}, POLICY, MLFLOW)
    assert "DROP MODEL" in err.value.message
    assert "unknown privilege 'ALL'" in err.value.message
    assert "admin roles" in err.value.message


def test_snowflake_capabilities_refuse_edit_users_and_two_owners() -> None:
    policy = GrantPolicy.build(["A", "B"])
    with pytest.raises(InvalidInputError, match="not available"):
        parse_grants({"X": "EDIT"}, policy, SNOWFLAKE)
    with pytest.raises(InvalidInputError, match="roles only"):
        parse_grants({"user:alice": "READ"}, policy, SNOWFLAKE)
    with pytest.raises(InvalidInputError, match="one owner"):
        parse_grants({"A": "OWNERSHIP", "B": "OWNERSHIP"}, policy, SNOWFLAKE)


def test_plan_converges_only_with_revoke_missing() -> None:
    declared = parse_grants(DECLARED, POLICY, MLFLOW)
    current = [Grant("ML_ENGINEER", "READ"), Grant("DATA_SCIENTIST", "READ"), Grant("INTERN", "USAGE")]
    additive = plan_grants("churn", declared, current, revoke_missing=False)
    assert additive.to_grant == (Grant("DATA_SCIENTIST", "USAGE"), Grant("ML_ADMIN", "OWNERSHIP"))
    assert additive.to_revoke == ()
    assert Grant("INTERN", "USAGE") in additive.unmanaged

    converge = plan_grants("churn", declared, current, revoke_missing=True)
    assert converge.to_revoke == (Grant("DATA_SCIENTIST", "READ"), Grant("INTERN", "USAGE"))
    assert converge.unchanged == (Grant("ML_ENGINEER", "READ"),)
    # Applying the plan yields exactly the declared set.
    after = (set(current) - set(converge.to_revoke)) | set(converge.to_grant)
    assert after == set(declared)
    assert plan_grants("churn", declared, after, revoke_missing=True).changed is False


def test_exclusive_plan_shows_the_replaced_privilege() -> None:
    current = [Grant("DS", "READ"), Grant("OTHER", "READ")]
    plan = plan_grants("churn", [Grant("DS", "EDIT")], current, revoke_missing=False, exclusive=True)
    assert plan.to_revoke == (Grant("DS", "READ"),)
    assert plan.unmanaged == (Grant("OTHER", "READ"),)
    additive = plan_grants("churn", [Grant("DS", "EDIT")], current, revoke_missing=False)
    assert additive.to_revoke == ()


def test_plan_never_revokes_privileges_outside_the_vocabulary() -> None:
    plan = plan_grants("churn", [], [Grant("user:eve", "DENY")], revoke_missing=True)
    assert plan.to_revoke == ()
    assert plan.unmanaged == (Grant("user:eve", "DENY"),)


def test_plan_description_and_json() -> None:
    plan = plan_grants("churn", [Grant("A", "READ")], [Grant("B", "READ")], revoke_missing=True)
    text = plan.describe()
    assert "+ GRANT  READ      TO A" in text
    assert "- REVOKE READ      FROM B" in text
    assert plan.to_json()["revoke"] == [{"grantee": "B", "privilege": "READ"}]


def test_mlflow_mapping_round_trips() -> None:
    assert MLFLOW_PERMISSIONS == {"READ": "READ", "USAGE": "USE", "EDIT": "EDIT", "OWNERSHIP": "MANAGE"}
    assert {FROM_MLFLOW_PERMISSIONS[v] for v in MLFLOW_PERMISSIONS.values()} == set(PRIVILEGES)
