"""Quality gates: metric thresholds and champion/challenger comparison.

Pure module (no Airflow imports). Thresholds are written the way people say them
(``{"accuracy": ">= 0.85", "log_loss": "<= 0.40"}``) or as ``{"min": .., "max": ..}``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from airflow_registry_provider.exceptions import InvalidInputError

Direction = Literal["higher", "lower"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_RULE = re.compile(r"^\s*(>=|<=|==|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def coerce_metrics(metrics: Mapping[str, Any] | None, field_name: str = "metrics") -> dict[str, float]:
    """Metric values as floats; reject anything that is not a finite number, naming the metric."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise InvalidInputError(
            field_name, f"expected a mapping of metric name to number, got {type(metrics).__name__}"
        )
    result = {}
    for name, value in metrics.items():
        if isinstance(value, bool):  # float(True) is 1.0: a flag is not a measurement
            raise InvalidInputError(f"{field_name}.{name}", f"{value!r} is not a number")
        if not isinstance(value, int | float):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidInputError(f"{field_name}.{name}", f"{value!r} is not a number") from None
        if not math.isfinite(value):
            raise InvalidInputError(f"{field_name}.{name}", f"{value!r} is not a finite number")
        result[str(name)] = float(value)
    return result


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str
    value: float

    def check(self, actual: float) -> bool:
        return _OPS[self.op](actual, self.value)

    @property
    def direction(self) -> Direction:
        return "lower" if self.op in ("<=", "<") else "higher"

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_thresholds(thresholds: Mapping[str, Any] | None, field_name: str = "thresholds") -> list[Threshold]:
    """Parse ``{"accuracy": ">= 0.85", "rmse": {"max": 3.0}}`` into :class:`Threshold` rules."""
    if not thresholds:
        return []
    if not isinstance(thresholds, Mapping):
        raise InvalidInputError(field_name, f"expected a mapping of metric to rule, got {type(thresholds).__name__}")
    rules: list[Threshold] = []
    for metric, rule in thresholds.items():
        where = f"{field_name}.{metric}"
        if isinstance(rule, Mapping):
            unknown = set(rule) - {"min", "max"}
            if unknown or not rule:
                raise InvalidInputError(where, f"use 'min' and/or 'max', not {sorted(unknown) or 'nothing'}")
            bounds = coerce_metrics(rule, where)
            if "min" in bounds:
                rules.append(Threshold(metric, ">=", bounds["min"]))
            if "max" in bounds:
                rules.append(Threshold(metric, "<=", bounds["max"]))
            continue
        if isinstance(rule, str):
            match = _RULE.match(rule)
            if match is None:
                raise InvalidInputError(where, f"cannot parse {rule!r}; write e.g. '>= 0.85' or '<= 0.4'")
            op, number = match.groups()
            value = float(number)
        else:
            raise InvalidInputError(where, f"cannot parse {rule!r}; write e.g. '>= 0.85' or {{'min': 0.85}}")
        rules.append(Threshold(metric, op, value))
    return rules


@dataclass
class MetricOutcome:
    metric: str
    value: float | None
    passed: bool
    checks: list[str] = field(default_factory=list)
    champion_value: float | None = None


@dataclass
class GateResult:
    passed: bool
    outcomes: list[MetricOutcome]
    champion_version: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "champion_version": self.champion_version,
            "notes": self.notes,
            "metrics": {o.metric: {k: v for k, v in asdict(o).items() if k != "metric"} for o in self.outcomes},
        }


def evaluate(
    candidate: Mapping[str, float],
    thresholds: list[Threshold],
    *,
    champion: Mapping[str, float] | None = None,
    champion_version: str | None = None,
    min_improvement: float | Mapping[str, float] = 0.0,
    relative: bool = False,
    directions: Mapping[str, Direction] | None = None,
) -> GateResult:
    """Judge a candidate's metrics.

    Every threshold must hold. With a ``champion``, each compared metric (those with a
    threshold or an explicit direction) must also beat the champion by ``min_improvement``
    (absolute, or a fraction of the champion's value when ``relative``). A metric that is
    missing from the candidate fails the gate.
    """
    outcomes: dict[str, MetricOutcome] = {}
    notes: list[str] = []

    def outcome(metric: str) -> MetricOutcome:
        if metric not in outcomes:
            outcomes[metric] = MetricOutcome(metric, candidate.get(metric), True)
        return outcomes[metric]

    for rule in thresholds:
        item = outcome(rule.metric)
        if item.value is None:
            item.passed = False
            item.checks.append(f"{rule}: metric missing")
            continue
        ok = rule.check(item.value)
        item.passed &= ok
        item.checks.append(f"{rule}: {'ok' if ok else 'failed'} ({item.value:g})")

    compared: dict[str, Direction] = {r.metric: r.direction for r in thresholds}
    compared.update(directions or {})
    for metric, direction in compared.items():
        if direction not in ("higher", "lower"):
            raise InvalidInputError(f"directions.{metric}", f"must be 'higher' or 'lower', not {direction!r}")
    if champion is None:
        notes.append("no champion to compare with: judged on absolute thresholds alone")
    else:
        for metric, direction in compared.items():
            item = outcome(metric)
            base = champion.get(metric)
            item.champion_value = base
            if base is None:
                item.checks.append(f"champion has no {metric}: comparison skipped")
                continue
            if item.value is None:
                item.passed = False
                item.checks.append("vs champion: metric missing")
                continue
            margin = min_improvement.get(metric, 0.0) if isinstance(min_improvement, Mapping) else min_improvement
            needed = margin * abs(base) if relative else margin
            gain = item.value - base if direction == "higher" else base - item.value
            ok = gain >= needed if needed > 0 else gain >= 0
            item.passed &= ok
            item.checks.append(
                f"vs champion {champion_version}: {item.value:g} vs {base:g} ({direction} is better, "
                f"needs gain >= {needed:g}, got {gain:+g}): {'ok' if ok else 'failed'}"
            )
    items = list(outcomes.values())
    return GateResult(
        passed=all(o.passed for o in items), outcomes=items, champion_version=champion_version, notes=notes
    )


# Metrics an inference test can compute from predicted labels/values; name -> sklearn function.
LABEL_METRICS = {
    "accuracy": "accuracy_score",
    "precision": "precision_score",
    "recall": "recall_score",
    "f1": "f1_score",
    "balanced_accuracy": "balanced_accuracy_score",
    "mae": "mean_absolute_error",
    "mse": "mean_squared_error",
    "r2": "r2_score",
}


def score_predictions(y_true: Any, y_pred: Any, metrics: list[str]) -> dict[str, float]:
    """Compute the requested metrics that sklearn can derive from predictions alone."""
    import numpy as np
    from sklearn import metrics as skm

    result = {}
    for name in metrics:
        if name == "rmse":
            result[name] = float(np.sqrt(skm.mean_squared_error(y_true, y_pred)))
        elif name in LABEL_METRICS:
            result[name] = float(getattr(skm, LABEL_METRICS[name])(y_true, y_pred))
    return result
