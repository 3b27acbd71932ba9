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
    from mlflow import MlflowClient

    from airflow_registry_provider.hooks import MlflowRegistryHook, get_registry_hook

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


def _package_modules(subpackage: str) -> list[str]:
    """Every module of ``airflow_registry_provider.<subpackage>`` (none when it does not exist)."""
    import importlib
    import importlib.util
    import pkgutil

    name = f"airflow_registry_provider.{subpackage}"
    if importlib.util.find_spec(name) is None:
        return []
    package = importlib.import_module(name)
    return [info.name for info in pkgutil.walk_packages(package.__path__, f"{name}.")]


def _defined_in(module_name: str, base: type) -> list[type]:
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, base) and obj.__module__ == module_name and not inspect.isabstract(obj)
    ]


def _listed(info: dict, key: str) -> set[str]:
    return {module for entry in info.get(key, []) for module in entry["python-modules"]}


def test_provider_info_lists_every_operator_sensor_trigger_and_link() -> None:
    """Derived from the package: a new operator, sensor, trigger or link cannot be forgotten."""
    from airflow.sdk import BaseOperator, BaseOperatorLink
    from airflow.triggers.base import BaseTrigger

    from airflow_registry_provider.get_provider_info import get_provider_info
    from airflow_registry_provider.operators.base import BaseRegistryOperator

    info = get_provider_info()
    families = {"operators": BaseOperator, "sensors": BaseOperator, "triggers": BaseTrigger}
    operator_classes: list[type] = []
    for key, base in families.items():
        defining = {m for m in _package_modules(key) if _defined_in(m, base) and not m.endswith(".base")}
        assert _listed(info, key) == defining, key
        if key == "operators":
            operator_classes = [cls for m in defining for cls in _defined_in(m, base)]
    assert "airflow_registry_provider.operators.drift_check" in _listed(info, "operators")

    links = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _defined_in("airflow_registry_provider.links", BaseOperatorLink)
    }
    used = {
        f"{type(link).__module__}.{type(link).__qualname__}"
        for cls in operator_classes
        for link in getattr(cls, "operator_extra_links", ())
    }
    assert used <= links, "every link an operator shows is defined in links.py"
    assert set(info["extra-links"]) == links
    # Built on an Airflow operator instead (Airflow's HITL ApprovalOperator parks the task without a slot).
    on_airflow_operators = {"RegistryApprovalOperator"}
    assert all(
        issubclass(cls, BaseRegistryOperator) or cls.__name__ in on_airflow_operators for cls in operator_classes
    )
    import airflow_registry_provider.operators as public

    assert set(public.__all__) == {cls.__name__ for cls in operator_classes}, "operators/__init__ re-exports each one"

    integrations = {i["integration-name"]: i for i in info["integrations"]}
    assert {"MLflow Model Registry", "Snowflake Model Registry"} <= set(integrations)
    assert all(i["external-doc-url"].startswith("https://") for i in integrations.values())
    for key in ("operators", "hooks"):
        assert {entry["integration-name"] for entry in info[key]} <= set(integrations), key
    assert info["documentation-url"].startswith("https://")


def test_providers_manager_registers_the_extra_links() -> None:
    from airflow.providers_manager import ProvidersManager

    from airflow_registry_provider.get_provider_info import get_provider_info

    registered = ProvidersManager().extra_links_class_names
    assert set(get_provider_info()["extra-links"]) <= set(registered)
