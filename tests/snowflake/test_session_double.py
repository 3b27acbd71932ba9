"""The session double is as strict as Snowflake's documented rules (else the hook's tests prove nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from snowflake.snowpark.exceptions import SnowparkSQLException

from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook
from tests.snowflake.fixtures import FEATURES, churn_frame
from tests.snowflake.session_double import ENGINEER, SnowflakeDouble


@pytest.fixture
def sql(registered: SnowflakeDouble) -> Any:
    hook = SnowflakeRegistryHook()
    yield lambda statement: [row.as_dict() for row in hook.session.sql(statement).collect()]
    hook.close()


def refused(run: Callable[[], Any], errno: int, text: str = "") -> None:
    with pytest.raises(SnowparkSQLException, match=text) as raised:
        run()
    assert raised.value.sql_error_code == errno


def test_show_like_is_case_insensitive_with_wildcards(sql: Any) -> None:
    assert [r["name"] for r in sql("SHOW MODELS LIKE 'ch_rn' IN SCHEMA ML.REGISTRY")] == ["CHURN"]
    assert [r["name"] for r in sql("SHOW VERSIONS LIKE 'v1%' IN MODEL ML.REGISTRY.CHURN")] == ["V1_0_0", "V1_1_0"]
    assert [r["name"] for r in sql("SHOW VERSIONS LIKE 'V1X1_0' IN MODEL ML.REGISTRY.CHURN")] == []


def test_versions_report_a_boolean_default_and_empty_metadata(registered: SnowflakeDouble, sql: Any) -> None:
    registered.model("CHURN").versions["V1_1_0"].metadata = "{}"
    rows = {r["name"]: r for r in sql("SHOW VERSIONS IN MODEL ML.REGISTRY.CHURN")}
    assert rows["V1_0_0"]["is_default_version"] is True
    assert rows["V1_1_0"]["is_default_version"] is False
    assert rows["V1_1_0"]["metadata"] == "{}"


def test_unquoted_reserved_keywords_are_syntax_errors(sql: Any) -> None:
    refused(lambda: sql("SHOW VERSIONS IN MODEL ML.REGISTRY.SELECT"), 1003, "syntax error")
    refused(lambda: sql("ALTER MODEL ML.REGISTRY.CHURN VERSION V1_0_0 SET ALIAS = ORDER"), 1003, "syntax error")


def test_a_dollar_literal_ends_at_the_first_double_dollar(sql: Any) -> None:
    refused(lambda: sql("ALTER MODEL ML.REGISTRY.CHURN MODIFY VERSION V1_0_0 SET COMMENT=$$a$$b$$"), 1003)
    refused(lambda: sql("ALTER MODEL ML.REGISTRY.CHURN MODIFY VERSION V1_0_0 SET COMMENT=$$a$$$"), 1003)
    sql("ALTER MODEL ML.REGISTRY.CHURN MODIFY VERSION V1_0_0 SET COMMENT=$$a $ b$$")


def test_a_role_without_privileges_can_neither_see_nor_alter_a_model(registered: SnowflakeDouble, sql: Any) -> None:
    registered.model_grants("CHURN").clear()
    registered.model_grants("CHURN").add(("OWNERSHIP", "SYSADMIN"))

    assert sql("SHOW MODELS IN SCHEMA ML.REGISTRY") == []
    refused(lambda: sql("SHOW VERSIONS IN MODEL ML.REGISTRY.CHURN"), 2003, "does not exist or not authorized")
    registered.model_grants("CHURN").add(("USAGE", ENGINEER))
    assert [r["owner"] for r in sql("SHOW MODELS IN SCHEMA ML.REGISTRY")] == ["SYSADMIN"]
    refused(lambda: sql("ALTER MODEL ML.REGISTRY.CHURN SET DEFAULT_VERSION = V1_1_0"), 3001, "Insufficient privileges")


def test_ownership_moves_and_a_role_that_gave_it_away_loses_the_model(registered: SnowflakeDouble, sql: Any) -> None:
    sql('GRANT OWNERSHIP ON MODEL "ML"."REGISTRY"."CHURN" TO ROLE "ML_ADMIN" COPY CURRENT GRANTS')

    assert registered.model_grants("CHURN") == {("OWNERSHIP", "ML_ADMIN")}
    refused(lambda: sql("SHOW VERSIONS IN MODEL ML.REGISTRY.CHURN"), 2003)


def test_future_grants_need_manage_grants_and_apply_to_new_models(registered: SnowflakeDouble, sql: Any) -> None:
    statement = 'GRANT USAGE ON FUTURE MODELS IN SCHEMA "ML"."REGISTRY" TO ROLE "ANALYST"'
    refused(lambda: sql(statement), 3001, "MANAGE GRANTS")
    registered.acl.grants[("ACCOUNT", registered.account)].add(("MANAGE GRANTS", ENGINEER))
    sql(statement)
    registered.acl.create(("MODEL", "ML.REGISTRY.NEW"), ENGINEER, schema="ML.REGISTRY")
    assert ("USAGE", "ANALYST") in registered.acl.grants[("MODEL", "ML.REGISTRY.NEW")]


def test_show_grants_to_role_lists_privileges_and_inherited_roles(sql: Any) -> None:
    rows = {(r["privilege"], r["granted_on"], r["name"]) for r in sql(f'SHOW GRANTS TO ROLE "{ENGINEER}"')}
    assert {("CREATE MODEL", "SCHEMA", "ML.REGISTRY"), ("OWNERSHIP", "MODEL", "ML.REGISTRY.CHURN")} <= rows
    refused(lambda: sql('SHOW GRANTS TO ROLE "ML_ADMIN"'), 3001)  # above ML_ENGINEER, not in its hierarchy


def test_create_or_replace_drops_grants_unless_copy_grants(registered: SnowflakeDouble, sql: Any) -> None:
    registered.add_table("SCORING", churn_frame(3)[FEATURES])
    key = ("TABLE", "ML.REGISTRY.OUT")
    sql("CREATE OR REPLACE TABLE OUT (x) AS SELECT * FROM SCORING")
    registered.acl.grants[key].add(("SELECT", "ANALYST"))

    sql("CREATE OR REPLACE TABLE OUT (x) COPY GRANTS AS SELECT * FROM SCORING")
    assert ("SELECT", "ANALYST") in registered.acl.grants[key]
    sql("CREATE OR REPLACE TABLE OUT (x) AS SELECT * FROM SCORING")
    assert registered.acl.grants[key] == {("OWNERSHIP", ENGINEER)}


def test_faults_are_transient_and_counted(registered: SnowflakeDouble, sql: Any) -> None:
    registered.fail(r"^SHOW MODELS", after=1)
    sql("SHOW MODELS IN SCHEMA ML.REGISTRY")
    refused(lambda: sql("SHOW MODELS IN SCHEMA ML.REGISTRY"), 604, "Injected fault")
    sql("SHOW MODELS IN SCHEMA ML.REGISTRY")
