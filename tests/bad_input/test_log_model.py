"""LogModelOperator: every bad input fails at once naming its field, and registers nothing."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_registry_provider.exceptions import (
    InvalidInputError,
    VersionConflictError,
)
from tests.bad_input.conftest import CONN, MODEL, Case, World, expect_refusal

NAN, INF = float("nan"), float("inf")


def log(world: World, **changes: Any) -> Any:
    from airflow_registry_provider.operators import LogModelOperator

    params: dict[str, Any] = {
        "task_id": "log_model",
        "registry_conn_id": CONN,
        "model_name": "pricing",
        "model": world.paths["model"],
        "version_name": "2.0.0",
        "sample_input": world.paths["sample"],
        "metrics": {"accuracy": 0.9},
    }
    params.update(changes)
    return LogModelOperator(**params)


def case(id: str, error: type[Exception], field: str, *, at_parse: bool = False, params: Any = None, **changes: Any):
    """A LogModel case; a change given as a callable gets the world (for paths)."""

    def build(world: World) -> Any:
        return log(world, **{k: v(world) if callable(v) else v for k, v in changes.items()})

    return Case(id, build, error, field, params=params or {}, at_parse=at_parse).param()


CASES = [
    # names
    case("model_name_bad_chars", InvalidInputError, "model_name", model_name="bad name!"),
    case("model_name_empty", InvalidInputError, "model_name", model_name=""),
    case("model_name_reserved_slash", InvalidInputError, "model_name", model_name="a/b"),
    case("version_name_not_semver", InvalidInputError, "version_name", version_name="1.0"),
    case("version_name_word", InvalidInputError, "version_name", version_name="latest"),
    case("version_name_empty", InvalidInputError, "version_name", version_name=""),
    case(
        "version_name_taken_other_artifact",
        VersionConflictError,
        "version_name",
        model_name=MODEL,
        version_name="1.0.0",
        model=lambda w: w.other["model"],
    ),
    # metrics: literal values are refused when the DAG is parsed
    case("metric_nan", InvalidInputError, "metrics.accuracy", at_parse=True, metrics={"accuracy": NAN}),
    case("metric_inf", InvalidInputError, "metrics.accuracy", at_parse=True, metrics={"accuracy": INF}),
    case("metric_minus_inf", InvalidInputError, "metrics.loss", at_parse=True, metrics={"loss": -INF}),
    case("metric_word", InvalidInputError, "metrics.accuracy", at_parse=True, metrics={"accuracy": "high"}),
    case("metric_bool", InvalidInputError, "metrics.accuracy", at_parse=True, metrics={"accuracy": True}),
    case("metric_none", InvalidInputError, "metrics.accuracy", at_parse=True, metrics={"accuracy": None}),
    case("metrics_list", InvalidInputError, "metrics", at_parse=True, metrics=[0.9]),
    case("metrics_key_value_text", InvalidInputError, "metrics", at_parse=True, metrics="accuracy=0.9"),
    # metrics rendered from templates (no render_template_as_native_obj): refused before serialization
    case(
        "metric_nan_rendered_literal",
        InvalidInputError,
        "metrics.accuracy",
        metrics="{{ params.metrics }}",
        params={"metrics": {"accuracy": NAN}},
    ),
    case(
        "metric_inf_rendered_json",
        InvalidInputError,
        "metrics.accuracy",
        metrics="{{ params.metrics }}",
        params={"metrics": '{"accuracy": Infinity}'},
    ),
    case(
        "metrics_rendered_text",
        InvalidInputError,
        "metrics",
        metrics="{{ params.metrics }}",
        params={"metrics": "accuracy=0.9"},
    ),
    case(
        "metric_value_rendered",
        InvalidInputError,
        "metrics.accuracy",
        metrics={"accuracy": "{{ params.accuracy }}"},
        params={"accuracy": "nan"},
    ),
    case(
        "metric_value_rendered_word",
        InvalidInputError,
        "metrics.accuracy",
        metrics={"accuracy": "{{ params.accuracy }}"},
        params={"accuracy": "n/a"},
    ),
    # metric names the registry refuses: checked before a run or model is created
    case("metric_name_percent", InvalidInputError, "metrics.a%b", metrics={"a%b": 1.0}),
    case("metric_name_path", InvalidInputError, "metrics.x/../y", metrics={"x/../y": 1.0}),
    case("metric_name_empty", InvalidInputError, "metrics.", metrics={"": 1.0}),
    case("metric_name_too_long", InvalidInputError, "metrics.", metrics={"m" * 300: 1.0}),
    # tags
    case("tags_key_value_text", InvalidInputError, "tags", tags="team=pricing"),
    case("tags_rendered_text", InvalidInputError, "tags", tags="{{ params.tags }}", params={"tags": "team=pricing"}),
    case("tags_list", InvalidInputError, "tags", tags=["team"]),
    case("tag_key_bad_chars", InvalidInputError, "tags.bad key!", tags={"bad key!": "x"}),
    case("tag_key_path", InvalidInputError, "tags.../x", tags={"../x": "x"}),
    case("tag_key_empty", InvalidInputError, "tags", tags={"": "x"}),
    case("tag_key_too_long", InvalidInputError, "tags.", tags={"k" * 300: "x"}),
    case("tag_value_none", InvalidInputError, "tags.team", tags={"team": None}),
    case("tag_value_too_long", InvalidInputError, "tags.notes", tags={"notes": "x" * 6000}),
    # the model
    case("model_missing_file", InvalidInputError, "model", model="/nonexistent/model.joblib"),
    case("model_corrupt_file", InvalidInputError, "model", model=lambda w: w.files["corrupt_model"]),
    case("model_empty", InvalidInputError, "model", model=""),
    case("model_uri_missing_model", InvalidInputError, "model", model="models:/no_such_model/1"),
    case("model_uri_missing_run", InvalidInputError, "model", model="runs:/" + "0" * 32 + "/model"),
    # the sample: read, fits the model, scorable, dtypes
    case("sample_missing_without_opt_out", InvalidInputError, "sample_input", sample_input=None),
    case("sample_missing_file", InvalidInputError, "sample_input", sample_input="/nonexistent/sample.parquet"),
    case("sample_not_parquet", InvalidInputError, "sample_input", sample_input=lambda w: w.files["not_parquet"]),
    case("sample_no_rows", InvalidInputError, "sample_input", sample_input=lambda w: w.files["empty"]),
    case("sample_missing_column", InvalidInputError, "sample_input", sample_input=lambda w: w.files["missing_column"]),
    case("sample_unscorable_strings", InvalidInputError, "sample_input", sample_input=lambda w: w.files["strings"]),
    case(
        "sample_dtypes_against_signature",
        InvalidInputError,
        "sample_input",
        model=f"models:/{MODEL}/1",
        sample_input=lambda w: w.files["strings"],
    ),
    # lineage and reference inputs
    case("training_data_missing", InvalidInputError, "training_data", training_data=["/nonexistent.parquet"]),
    case("training_data_number", InvalidInputError, "training_data", training_data=5),
    case("reference_data_missing", InvalidInputError, "reference_data", reference_data="/nonexistent.parquet"),
    case(
        "reference_data_not_parquet",
        InvalidInputError,
        "reference_data",
        reference_data=lambda w: w.files["not_parquet"],
    ),
    case("reference_data_no_rows", InvalidInputError, "reference_data", reference_data=lambda w: w.files["empty"]),
    # flags and options
    case("allow_no_signature_yes", InvalidInputError, "allow_no_signature", allow_no_signature="yes"),
    case("allow_no_signature_one", InvalidInputError, "allow_no_signature", allow_no_signature="1"),
    case("allow_no_signature_empty", InvalidInputError, "allow_no_signature", allow_no_signature=""),
    case("description_too_long", InvalidInputError, "description", description="d" * 6000),
    case("description_not_text", InvalidInputError, "description", description=["a"]),
    case("backend_options_text", InvalidInputError, "backend_options", backend_options="fast"),
    case("backend_options_unknown_kwarg", InvalidInputError, "backend_options", backend_options={"bogus": 1}),
    case("registry_conn_id_undefined", InvalidInputError, "registry_conn_id", registry_conn_id="no_such_conn"),
    case("registry_conn_id_empty", InvalidInputError, "registry_conn_id", registry_conn_id=""),
]


@pytest.mark.parametrize("bad", CASES)
def test_log_model_refuses(world: World, bad: Case) -> None:
    expect_refusal(Case(bad.id, lambda: bad.build(world), bad.error, bad.field, bad.params, bad.at_parse), world.dump)
