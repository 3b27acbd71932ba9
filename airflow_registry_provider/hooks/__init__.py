"""Registry hooks. Re-exported lazily: the MLflow and Snowflake hooks import their SDKs only when used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_registry_provider.hooks.base import RegistryHook, get_registry_hook
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
    from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook

_EXPORTS = {
    "RegistryHook": "airflow_registry_provider.hooks.base",
    "get_registry_hook": "airflow_registry_provider.hooks.base",
    "MlflowRegistryHook": "airflow_registry_provider.hooks.mlflow",
    "SnowflakeRegistryHook": "airflow_registry_provider.hooks.snowflake",
}

__all__ = ["MlflowRegistryHook", "RegistryHook", "SnowflakeRegistryHook", "get_registry_hook"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
