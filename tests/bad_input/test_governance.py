"""Retention and GrantModel: bad input fails at once naming its field; nothing archived, granted or recorded.

Grants on the sqlite registry (no access control) are skipped, not failed and not retried,
once the declaration itself is valid; an invalid declaration fails first, on any registry.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from airflow_registry_provider.exceptions import InvalidInputError, ModelNotFoundError
from tests.bad_input.conftest import CONN, MODEL, Case, World, expect_refusal, run_task
from tests.helpers import task_context


def retention(**changes: Any) -> Any:
    def build(world: World) -> Any:
        from airflow_registry_provider.operators import RetentionOperator

        params: dict[str, Any] = {
            "task_id": "retention",
            "registry_conn_id": CONN,
            "model_name": MODEL,
            "keep_latest": 1,
        }
        params.update(changes)
        return RetentionOperator(**params)

    return build


def grant(**changes: Any) -> Any:
    def build(world: World) -> Any:
        from airflow_registry_provider.operators import GrantModelOperator

        params: dict[str, Any] = {
            "task_id": "grant",
            "registry_conn_id": CONN,
            "model_name": MODEL,
            "grants": {"DATA_SCIENTIST": "READ"},
        }
        params.update(changes)
        return GrantModelOperator(**params)

    return build


def case(id: str, build: Any, error: type[Exception], field: str, **kwargs: Any) -> Any:
    return Case(id, build, error, field, **kwargs).param()


CASES = [
    # Retention
    case("retention_missing_model", retention(model_name="no_such_model"), ModelNotFoundError, "model_name"),
    case("retention_bad_model_name", retention(model_name="bad name!"), InvalidInputError, "model_name"),
    case("keep_latest_word", retention(keep_latest="abc"), InvalidInputError, "keep_latest"),
    case("keep_latest_zero", retention(keep_latest=0), InvalidInputError, "keep_latest"),
    case("keep_latest_negative", retention(keep_latest=-1), InvalidInputError, "keep_latest"),
    case("keep_latest_fraction", retention(keep_latest=1.5), InvalidInputError, "keep_latest"),
    case("keep_latest_bool", retention(keep_latest=True), InvalidInputError, "keep_latest"),
    case(
        "keep_latest_rendered_word",
        retention(keep_latest="{{ params.keep }}"),
        InvalidInputError,
        "keep_latest",
        params={"keep": "all"},
    ),
    case("delete_after_days_word", retention(delete_after_days="abc"), InvalidInputError, "delete_after_days"),
    case("delete_after_days_negative", retention(delete_after_days=-3), InvalidInputError, "delete_after_days"),
    case("delete_after_days_nan", retention(delete_after_days=float("nan")), InvalidInputError, "delete_after_days"),
    case("per_stage_yes", retention(per_stage="yes"), InvalidInputError, "per_stage"),
    case("retention_dry_run_one", retention(dry_run="1"), InvalidInputError, "dry_run"),
    case("retention_dry_run_empty", retention(dry_run=""), InvalidInputError, "dry_run"),
    case("retention_dry_run_none", retention(dry_run=None), InvalidInputError, "dry_run"),
    case(
        "retention_dry_run_rendered",
        retention(dry_run="{{ params.dry }}"),
        InvalidInputError,
        "dry_run",
        params={"dry": "no"},
    ),
    # GrantModel: the declaration is checked before the registry is asked anything
    case("privilege_newline", grant(grants={"DATA_SCIENTIST": "read\n"}), InvalidInputError, "grants", at_parse=True),
    case(
        "privilege_newline_rendered",
        grant(grants="{{ params.grants }}"),
        InvalidInputError,
        "grants",
        params={"grants": {"DATA_SCIENTIST": "read\n"}},
    ),
    case("privilege_padded", grant(grants={"DATA_SCIENTIST": " READ"}), InvalidInputError, "grants", at_parse=True),
    case("privilege_tab", grant(grants={"DATA_SCIENTIST": "USAGE\t"}), InvalidInputError, "grants", at_parse=True),
    case("privilege_unknown", grant(grants={"DATA_SCIENTIST": "WRITE"}), InvalidInputError, "grants"),
    case("privilege_number", grant(grants={"DATA_SCIENTIST": 1}), InvalidInputError, "grants"),
    case("grants_key_value_text", grant(grants="DATA_SCIENTIST=READ"), InvalidInputError, "grants"),
    case("grants_list", grant(grants=["DATA_SCIENTIST"]), InvalidInputError, "grants"),
    case(
        "grants_rendered_text",
        grant(grants="{{ params.grants }}"),
        InvalidInputError,
        "grants",
        params={"grants": "DATA_SCIENTIST: READ"},
    ),
    case("grantee_bad_chars", grant(grants={"bad grantee!": "READ"}), InvalidInputError, "grants"),
    case("ownership_to_non_admin", grant(grants={"DATA_SCIENTIST": "OWNERSHIP"}), InvalidInputError, "grants"),
    case("public_without_opt_in", grant(grants={"PUBLIC": "READ"}), InvalidInputError, "grants"),
    case("admin_roles_plain_string", grant(admin_roles="ML_ADMIN"), InvalidInputError, "admin_roles"),
    case("future_grants_text", grant(future_grants="ALL=READ"), InvalidInputError, "future_grants"),
    case(
        "future_privilege_padded",
        grant(future_grants={"X": "READ "}),
        InvalidInputError,
        "future_grants",
        at_parse=True,
    ),
    case("allow_public_yes", grant(allow_public="yes"), InvalidInputError, "allow_public"),
    case("revoke_missing_one", grant(revoke_missing="1"), InvalidInputError, "revoke_missing"),
    case("grant_dry_run_no", grant(dry_run="no"), InvalidInputError, "dry_run"),
    case("revoke_implicit_empty", grant(revoke_implicit=""), InvalidInputError, "revoke_implicit"),
    case("grant_bad_model_name", grant(model_name="bad name!"), InvalidInputError, "model_name"),
]


@pytest.mark.parametrize("bad", CASES)
def test_governance_operators_refuse(world: World, bad: Case) -> None:
    expect_refusal(Case(bad.id, lambda: bad.build(world), bad.error, bad.field, bad.params, bad.at_parse), world.dump)


@pytest.mark.parametrize("dry_run", [False, True])
def test_grants_without_access_control_are_skipped(world: World, dry_run: bool) -> None:
    """A registry without access control is not an error to retry: skipped, the reason logged by Airflow."""
    before = world.dump()
    operator = grant(dry_run=dry_run)(world)
    with pytest.raises(AirflowSkipException, match="basic-auth.*local store"):
        run_task(operator, {**task_context("grant"), "params": {}})
    assert world.dump() == before


def test_true_and_false_strings_are_accepted(world: World) -> None:
    """Exactly "true"/"false" (any case), as a template renders a bool param, are booleans."""
    operator = retention(dry_run="{{ params.dry }}")(world)
    before = world.dump()
    result = run_task(operator, {**task_context("retention"), "params": {"dry": "True"}})
    assert result["dry_run"] is True
    assert world.dump() == before
