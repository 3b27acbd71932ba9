"""Fixtures for governance tests: a hook on a fresh sqlite registry, a throw-away
PostgreSQL database, and one MLflow basic-auth server (on PostgreSQL) per test session.

Imported by ``conftest.py`` here and by the operator tests that need them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.servers import ADMIN, PG, mlflow_auth_server, pg_database

if TYPE_CHECKING:
    from airflow_registry_provider.operators import LogModelOperator

__all__ = ["ADMIN", "log_model_operator", "make_versions", "mlflow_auth_server", "pg_conn_id", "registry_hook"]


def log_model_operator(paths: dict[str, str], version_name: str = "1.0.0", **kwargs: Any) -> LogModelOperator:
    """A LogModelOperator for the files of ``tests.helpers.make_model_files`` (model ``churn``)."""
    from airflow_registry_provider.operators import LogModelOperator

    kwargs.setdefault("model_name", "churn")
    return LogModelOperator(
        task_id="log_model", model=paths["model"], version_name=version_name, sample_input=paths["sample"], **kwargs
    )


@pytest.fixture
def registry_hook(mlflow_registry: str):
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    return MlflowRegistryHook()


@pytest.fixture
def make_versions(mlflow_registry: str) -> Callable[..., list[str]]:
    """Create a model (if needed) and ``n`` run-less versions; returns their ids."""
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_registry, mlflow_registry)

    def make(model: str, n: int, tags: dict[str, str] | None = None) -> list[str]:
        if not client.search_registered_models(f"name = '{model}'"):
            client.create_registered_model(model)
        return [
            str(client.create_model_version(model, source=f"file:///models/{model}", tags=tags).version)
            for _ in range(n)
        ]

    return make


@pytest.fixture
def pg_conn_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An Airflow connection ``audit_pg`` to a fresh PostgreSQL database, dropped afterwards."""
    with pg_database("arp_test") as name:
        conn = {"conn_type": "postgres", "host": PG["host"], "port": PG["port"], "login": PG["user"], "schema": name}
        monkeypatch.setenv("AIRFLOW_CONN_AUDIT_PG", json.dumps(conn))
        yield "audit_pg"
