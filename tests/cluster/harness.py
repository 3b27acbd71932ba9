"""A real Airflow deployment on loopback, started and stopped by PID (see ``tests/cluster/__init__.py``)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

# Not tests.conftest.REPO: benchmarks import this module, and conftest configures Airflow for tests.
REPO = Path(__file__).resolve().parents[2]
PG_HOST = os.environ.get("ARP_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ARP_PG_PORT", "5432"))
PG_USER = os.environ.get("ARP_PG_USER", "postgres")
REDIS_URL = os.environ.get("ARP_REDIS_URL", "redis://127.0.0.1:6379/0")
BIN = Path(sys.executable).parent
START_TIMEOUT = 240.0
TERMINAL_RUN_STATES = {"success", "failed"}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_admin(statement: str, dbname: str = "postgres") -> None:
    """Run one statement in autocommit mode (CREATE/DROP DATABASE cannot run in a transaction)."""
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, connect_timeout=3)
    conn.autocommit = True
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def services_missing(executor: str = "CeleryExecutor") -> str | None:
    """Why a cluster cannot start here (PostgreSQL, Redis or the Celery provider missing), or None."""
    try:
        pg_admin("SELECT 1")
    except Exception as err:
        return f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as {PG_USER}: {err}"
    if executor != "CeleryExecutor":
        return None
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except ImportError:
        return "the redis client is not installed (apache-airflow-providers-celery brings it)"
    except Exception as err:
        return f"Redis is not reachable at {REDIS_URL}: {err}"
    try:
        import airflow.providers.celery  # noqa: F401
    except ImportError:
        return "apache-airflow-providers-celery is not installed"
    return None


@dataclass
class ClusterConfig:
    """What to start. Every field has a lean default (2 cores are shared)."""

    dags_folder: Path
    executor: str = "CeleryExecutor"
    workers: int = 2
    worker_concurrency: int = 1
    triggerer: bool = False
    #: Simple auth manager users ``{name: role}``; None: every request is an admin (no login).
    users: Mapping[str, str] | None = None
    #: Extra environment for every component (connections, provider settings).
    env: Mapping[str, str] = field(default_factory=dict)
    #: Start a broker of the cluster's own (``redis-server`` on a free port, component
    #: ``redis``) instead of using ``ARP_REDIS_URL``: for tests that stop the broker.
    own_broker: bool = False


@dataclass
class Component:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            # Its own session: stopping it stops the children it forks (uvicorn, Celery pool, supervisors).
            self.process = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=REPO, start_new_session=True
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Signal the component's process group; SIGKILL what is left after ``timeout``."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(self.process):
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.process = None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _group_alive(process: subprocess.Popen) -> bool:
    process.poll()
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:2000]}")
        self.status = status
        self.body = body


class AirflowCluster:
    """An api-server, scheduler, dag-processor, optional triggerer and N Celery workers.

    Metadata in a fresh PostgreSQL database, Redis as the broker under a key prefix and
    queue of its own; everything lives under ``root`` and is removed by :meth:`stop`.
    """

    def __init__(self, root: Path, config: ClusterConfig) -> None:
        self.root = root
        self.config = config
        self.key = secrets.token_hex(5)
        self.database = f"arp_cluster_{self.key}"
        self.queue = f"arp_{self.key}"
        self.redis_prefix = f"arp_{self.key}:"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.broker_url = f"redis://127.0.0.1:{free_port()}/0" if config.own_broker else REDIS_URL
        self.home = root / "airflow"
        self.components: dict[str, Component] = {}
        self.passwords: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._database_created = False
        self._jwt_secret = secrets.token_hex(32)  # every component signs and checks task tokens with it

    # -- configuration -------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """The environment every component runs with (also right for ``airflow`` CLI calls)."""
        db = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.config.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": self.config.executor,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                # Workers on one machine share socket.gethostname(): each component names itself.
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.cluster.node.hostname",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
                # A shared PostgreSQL has ~100 connections for everyone: each component keeps few.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "1",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "4",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
                "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}",
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.redis_prefix,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.config.worker_concurrency),
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
                # A DAG file is picked up within a second or two, not minutes.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(self.config.users is None),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
                "PYTHONPATH": os.pathsep.join([str(REPO), str(self.config.dags_folder)]),
                # Cached bytecode: without it each component compiles airflow from source (seconds each).
                "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "arp-cluster-pycache"),
                "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "GIT_PYTHON_REFRESH": "quiet",
            }
        )
        if self.config.users is not None:
            env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = ",".join(
                f"{name}:{role}" for name, role in self.config.users.items()
            )
        env.update(self.config.env)
        return env

    def _component(self, name: str, *args: str) -> Component:
        env = {**self.env, "ARP_CLUSTER_NODE": f"{name}@arp-{self.key}"}
        return Component(name, [str(BIN / "airflow"), *args], env, self.root / "logs" / f"{name}.log")

    # -- lifetime ------------------------------------------------------------------
    def start(self) -> None:
        missing = services_missing(self.config.executor)
        if missing:
            raise RuntimeError(missing)
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        if self.config.users is not None:
            self.passwords = {name: secrets.token_urlsafe(12) for name in self.config.users}
            (self.home / "passwords.json").write_text(json.dumps(self.passwords))
        pg_admin(f'CREATE DATABASE "{self.database}"')
        self._database_created = True
        migrate = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], env=self.env, capture_output=True, text=True, cwd=REPO, check=False
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}")
        if self.config.own_broker:
            port = self.broker_url.rsplit(":", 1)[1].split("/")[0]
            self.components["redis"] = Component(
                "redis",
                ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                self.env,
                self.root / "logs" / "redis.log",
            )
            self.components["redis"].start()
        self.components["api-server"] = self._component("api-server", "api-server", "--workers", "1")
        self.components["scheduler"] = self._component("scheduler", "scheduler", "--skip-serve-logs")
        self.components["dag-processor"] = self._component("dag-processor", "dag-processor")
        if self.config.triggerer:
            self.components["triggerer"] = self._component("triggerer", "triggerer", "--skip-serve-logs")
        if self.config.executor == "CeleryExecutor":
            for i in range(1, self.config.workers + 1):
                self.add_worker(f"worker{i}", start=False)
        for component in self.components.values():
            if not component.running():
                component.start()
        self._wait_until(self._api_healthy, "the api-server to answer")
        if self.config.executor == "CeleryExecutor":
            for name in self.worker_names:
                self.wait_for_worker(name)

    def add_worker(self, name: str, *, start: bool = True) -> Component:
        """Add (and start) a Celery worker named ``<name>@arp-<key>`` serving this cluster's queue."""
        node = f"{name}@arp-{self.key}"
        component = self._component(
            name,
            "celery",
            "worker",
            "--celery-hostname",
            node,
            "--queues",
            self.queue,
            "--concurrency",
            str(self.config.worker_concurrency),
            "--skip-serve-logs",
            "--without-gossip",
            "--without-mingle",
        )
        self.components[name] = component
        if start:
            component.start()
            self.wait_for_worker(name)
        return component

    @property
    def worker_names(self) -> list[str]:
        return [name for name, c in self.components.items() if "celery" in c.command]

    def node(self, component: str) -> str:
        """The hostname a component records (TaskInstance.hostname of tasks a worker ran)."""
        return f"{component}@arp-{self.key}"

    def wait_for_worker(self, name: str, timeout: float = START_TIMEOUT) -> None:
        component = self.components[name]
        self._wait_until(
            lambda: "ready." in component.tail(20_000) and component.running(), f"Celery worker {name}", timeout
        )

    def stop(self) -> None:
        """Stop every component by PID, drop the database and remove this cluster's Redis keys."""
        if self.config.executor == "CeleryExecutor" and self.config.own_broker:
            with contextlib.suppress(Exception):
                self.delete_redis_keys()
        for component in reversed(list(self.components.values())):
            component.stop()
        if self._database_created:
            with contextlib.suppress(Exception):
                pg_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self._database_created = False
        if self.config.executor == "CeleryExecutor":
            with contextlib.suppress(Exception):
                self.delete_redis_keys()

    def redis_keys(self) -> list[bytes]:
        import redis

        client = redis.Redis.from_url(self.broker_url)
        return list(client.scan_iter(match=f"{self.redis_prefix}*", count=1000))

    def delete_redis_keys(self) -> None:
        import redis

        keys = self.redis_keys()
        if keys:
            redis.Redis.from_url(self.broker_url).delete(*keys)

    def _wait_until(self, check: Any, what: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            dead = [c for c in self.components.values() if c.process is not None and not c.running()]
            if dead or time.monotonic() > deadline:
                reason = f"{dead[0].name} exited" if dead else "timed out"
                logs = "\n".join(f"--- {c.name}\n{c.tail(2500)}" for c in (dead or self.components.values()))
                raise RuntimeError(f"waiting for {what}: {reason}\n{logs}")
            time.sleep(1.0)

    def _api_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except (OSError, ValueError):
            return False

    # -- REST API ------------------------------------------------------------------
    def token(self, user: str) -> str:
        """A bearer token for a simple-auth-manager user of ``config.users``."""
        if user not in self._tokens:
            body = self._request("POST", "/auth/token", {"username": user, "password": self.passwords[user]}, None)
            self._tokens[user] = body["access_token"]
        return self._tokens[user]

    def api(self, method: str, path: str, body: Any = None, *, user: str | None = None) -> Any:
        """Call the REST API (``/api/v2/...``) as ``user`` (or as the all-admins default)."""
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else None
        return self._request(method, path, body, headers)

    def _request(self, method: str, path: str, body: Any, headers: Mapping[str, str] | None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback http
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        # A loaded 2-core machine can keep the api-server busy for a while: reads are retried.
        attempts = 3 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    text = response.read().decode()
                break
            except urllib.error.HTTPError as err:
                raise ApiError(err.code, err.read().decode(errors="replace")) from None
            except (TimeoutError, urllib.error.URLError):
                if attempt == attempts - 1:
                    raise
                time.sleep(2)
        return json.loads(text) if text else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the dag-processor has serialized ``dag_id``; unpause it; return its details."""
        found: dict[str, Any] = {}

        def parsed() -> bool:
            try:
                found.update(self.api("GET", f"/api/v2/dags/{dag_id}"))
            except ApiError as err:
                if err.status != 404:
                    raise
                return False
            return True

        self._wait_until(parsed, f"DAG {dag_id} to be parsed", timeout)
        if found.get("is_paused"):
            self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        return found

    def import_errors(self) -> list[dict[str, Any]]:
        return self.api("GET", "/api/v2/importErrors")["import_errors"]

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, *, run_id: str | None = None) -> str:
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    @staticmethod
    def run_path(dag_id: str, run_id: str) -> str:
        """``/api/v2/dags/{dag_id}/dagRuns/{run_id}`` with the run id quoted (it holds ``+`` and ``:``)."""
        return f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", self.run_path(dag_id, run_id))["state"]

    def wait_for_run(
        self, dag_id: str, run_id: str, timeout: float = 300.0, states: Iterable[str] = TERMINAL_RUN_STATES
    ) -> str:
        """Wait until the run reaches one of ``states``; return the state."""
        wanted = set(states)
        seen: list[str] = []

        def done() -> bool:
            seen[:] = [self.run_state(dag_id, run_id)]
            return seen[0] in wanted

        self._wait_until(done, f"run {dag_id}/{run_id} to reach {sorted(wanted)}", timeout)
        return seen[0]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run, mapped ones included (fields of the REST API)."""
        return self.api("GET", f"{self.run_path(dag_id, run_id)}/taskInstances?limit=1000")["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1, key: str = "return_value") -> Any:
        """A task's XCom value (deserialized by the API)."""
        path = f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/{key}?map_index={map_index}"
        return self.api("GET", path)["value"]

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Iterable[str],
        *,
        map_index: int = -1,
        timeout: float = 300,
    ) -> dict[str, Any]:
        """Wait until one task instance reaches one of ``states``; return it."""
        wanted = set(states)
        found: dict[str, Any] = {}

        def reached() -> bool:
            path = f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}"
            path += f"/{map_index}" if map_index >= 0 else ""
            try:
                found.update(self.api("GET", path))
            except ApiError as err:
                if err.status != 404:
                    raise
                return False
            return found.get("state") in wanted

        self._wait_until(reached, f"{dag_id}/{run_id}/{task_id}[{map_index}] to reach {sorted(wanted)}", timeout)
        return found

    def clear(self, dag_id: str, run_id: str, task_ids: Iterable[str | tuple[str, int]], **options: Any) -> Any:
        """Clear task instances of a run (``(task_id, map_index)`` for mapped ones) so they run again."""
        body = {"dry_run": False, "dag_run_id": run_id, "task_ids": list(task_ids), "only_failed": False, **options}
        return self.api("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", body)

    def failure_report(self, dag_id: str, run_id: str) -> str:
        """Task states of a run and the errors of its failed tasks: for assertion messages."""
        lines = []
        for ti in self.task_instances(dag_id, run_id):
            lines.append(f"{ti['task_id']}[{ti['map_index']}] {ti['state']} on {ti.get('hostname')}")
            if ti["state"] == "failed":
                log = self.task_log(
                    dag_id, run_id, ti["task_id"], try_number=ti["try_number"], map_index=ti["map_index"]
                )
                lines += [f"    {line[:600]}" for line in log.splitlines() if "error" in line.lower()][-3:]
        return "\n".join(lines)

    def task_log(self, dag_id: str, run_id: str, task_id: str, *, try_number: int = 1, map_index: int = -1) -> str:
        """A task attempt's log as written by the worker (all components share AIRFLOW_HOME)."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder /= f"map_index={map_index}"
        path = folder / f"attempt={try_number}.log"
        return path.read_text(errors="replace") if path.exists() else ""
