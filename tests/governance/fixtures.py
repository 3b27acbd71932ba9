"""Fixtures for governance tests: a hook on a fresh sqlite registry, a throw-away
PostgreSQL database, and one MLflow basic-auth server per test session.

Imported by ``conftest.py`` here and by the operator tests that need them.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import require_service
from tests.integration.test_mlflow_server import (
    PG,
    _admin,
    _free_port,
    _healthy,
    _postgres_available,
    _server_env,
    _stop,
)

if TYPE_CHECKING:
    from airflow_registry_provider.operators import LogModelOperator

ADMIN = ("admin", "Admin-" + secrets.token_hex(8))
# The auth app also migrates its own database at start: allow more than a plain server.
AUTH_SERVER_START_TIMEOUT = 180.0


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
    available, reason = _postgres_available()
    require_service(available, reason)
    name = f"arp_test_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{name}"')
    conn = {"conn_type": "postgres", "host": PG["host"], "port": PG["port"], "login": PG["user"], "schema": name}
    monkeypatch.setenv("AIRFLOW_CONN_AUDIT_PG", json.dumps(conn))
    try:
        yield "audit_pg"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def mlflow_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An ``mlflow server --app-name basic-auth`` on a free loopback port, started once.

    Backend store and auth database are sqlite files in a temp dir; users without a
    grant get no permission (``default_permission = NO_PERMISSIONS``), so every access
    in the tests comes from a grant. Yields the server URL; admin credentials are ADMIN.
    """
    root = tmp_path_factory.mktemp("mlflow-auth")
    config = root / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{root / 'auth.db'}\n"
        f"admin_username = {ADMIN[0]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Checking a password costs ~0.3 s of PBKDF2; cache it so the tests stay quick.
        "auth_cache_ttl_seconds = 60\n"
    )
    port = _free_port()
    env = {
        **_server_env(),
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    command = [
        *(str(Path(sys.executable).with_name("mlflow")), "server", "--app-name", "basic-auth"),
        *("--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
        *("--artifacts-destination", str(root / "artifacts")),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        # Its own session, so that teardown stops the server and its uvicorn worker together.
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + AUTH_SERVER_START_TIMEOUT
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow basic-auth server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        _stop(server)
