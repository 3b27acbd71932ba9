"""Privileges on the strict account: preflight before the first change, ownership, visibility, sessions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import ModelNotFoundError, PrivilegeError
from airflow_registry_provider.hooks.snowflake import METADATA_TAGS_KEY, SnowflakeRegistryHook
from tests.snowflake.fixtures import FEATURES, churn_frame, package
from tests.snowflake.session_double import ENGINEER, SnowflakeDouble

SCHEMA = ("SCHEMA", "ML.REGISTRY")


def revoke(double: SnowflakeDouble, privilege: str, role: str = ENGINEER, key: tuple[str, str] = SCHEMA) -> None:
    double.acl.grants[key].discard((privilege, role))


def hand_over(double: SnowflakeDouble, owner: str = "SYSADMIN", *, keep: str | None = "USAGE") -> None:
    """CHURN owned by ``owner``; the connection's role keeps ``keep`` on it (or nothing)."""
    grants = double.model_grants("CHURN")
    grants.clear()
    grants.add(("OWNERSHIP", owner))
    if keep:
        grants.add((keep, ENGINEER))


@pytest.mark.parametrize("privilege", ["CREATE MODEL", "CREATE STAGE"])
def test_log_model_is_refused_before_any_statement_without_a_privilege_it_needs(
    snowflake_double: SnowflakeDouble, churn_model: Any, privilege: str
) -> None:
    revoke(snowflake_double, privilege)

    with SnowflakeRegistryHook() as hook, pytest.raises(PrivilegeError) as refused:
        hook.register_version("churn", package(churn_model))

    assert refused.value.field == "registry_conn_id"
    assert f"lacks {privilege} on schema ML.REGISTRY" in refused.value.message
    assert f"GRANT {privilege} ON SCHEMA ML.REGISTRY TO ROLE ML_ENGINEER" in refused.value.message
    assert snowflake_double.writes() == []


def test_a_privilege_held_through_an_inherited_role_counts(snowflake_double: SnowflakeDouble, churn_model: Any) -> None:
    revoke(snowflake_double, "CREATE MODEL")
    snowflake_double.acl.add_role("MODEL_CREATORS")
    snowflake_double.acl.grants[SCHEMA].add(("CREATE MODEL", "MODEL_CREATORS"))
    snowflake_double.acl.grant_role("MODEL_CREATORS", ENGINEER)

    with SnowflakeRegistryHook() as hook:
        _, created = hook.register_version("churn", package(churn_model))

    assert created
    assert snowflake_double.acl.owner(snowflake_double.model_key("CHURN")) == ENGINEER


def test_changes_to_a_model_another_role_owns_are_refused_before_any_statement(registered: SnowflakeDouble) -> None:
    hand_over(registered)
    with SnowflakeRegistryHook() as hook:
        for change in (
            lambda: hook.set_version_tags("churn", "V1_1_0", {tag_keys.VALIDATION_STATUS: "passed"}),
            lambda: hook.set_alias("churn", "champion", "V1_1_0"),
            lambda: hook.set_default_version("churn", "V1_1_0"),
            lambda: hook.set_description("churn", "V1_1_0", "new"),
            lambda: hook.delete_version("churn", "V1_1_0"),
        ):
            with pytest.raises(PrivilegeError, match=r"owned by SYSADMIN, which ML_ENGINEER does not inherit"):
                change()
        # USAGE is enough to score in the warehouse.
        assert len(hook.predict("churn", "V1_1_0", churn_frame(5)[FEATURES])) == 5
    assert [w for w in registered.writes() if " MODEL " in w] == []


def test_a_new_version_of_a_model_another_role_owns_is_refused(registered: SnowflakeDouble, churn_model: Any) -> None:
    hand_over(registered)
    with SnowflakeRegistryHook() as hook, pytest.raises(PrivilegeError, match="cannot add version V2_0_0"):
        hook.register_version("churn", package(churn_model, "2.0.0"))
    assert registered.writes() == []


def test_ownership_through_the_role_hierarchy_is_ownership(registered: SnowflakeDouble) -> None:
    registered.acl.add_role("CHURN_OWNERS")
    registered.acl.grant_role("CHURN_OWNERS", ENGINEER)
    hand_over(registered, "CHURN_OWNERS", keep=None)

    with SnowflakeRegistryHook() as hook:
        hook.set_version_tags("churn", "V1_1_0", {tag_keys.VALIDATION_STATUS: "passed"})

    stored = json.loads(registered.model("CHURN").versions["V1_1_0"].metadata)[METADATA_TAGS_KEY]
    assert stored[tag_keys.VALIDATION_STATUS] == "passed"


def test_a_role_without_privileges_cannot_see_the_model(registered: SnowflakeDouble) -> None:
    hand_over(registered, keep=None)
    with SnowflakeRegistryHook() as hook:
        for read in (
            lambda: hook.get_version("churn", "V1_0_0"),
            lambda: hook.get_alias_version("churn", "champion"),
            lambda: hook.get_model_tags("churn"),
            lambda: hook.set_version_tags("churn", "V1_0_0", {"a": "b"}),
        ):
            with pytest.raises(ModelNotFoundError, match="cannot see it"):
                read()
        assert hook.find_version("churn", "1.0.0") is None  # as if it did not exist: LogModel would try CREATE
    assert registered.writes() == []


def test_logging_to_a_model_the_role_cannot_see_names_it(registered: SnowflakeDouble, churn_model: Any) -> None:
    hand_over(registered, keep=None)
    with SnowflakeRegistryHook() as hook, pytest.raises(PrivilegeError, match="already exists .* holds no privilege"):
        hook.register_version("churn", package(churn_model, "2.0.0"))
    assert len(registered.model("CHURN").versions) == 2


def test_model_tags_need_create_tag(registered: SnowflakeDouble) -> None:
    revoke(registered, "CREATE TAG")
    with SnowflakeRegistryHook() as hook, pytest.raises(PrivilegeError, match="lacks CREATE TAG on schema"):
        hook.set_model_tags("churn", {"team": "growth"})
    assert registered.writes() == []


def test_close_ends_the_session_and_the_hook_is_a_context_manager(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()
    hook.get_version("churn", "V1_0_0")
    assert len(registered.open_sessions()) == 1

    hook.close()
    hook.close()  # closing twice is fine
    assert registered.open_sessions() == []

    with SnowflakeRegistryHook() as again:
        assert again.get_version("churn", "V1_0_0").version == "V1_0_0"
    assert registered.open_sessions() == []
