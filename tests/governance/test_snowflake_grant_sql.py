from __future__ import annotations

import pytest

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.grants import Grant
from airflow_registry_provider.hooks.snowflake import grants as sql

from .payloads import INJECTIONS

TARGET = sql.model_target("ml", "registry", "churn")


def test_statements_are_quoted() -> None:
    statements = sql.grant_statements(
        TARGET,
        grant=[Grant("DATA_SCIENTIST", "USAGE"), Grant("ML_ENGINEER", "READ")],
        revoke=[Grant("INTERN", "READ")],
    )
    assert statements == [
        'REVOKE READ ON MODEL "ML"."REGISTRY"."CHURN" FROM ROLE "INTERN"',
        'GRANT USAGE ON MODEL "ML"."REGISTRY"."CHURN" TO ROLE "DATA_SCIENTIST"',
        'GRANT READ ON MODEL "ML"."REGISTRY"."CHURN" TO ROLE "ML_ENGINEER"',
    ]


def test_ownership_transfer_runs_last_and_replaces_the_revoke() -> None:
    statements = sql.grant_statements(
        TARGET,
        grant=[Grant("ML_ADMIN", "OWNERSHIP"), Grant("ANALYST", "READ")],
        revoke=[Grant("SYSADMIN", "OWNERSHIP")],
    )
    assert statements == [
        'GRANT READ ON MODEL "ML"."REGISTRY"."CHURN" TO ROLE "ANALYST"',
        'GRANT OWNERSHIP ON MODEL "ML"."REGISTRY"."CHURN" TO ROLE "ML_ADMIN" COPY CURRENT GRANTS',
    ]


def test_ownership_cannot_be_revoked_without_a_new_owner() -> None:
    with pytest.raises(InvalidInputError, match="always has an owner"):
        sql.grant_statements(TARGET, grant=[], revoke=[Grant("SYSADMIN", "OWNERSHIP")])


def test_future_grants() -> None:
    target = sql.future_target("ml", "registry")
    statements = sql.grant_statements(target, [Grant("APP", "USAGE")], [Grant("ML_TEAM", "READ")], future=True)
    assert statements == [
        'REVOKE READ ON FUTURE MODELS IN SCHEMA "ML"."REGISTRY" FROM ROLE "ML_TEAM"',
        'GRANT USAGE ON FUTURE MODELS IN SCHEMA "ML"."REGISTRY" TO ROLE "APP"',
    ]
    assert sql.show_future_grants_sql("ml", "registry") == 'SHOW FUTURE GRANTS IN SCHEMA "ML"."REGISTRY"'


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_anywhere_builds_no_statement(payload: str) -> None:
    with pytest.raises(InvalidInputError):
        sql.grant_statements(TARGET, [Grant("OK_ROLE", "READ"), Grant(payload, "READ")], [])
    for parts in [(payload, "sch", "m"), ("db", payload, "m"), ("db", "sch", payload)]:
        with pytest.raises(InvalidInputError):
            sql.model_target(*parts)
    with pytest.raises(InvalidInputError):
        sql.future_target("db", payload)


def test_edit_and_users_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="not a Snowflake model privilege"):
        sql.grant_statements(TARGET, [Grant("A", "EDIT")], [])
    with pytest.raises(InvalidInputError, match="roles only"):
        sql.grant_statements(TARGET, [Grant("user:alice", "READ")], [])


def test_show_grants_rows_keep_only_plain_account_roles() -> None:
    rows = [
        {"privilege": "OWNERSHIP", "granted_on": "MODEL", "granted_to": "ROLE", "grantee_name": "ML_ADMIN"},
        {"privilege": "USAGE", "granted_on": "MODEL", "granted_to": "ROLE", "grantee_name": "DATA_SCIENTIST"},
        {"privilege": "READ", "granted_on": "MODEL", "granted_to": "DATABASE_ROLE", "grantee_name": "ML.DBR"},
        {"privilege": "READ", "granted_on": "MODEL", "granted_to": "ROLE", "grantee_name": "quoted role"},
        {"PRIVILEGE": "USAGE", "GRANT_ON": "TABLE", "GRANT_TO": "ROLE", "GRANTEE_NAME": "X"},
    ]
    grants, skipped = sql.grants_from_rows(rows)
    assert grants == [Grant("ML_ADMIN", "OWNERSHIP"), Grant("DATA_SCIENTIST", "USAGE")]
    assert len(skipped) == 3
    assert sql.show_grants_sql("ml", "registry", "churn") == 'SHOW GRANTS ON MODEL "ML"."REGISTRY"."CHURN"'
