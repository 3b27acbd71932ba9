from __future__ import annotations

from .fixtures import make_versions, mlflow_auth_server, pg_conn_id, registry_hook

__all__ = ["make_versions", "mlflow_auth_server", "pg_conn_id", "registry_hook"]
