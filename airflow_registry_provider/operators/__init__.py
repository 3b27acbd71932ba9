"""Registry operators, re-exported lazily so that importing them in a DAG file stays cheap.

``from airflow_registry_provider.operators import LogModelOperator`` imports only that
operator's module; no operator module imports mlflow or snowflake at import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_registry_provider.operators.approval import RegistryApprovalOperator
    from airflow_registry_provider.operators.audit import AliasHistoryOperator
    from airflow_registry_provider.operators.batch_inference import BatchInferenceOperator
    from airflow_registry_provider.operators.compare_versions import CompareVersionsOperator
    from airflow_registry_provider.operators.copy_version import CopyVersionOperator
    from airflow_registry_provider.operators.drift_check import DriftCheckOperator
    from airflow_registry_provider.operators.grant_model import GrantModelOperator
    from airflow_registry_provider.operators.log_model import LogModelOperator
    from airflow_registry_provider.operators.model_card import ModelCardOperator
    from airflow_registry_provider.operators.promote_version import PromoteVersionOperator
    from airflow_registry_provider.operators.retention import RetentionOperator
    from airflow_registry_provider.operators.rollback import RollbackOperator
    from airflow_registry_provider.operators.validate_metrics import ValidateMetricsOperator

_EXPORTS = {
    "AliasHistoryOperator": "audit",
    "BatchInferenceOperator": "batch_inference",
    "CompareVersionsOperator": "compare_versions",
    "CopyVersionOperator": "copy_version",
    "DriftCheckOperator": "drift_check",
    "GrantModelOperator": "grant_model",
    "LogModelOperator": "log_model",
    "ModelCardOperator": "model_card",
    "PromoteVersionOperator": "promote_version",
    "RegistryApprovalOperator": "approval",
    "RetentionOperator": "retention",
    "RollbackOperator": "rollback",
    "ValidateMetricsOperator": "validate_metrics",
}

__all__ = [
    "AliasHistoryOperator",
    "BatchInferenceOperator",
    "CompareVersionsOperator",
    "CopyVersionOperator",
    "DriftCheckOperator",
    "GrantModelOperator",
    "LogModelOperator",
    "ModelCardOperator",
    "PromoteVersionOperator",
    "RegistryApprovalOperator",
    "RetentionOperator",
    "RollbackOperator",
    "ValidateMetricsOperator",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
