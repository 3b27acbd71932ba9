"""Operators that act on an existing version: ValidateMetrics, PromoteVersion, CompareVersions, ModelCard.

A missing model, version or alias is the provider's typed not-found error naming the
field that carried it; a threshold on a metric the version lacks fails naming
``thresholds`` and leaves the validation status unset (the dump would show the tag).
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_registry_provider.exceptions import (
    AliasNotFoundError,
    InvalidInputError,
    ModelNotFoundError,
    VersionNotFoundError,
)
from tests.bad_input.conftest import CONN, MODEL, Case, World, expect_refusal

NAN = float("nan")
MISSING_VERSION = {"registry_conn_id": CONN, "model_name": MODEL, "version": "999"}
MISSING_MODEL = {"registry_conn_id": CONN, "model_name": "no_such_model", "version": "1"}


def _v1(world: World) -> dict[str, Any]:
    return world.v1


def validate(**changes: Any) -> Any:
    def build(world: World) -> Any:
        from airflow_registry_provider.operators import ValidateMetricsOperator

        params: dict[str, Any] = {
            "task_id": "validate",
            "model_version": world.v1,
            "thresholds": {"accuracy": ">= 0.5"},
        }
        params.update({k: v(world) if callable(v) else v for k, v in changes.items()})
        return ValidateMetricsOperator(**params)

    return build


def promote(**changes: Any) -> Any:
    def build(world: World) -> Any:
        from airflow_registry_provider.operators import PromoteVersionOperator

        # registry_conn_id explicit: PromoteVersion adopts a reference's connection once it
        # resolves its version through BaseRegistryOperator.resolve_version (another branch).
        params: dict[str, Any] = {
            "task_id": "promote",
            "registry_conn_id": CONN,
            "model_version": world.v2,
            "require_validation": False,
        }
        params.update({k: v(world) if callable(v) else v for k, v in changes.items()})
        return PromoteVersionOperator(**params)

    return build


def compare(**changes: Any) -> Any:
    def build(world: World) -> Any:
        from airflow_registry_provider.operators import CompareVersionsOperator

        params: dict[str, Any] = {
            "task_id": "compare",
            "registry_conn_id": CONN,
            "model_name": MODEL,
            "base": "@champion",
            "candidate": world.v2,
        }
        params.update({k: v(world) if callable(v) else v for k, v in changes.items()})
        return CompareVersionsOperator(**params)

    return build


def card(**changes: Any) -> Any:
    def build(world: World) -> Any:
        from airflow_registry_provider.operators import ModelCardOperator

        params: dict[str, Any] = {"task_id": "card", "model_version": world.v1}
        params.update({k: v(world) if callable(v) else v for k, v in changes.items()})
        return ModelCardOperator(**params)

    return build


def case(id: str, build: Any, error: type[Exception], field: str, *, marks: Any = (), **kwargs: Any) -> Any:
    return pytest.param(Case(id, build, error, field, **kwargs), id=id, marks=marks)


# PromoteVersion reads the version itself and blames the hook's field (``version``,
# ``model_name``); BaseRegistryOperator.resolve_version blames ``model_version``.


CASES = [
    # ValidateMetrics: the version
    case("validate_missing_version", validate(model_version=MISSING_VERSION), VersionNotFoundError, "model_version"),
    case("validate_missing_model", validate(model_version=MISSING_MODEL), ModelNotFoundError, "model_version"),
    case("validate_ref_not_json", validate(model_version="churn v1"), InvalidInputError, "model_version"),
    case(
        "validate_ref_lacks_version", validate(model_version={"model_name": MODEL}), InvalidInputError, "model_version"
    ),
    case("validate_ref_number", validate(model_version=42), InvalidInputError, "model_version"),
    case(
        "validate_ref_rendered_garbage",
        validate(model_version="{{ params.ref }}"),
        InvalidInputError,
        "model_version",
        params={"ref": "{'model_name': 'churn'"},
    ),
    case(
        "validate_ref_names_undefined_connection",
        validate(model_version={**MISSING_VERSION, "registry_conn_id": "no_such_conn", "version": "1"}),
        InvalidInputError,
        "registry_conn_id",
    ),
    # ValidateMetrics: thresholds
    case("threshold_unknown_metric", validate(thresholds={"acuracy": ">= 0.5"}), InvalidInputError, "thresholds"),
    case(
        "threshold_one_of_two_unknown",
        validate(thresholds={"accuracy": ">= 0.5", "auc": ">= 0.7"}),
        InvalidInputError,
        "thresholds",
    ),
    case(
        "threshold_unknown_rendered",
        validate(thresholds="{{ params.t }}"),
        InvalidInputError,
        "thresholds",
        params={"t": {"recall": ">= 0.5"}},
    ),
    case(
        "threshold_word",
        validate(thresholds={"accuracy": "good"}),
        InvalidInputError,
        "thresholds.accuracy",
        at_parse=True,
    ),
    case(
        "threshold_bad_bound_key",
        validate(thresholds={"accuracy": {"minimum": 0.5}}),
        InvalidInputError,
        "thresholds.accuracy",
        at_parse=True,
    ),
    case(
        "threshold_nan_bound",
        validate(thresholds={"accuracy": {"min": NAN}}),
        InvalidInputError,
        "thresholds.accuracy",
        at_parse=True,
    ),
    case(
        "threshold_number",
        validate(thresholds={"accuracy": 0.5}),
        InvalidInputError,
        "thresholds.accuracy",
        at_parse=True,
    ),
    case("thresholds_text", validate(thresholds="accuracy >= 0.5"), InvalidInputError, "thresholds", at_parse=True),
    case(
        "thresholds_rendered_text",
        validate(thresholds="{{ params.t }}"),
        InvalidInputError,
        "thresholds",
        params={"t": "accuracy>=0.5"},
    ),
    case("nothing_to_judge", validate(thresholds=None), InvalidInputError, "thresholds"),
    # ValidateMetrics: the rest of its parameters
    case("direction_word", validate(directions={"accuracy": "up"}), InvalidInputError, "directions.accuracy"),
    case("direction_unknown_metric", validate(directions={"auc": "higher"}), InvalidInputError, "directions"),
    case("directions_text", validate(directions="accuracy:higher"), InvalidInputError, "directions"),
    case("compare_to_bad_alias", validate(compare_to="bad alias!"), InvalidInputError, "compare_to"),
    case("compare_to_reserved", validate(compare_to="latest"), InvalidInputError, "compare_to"),
    case("min_improvement_word", validate(min_improvement="abc"), InvalidInputError, "min_improvement"),
    case("min_improvement_nan", validate(min_improvement=NAN), InvalidInputError, "min_improvement"),
    case(
        "min_improvement_metric_word",
        validate(min_improvement={"accuracy": "x"}),
        InvalidInputError,
        "min_improvement.accuracy",
    ),
    case("relative_improvement_yes", validate(relative_improvement="yes"), InvalidInputError, "relative_improvement"),
    case("on_failure_word", validate(on_failure="explode"), InvalidInputError, "on_failure"),
    case(
        "validation_data_without_label",
        validate(validation_data=lambda w: w.paths["validation"]),
        InvalidInputError,
        "label_column",
    ),
    case(
        "validation_data_missing_file",
        validate(validation_data="/nonexistent.parquet", label_column="label"),
        InvalidInputError,
        "validation_data",
    ),
    case(
        "validation_data_not_parquet",
        validate(validation_data=lambda w: w.files["not_parquet"], label_column="label"),
        InvalidInputError,
        "validation_data",
    ),
    case(
        "label_column_absent",
        validate(validation_data=lambda w: w.files["unlabelled"], label_column="label"),
        InvalidInputError,
        "label_column",
    ),
    case(
        "validation_data_missing_feature",
        validate(validation_data=lambda w: w.files["drift_missing_column"], label_column="label"),
        InvalidInputError,
        "validation_data",
    ),
    case(
        "validate_connection_undefined",
        validate(registry_conn_id="no_such_conn"),
        InvalidInputError,
        "registry_conn_id",
    ),
    # PromoteVersion (its moves are another branch's; the contract is the base operator's)
    case(
        "promote_missing_version",
        promote(model_version=MISSING_VERSION),
        VersionNotFoundError,
        "model_version",
    ),
    case(
        "promote_missing_model",
        promote(model_version=MISSING_MODEL),
        ModelNotFoundError,
        "model_version",
    ),
    case("promote_bad_alias", promote(alias="bad alias!"), InvalidInputError, "alias"),
    case("promote_reserved_alias", promote(alias="v1"), InvalidInputError, "alias"),
    case("promote_same_aliases", promote(previous_alias="champion"), InvalidInputError, "previous_alias"),
    case("promote_stage_word", promote(stage="Prod"), InvalidInputError, "stage"),
    case("promote_not_validated", promote(require_validation=True), InvalidInputError, "model_version"),
    case(
        "rollback_without_previous",
        promote(model_version=None, model_name=MODEL, rollback=True),
        InvalidInputError,
        "rollback",
    ),
    case("promote_nothing", promote(model_version=None), InvalidInputError, "model_version"),
    # CompareVersions
    case("compare_missing_version", compare(base="999"), VersionNotFoundError, "base"),
    case("compare_missing_alias", compare(base="@nobody"), AliasNotFoundError, "base"),
    case("compare_bad_alias", compare(base="@bad alias!"), InvalidInputError, "base"),
    case("compare_empty_base", compare(base=""), InvalidInputError, "base"),
    case("compare_candidate_missing", compare(candidate=MISSING_VERSION), VersionNotFoundError, "candidate"),
    case("compare_candidate_garbage", compare(candidate="{not json"), InvalidInputError, "candidate"),
    case("compare_missing_model", compare(model_name="no_such_model"), ModelNotFoundError, "model_name"),
    case("compare_without_model_name", compare(model_name=None), InvalidInputError, "model_name"),
    # ModelCard
    case("card_missing_version", card(model_version=MISSING_VERSION), VersionNotFoundError, "model_version"),
    case("card_missing_model", card(model_version=MISSING_MODEL), ModelNotFoundError, "model_version"),
    case("card_ref_garbage", card(model_version="v1"), InvalidInputError, "model_version"),
    case("card_limitations_numbers", card(limitations=[1, 2]), InvalidInputError, "limitations"),
]


@pytest.mark.parametrize("bad", CASES)
def test_version_operators_refuse(world: World, bad: Case) -> None:
    expect_refusal(Case(bad.id, lambda: bad.build(world), bad.error, bad.field, bad.params, bad.at_parse), world.dump)


def test_unknown_metric_leaves_the_validation_status_unset(world: World) -> None:
    """A typo is not a verdict: no ``validation_status`` tag, so the version can still be promoted."""
    from airflow_registry_provider import tags
    from airflow_registry_provider.hooks import get_registry_hook

    expect_refusal(
        Case("typo", lambda: validate(thresholds={"acuracy": ">= 0.5"})(world), InvalidInputError, "thresholds"),
        world.dump,
    )
    assert tags.VALIDATION_STATUS not in get_registry_hook(CONN).get_version_tags(MODEL, world.v1["version"])
