"""Airflow Assets for registered models.

A DAG can be scheduled on a model (``schedule=[model_asset("mlflow_default", "churn")]``)
and runs when a new version is registered. Operators emit these through one
:class:`AssetAlias`, because the model name is only known once templates are rendered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAlias

from airflow_registry_provider.governance.lineage import asset_uri, split_asset_uri

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset

#: Outlet alias through which registry operators emit model Assets at run time.
MODEL_EVENTS_ALIAS = AssetAlias(name="airflow_registry_provider.model_events")
#: Outlet alias for model-version Assets (one per registered version, see ``model_version_asset``).
MODEL_VERSION_EVENTS_ALIAS = AssetAlias(name="airflow_registry_provider.model_version_events")
SCHEME = "model-registry"


def model_asset(registry_conn_id: str, model_name: str) -> Asset:
    """The Asset that gets an event for each new version of ``model_name``."""
    return Asset(uri=f"{SCHEME}://{registry_conn_id}/{model_name}", name=f"model:{registry_conn_id}/{model_name}")


def drift_asset(registry_conn_id: str, model_name: str) -> Asset:
    """The Asset that gets an event when drift is found for ``model_name``'s inputs."""
    return Asset(uri=f"{SCHEME}://{registry_conn_id}/{model_name}/drift", name=f"drift:{registry_conn_id}/{model_name}")


def model_version_asset(namespace: str, name: str) -> Asset:
    """The Asset of one model version, named like its OpenLineage dataset (``RegistryHook.lineage_dataset``)."""
    return Asset(uri=asset_uri(namespace, name))


def model_version_to_openlineage(asset: Asset, lineage_context: Any = None) -> Dataset:
    """OpenLineage converter for model-version Assets (registered in ``get_provider_info``)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    namespace, name = split_asset_uri(asset.uri)
    return Dataset(namespace=namespace, name=name)
