"""Registry operators, re-exported lazily so that importing them in a DAG file stays cheap.

``from airflow_registry_provider.operators import LogModelOperator`` imports only that
operator's module; no operator module imports mlflow or snowflake at import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_registry_provider.operators.batch_inference import BatchInferenceOperator
    from airflow_registry_provider.operators.drift_check import DriftCheckOperator
    from airflow_registry_provider.operators.log_model import LogModelOperator
    from airflow_registry_provider.operators.promote_version import PromoteVersionOperator
    from airflow_registry_provider.operators.validate_metrics import ValidateMetricsOperator

_EXPORTS = {
    "BatchInferenceOperator": "batch_inference",
    "DriftCheckOperator": "drift_check",
    "LogModelOperator": "log_model",
    "PromoteVersionOperator": "promote_version",
    "ValidateMetricsOperator": "validate_metrics",
}

__all__ = [
    "BatchInferenceOperator",
    "DriftCheckOperator",
    "LogModelOperator",
    "PromoteVersionOperator",
    "ValidateMetricsOperator",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
