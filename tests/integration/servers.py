"""Real ``mlflow server`` processes for integration tests, on free loopback ports over fresh
PostgreSQL databases.

PostgreSQL is found at ``ARP_PG_HOST``/``ARP_PG_PORT`` (default 127.0.0.1:5432, user
``postgres``, trust auth). Every database a server uses is created for it (``arp_it_<hex>``)
and dropped when it stops; servers are stopped by process group. Without PostgreSQL the
fixtures skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service

PG = {
    "host": os.environ.get("ARP_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("ARP_PG_PORT", "5432")),
    "user": os.environ.get("ARP_PG_USER", "postgres"),
}
#: Admin of the basic-auth server (3.17's basic_auth.ini has no default password).
ADMIN = ("admin", "Admin-" + secrets.token_hex(8))
SERVER_START_TIMEOUT = 180.0  # the auth app migrates its own database too; the machine is shared


class RunningServer(str):
    """A server's URL (what tests pass around) that also knows where its files are."""

    artifacts: Path
    log: Path
    pid: int

    def __new__(cls, url: str, *, artifacts: Path, log: Path, pid: int) -> RunningServer:
        server = super().__new__(cls, url)
        server.artifacts, server.log, server.pid = artifacts, log, pid
        return server


def pg_connect(dbname: str = "postgres") -> Any:
    """An autocommit psycopg2 connection (CREATE/DROP DATABASE cannot run in a transaction)."""
    import psycopg2

    conn = psycopg2.connect(dbname=dbname, connect_timeout=3, **PG)
    conn.autocommit = True
    return conn


def admin(statement: str) -> None:
    conn = pg_connect()
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def postgres_available() -> tuple[bool, str]:
    try:
        pg_connect().close()
    except Exception as err:
        return False, f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} as {PG['user']}: {err}"
    return True, ""


def pg_uri(database: str) -> str:
    return f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{database}"


@contextlib.contextmanager
def pg_database(prefix: str = "arp_it") -> Iterator[str]:
    """A fresh, uniquely named database, dropped afterwards."""
    available, reason = postgres_available()
    require_service(available, reason)
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 - loopback http
            return response.status == 200
    except OSError:
        return False


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING_", "MLFLOW_REGISTRY_"))}
    # The genai job runner (three more processes importing mlflow) is not needed here.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        # Without cached bytecode the server and its worker each compile mlflow from source
        # (tens of seconds on a busy machine); cache it outside the venv instead.
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "arp-it-pycache")
    return env


def stop(server: subprocess.Popen) -> None:
    """SIGTERM the server's process group; SIGKILL whatever of it is left after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.poll() is not None:
            try:
                os.killpg(server.pid, 0)  # the uvicorn worker may still be shutting down
            except ProcessLookupError:
                return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=5)


@contextlib.contextmanager
def run_server(root: Path, backend_uri: str, *, auth_database_uri: str | None = None) -> Iterator[RunningServer]:
    """``mlflow server`` over ``backend_uri`` proxying artifacts under ``root``; with basic auth
    (``default_permission = NO_PERMISSIONS``, admin ``ADMIN``) when ``auth_database_uri`` is given."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = server_env()
    command = [str(Path(sys.executable).with_name("mlflow")), "server"]
    if auth_database_uri is not None:
        config = root / "basic_auth.ini"
        config.write_text(
            "[mlflow]\n"
            "default_permission = NO_PERMISSIONS\n"
            f"database_uri = {auth_database_uri}\n"
            f"admin_username = {ADMIN[0]}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            # Checking a password costs ~0.3 s of PBKDF2; cache it so the tests stay quick.
            "auth_cache_ttl_seconds = 60\n"
        )
        env |= {
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        }
        command += ["--app-name", "basic-auth"]
    command += ["--backend-store-uri", backend_uri, "--artifacts-destination", str(root / "artifacts")]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        # Its own session, so that teardown stops the server and its uvicorn worker together.
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                state = f"exited with {server.returncode}" if server.returncode is not None else "timed out"
                pytest.fail(f"mlflow server {state} before {url}/health answered:\n{tail}")
            time.sleep(0.25)
        yield RunningServer(url, artifacts=root / "artifacts", log=log_path, pid=server.pid)
    finally:
        stop(server)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A tracking server without access control over a fresh PostgreSQL database."""
    with pg_database() as database, run_server(tmp_path_factory.mktemp("mlflow-server"), pg_uri(database)) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A basic-auth tracking server: registry and auth app each on a fresh PostgreSQL database.

    Users without a grant get no permission, so every access in the tests comes from a
    grant. Admin credentials are ``ADMIN``.
    """
    with pg_database() as backend, pg_database("arp_it_auth") as auth:
        root = tmp_path_factory.mktemp("mlflow-auth")
        with run_server(root, pg_uri(backend), auth_database_uri=pg_uri(auth)) as server:
            yield server
