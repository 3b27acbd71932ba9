from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.gates import coerce_metrics, evaluate, parse_thresholds, score_predictions


def test_parse_string_and_mapping_rules() -> None:
    rules = parse_thresholds({"accuracy": ">= 0.85", "log_loss": "<=0.4", "rmse": {"min": 0, "max": 3}})
    assert [(r.metric, r.op, r.value) for r in rules] == [
        ("accuracy", ">=", 0.85),
        ("log_loss", "<=", 0.4),
        ("rmse", ">=", 0.0),
        ("rmse", "<=", 3.0),
    ]


@pytest.mark.parametrize("rule", ["at least 0.8", ">= high", "=> 0.8", 0.8, {"minimum": 1}])
def test_unparsable_thresholds_name_the_metric(rule: object) -> None:
    with pytest.raises(InvalidInputError) as err:
        parse_thresholds({"accuracy": rule})
    assert err.value.field == "thresholds.accuracy"


@pytest.mark.parametrize("value", ["abc", None, math.nan, math.inf, -math.inf, [1], True, False, "nan"])
def test_bad_metric_values_name_the_metric(value: object) -> None:
    with pytest.raises(InvalidInputError) as err:
        coerce_metrics({"auc": value})
    assert err.value.field == "metrics.auc"


def test_first_model_is_judged_on_thresholds_alone() -> None:
    result = evaluate({"accuracy": 0.9}, parse_thresholds({"accuracy": ">= 0.85"}))
    assert result.passed
    assert "no champion" in result.notes[0]


def test_threshold_failure_and_missing_metric() -> None:
    result = evaluate({"accuracy": 0.8}, parse_thresholds({"accuracy": ">= 0.85", "f1": ">= 0.5"}))
    assert not result.passed
    assert {o.metric: o.passed for o in result.outcomes} == {"accuracy": False, "f1": False}


def test_champion_comparison_uses_direction_and_margin() -> None:
    rules = parse_thresholds({"accuracy": ">= 0.5", "log_loss": "<= 1"})
    champion = {"accuracy": 0.80, "log_loss": 0.40}
    better = evaluate({"accuracy": 0.82, "log_loss": 0.38}, rules, champion=champion, min_improvement=0.01)
    assert better.passed
    worse_loss = evaluate({"accuracy": 0.82, "log_loss": 0.45}, rules, champion=champion)
    assert not worse_loss.passed
    too_small = evaluate(
        {"accuracy": 0.805, "log_loss": 0.39}, rules, champion=champion, min_improvement={"accuracy": 0.01}
    )
    assert not too_small.passed
    relative = evaluate(
        {"accuracy": 0.85, "log_loss": 0.39}, rules, champion=champion, min_improvement=0.05, relative=True
    )
    assert relative.to_dict()["metrics"]["accuracy"]["passed"]


@given(st.floats(0, 1), st.floats(0, 1))
def test_gate_is_monotonic_in_the_metric(a: float, b: float) -> None:
    rules = parse_thresholds({"accuracy": ">= 0.5"})
    low, high = sorted((a, b))
    if evaluate({"accuracy": low}, rules).passed:
        assert evaluate({"accuracy": high}, rules).passed


def test_score_predictions_computes_label_metrics_only() -> None:
    scored = score_predictions([0, 1, 1, 0], [0, 1, 0, 0], ["accuracy", "log_loss", "rmse"])
    assert scored["accuracy"] == 0.75
    assert scored["rmse"] == pytest.approx(0.5)
    assert "log_loss" not in scored
