"""Provider metadata that Airflow's ProvidersManager reads through the entry point."""

from __future__ import annotations

from typing import Any

from airflow_registry_provider import __version__

REGISTRY = "Model Registry"
MLFLOW = "MLflow Model Registry"
SNOWFLAKE = "Snowflake Model Registry"
DOCS_URL = "https://pypi.org/project/airflow-registry-provider/"
#: Every module of ``airflow_registry_provider.operators`` that defines operators
#: (tests/test_provider.py checks this against the package).
OPERATOR_MODULES = (
    "approval",
    "audit",
    "batch_inference",
    "compare_versions",
    "copy_version",
    "drift_check",
    "grant_model",
    "log_model",
    "model_card",
    "promote_version",
    "retention",
    "rollback",
    "validate_metrics",
)


def get_provider_info() -> dict[str, Any]:
    """What Airflow's ProvidersManager and ``airflow providers …`` commands show for this package."""
    return {
        "package-name": "airflow-registry-provider",
        "name": "Model Registry",
        "description": "Register, gate, promote, grant, serve and watch ML models in MLflow and "
        "Snowflake model registries.",
        "versions": [__version__],
        # Where users read how to use the provider (the README published with the package).
        "documentation-url": DOCS_URL,
        "integrations": [
            {
                "integration-name": REGISTRY,
                "external-doc-url": DOCS_URL,
                "tags": ["software"],
            },
            {
                "integration-name": MLFLOW,
                "external-doc-url": "https://mlflow.org/docs/latest/ml/model-registry/",
                "tags": ["software"],
            },
            {
                "integration-name": SNOWFLAKE,
                "external-doc-url": "https://docs.snowflake.com/en/developer-guide/snowflake-ml/model-registry/overview",
                "tags": ["service"],
            },
        ],
        # The operators speak to any backend through RegistryHook: one integration for all.
        "operators": [
            {
                "integration-name": REGISTRY,
                "python-modules": [f"airflow_registry_provider.operators.{name}" for name in OPERATOR_MODULES],
            }
        ],
        "sensors": [
            {
                "integration-name": REGISTRY,
                "python-modules": ["airflow_registry_provider.sensors.model_version"],
            }
        ],
        "triggers": [
            {
                "integration-name": REGISTRY,
                "python-modules": ["airflow_registry_provider.triggers.model_version"],
            }
        ],
        "hooks": [
            {"integration-name": REGISTRY, "python-modules": ["airflow_registry_provider.hooks.base"]},
            {"integration-name": MLFLOW, "python-modules": ["airflow_registry_provider.hooks.mlflow"]},
            {"integration-name": SNOWFLAKE, "python-modules": ["airflow_registry_provider.hooks.snowflake"]},
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_registry_provider.hooks.mlflow.MlflowRegistryHook",
                "hook-name": MLFLOW,
                "connection-type": "mlflow_registry",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "host"],
                    "relabeling": {"login": "Username (basic auth)", "password": "Password (basic auth)"},
                    "placeholders": {
                        "tracking_uri": "http://mlflow.example.com:5000 or sqlite:////abs/path/mlflow.db",
                        "registry_uri": "defaults to the tracking URI",
                        "artifact_location": "s3://bucket/mlflow (for new experiments)",
                    },
                },
                "conn-fields": {
                    "tracking_uri": {"label": "Tracking URI", "schema": {"type": ["string", "null"]}},
                    "registry_uri": {"label": "Registry URI", "schema": {"type": ["string", "null"]}},
                    "artifact_location": {"label": "Artifact location", "schema": {"type": ["string", "null"]}},
                    "experiment_name": {"label": "Experiment name", "schema": {"type": ["string", "null"]}},
                    "max_retries": {"label": "HTTP retries", "schema": {"type": ["integer", "null"]}},
                    "timeout": {"label": "HTTP timeout (s)", "schema": {"type": ["integer", "null"]}},
                },
            }
        ],
        "extra-links": [
            "airflow_registry_provider.links.RegistryVersionLink",
            "airflow_registry_provider.links.RegistryReportLink",
        ],
        "asset-uris": [
            {
                # Model-version Assets (mlflow://host/model/version, snowflake-ml://account/DB.SCH.M/V):
                # the same namespace and name as the OpenLineage datasets operators report.
                "schemes": ["mlflow", "snowflake-ml"],
                "handler": None,
                "to_openlineage_converter": "airflow_registry_provider.assets.model_version_to_openlineage",
            }
        ],
    }
