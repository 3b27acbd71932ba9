"""Airflow must actually discover the provider: entry point, hook, connection type, fields."""

from __future__ import annotations

import subprocess
import sys


def test_providers_manager_discovers_package_hook_and_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-registry-provider" in manager.providers
    hook = manager.hooks["mlflow_registry"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_registry_provider.hooks.mlflow.MlflowRegistryHook"
    assert hook.connection_type == "mlflow_registry"
    fields = {name.removeprefix("extra__mlflow_registry__") for name in manager.connection_form_widgets}
    assert {"tracking_uri", "registry_uri", "artifact_location"} <= fields


def test_connection_from_environment_and_test_connection(mlflow_registry: str) -> None:
    from airflow_registry_provider.hooks import MlflowRegistryHook, get_registry_hook

    from mlflow import MlflowClient

    hook = get_registry_hook("mlflow_default")
    assert isinstance(hook, MlflowRegistryHook)
    # A sqlite registry that does not exist yet is reported, never created by the test.
    ok, message = hook.test_connection()
    assert not ok and "does not exist" in message, message
    MlflowClient(mlflow_registry).search_experiments()  # what a first registration does: create the store
    ok, message = hook.test_connection()
    assert ok, message
    assert mlflow_registry in message


def test_importing_operators_does_not_import_backends() -> None:
    code = (
        "import sys, airflow_registry_provider.operators as ops;"
        "from airflow_registry_provider.operators import LogModelOperator, ValidateMetricsOperator, "
        "PromoteVersionOperator, BatchInferenceOperator;"
        "heavy = [m for m in ('mlflow', 'snowflake.ml', 'snowflake.snowpark', 'snowflake.connector', 'sklearn', "
        "'pandas') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
