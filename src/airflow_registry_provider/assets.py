"""Airflow Assets for registered models.

A DAG can be scheduled on a model (``schedule=[model_asset("mlflow_default", "churn")]``)
and runs when a new version is registered. Operators emit these through one
:class:`AssetAlias`, because the model name is only known once templates are rendered.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

#: Outlet alias through which registry operators emit model Assets at run time.
MODEL_EVENTS_ALIAS = AssetAlias(name="airflow_registry_provider.model_events")
SCHEME = "model-registry"


def model_asset(registry_conn_id: str, model_name: str) -> Asset:
    """The Asset that gets an event for each new version of ``model_name``."""
    return Asset(uri=f"{SCHEME}://{registry_conn_id}/{model_name}", name=f"model:{registry_conn_id}/{model_name}")


def drift_asset(registry_conn_id: str, model_name: str) -> Asset:
    """The Asset that gets an event when drift is found for ``model_name``'s inputs."""
    return Asset(uri=f"{SCHEME}://{registry_conn_id}/{model_name}/drift", name=f"drift:{registry_conn_id}/{model_name}")
