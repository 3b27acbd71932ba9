"""Fixtures for governance tests: a hook on a fresh sqlite registry, a throw-away
PostgreSQL database, and one MLflow basic-auth server per test session.

Imported by ``conftest.py`` here and by the operator tests that need them.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import require_service

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
ADMIN = ("admin", "Admin-" + secrets.token_hex(8))


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


def _pg_reachable() -> bool:
    try:
        import psycopg2

        psycopg2.connect(dbname="postgres", connect_timeout=3, **PG).close()
    except Exception:
        return False
    return True


@pytest.fixture
def pg_conn_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An Airflow connection ``audit_pg`` to a fresh PostgreSQL database, dropped afterwards."""
    require_service(_pg_reachable(), f"PostgreSQL is not reachable on {PG['host']}:{PG['port']}")
    import psycopg2

    name = f"arp_test_{secrets.token_hex(6)}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn = {"conn_type": "postgres", "host": PG["host"], "port": PG["port"], "login": PG["user"], "schema": name}
    monkeypatch.setenv("AIRFLOW_CONN_AUDIT_PG", json.dumps(conn))
    try:
        yield "audit_pg"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        **os.environ,
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth"),
            *("--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
            *("--artifacts-destination", str(root / "artifacts")),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(1)
        else:
            require_service(False, f"mlflow basic-auth server did not start: {Path(log.name).read_text()[-2000:]}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
