"""The MLflow hook against a basic-auth ``mlflow server`` whose registry and auth app live on
PostgreSQL: polling reads with two users' credentials at once that write no process-global
state, a tampered stored pickle refused before it is loaded, the creator's implicit grant,
and refused credentials or permissions as configuration errors."""

from __future__ import annotations

import json
import os
import pickle
import threading
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from mlflow.server.auth.client import AuthServiceClient

from airflow_registry_provider import tags
from airflow_registry_provider.exceptions import (
    CONFIGURATION_ERRORS,
    IntegrityError,
    InvalidInputError,
    PrivilegeError,
)
from airflow_registry_provider.governance.grants import Grant
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.hooks.mlflow.environment import scope_active, scoped_environment
from airflow_registry_provider.hooks.mlflow.lookup import registry_client
from airflow_registry_provider.operators import BatchInferenceOperator, LogModelOperator
from tests.helpers import FEATURES, make_data, make_model_files, task_context
from tests.integration.servers import ADMIN, RunningServer

pytestmark = pytest.mark.integration

USERS = {"alice": "Alice-pw-12345", "bob": "Bob-pw-12345"}
MODELS = {"alice": "it_auth_alice", "bob": "it_auth_bob"}


def _connection(mp: pytest.MonkeyPatch, conn_id: str, server: str, login: str, password: str) -> str:
    conn = {"conn_type": "mlflow_registry", "login": login, "password": password}
    conn["extra"] = {"tracking_uri": server, "max_retries": 1, "timeout": 30}
    mp.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


def _register(hook: MlflowRegistryHook, model_name: str, root: Path, version_name: str = "1.0.0") -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    paths = make_model_files(root)
    operator = LogModelOperator(
        task_id="log_model",
        registry_conn_id=hook.registry_conn_id,
        model_name=model_name,
        model=paths["model"],
        version_name=version_name,
        sample_input=paths["sample"],
    )
    return {"ref": operator.execute(task_context("log_model")), "paths": paths}


@pytest.fixture(scope="module")
def world(mlflow_auth_server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Users alice and bob; model it_auth_<user> registered by admin, READ granted to its user only."""
    root = tmp_path_factory.mktemp("auth-world")
    with pytest.MonkeyPatch.context() as mp:
        admin_conn = _connection(mp, "it_admin", mlflow_auth_server, *ADMIN)
        for user, password in USERS.items():
            _connection(mp, f"it_{user}", mlflow_auth_server, user, password)
        with scoped_environment({"MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}):
            auth = AuthServiceClient(mlflow_auth_server)
            for user, password in USERS.items():
                auth.create_user(user, password)
        admin = MlflowRegistryHook(admin_conn)
        for user, model in MODELS.items():
            _register(admin, model, root / user)
            admin.set_alias(model, "champion", "1")
            admin.apply_grants(model, [Grant(f"user:{user}", "READ")], [])
        with admin._client() as client:  # a version's metrics are its run's: READ on the experiment too
            experiment = client.get_experiment_by_name(admin.settings.experiment_name).experiment_id
            for user in USERS:
                auth.grant_user_permission(user, "experiment", experiment, "READ")
        yield {"server": mlflow_auth_server, "admin": admin, "root": root, "mp": mp}


def test_polling_reads_with_two_users_at_once_write_no_process_state(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a deferrable sensor's trigger does, twice at once in one process, with different credentials."""
    writes: list[tuple[str, str]] = []
    environ = type(os.environ)
    set_item, del_item = environ.__setitem__, environ.__delitem__

    def record_set(self: Any, key: str, value: str) -> None:
        writes.append((threading.current_thread().name, key))
        set_item(self, key, value)

    def record_del(self: Any, key: str) -> None:
        writes.append((threading.current_thread().name, key))
        del_item(self, key)

    monkeypatch.setattr(environ, "__setitem__", record_set)
    monkeypatch.setattr(environ, "__delitem__", record_del)
    errors: list[BaseException] = []
    polls: list[str] = []

    def poll(user: str) -> None:
        other = MODELS["bob" if user == "alice" else "alice"]
        try:
            for _ in range(8):
                hook = MlflowRegistryHook(f"it_{user}")  # a trigger builds its hook per run
                assert hook.get_version(MODELS[user], "1").version == "1"
                assert hook.get_alias_version(MODELS[user], "champion").version == "1"
                newest = list(islice(hook.iter_versions(MODELS[user], page_size=1), 1))
                assert [v.version for v in newest] == ["1"] and newest[0].aliases == ("champion",)
                # The user's own credentials: not the other user's, nor the admin's in the environment.
                with pytest.raises(PrivilegeError, match=f"'{user}'"):
                    hook.get_version(other, "1")
                polls.append(user)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=poll, args=(user,), name=f"poll-{user}-{i}") for user in USERS for i in range(3)]
    # Meanwhile this thread holds the admin's scope, as a write for another connection would:
    # the polls neither wait for it nor read its credentials.
    with scoped_environment({"MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}):
        assert scope_active()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    assert not errors, errors
    assert sorted(polls) == ["alice"] * 24 + ["bob"] * 24
    assert [w for w in writes if w[0].startswith("poll-")] == []


def _stored_dir(server: RunningServer, admin: MlflowRegistryHook, model: str, version: str) -> Path:
    with admin._client() as client:
        uri = registry_client(client).get_model_version_download_uri(model, version)
    assert uri.startswith("mlflow-artifacts:/")
    return server.artifacts / uri.removeprefix("mlflow-artifacts:/")


class _RunsCodeOnLoad:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


def test_a_tampered_pickle_on_the_server_is_never_loaded(world: dict[str, Any], tmp_path: Path) -> None:
    admin, server = world["admin"], world["server"]
    registered = _register(admin, "it_tamper", tmp_path)
    version = registered["ref"]["version"]
    assert json.loads(admin.get_version_tags("it_tamper", version)[tags.MODEL_MANIFEST])["model.pkl"]
    assert admin.load_model("it_tamper", version).predict(make_data(5)[FEATURES]) is not None

    marker = tmp_path / "ran.txt"
    stored = _stored_dir(server, admin, "it_tamper", version)
    (stored / "model.pkl").write_bytes(pickle.dumps(_RunsCodeOnLoad(marker)))
    with pytest.raises(IntegrityError, match=f"version {version} of 'it_tamper': .*model.pkl \\(sha256 differs\\)"):
        admin.load_model("it_tamper", version)
    with pytest.raises(IntegrityError, match="model.pkl"):
        admin.load_native_model("it_tamper", version)
    scoring = tmp_path / "scoring.parquet"
    make_data(100)[FEATURES].to_parquet(scoring)
    output = tmp_path / "predictions.parquet"
    with pytest.raises((IntegrityError, AirflowFailException), match="model.pkl"):
        BatchInferenceOperator(
            task_id="batch_inference",
            registry_conn_id="it_admin",
            model_version=registered["ref"],
            input_path=str(scoring),
            output_path=str(output),
        ).execute(task_context("batch_inference"))
    assert not output.exists()
    assert not marker.exists(), "the tampered pickle was unpickled"
    with open(stored / "model.pkl", "rb") as fh:  # the payload is live
        pickle.load(fh)
    assert marker.exists()


def test_the_creators_manage_is_an_implicit_grant(world: dict[str, Any]) -> None:
    admin = world["admin"]
    model = MODELS["alice"]
    assert admin.implicit_grants(model) == [Grant("user:admin", "OWNERSHIP")]
    admin.apply_grants(model, [Grant("user:bob", "OWNERSHIP")], [])
    try:
        assert admin.implicit_grants(model) == [Grant("user:admin", "OWNERSHIP")]  # still the creator's
        assert {g.grantee for g in admin.list_grants(model)} >= {"user:admin", "user:alice", "user:bob"}
    finally:
        admin.apply_grants(model, [], [Grant("user:bob", "OWNERSHIP")])


def test_refused_credentials_and_permissions_fail_at_once(world: dict[str, Any]) -> None:
    _connection(world["mp"], "it_wrong", world["server"], "alice", "not-her-password")
    with pytest.raises(InvalidInputError, match="registry_conn_id: .*refused the credentials") as refused:
        MlflowRegistryHook("it_wrong").get_version(MODELS["alice"], "1")
    assert isinstance(refused.value, CONFIGURATION_ERRORS)
    alice = MlflowRegistryHook("it_alice")
    with pytest.raises(PrivilegeError, match="registry_conn_id: .*'alice'"):
        alice.set_alias(MODELS["alice"], "challenger", "1")  # READ only
    with pytest.raises(PrivilegeError):
        alice.set_version_tags(MODELS["alice"], "1", {"k": "v"})
    assert "k" not in world["admin"].get_version_tags(MODELS["alice"], "1")


def test_registration_refuses_what_postgresql_would_refuse_before_writing(
    world: dict[str, Any], tmp_path: Path
) -> None:
    admin = world["admin"]
    before = len(list(admin.iter_versions(MODELS["bob"])))
    paths = make_model_files(tmp_path)
    for bad, field in (({"tags": {"big": "x" * 5001}}, "tags.big"), ({"description": "d" * 5001}, "description")):
        operator = LogModelOperator(
            task_id="log_model",
            registry_conn_id="it_admin",
            model_name=MODELS["bob"],
            model=paths["model"],
            version_name="9.0.0",
            sample_input=paths["sample"],
            **bad,
        )
        with pytest.raises(AirflowFailException, match=f"^{field}: "):
            operator.execute(task_context("log_model"))
    assert len(list(admin.iter_versions(MODELS["bob"]))) == before
