"""An ``mlflow server`` on PostgreSQL that a test can kill and restart on the same port and stores.

The session-wide server of ``tests/integration`` is shared by many tests; fault tests need
their own, since they kill it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.cluster.harness import PG_HOST, PG_PORT, PG_USER, free_port, pg_admin

START_TIMEOUT = 120.0


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 - loopback http
            return response.status == 200
    except OSError:
        return False


class MlflowServer:
    """``mlflow server`` over a fresh PostgreSQL database and a local artifact store."""

    def __init__(self, root: Path, *, workers: int = 1) -> None:
        self.root = root
        self.workers = workers
        self.database = f"arp_scale_{secrets.token_hex(6)}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def backend_uri(self) -> str:
        return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"

    def start(self) -> None:
        """Start, or restart after :meth:`kill` (same port, database and artifact store)."""
        if self.process is not None:  # killed from another process: reap what is left
            self._signal_and_wait(signal.SIGKILL, timeout=5)
        if self.starts == 0:
            pg_admin(f'CREATE DATABASE "{self.database}"')
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "MLFLOW_REGISTRY"))}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            {
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONPYCACHEPREFIX": os.path.join("/tmp", "arp-cluster-pycache"),
            }
        )
        command = [
            str(Path(sys.executable).with_name("mlflow")),
            *("server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)),
            *("--backend-store-uri", self.backend_uri, "--artifacts-destination", str(self.root / "artifacts")),
        ]
        with open(self.root / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.root, env=env, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not healthy(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start:\n{self.log()[-3000:]}")
            time.sleep(0.25)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server and its workers at once (a crash, not a shutdown)."""
        self._signal_and_wait(signal.SIGKILL, timeout=10)

    def stop(self) -> None:
        self._signal_and_wait(signal.SIGTERM, timeout=15)
        self._signal_and_wait(signal.SIGKILL, timeout=5)

    def _signal_and_wait(self, sig: int, timeout: float) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.process.poll()
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                self.process.wait(timeout=5)
                self.process = None
                return
            time.sleep(0.1)

    def close(self) -> None:
        """Stop the server and drop its database."""
        self.stop()
        if self.starts:
            pg_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
