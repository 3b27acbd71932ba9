"""Server fixtures for the integration tests (defined in ``servers.py``)."""

from tests.integration.servers import mlflow_auth_server, mlflow_server

__all__ = ["mlflow_auth_server", "mlflow_server"]
