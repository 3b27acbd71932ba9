"""Alias moves on Snowflake (one alias per version): ordered, refusing silent displacement, undone on failure."""

from __future__ import annotations

import pytest
from snowflake.snowpark.exceptions import SnowparkSQLException

from airflow_registry_provider.exceptions import InvalidInputError, VersionNotFoundError
from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook, aliases
from tests.snowflake.session_double import SnowflakeDouble

PROMOTION = [
    "ALTER MODEL ML.REGISTRY.CHURN VERSION V1_0_0 UNSET ALIAS",
    "ALTER MODEL ML.REGISTRY.CHURN VERSION V1_0_0 SET ALIAS = PREVIOUS_CHAMPION",
    "ALTER MODEL ML.REGISTRY.CHURN VERSION V1_1_0 SET ALIAS = CHAMPION",
]


def held(double: SnowflakeDouble) -> dict[str, list[str]]:
    return {name: list(v.aliases) for name, v in double.model("CHURN").versions.items()}


def promote(hook: SnowflakeRegistryHook, version: str = "V1_1_0", **kwargs: object) -> aliases.AliasMove:
    return hook.move_alias("churn", "champion", version, previous_alias="previous_champion", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def champion(registered: SnowflakeDouble) -> SnowflakeDouble:
    registered.model("CHURN").versions["V1_0_0"].aliases.append("CHAMPION")
    return registered


def test_a_promotion_keeps_the_old_champion_reachable(champion: SnowflakeDouble) -> None:
    with SnowflakeRegistryHook() as hook:
        move = promote(hook)

    assert champion.writes() == PROMOTION
    assert held(champion) == {"V1_0_0": ["PREVIOUS_CHAMPION"], "V1_1_0": ["CHAMPION"]}
    assert (move.previous_version, move.displaced) == ("V1_0_0", {})


def test_the_former_previous_champion_lets_go_first_and_is_reported(champion: SnowflakeDouble) -> None:
    versions = champion.model("CHURN").versions
    versions["V1_1_0"].aliases.append("PREVIOUS_CHAMPION")
    versions["V1_2_0"] = versions["V1_1_0"].__class__(name="V1_2_0", files=versions["V1_1_0"].files)

    with SnowflakeRegistryHook() as hook:
        move = promote(hook, "V1_2_0")

    assert champion.writes()[0] == "ALTER MODEL ML.REGISTRY.CHURN VERSION V1_1_0 UNSET ALIAS"
    assert held(champion) == {"V1_0_0": ["PREVIOUS_CHAMPION"], "V1_1_0": [], "V1_2_0": ["CHAMPION"]}
    assert move.displaced == {"PREVIOUS_CHAMPION": "V1_1_0"}


def test_rollback_swaps_the_aliases_back(champion: SnowflakeDouble) -> None:
    versions = champion.model("CHURN").versions
    versions["V1_0_0"].aliases[:] = ["PREVIOUS_CHAMPION"]
    versions["V1_1_0"].aliases[:] = ["CHAMPION"]

    with SnowflakeRegistryHook() as hook:
        move = promote(hook, "V1_0_0")

    assert held(champion) == {"V1_0_0": ["CHAMPION"], "V1_1_0": ["PREVIOUS_CHAMPION"]}
    assert move.displaced == {}


def test_displacing_another_alias_of_the_target_is_refused_unless_allowed(champion: SnowflakeDouble) -> None:
    champion.model("CHURN").versions["V1_1_0"].aliases.append("STAGING")

    with (
        SnowflakeRegistryHook() as hook,
        pytest.raises(InvalidInputError, match=r"^alias: version V1_1_0 holds alias STAGING"),
    ):
        promote(hook)
    assert champion.writes() == []

    with SnowflakeRegistryHook() as hook:
        move = promote(hook, allow_displace=True)
    assert move.displaced == {"STAGING": "V1_1_0"}
    assert champion.writes()[0] == "ALTER MODEL ML.REGISTRY.CHURN VERSION V1_1_0 UNSET ALIAS"
    assert held(champion) == {"V1_0_0": ["PREVIOUS_CHAMPION"], "V1_1_0": ["CHAMPION"]}


@pytest.mark.parametrize("step", range(len(PROMOTION)))
def test_a_failure_at_any_statement_leaves_the_old_champion_and_a_retry_converges(
    champion: SnowflakeDouble, step: int
) -> None:
    champion.fail(f"^{PROMOTION[step]}$")

    with SnowflakeRegistryHook() as hook, pytest.raises(SnowparkSQLException, match="Injected fault"):
        promote(hook)
    assert held(champion) == {"V1_0_0": ["CHAMPION"], "V1_1_0": []}  # the completed steps were undone

    with SnowflakeRegistryHook() as hook:
        promote(hook)
    assert held(champion) == {"V1_0_0": ["PREVIOUS_CHAMPION"], "V1_1_0": ["CHAMPION"]}


def test_when_the_undo_fails_too_a_retry_still_converges(champion: SnowflakeDouble) -> None:
    champion.fail(r"VERSION V1_1_0 SET ALIAS = CHAMPION$")
    champion.fail(r"VERSION V1_0_0 UNSET ALIAS$", after=1)  # the undo's first statement: the connection is gone

    with SnowflakeRegistryHook() as hook, pytest.raises(SnowparkSQLException):
        promote(hook)
    assert held(champion) == {"V1_0_0": ["PREVIOUS_CHAMPION"], "V1_1_0": []}

    champion.faults.clear()
    with SnowflakeRegistryHook() as hook:
        promote(hook)
    assert held(champion) == {"V1_0_0": ["PREVIOUS_CHAMPION"], "V1_1_0": ["CHAMPION"]}


def test_a_move_that_is_done_sends_nothing(champion: SnowflakeDouble) -> None:
    with SnowflakeRegistryHook() as hook:
        move = promote(hook, "V1_0_0")

    assert not move.changed
    assert champion.writes() == []


def test_moving_onto_a_missing_version(champion: SnowflakeDouble) -> None:
    with SnowflakeRegistryHook() as hook, pytest.raises(VersionNotFoundError):
        promote(hook, "V9_0_0")
    assert champion.writes() == []


def test_the_plan_is_pure() -> None:
    move = aliases.plan_move(
        {"V1": ["CHAMPION"], "V2": [], "V0": ["PREVIOUS"]}, "CHAMPION", "V2", previous_alias="PREVIOUS"
    )

    assert [(s.action, s.version, s.alias) for s in move.steps] == [
        ("unset", "V0", "PREVIOUS"),
        ("unset", "V1", "CHAMPION"),
        ("set", "V1", "PREVIOUS"),
        ("set", "V2", "CHAMPION"),
    ]
    assert [s.inverse().action for s in move.steps] == ["set", "set", "unset", "unset"]
    with pytest.raises(InvalidInputError, match="^previous_alias"):
        aliases.plan_move({}, "CHAMPION", "V2", previous_alias="CHAMPION")
