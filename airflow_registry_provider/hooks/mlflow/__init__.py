"""The MLflow registry backend.

``hook`` is the hook; ``registration`` registers versions (validated before the first
write), ``model_files`` downloads and verifies stored model files, ``grants`` speaks to
the basic-auth app, ``rest`` reads from a server without process-global state, and
``environment`` is the only module that touches MLflow's process-global state.
"""

from airflow_registry_provider.hooks.mlflow.hook import MlflowRegistryHook

__all__ = ["MlflowRegistryHook"]
