"""docs/snowflake.md says what the hook does: every statement count it claims is measured here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.governance.grants import Grant
from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook
from tests.conftest import REPO
from tests.snowflake.fixtures import package
from tests.snowflake.session_double import SnowflakeDouble

DOC = (REPO / "docs" / "snowflake.md").read_text()


def claimed_counts() -> dict[str, int]:
    """``hook call -> changing statements`` from the table in the Round trips section."""
    section = DOC.split("## Round trips", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (`[^|]+) \| (\d+)\b[^|]*\|$", section, re.MULTILINE)
    return {call.strip(): int(count) for call, count in rows}


def changing(double: SnowflakeDouble) -> list[str]:
    return [rt.sql for rt in double.log if rt.kind == "query" and rt.sql in double.writes()]


SCENARIOS: dict[str, Callable[[SnowflakeRegistryHook, Any], None]] = {
    "`register_version`, new model": lambda hook, model: hook.register_version("fresh", package(model)),
    "`register_version`, retry with the same artifact": lambda hook, model: hook.register_version(
        "churn", package(model, "1.1.0", "2" * 64)
    ),
    "`set_version_tags` / `log_metrics`": lambda hook, _: hook.set_version_tags(
        "churn", "V1_1_0", {tag_keys.VALIDATION_STATUS: "passed", tag_keys.VALIDATION_AT: "now"}
    ),
    "`move_alias` of a champion, keeping `previous_alias`": lambda hook, _: hook.move_alias(
        "churn", "champion", "V1_1_0", previous_alias="previous_champion"
    ),
    "`set_default_version`": lambda hook, _: hook.set_default_version("churn", "V1_1_0"),
    "`apply_grants` with two grants": lambda hook, _: hook.apply_grants(
        "churn", [Grant("DATA_SCIENTIST", "USAGE"), Grant("ANALYST", "READ")], []
    ),
}


def test_every_claimed_count_has_a_scenario() -> None:
    assert set(claimed_counts()) == set(SCENARIOS)


@pytest.mark.parametrize("call", sorted(SCENARIOS))
def test_the_documented_statement_count_holds(registered: SnowflakeDouble, churn_model: Any, call: str) -> None:
    registered.model("CHURN").versions["V1_0_0"].aliases.append("CHAMPION")
    with SnowflakeRegistryHook() as hook:
        SCENARIOS[call](hook, churn_model)

    assert len(changing(registered)) == claimed_counts()[call], changing(registered)


def test_the_documented_dependency_range_is_the_contract_tests() -> None:
    from tests.snowflake.test_library_contract import COVERED

    low, high = COVERED
    assert f"snowflake-ml-python>={low},<{high}" in DOC
