"""Grants and retention on Snowflake: the real hook -> Snowpark -> session double, SQL recorded."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider.operators import GrantModelOperator
from tests.governance.payloads import INJECTIONS
from tests.governance.snowflake_grants_double import GrantingDouble
from tests.helpers import task_context
from tests.snowflake.fixtures import set_snowflake_connection

DECLARED = {"ML_ADMIN": "OWNERSHIP", "DATA_SCIENTIST": "USAGE", "ML_ENGINEER_RO": "READ"}
MODEL = '"ML"."REGISTRY"."CHURN"'


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch, _registered_state: dict[str, Any]) -> Iterator[GrantingDouble]:
    """Model CHURN (two versions), owned by the connection's role ML_ENGINEER."""
    set_snowflake_connection(monkeypatch)
    account = GrantingDouble(database="ML", schema="REGISTRY")
    account.databases = copy.deepcopy(_registered_state)
    with account.installed():
        yield account


def grant(**kwargs: Any) -> dict:
    kwargs.setdefault("model_name", "churn")
    op = GrantModelOperator(task_id="grant", registry_conn_id="snowflake_default", **kwargs)
    return op.execute(task_context("grant"))


def grant_sql(account: GrantingDouble) -> list[str]:
    return [s for s in account.statements() if s.startswith(("GRANT", "REVOKE"))]


def test_converge_sends_quoted_statements_and_transfers_ownership_last(double: GrantingDouble) -> None:
    result = grant(grants=DECLARED, admin_roles=["ml_admin"], revoke_missing=True, reason="policy v2")
    assert grant_sql(double) == [
        f'GRANT USAGE ON MODEL {MODEL} TO ROLE "DATA_SCIENTIST"',
        f'GRANT READ ON MODEL {MODEL} TO ROLE "ML_ENGINEER_RO"',
        f'GRANT OWNERSHIP ON MODEL {MODEL} TO ROLE "ML_ADMIN" COPY CURRENT GRANTS',
    ]
    assert double.model_grants("CHURN") == {
        ("OWNERSHIP", "ML_ADMIN"),
        ("USAGE", "DATA_SCIENTIST"),
        ("READ", "ML_ENGINEER_RO"),
    }
    assert result["plans"][0]["revoke"] == [{"grantee": "ML_ENGINEER", "privilege": "OWNERSHIP"}]

    double.reset_log()
    again = grant(grants=DECLARED, admin_roles=["ML_ADMIN"], revoke_missing=True)
    assert again["changed"] is False
    assert grant_sql(double) == []


def test_revoke_missing_and_dry_run(double: GrantingDouble) -> None:
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


def test_future_grants(double: GrantingDouble) -> None:
    grant(grants={}, future_grants={"DATA_SCIENTIST": "USAGE", "ML_ENGINEER_RO": "READ"})
    assert grant_sql(double) == [
        'GRANT USAGE ON FUTURE MODELS IN SCHEMA "ML"."REGISTRY" TO ROLE "DATA_SCIENTIST"',
        'GRANT READ ON FUTURE MODELS IN SCHEMA "ML"."REGISTRY" TO ROLE "ML_ENGINEER_RO"',
    ]
    double.reset_log()
    owner = {"grants": {"ML_ENGINEER": "OWNERSHIP"}, "admin_roles": ["ML_ENGINEER"]}
    grant(**owner, future_grants={"DATA_SCIENTIST": "USAGE"}, revoke_missing=True)
    assert grant_sql(double) == ['REVOKE READ ON FUTURE MODELS IN SCHEMA "ML"."REGISTRY" FROM ROLE "ML_ENGINEER_RO"']


def test_revoking_the_only_owner_is_refused_before_any_change(double: GrantingDouble) -> None:
    with pytest.raises(AirflowFailException, match="always has an owner"):
        grant(grants={"DATA_SCIENTIST": "USAGE"}, revoke_missing=True)
    assert double.writes() == []


def test_a_missing_role_is_named_and_nothing_is_granted(double: GrantingDouble) -> None:
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
def test_refusals_send_no_sql(double: GrantingDouble, kwargs: dict, message: str) -> None:
    with pytest.raises(AirflowFailException, match=message):
        grant(**kwargs)
    assert double.statements() == []


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("where", ["role", "model", "schema", "database"])
def test_injections_send_no_sql(
    double: GrantingDouble, monkeypatch: pytest.MonkeyPatch, payload: str, where: str
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


def test_retention_keeps_the_default_version(double: GrantingDouble) -> None:
    from airflow_registry_provider.operators import RetentionOperator

    op = RetentionOperator(task_id="retention", registry_conn_id="snowflake_default", model_name="churn", keep_latest=1)
    plan = op.execute(task_context("retention"))
    # V1_0_0 is older than the one version to keep, but it is the default version.
    assert plan["kept"] == {"default version": 1, "latest 1": 1}
    assert plan["archive"] == []


def test_lineage_identity(double: GrantingDouble) -> None:
    from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook

    assert SnowflakeRegistryHook().lineage_dataset("churn", "V1_0_0") == (
        "snowflake-ml://acme-analytics",
        "ML.REGISTRY.CHURN/V1_0_0",
    )
