"""Grants and retention on Snowflake: the real hook -> Snowpark -> the strict session double, SQL recorded.

The double enforces Snowflake's rules: granting needs the model's OWNERSHIP (or MANAGE
GRANTS), future grants need MANAGE GRANTS, and a role that gave OWNERSHIP away to a role
it does not inherit can no longer see the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider.exceptions import InvalidInputError, ModelNotFoundError, PrivilegeError
from airflow_registry_provider.governance.grants import Grant
from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook
from airflow_registry_provider.operators import GrantModelOperator
from tests.governance.payloads import INJECTIONS
from tests.helpers import task_context
from tests.snowflake.fixtures import set_snowflake_connection
from tests.snowflake.session_double import SnowflakeDouble

MODEL = '"ML"."REGISTRY"."CHURN"'
LEAST_PRIVILEGE = {"DATA_SCIENTIST": "USAGE", "ML_ENGINEER_RO": "READ"}


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch, _registered_state: dict[str, Any]) -> Iterator[SnowflakeDouble]:
    """Model CHURN (two versions), owned by the connection's role ML_ENGINEER."""
    set_snowflake_connection(monkeypatch)
    account = SnowflakeDouble(database="ML", schema="REGISTRY")
    account.restore(_registered_state)
    with account.installed():
        yield account


def grant(**kwargs: Any) -> dict:
    kwargs.setdefault("model_name", "churn")
    op = GrantModelOperator(task_id="grant", registry_conn_id="snowflake_default", **kwargs)
    return op.execute(task_context("grant"))


def grant_sql(account: SnowflakeDouble) -> list[str]:
    return [s for s in account.statements() if s.startswith(("GRANT", "REVOKE"))]


def test_least_privilege_grants_are_quoted_and_read_back(double: SnowflakeDouble) -> None:
    result = grant(grants=LEAST_PRIVILEGE, reason="policy v2")

    assert grant_sql(double) == [
        f'GRANT USAGE ON MODEL {MODEL} TO ROLE "DATA_SCIENTIST"',
        f'GRANT READ ON MODEL {MODEL} TO ROLE "ML_ENGINEER_RO"',
    ]
    assert double.model_grants("CHURN") == {
        ("OWNERSHIP", "ML_ENGINEER"),
        ("USAGE", "DATA_SCIENTIST"),
        ("READ", "ML_ENGINEER_RO"),
    }
    assert result["changed"] is True
    double.reset_log()
    assert grant(grants=LEAST_PRIVILEGE)["changed"] is False
    assert grant_sql(double) == []


def test_ownership_to_a_role_the_acting_role_does_not_inherit_is_refused_before_any_change(
    double: SnowflakeDouble,
) -> None:
    # ML_ADMIN inherits ML_ENGINEER, not the other way round: after the transfer the
    # connection's role would hold nothing on the model.
    with pytest.raises(AirflowFailException, match=r"^grants: OWNERSHIP of CHURN to ML_ADMIN .*does not inherit"):
        grant(grants={"ML_ADMIN": "OWNERSHIP", "DATA_SCIENTIST": "USAGE"}, admin_roles=["ML_ADMIN"])

    assert double.writes() == []
    assert ("OWNERSHIP", "ML_ENGINEER") in double.model_grants("CHURN")


def test_ownership_to_an_inherited_role_keeps_the_provider_in_control(double: SnowflakeDouble) -> None:
    double.acl.add_role("ML_OWNERS")
    double.acl.grant_role("ML_OWNERS", "ML_ENGINEER")  # ML_ENGINEER inherits ML_OWNERS

    grant(grants={"ML_OWNERS": "OWNERSHIP", "DATA_SCIENTIST": "USAGE"}, admin_roles=["ML_OWNERS"])

    assert grant_sql(double) == [
        f'GRANT USAGE ON MODEL {MODEL} TO ROLE "DATA_SCIENTIST"',
        f'GRANT OWNERSHIP ON MODEL {MODEL} TO ROLE "ML_OWNERS" COPY CURRENT GRANTS',
    ]
    assert double.model_grants("CHURN") == {("OWNERSHIP", "ML_OWNERS"), ("USAGE", "DATA_SCIENTIST")}
    with SnowflakeRegistryHook() as hook:  # the next operator still works: it owns the model through ML_OWNERS
        hook.set_alias("churn", "champion", "V1_1_0")
    assert double.model("CHURN").versions["V1_1_0"].aliases == ["CHAMPION"]


def test_releasing_ownership_is_explicit_and_the_transfer_runs_last(double: SnowflakeDouble) -> None:
    with SnowflakeRegistryHook() as hook:
        hook.apply_grants(
            "churn", [Grant("ML_ADMIN", "OWNERSHIP"), Grant("DATA_SCIENTIST", "USAGE")], [], release_ownership=True
        )

    assert grant_sql(double)[-1] == f'GRANT OWNERSHIP ON MODEL {MODEL} TO ROLE "ML_ADMIN" COPY CURRENT GRANTS'
    with SnowflakeRegistryHook() as hook, pytest.raises(ModelNotFoundError):
        hook.list_grants("churn")  # the connection's role holds nothing on the model any more


def test_revoke_missing_and_dry_run(double: SnowflakeDouble) -> None:
    double.model_grants("CHURN").update({("READ", "DATA_SCIENTIST"), ("USAGE", "ML_ENGINEER_RO")})
    plan = grant(
        grants={"ML_ENGINEER": "OWNERSHIP", "DATA_SCIENTIST": "READ"},
        admin_roles=["ML_ENGINEER"],
        revoke_missing=True,
        dry_run=True,
    )
    assert plan["plans"][0]["revoke"] == [{"grantee": "ML_ENGINEER_RO", "privilege": "USAGE"}]
    assert double.writes() == []  # a dry run only reads
    grant(
        grants={"ML_ENGINEER": "OWNERSHIP", "DATA_SCIENTIST": "READ"}, admin_roles=["ML_ENGINEER"], revoke_missing=True
    )
    assert grant_sql(double) == [f'REVOKE USAGE ON MODEL {MODEL} FROM ROLE "ML_ENGINEER_RO"']


def test_future_grants_need_manage_grants_and_are_refused_before_any_change(double: SnowflakeDouble) -> None:
    with pytest.raises(AirflowFailException, match=r"^future_grants: .*lacks MANAGE GRANTS"):
        grant(grants={}, future_grants={"DATA_SCIENTIST": "USAGE"})
    assert double.writes() == []

    with SnowflakeRegistryHook() as hook, pytest.raises(PrivilegeError, match="MANAGE GRANTS") as refused:
        # The whole plan is checked first: the model grants it also holds are not applied either.
        hook.check_grant_plan(
            "churn", [Grant("DATA_SCIENTIST", "USAGE")], [], future_grant=[Grant("DATA_SCIENTIST", "USAGE")]
        )
    assert refused.value.field == "future_grants"
    assert double.writes() == []


def test_future_grants(double: SnowflakeDouble) -> None:
    double.acl.grants[("ACCOUNT", double.account)].add(("MANAGE GRANTS", "ML_ENGINEER"))
    grant(grants={}, future_grants={"DATA_SCIENTIST": "USAGE", "ML_ENGINEER_RO": "READ"})
    assert grant_sql(double) == [
        'GRANT USAGE ON FUTURE MODELS IN SCHEMA "ML"."REGISTRY" TO ROLE "DATA_SCIENTIST"',
        'GRANT READ ON FUTURE MODELS IN SCHEMA "ML"."REGISTRY" TO ROLE "ML_ENGINEER_RO"',
    ]
    double.reset_log()
    owner = {"grants": {"ML_ENGINEER": "OWNERSHIP"}, "admin_roles": ["ML_ENGINEER"]}
    grant(**owner, future_grants={"DATA_SCIENTIST": "USAGE"}, revoke_missing=True)
    assert grant_sql(double) == ['REVOKE READ ON FUTURE MODELS IN SCHEMA "ML"."REGISTRY" FROM ROLE "ML_ENGINEER_RO"']


def test_future_ownership_is_refused_by_default(double: SnowflakeDouble) -> None:
    double.acl.grants[("ACCOUNT", double.account)].add(("MANAGE GRANTS", "ML_ENGINEER"))
    with pytest.raises(AirflowFailException, match=r"^future_grants: future OWNERSHIP to ML_ENGINEER is refused"):
        grant(grants={}, future_grants={"ML_ENGINEER": "OWNERSHIP"}, admin_roles=["ML_ENGINEER"])
    assert double.writes() == []
    with SnowflakeRegistryHook() as hook:
        hook.apply_future_grants([Grant("ML_ENGINEER", "OWNERSHIP")], [], allow_future_ownership=True)
    assert ("OWNERSHIP", "ML_ENGINEER") in double.acl.future[("MODEL", "ML.REGISTRY")]


def test_the_only_owner_cannot_be_revoked_and_is_an_implicit_grant(double: SnowflakeDouble) -> None:
    with SnowflakeRegistryHook() as hook:
        with pytest.raises(InvalidInputError, match="always has an owner"):
            hook.apply_grants("churn", [], [Grant("ML_ENGINEER", "OWNERSHIP")])
        assert hook.implicit_grants("churn") == [Grant("ML_ENGINEER", "OWNERSHIP")]
    assert double.writes() == []


def test_a_role_that_does_not_own_the_model_cannot_grant_on_it(double: SnowflakeDouble) -> None:
    double.model_grants("CHURN").clear()
    double.model_grants("CHURN").update({("OWNERSHIP", "SYSADMIN"), ("USAGE", "ML_ENGINEER")})

    with pytest.raises(AirflowFailException, match=r"^grants: role ML_ENGINEER can grant on model CHURN only"):
        grant(grants=LEAST_PRIVILEGE)
    assert double.writes() == []


def test_a_missing_role_is_named_and_nothing_is_granted(double: SnowflakeDouble) -> None:
    with pytest.raises(AirflowFailException, match="GHOST_ROLE do not exist"):
        grant(grants={"DATA_SCIENTIST": "USAGE", "GHOST_ROLE": "READ"})
    assert grant_sql(double) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grants": {"DATA_SCIENTIST": "EDIT"}}, "not available on this registry"),
        ({"grants": {"user:alice": "READ"}}, "roles only"),
        ({"grants": {"A": "OWNERSHIP", "B": "OWNERSHIP"}, "admin_roles": ["A", "B"]}, "one owner"),
        ({"grants": {"PUBLIC": "OWNERSHIP"}, "admin_roles": ["PUBLIC"], "allow_public": True}, "PUBLIC"),
        ({"grants": {"DATA_SCIENTIST": "MONITOR"}}, "unknown privilege"),
    ],
)
def test_refusals_send_no_sql(double: SnowflakeDouble, kwargs: dict, message: str) -> None:
    with pytest.raises(AirflowFailException, match=message):
        grant(**kwargs)
    assert double.statements() == []


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("where", ["role", "model", "schema", "database"])
def test_injections_send_no_sql(
    double: SnowflakeDouble, monkeypatch: pytest.MonkeyPatch, payload: str, where: str
) -> None:
    kwargs: dict[str, Any] = {"grants": {"DATA_SCIENTIST": "READ"}}
    if where == "role":
        kwargs["grants"] = {payload: "READ"}
    elif where == "model":
        kwargs["model_name"] = payload
    elif payload in ("db.schema", ""):
        pytest.skip("not an injection into a single name (an empty setting falls back to the connection's)")
    else:
        set_snowflake_connection(monkeypatch, **{f"registry_{where}": payload})
    with pytest.raises(AirflowFailException):
        grant(**kwargs)
    assert double.statements() == []


def test_retention_keeps_the_default_version(double: SnowflakeDouble) -> None:
    from airflow_registry_provider.operators import RetentionOperator

    op = RetentionOperator(task_id="retention", registry_conn_id="snowflake_default", model_name="churn", keep_latest=1)
    plan = op.execute(task_context("retention"))
    # V1_0_0 is older than the one version to keep, but it is the default version.
    assert plan["kept"] == {"default version": 1, "latest 1": 1}
    assert plan["archive"] == []


def test_lineage_identity(double: SnowflakeDouble) -> None:
    from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook

    assert SnowflakeRegistryHook().lineage_dataset("churn", "V1_0_0") == (
        "snowflake-ml://acme-analytics",
        "ML.REGISTRY.CHURN/V1_0_0",
    )
