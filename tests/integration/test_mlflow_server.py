"""The lifecycle operators and the MLflow hook against a real ``mlflow server`` over REST.

The server runs on loopback for the session, backed by a fresh PostgreSQL database
(``arp_it_<hex>``, dropped afterwards) and a temp artifact store it proxies. Without
PostgreSQL at 127.0.0.1:5432 the module is skipped, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import contextlib
import json
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

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException
from mlflow import MlflowClient

from airflow_registry_provider import tags
from airflow_registry_provider.hooks.base import ModelPackage
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.operators import (
    BatchInferenceOperator,
    LogModelOperator,
    PromoteVersionOperator,
    ValidateMetricsOperator,
)
from tests.conftest import require_service
from tests.helpers import FEATURES, make_data, make_model_files, task_context
from tests.postgres import PG

pytestmark = pytest.mark.integration

SERVER_START_TIMEOUT = 90.0


def _pg_connect(dbname: str = "postgres") -> Any:
    """An autocommit psycopg2 connection (CREATE/DROP DATABASE cannot run in a transaction)."""
    import psycopg2

    conn = psycopg2.connect(dbname=dbname, connect_timeout=3, **PG)
    conn.autocommit = True
    return conn


def _admin(statement: str) -> None:
    conn = _pg_connect()
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def _postgres_available() -> tuple[bool, str]:
    try:
        _pg_connect().close()
    except Exception as err:
        return False, f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} as {PG['user']}: {err}"
    return True, ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 - loopback http
            return response.status == 200
    except OSError:
        return False


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    # The genai job runner (three more processes importing mlflow) is not needed here.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        # Without cached bytecode the server and its worker each compile mlflow from source
        # (tens of seconds on a busy machine); cache it outside the venv instead.
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "arp-it-pycache")
    return env


def _stop(server: subprocess.Popen) -> None:
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


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tracking server on a free loopback port over a fresh PostgreSQL database; yields its URL."""
    available, reason = _postgres_available()
    require_service(available, reason)
    database = f"arp_it_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{database}"')
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{database}",
        "--artifacts-destination",
        str(root / "artifacts"),
    ]
    server: subprocess.Popen | None = None
    try:
        with open(log_path, "wb") as log:
            # Its own session, so that teardown can stop the server and its uvicorn worker together.
            server = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=_server_env(), start_new_session=True
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                state = f"exited with {server.returncode}" if server.returncode is not None else "timed out"
                pytest.fail(f"mlflow server {state} before {url}/health answered:\n{tail}")
            time.sleep(0.25)
        yield url
    finally:
        if server is not None:
            _stop(server)
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def server_conn(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ``mlflow_default`` connection pointing at the test server; returns its URL."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT",
        json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": mlflow_server, "timeout": 30}}),
    )
    return mlflow_server


def _log_operator(paths: dict[str, str], model_name: str, version_name: str = "1.0.0") -> LogModelOperator:
    return LogModelOperator(
        task_id="log_model",
        model_name=model_name,
        model=paths["model"],
        version_name=version_name,
        sample_input=paths["sample"],
        metrics={"accuracy": 0.9},
        training_data=[paths["train"]],
        tags={"team": "growth"},
    )


def _source_package(version_name: str, source_uri: str) -> ModelPackage:
    return ModelPackage(
        version_name=version_name,
        flavor="sklearn",
        artifact_sha256=version_name,
        source_uri=source_uri,
        tags={tags.VERSION_NAME: version_name, tags.ARTIFACT_SHA256: version_name},
    )


def test_lifecycle_operators_through_the_server(server_conn: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    scoring = make_data(1_000, seed=7)[FEATURES]
    scoring.insert(0, "customer_id", range(len(scoring)))
    scoring_path = str(tmp_path / "scoring.parquet")
    scoring.to_parquet(scoring_path, index=False)
    output_path = str(tmp_path / "predictions.parquet")

    log_model = _log_operator(paths, "it_churn")
    ref = log_model.execute(task_context("log_model"))
    assert ref["model_name"] == "it_churn" and ref["version"] == "1" and ref["version_name"] == "1.0.0"
    assert log_model.registry_version_url == f"{server_conn}/#/models/it_churn/versions/1"

    verdict = ValidateMetricsOperator(
        task_id="validate_metrics",
        model_version=ref,
        thresholds={"accuracy": ">= 0.8"},
        compare_to="champion",
        validation_data=paths["validation"],
        label_column="label",
    ).execute(task_context("validate_metrics"))
    assert verdict["passed"] is True

    promoted = PromoteVersionOperator(task_id="promote_version", model_version=ref).execute(
        task_context("promote_version")
    )
    assert promoted["version"] == "1" and promoted["previous_version"] is None

    summary = BatchInferenceOperator(
        task_id="batch_inference", model_name="it_churn", input_path=scoring_path, output_path=output_path
    ).execute(task_context("batch_inference"))
    assert summary["rows"] == len(scoring) and summary["model_version"]["version"] == "1"

    client = MlflowClient(server_conn)
    mv = client.get_model_version("it_churn", "1")
    assert mv.tags[tags.VERSION_NAME] == "1.0.0"
    assert mv.tags[tags.DAG_ID] == "test_dag" and mv.tags[tags.TASK_ID] == "log_model"
    assert mv.tags[tags.RUN_ID] == "manual__test" and mv.tags[tags.TRY_NUMBER] == "1"
    assert len(mv.tags[tags.ARTIFACT_SHA256]) == 64 and mv.tags[tags.FLAVOR] == "sklearn"
    assert paths["train"] in json.loads(mv.tags[tags.TRAINING_DATA_SHA256])
    assert mv.tags["team"] == "growth"
    assert mv.tags[tags.VALIDATION_STATUS] == tags.VALIDATION_PASSED
    assert mv.tags[tags.PROMOTED_BY] == "alice"
    assert client.get_run(mv.run_id).data.metrics == {"accuracy": 0.9}
    assert client.get_model_version_by_alias("it_churn", "champion").version == "1"
    history = json.loads(client.get_registered_model("it_churn").tags[tags.ALIAS_HISTORY])
    assert history[-1]["alias"] == "champion" and history[-1]["version"] == "1"
    # The artifacts went through the server's proxy, not to a local path.
    assert client.get_run(mv.run_id).info.artifact_uri.startswith("mlflow-artifacts:")

    predictions = pd.read_parquet(output_path)
    assert len(predictions) == len(scoring)
    assert list(predictions.columns) == ["customer_id", "prediction", "model_name", "model_version"]
    assert set(predictions["model_name"].astype(str)) == {"it_churn"}
    assert set(predictions["model_version"].astype(str)) == {"1"}


def test_retry_is_idempotent_over_rest(server_conn: str, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    first = _log_operator(paths, "it_retry").execute(task_context("log_model"))
    # A retry of the same task (same version name, same file) gets the same version back.
    retry = _log_operator(paths, "it_retry").execute(task_context("log_model"))
    assert retry == first
    client = MlflowClient(server_conn)
    assert [v.version for v in client.search_model_versions("name = 'it_retry'")] == ["1"]
    # Another artifact under the same version name fails the task without retrying.
    other = make_model_files(tmp_path, seed=1)
    with pytest.raises(AirflowFailException, match="already exists"):
        _log_operator(other, "it_retry").execute(task_context("log_model"))
    assert len(client.search_model_versions("name = 'it_retry'")) == 1


def test_pagination_past_one_page_over_rest(server_conn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_model_files(tmp_path)
    _log_operator(paths, "it_paged").execute(task_context("log_model"))
    hook = MlflowRegistryHook()
    # A version logged with MLflow 3 has its logged model (models:/m-...) as source.
    logged_model = MlflowClient(server_conn).get_model_version("it_paged", "1").source
    assert logged_model.startswith("models:/m-")
    for i in range(1, 5):  # more versions of the same logged model, without uploading it again
        hook.register_version("it_paged", _source_package(f"1.0.{i}", logged_model))

    calls: list[str | None] = []
    search = MlflowClient.search_model_versions

    def counting(self: MlflowClient, *args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("page_token"))  # type: ignore[arg-type]
        return search(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MlflowClient, "search_model_versions", counting)
    assert [v.version for v in hook.iter_versions("it_paged", page_size=2)] == ["5", "4", "3", "2", "1"]
    assert len(calls) == 3 and calls[0] is None and all(calls[1:])  # three pages, following the tokens
    assert hook.next_version_name("it_paged") == "1.0.5"


def test_register_from_a_registered_version_over_rest(server_conn: str, tmp_path: Path) -> None:
    _log_operator(make_model_files(tmp_path), "it_copy").execute(task_context("log_model"))
    version, created = MlflowRegistryHook().register_version("it_copy", _source_package("2.0.0", "models:/it_copy/1"))
    assert created and version.version == "2"
