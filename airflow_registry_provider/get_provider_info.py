"""Provider metadata that Airflow's ProvidersManager reads through the entry point."""

from __future__ import annotations

from typing import Any

from airflow_registry_provider import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-registry-provider",
        "name": "Model Registry",
        "description": "Register, gate, promote, grant, serve and watch ML models in MLflow and "
        "Snowflake model registries.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "MLflow Model Registry",
                "external-doc-url": "https://mlflow.org/",
                "tags": ["software"],
            },
            {
                "integration-name": "Snowflake Model Registry",
                "external-doc-url": "https://docs.snowflake.com/en/developer-guide/snowflake-ml/model-registry/overview",
                "tags": ["service"],
            },
        ],
        "operators": [
            {
                "integration-name": "MLflow Model Registry",
                "python-modules": [
                    "airflow_registry_provider.operators.log_model",
                    "airflow_registry_provider.operators.validate_metrics",
                    "airflow_registry_provider.operators.promote_version",
                    "airflow_registry_provider.operators.batch_inference",
                    "airflow_registry_provider.operators.grant_model",
                    "airflow_registry_provider.operators.audit",
                    "airflow_registry_provider.operators.retention",
                    "airflow_registry_provider.operators.compare_versions",
                    "airflow_registry_provider.operators.model_card",
                    "airflow_registry_provider.operators.copy_version",
                    "airflow_registry_provider.operators.approval",
                    "airflow_registry_provider.operators.rollback",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "MLflow Model Registry",
                "python-modules": ["airflow_registry_provider.sensors.model_version"],
            }
        ],
        "triggers": [
            {
                "integration-name": "MLflow Model Registry",
                "python-modules": ["airflow_registry_provider.triggers.model_version"],
            }
        ],
        "hooks": [
            {
                "integration-name": "MLflow Model Registry",
                "python-modules": ["airflow_registry_provider.hooks.base", "airflow_registry_provider.hooks.mlflow"],
            },
            {
                "integration-name": "Snowflake Model Registry",
                "python-modules": ["airflow_registry_provider.hooks.snowflake"],
            },
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_registry_provider.hooks.mlflow.MlflowRegistryHook",
                "hook-name": "MLflow Model Registry",
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
        "extra-links": [],
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
