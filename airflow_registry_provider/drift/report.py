"""The result of a drift check: per-column results and the dataset-level decision."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Stat = float | int | str | None | list[str]


@dataclass(frozen=True)
class Histogram:
    """Counts of the reference and the current batch over the same bins.

    Numeric: ``edges`` are the inner bin edges, so the bins are ``(-inf, e0), [e0, e1),
    ..., [e_last, inf)``. Categorical: ``labels`` are the categories shown (those with
    the largest shares) and ``other`` the reference and current counts of all the
    others.
    """

    reference: tuple[int, ...]
    current: tuple[int, ...]
    edges: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()
    other: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "reference": list(self.reference),
            "current": list(self.current),
        }
        if self.other is None:
            out["edges"] = [_json_number(e) for e in self.edges]
        else:
            out["labels"] = list(self.labels)
            out["other"] = list(self.other)
        return out


@dataclass(frozen=True)
class ColumnResult:
    """Drift of one column.

    ``statistic`` is the value of ``method`` compared with ``threshold``: a distance
    drifts when it is at least the threshold, a p-value (methods ``ks_pvalue`` and
    ``chi2``, after the multiple-comparison correction) when it is below it. It is None
    when the method is undefined for the data (see ``status``); the column then counts
    as not evaluated. ``stats`` holds every statistic computed for the column.
    """

    kind: str
    method: str
    threshold: float
    statistic: float | None
    drifted: bool
    status: str
    stats: Mapping[str, Stat]
    histogram: Histogram

    @property
    def evaluated(self) -> bool:
        """Whether the method could be applied to the column."""
        return self.statistic is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the decision, all statistics, the histogram."""
        return {
            "kind": self.kind,
            "method": self.method,
            "statistic": _json_number(self.statistic),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "status": self.status,
            **{key: _json_value(value) for key, value in self.stats.items()},
            "histogram": self.histogram.to_dict(),
        }


@dataclass(frozen=True)
class DriftReport:
    """Dataset-level drift decision and the per-column results behind it.

    The dataset drifts when the share of drifted columns among the evaluated feature
    columns is at least ``drift_share_threshold``, or when any of ``critical_columns``
    drifts. The prediction column, if any, is judged on its own (:attr:`prediction`).
    """

    columns: Mapping[str, ColumnResult]
    drift_share_threshold: float
    critical_columns: tuple[str, ...]
    prediction_column: str | None
    prediction: ColumnResult | None
    reference: Mapping[str, Any]
    current_rows: int
    p_value_correction: str

    @property
    def drifted_columns(self) -> list[str]:
        """Feature columns that drifted, in column order."""
        return [name for name, col in self.columns.items() if col.drifted]

    @property
    def drift_share(self) -> float:
        """Share of drifted columns among the evaluated feature columns."""
        evaluated = sum(col.evaluated for col in self.columns.values())
        return len(self.drifted_columns) / evaluated if evaluated else 0.0

    @property
    def dataset_drift(self) -> bool:
        """The dataset-level decision (see the class docstring)."""
        critical = any(self.columns[name].drifted for name in self.critical_columns)
        evaluated = any(col.evaluated for col in self.columns.values())
        return critical or (evaluated and self.drift_share >= self.drift_share_threshold)

    @property
    def prediction_drift(self) -> bool | None:
        """Whether the prediction column drifted; None without a prediction column."""
        return None if self.prediction is None else self.prediction.drifted

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (no NaN or infinity); enough to render the HTML."""
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_columns": self.drifted_columns,
            "drift_share": self.drift_share,
            "drift_share_threshold": self.drift_share_threshold,
            "critical_columns": list(self.critical_columns),
            "n_columns": len(self.columns),
            "n_evaluated": sum(col.evaluated for col in self.columns.values()),
            "prediction_column": self.prediction_column,
            "prediction_drift": self.prediction_drift,
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "p_value_correction": self.p_value_correction,
            "reference": {k: _json_value(v) for k, v in self.reference.items()},
            "current_rows": self.current_rows,
            "columns": {name: col.to_dict() for name, col in self.columns.items()},
        }


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return _json_number(value)
    if isinstance(value, Sequence):
        return [_json_value(v) for v in value]
    raise TypeError(f"not a report value: {value!r}")
