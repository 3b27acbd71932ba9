"""DriftCheckOperator: bad input fails at once naming its field; no report is stored, no tag set."""

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


def drift(**changes: Any) -> Any:
    def build(world: World) -> Any:
        from airflow_registry_provider.operators import DriftCheckOperator

        params: dict[str, Any] = {
            "task_id": "drift",
            "registry_conn_id": CONN,
            "model_name": MODEL,
            "current": world.paths["validation"],
            "report_dir": str(world.root / "reports"),  # inside the dumped folder: a report would show
        }
        params.update({k: v(world) if callable(v) else v for k, v in changes.items()})
        return DriftCheckOperator(**params)

    return build


def case(id: str, build: Any, error: type[Exception], field: str, **kwargs: Any) -> Any:
    return Case(id, build, error, field, **kwargs).param()


CASES = [
    case("drift_share_word", drift(drift_share="abc"), InvalidInputError, "drift_share"),
    case("drift_share_zero", drift(drift_share=0), InvalidInputError, "drift_share"),
    case("drift_share_above_one", drift(drift_share=1.5), InvalidInputError, "drift_share"),
    case("drift_share_negative", drift(drift_share=-0.1), InvalidInputError, "drift_share"),
    case("drift_share_bool", drift(drift_share=True), InvalidInputError, "drift_share"),
    case("drift_share_nan", drift(drift_share=float("nan")), InvalidInputError, "drift_share"),
    case(
        "drift_share_rendered_word",
        drift(drift_share="{{ params.share }}"),
        InvalidInputError,
        "drift_share",
        params={"share": "half"},
    ),
    case("current_missing_file", drift(current="/nonexistent.parquet"), InvalidInputError, "current"),
    case("current_not_parquet", drift(current=lambda w: w.files["not_parquet"]), InvalidInputError, "current"),
    case("current_empty_path", drift(current=""), InvalidInputError, "current"),
    case("current_no_rows", drift(current=lambda w: w.files["empty"]), InvalidInputError, "current"),
    case("current_lacks_a_column", drift(current=lambda w: w.files["missing_column"]), InvalidInputError, "current"),
    case("reference_missing_file", drift(reference="/nonexistent.parquet"), InvalidInputError, "reference"),
    case(
        "reference_missing_version",
        drift(reference={"registry_conn_id": CONN, "model_name": MODEL, "version": "999"}),
        VersionNotFoundError,
        "reference",
    ),
    case(
        "reference_missing_model",
        drift(reference={"registry_conn_id": CONN, "model_name": "nope", "version": "1"}),
        ModelNotFoundError,
        "reference",
    ),
    case("reference_without_profile", drift(reference=lambda w: w.v2), InvalidInputError, "reference"),
    case("reference_garbage_json", drift(reference="{oops"), InvalidInputError, "reference"),
    case("alias_nobody_holds", drift(alias="nobody"), AliasNotFoundError, "alias"),
    case("alias_bad_chars", drift(alias="bad alias!"), InvalidInputError, "alias"),
    case("model_missing", drift(model_name="no_such_model"), ModelNotFoundError, "model_name"),
    case("model_name_bad_chars", drift(model_name="bad name!"), InvalidInputError, "model_name"),
    case("neither_model_nor_reference", drift(model_name=None), InvalidInputError, "model_name"),
    case("on_drift_word", drift(on_drift="explode"), InvalidInputError, "on_drift"),
    case("columns_plain_string", drift(columns="f1"), InvalidInputError, "columns"),
    case("columns_unknown", drift(columns=["zzz"]), InvalidInputError, "columns"),
    case("columns_numbers", drift(columns=[1, 2]), InvalidInputError, "columns"),
    case("critical_columns_unknown", drift(critical_columns=["zzz"]), InvalidInputError, "critical_columns"),
    case("thresholds_word", drift(thresholds={"f1": "x"}), InvalidInputError, "thresholds.f1"),
    case("thresholds_text", drift(thresholds="f1=0.1"), InvalidInputError, "thresholds"),
    case("thresholds_nan", drift(thresholds={"f1": float("nan")}), InvalidInputError, "thresholds.f1"),
    case("methods_text", drift(methods="ks"), InvalidInputError, "methods"),
    case("methods_unknown", drift(methods={"f1": "magic"}), InvalidInputError, "methods"),
    case("report_dir_is_a_file", drift(report_dir=lambda w: w.files["a_file"]), InvalidInputError, "report_dir"),
    case("connection_undefined", drift(registry_conn_id="no_such_conn"), InvalidInputError, "registry_conn_id"),
]


@pytest.mark.parametrize("bad", CASES)
def test_drift_check_refuses(world: World, bad: Case) -> None:
    expect_refusal(Case(bad.id, lambda: bad.build(world), bad.error, bad.field, bad.params, bad.at_parse), world.dump)
