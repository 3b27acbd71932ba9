"""The tracking server dies mid-task; it comes back and the task is retried.

Each case runs a task in a forked process (as a worker runs a task) whose registry client
kills the ``mlflow server`` (SIGKILL, the whole process group) at one injected point: before
the version is registered, after it is registered and before its tags, after its tags, and
during the alias move. The server is restarted on the same port and stores, and the task runs
again as Airflow's retry would (a new process, ``try_number`` 2). Afterwards the registry
holds exactly what one clean run leaves: one version with all its tags, one audit record
per change, no promotion half-applied.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_registry_provider import tags
from tests.scaleout.parallel import run_parallel
from tests.scaleout.servers import MlflowServer, healthy

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    from tests.cluster.harness import services_missing
    from tests.conftest import require_service

    missing = services_missing("LocalExecutor")
    require_service(missing is None, missing or "")
    mlflow_server = MlflowServer(tmp_path_factory.mktemp("mlflow-faults"))
    mlflow_server.start()
    try:
        yield mlflow_server
    finally:
        mlflow_server.close()


@pytest.fixture
def registry(server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> MlflowServer:
    # One quick retry: a dead server fails the attempt in seconds, as a real outage would fail it.
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT",
        json.dumps(
            {"conn_type": "mlflow_registry", "extra": {"tracking_uri": server.url, "max_retries": 1, "timeout": 10}}
        ),
    )
    return server


def _kill(server: MlflowServer) -> None:
    """Kill the server from inside the task process, and wait until its port refuses connections."""
    import socket

    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", server.port)) != 0:
                return
        time.sleep(0.05)


def _inject(method: str, when: str, server: MlflowServer, *, call: int = 1) -> None:
    """Make the ``call``-th ``<method>`` request kill the server ``before`` or ``after`` it runs.

    Patched on MLflow's REST store, which every registry call goes through (``MlflowClient``
    and its internal registry client alike).
    """
    from mlflow.store.model_registry.rest_store import RestStore

    original = getattr(RestStore, method)
    calls = {"n": 0}

    def faulty(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == call and when == "before":
            _kill(server)
        result = original(self, *args, **kwargs)
        if calls["n"] == call and when == "after":
            _kill(server)
        return result

    setattr(RestStore, method, faulty)


def _attempts(task: Callable[[int], Any], server: MlflowServer, fault: Callable[[], None]) -> list[tuple[bool, Any]]:
    """Try 1 with the fault injected; restart the server; try 2 clean. Returns both outcomes."""

    def first(_: int) -> Any:
        fault()
        return task(1)

    outcomes = [run_parallel(first, 1)[0]]
    assert not healthy(server.url), "the injected fault fired: the server is down"
    server.start()  # same port, database and artifact store
    outcomes.append(run_parallel(lambda _: task(2), 1)[0])
    return outcomes


def _audit(tags_: dict[str, str]) -> list[dict[str, Any]]:
    return json.loads(tags_.get(tags.AUDIT_LOG, "[]"))


REGISTER_FAULTS = {
    "before_register": ("create_model_version", "before", 1),
    "after_register_before_tags": ("create_model_version", "after", 1),
    "after_tags": ("set_registered_model_tag", "after", 1),
}


@pytest.mark.parametrize("point", sorted(REGISTER_FAULTS))
def test_log_model_converges_after_the_server_dies(registry: MlflowServer, tmp_path: Path, point: str) -> None:
    from mlflow import MlflowClient

    from airflow_registry_provider.operators import LogModelOperator
    from tests.helpers import make_model_files, task_context

    model = f"fault_{point}"
    paths = make_model_files(tmp_path)

    def log_model(try_number: int) -> dict:
        context = task_context("log_model", run_id="manual__faults")
        context["ti"].try_number = try_number
        return LogModelOperator(
            task_id="log_model",
            model_name=model,
            model=paths["model"],
            version_name="1.0.0",
            sample_input=paths["sample"],
            reference_data=paths["train"],
            metrics={"accuracy": 0.9},
        ).execute(context)

    method, when, call = REGISTER_FAULTS[point]
    first, retry = _attempts(log_model, registry, lambda: _inject(method, when, registry, call=call))
    assert retry[0], retry[1]
    if point != "after_tags":
        assert not first[0], "the attempt that lost its server failed"
    client = MlflowClient(registry.url)
    versions = client.search_model_versions(f"name = '{model}'")
    assert [mv.version for mv in versions] == ["1"], "exactly one version"
    mv = client.get_model_version(model, "1")
    assert mv.tags[tags.VERSION_NAME] == "1.0.0" and mv.tags[tags.FLAVOR] == "sklearn"
    assert mv.tags[tags.REFERENCE_PROFILE], "the drift profile was stored"
    # One record of the registration, one of the stored drift profile.
    assert [r["action"] for r in _audit(mv.tags)] == ["register", "artifact"]
    model_log = _audit(client.get_registered_model(model).tags)
    assert [r["action"] for r in model_log] == ["register", "artifact"]


PROMOTE_FAULTS = {
    "before_previous_alias": ("set_registered_model_alias", "before", 1),
    "between_the_two_aliases": ("set_registered_model_alias", "before", 2),
    "after_the_alias_moved": ("set_registered_model_alias", "after", 2),
    # stage="Production": the retry finds both aliases moved and must still set the stage.
    "after_the_alias_moved_with_stage": ("set_registered_model_alias", "after", 2),
    "after_the_stage": ("transition_model_version_stage", "after", 1),
}


@pytest.mark.parametrize("point", sorted(PROMOTE_FAULTS))
def test_promotion_is_never_half_applied(registry: MlflowServer, tmp_path: Path, point: str) -> None:
    from mlflow import MlflowClient

    from airflow_registry_provider.alias_lease import lease_key
    from airflow_registry_provider.operators import LogModelOperator, PromoteVersionOperator
    from tests.helpers import make_model_files, task_context

    model = f"fault_promote_{point}"
    paths = make_model_files(tmp_path)
    client = MlflowClient(registry.url)
    refs = []
    for i in range(2):
        ref = LogModelOperator(
            task_id="log_model",
            model_name=model,
            model=paths["model"],
            version_name=f"1.0.{i}",
            sample_input=paths["sample"],
        ).execute(task_context("log_model", run_id=f"manual__seed{i}"))
        client.set_model_version_tag(model, ref["version"], tags.VALIDATION_STATUS, tags.VALIDATION_PASSED)
        refs.append(ref)
    client.set_registered_model_alias(model, "champion", refs[0]["version"])

    def promote(try_number: int) -> dict:
        context = task_context("promote", run_id="manual__promote")
        context["ti"].try_number = try_number
        stage = "Production" if "stage" in point else None
        return PromoteVersionOperator(task_id="promote", model_version=refs[1], reason="better", stage=stage).execute(
            context
        )

    method, when, call = PROMOTE_FAULTS[point]
    _, retry = _attempts(promote, registry, lambda: _inject(method, when, registry, call=call))
    assert retry[0], retry[1]
    aliases = client.get_registered_model(model).aliases
    assert aliases["champion"] == refs[1]["version"]
    assert aliases["previous_champion"] == refs[0]["version"]
    promoted = client.get_model_version(model, refs[1]["version"]).tags
    assert promoted[tags.PROMOTED_BY] == "alice" and promoted[tags.PROMOTION_REASON] == "better"
    moves = [r for r in _audit(client.get_registered_model(model).tags) if r["action"] == "alias"]
    champion_moves = [r for r in moves if r["after"]["alias"] == "champion"]
    assert len(champion_moves) == 1, "one record of the champion move"
    assert champion_moves[0]["before"]["version"] == refs[0]["version"]
    assert champion_moves[0]["after"]["version"] == refs[1]["version"]
    assert len([r for r in moves if r["after"]["alias"] == "previous_champion"]) == 1
    stages = [r for r in _audit(client.get_registered_model(model).tags) if r["action"] == "stage"]
    if "stage" in point:
        assert client.get_model_version(model, refs[1]["version"]).current_stage == "Production"
        assert len(stages) == 1, "one record of the stage"
    else:
        assert stages == []
    assert retry[1]["previous_version"] == refs[0]["version"], "the retry reports the clean run's move"
    assert client.get_registered_model(model).tags.get(lease_key("champion")) == "", "the lease is free"
