"""The environments file: typed, strict, errors naming the key path; routes checked hop by hop."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_registry_provider.environments import load_environments, parse_environments
from airflow_registry_provider.exceptions import InvalidInputError
from tests.conftest import REPO

CHECKS = {"thresholds": {"accuracy": ">= 0.8"}}
BASE: dict[str, Any] = {
    "environments": {
        "DEV": {"registry_conn_id": "dev", "model_name": "m", "next": ["SIT"]},
        "SIT": {"registry_conn_id": "sit", "model_name": "m", "checks": CHECKS, "next": ["UAT"]},
        "UAT": {"registry_conn_id": "uat", "model_name": "m", "checks": CHECKS, "next": ["PRD"]},
        "PRD": {
            "registry_conn_id": "prd",
            "model_name": "m",
            "checks": {**CHECKS, "data": "${HOME}/fresh.parquet", "label_column": "y"},
            "approval": {"required": True, "approvers": ["alice"], "timeout_hours": 24},
            "grants": {"ML_ENGINEER": "USAGE"},
            "post_promotion_check": CHECKS,
        },
    }
}


def _with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    change(document["environments"])
    return document


def test_the_file_parses_into_typed_environments() -> None:
    config = parse_environments(BASE)
    assert config.chain() == ["DEV", "SIT", "UAT", "PRD"]
    assert config.promoted_into() == ["SIT", "UAT", "PRD"]
    prd = config.environment("PRD")
    assert prd.approval.required and prd.approval.approvers == ["alice"]
    assert prd.checks is not None and prd.checks.data == f"{Path.home()}/fresh.parquet"
    assert prd.grants == {"ML_ENGINEER": "USAGE"} and prd.alias == "champion"
    assert config.route(["DEV", "SIT", "UAT", "PRD"]) == ["DEV", "SIT", "UAT", "PRD"]
    assert config.route(["UAT", "PRD"]) == ["UAT", "PRD"]


def test_the_example_file_is_valid() -> None:
    config = load_environments(REPO / "config" / "environments.yml")
    assert config.chain() == ["DEV", "SIT", "UAT", "PRD"]
    assert config.environment("PRD").approval.required


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda e: e["PRD"].update(aproval={"required": True}), "environments.PRD.aproval", "did you mean 'approval'"),
        (lambda e: e["SIT"]["checks"].update(tresholds={}), "environments.SIT.checks.tresholds", "'thresholds'"),
        (lambda e: e["PRD"]["approval"].update(approver=["bob"]), "environments.PRD.approval.approver", "unknown key"),
        (lambda e: e["PRD"].update(next=["DEV"]), "environments.DEV.next", "cycle DEV -> SIT -> UAT -> PRD -> DEV"),
        (lambda e: e["UAT"].update(next=["SIT"]), "environments.SIT.next", "cycle SIT -> UAT -> SIT"),
        (lambda e: e["SIT"].update(next=["SIT"]), "environments.SIT.next[0]", "cannot follow itself"),
        (lambda e: e["SIT"].update(next=["QA"]), "environments.SIT.next[0]", "unknown environment 'QA'"),
        (lambda e: e["SIT"].pop("checks"), "environments.SIT.checks", "required: versions are promoted into"),
        (lambda e: e["SIT"].pop("registry_conn_id"), "environments.SIT.registry_conn_id", "Field required"),
        (
            lambda e: e["SIT"]["checks"].update(thresholds={"accuracy": "about 0.8"}),
            "environments.SIT.checks.thresholds.accuracy",
            "cannot parse 'about 0.8'",
        ),
        (lambda e: e["SIT"]["checks"].update(thresholds={}), "environments.SIT.checks.thresholds", "at least 1"),
        (lambda e: e["PRD"]["checks"].pop("label_column"), "environments.PRD.checks", "label_column is required"),
        (lambda e: e["PRD"]["approval"].update(approvers=[]), "environments.PRD.approval", "at least one user"),
        (lambda e: e["PRD"]["approval"].update(timeout_hours=0), "environments.PRD.approval.timeout_hours", "greater"),
    ],
)
def test_each_error_names_its_key(change: Callable[[dict[str, Any]], None], path: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        parse_environments(_with(change))
    assert info.value.field == path


def test_a_file_that_is_not_yaml_or_missing_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="^environments_file: cannot read"):
        load_environments(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("environments: [unclosed\n")
    with pytest.raises(InvalidInputError, match="^environments_file: .* is not valid YAML"):
        load_environments(bad)
    bad.write_text("- a list\n")
    with pytest.raises(InvalidInputError, match="^environments_file: expected a mapping"):
        load_environments(bad)


@pytest.mark.parametrize(
    ("route", "field", "message"),
    [
        (["DEV", "QA"], "route[1]", "unknown environment 'QA'; known: DEV, SIT, UAT, PRD"),
        (["DEV", "PRD"], "route[1]", r"skips SIT, UAT, which the file does not allow .environments.DEV.next"),
        (["DEV", "SIT", "PRD"], "route[2]", "skips UAT"),
        (["SIT", "DEV"], "route[1]", "DEV does not follow SIT"),
        (["DEV"], "route", "at least two environments"),
        ("DEV", "route", "at least two environments"),
        (["DEV", "SIT", "DEV"], "route", "twice"),
    ],
)
def test_routes_are_checked_hop_by_hop(route: Any, field: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        parse_environments(BASE).route(route)
    assert info.value.field == field


def test_a_file_may_allow_skipping() -> None:
    config = parse_environments(_with(lambda e: e["DEV"].update(next=["SIT", "PRD"])))
    assert config.route(["DEV", "PRD"]) == ["DEV", "PRD"]
    assert config.chain() == ["DEV", "SIT", "UAT", "PRD"]  # the default route follows the first next


@given(st.permutations(["A", "B", "C", "D", "E"]), st.integers(min_value=1, max_value=4))
def test_any_back_edge_of_a_chain_is_a_cycle(order: list[str], back: int) -> None:
    environments: dict[str, Any] = {}
    for i, name in enumerate(order):
        env: dict[str, Any] = {"registry_conn_id": name.lower(), "model_name": "m", "checks": CHECKS}
        env["next"] = [order[i + 1]] if i + 1 < len(order) else [order[len(order) - 1 - back]]
        environments[name] = env
    with pytest.raises(InvalidInputError, match="cycle"):
        parse_environments({"environments": environments})
