"""The contract BaseRegistryOperator gives every operator, on a real sqlite MLflow registry.

One XCom shape (any operator's output is a ``model_version=`` for any other), the
reference's connection used unless one is set, the hook closed after ``execute``,
structured values read from rendered strings, strict booleans, and every write audited.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import tags
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.audit import parse_log
from airflow_registry_provider.model_version import ModelVersionRef, parse_ref, parse_structured
from airflow_registry_provider.operators import (
    CompareVersionsOperator,
    DriftCheckOperator,
    LogModelOperator,
    ModelCardOperator,
    ValidateMetricsOperator,
)
from airflow_registry_provider.operators.base import as_bool
from tests.helpers import make_model_files, task_context

REF_KEYS = set(ModelVersionRef.__annotations__)


@pytest.fixture
def other_conn(mlflow_registry: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A second connection id to the same registry, named only by the references."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_TEAM_REGISTRY",
        json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": mlflow_registry}}),
    )
    return "team_registry"


def _log(paths: dict[str, str], conn: str, **kwargs: Any) -> dict[str, Any]:
    return LogModelOperator(
        task_id="log_model",
        registry_conn_id=conn,
        model_name="churn",
        model=paths["model"],
        version_name="1.0.0",
        sample_input=paths["sample"],
        metrics={"accuracy": 0.9},
        **kwargs,
    ).execute(task_context("log_model"))


def _assert_shape(result: dict[str, Any], conn: str) -> None:
    ref = {k: result[k] for k in REF_KEYS}
    assert result["model_version"] == ref
    assert ref["registry_conn_id"] == conn
    assert parse_ref(result) == ref
    assert parse_ref(str(result)) == ref  # as Jinja renders it without native rendering


def test_every_output_is_a_model_version_for_every_operator(other_conn: str, tmp_path: Path) -> None:
    """Chained through each other's output, none of them naming registry_conn_id."""
    paths = make_model_files(tmp_path)
    logged = _log(paths, other_conn, reference_data=paths["train"])
    _assert_shape(logged, other_conn)

    validated = ValidateMetricsOperator(
        task_id="validate", model_version=logged, thresholds={"accuracy": ">= 0.5"}
    ).execute(task_context("validate"))
    _assert_shape(validated, other_conn)
    assert validated["passed"] is True

    carded = ModelCardOperator(task_id="card", model_version=str(validated)).execute(task_context("card"))
    _assert_shape(carded, other_conn)
    assert carded["markdown"].endswith("model_card/model_card.md")

    compared = CompareVersionsOperator(task_id="compare", base=carded, candidate=validated).execute(
        task_context("compare")
    )
    _assert_shape(compared, other_conn)
    assert compared["base"]["version"] == compared["candidate"]["version"] == "1"

    drifted = DriftCheckOperator(
        task_id="drift", current=paths["validation"], reference=compared, report_dir=str(tmp_path / "reports")
    ).execute(task_context("drift"))
    _assert_shape(drifted, other_conn)
    assert "dataset_drift" in drifted


def test_an_explicit_connection_wins_over_the_reference(other_conn: str, tmp_path: Path) -> None:
    logged = _log(make_model_files(tmp_path), other_conn)
    with pytest.raises(AirflowFailException, match="^registry_conn_id: connection 'nowhere' is not defined"):
        ValidateMetricsOperator(
            task_id="validate", registry_conn_id="nowhere", model_version=logged, thresholds={"accuracy": ">= 0"}
        ).execute(task_context())


def test_the_hook_is_closed_after_execute(
    mlflow_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_registry_provider.hooks import MlflowRegistryHook

    closed: list[str] = []
    monkeypatch.setattr(MlflowRegistryHook, "close", lambda self: closed.append(self.registry_conn_id))
    logged = _log(make_model_files(tmp_path), "mlflow_default")
    assert closed == ["mlflow_default"]
    with pytest.raises(AirflowFailException):
        ValidateMetricsOperator(task_id="v", model_version=logged, thresholds={"nope": ">= 0"}).execute(task_context())
    assert closed == ["mlflow_default"] * 2, "closed when the task fails too"


def test_drift_reports_and_the_profile_are_audited(mlflow_registry: str, tmp_path: Path) -> None:
    from airflow_registry_provider.hooks import MlflowRegistryHook

    paths = make_model_files(tmp_path)
    logged = _log(paths, "mlflow_default", reference_data=paths["train"])
    hook = MlflowRegistryHook()
    log = parse_log(hook.get_version_tags("churn", "1")[tags.AUDIT_LOG])
    assert [r.action for r in log] == ["register", "artifact"]
    assert log[1].after[tags.REFERENCE_PROFILE].endswith(tags.PROFILE_ARTIFACT)

    DriftCheckOperator(
        task_id="drift", current=paths["validation"], reference=logged, report_dir=str(tmp_path / "reports")
    ).execute(task_context("drift"))
    version_tags = hook.get_version_tags("churn", "1")
    log = parse_log(version_tags[tags.AUDIT_LOG])
    assert [r.action for r in log] == ["register", "artifact", "artifact"]
    record = log[-1]
    assert record.reason == "drift check"
    assert record.after[tags.DRIFT_SUMMARY] == json.loads(version_tags[tags.DRIFT_SUMMARY])
    assert set(record.after["reports"]) == {"json", "html"}
    model_log = parse_log(hook.get_model_tags("churn")[tags.AUDIT_LOG])
    assert [r.action for r in model_log] == ["register", "artifact", "artifact"]


def test_rendered_values_are_checked_before_airflow_stores_them(mlflow_registry: str, tmp_path: Path) -> None:
    """render_template_fields runs the checks: a NaN never reaches the rendered-field serializer."""
    operator = LogModelOperator(
        task_id="log_model",
        model_name="churn",
        model="{{ params.model }}",
        version_name="1.0.0",
        metrics="{{ params.metrics }}",
        allow_no_signature=True,
    )
    context = {**task_context(), "params": {"model": "m.joblib", "metrics": {"rmse": math.inf}}}
    with pytest.raises(AirflowFailException, match=r"^metrics\.rmse: inf is not a finite number"):
        operator.render_template_fields(context)
    context["params"]["metrics"] = {"rmse": 1.5}
    operator.metrics = "{{ params.metrics }}"
    operator.render_template_fields(context)
    assert operator.metrics == {"rmse": 1.5}  # the rendered text read back as a mapping


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("{'a': 1, 'b': [1, 2]}", {"a": 1, "b": [1, 2]}),
        ("{'a': nan}", {"a": math.nan}),
        ("{'a': -inf}", {"a": -math.inf}),
    ],
)
def test_structured_values_read_like_references(text: str, expected: dict[str, Any]) -> None:
    parsed = parse_structured(text, "metrics")
    assert set(parsed) == set(expected)
    for key, value in expected.items():
        assert parsed[key] == value or (math.isnan(value) and math.isnan(parsed[key]))


@pytest.mark.parametrize("text", ["team=pricing", "__import__('os')", "[1, 2]", "{'a': b}", "1"])
def test_unreadable_structured_values_say_how_to_pass_them(text: str) -> None:
    with pytest.raises(InvalidInputError, match="^tags: .*render_template_as_native_obj"):
        parse_structured(text, "tags")


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True), ("FALSE", False)])
def test_booleans(value: Any, expected: bool) -> None:
    assert as_bool(value, "dry_run") is expected


@pytest.mark.parametrize("value", ["1", "0", "yes", "no", "", " true", None, 1, "None"])
def test_booleans_refuse_everything_else(value: Any) -> None:
    with pytest.raises(InvalidInputError, match="^dry_run: expected true or false"):
        as_bool(value, "dry_run")
