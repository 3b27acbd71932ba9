from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from mlflow import MlflowClient

from airflow_registry_provider import tags
from airflow_registry_provider.artifacts import load_model_file, pinned_requirements, read_table_file
from airflow_registry_provider.exceptions import InvalidInputError, RegistryUnavailableError, VersionConflictError
from airflow_registry_provider.hooks.base import ModelPackage
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from tests.helpers import make_model_files


def _package(paths: dict[str, str], version_name: str, sha: str = "abc") -> ModelPackage:
    model, flavor = load_model_file(paths["model"])
    return ModelPackage(
        version_name=version_name,
        flavor=flavor,
        artifact_sha256=sha,
        model=model,
        sample_input=read_table_file(paths["sample"], "sample_input"),
        pip_requirements=pinned_requirements(flavor),
        metrics={"accuracy": 0.9},
        tags={tags.VERSION_NAME: version_name, tags.ARTIFACT_SHA256: sha},
    )


def test_register_is_idempotent_and_never_overwrites(mlflow_registry: str, tmp_path: Path) -> None:
    hook = MlflowRegistryHook()
    paths = make_model_files(tmp_path)
    first, created = hook.register_version("churn", _package(paths, "1.0.0"))
    again, created_again = hook.register_version("churn", _package(paths, "1.0.0"))
    assert created and not created_again
    assert again.version == first.version == "1"
    with pytest.raises(VersionConflictError, match="1.0.0"):
        hook.register_version("churn", _package(paths, "1.0.0", sha="other"))
    client = MlflowClient(mlflow_registry)
    assert len(client.search_model_versions("name = 'churn'")) == 1
    info = hook.input_schema("churn", "1")
    assert info == [("f1", "double"), ("f2", "double"), ("f3", "double")]
    assert client.get_run(first.run_id).data.metrics == {"accuracy": 0.9}


def test_requirements_are_pinned_from_installed_versions(mlflow_registry: str, tmp_path: Path) -> None:
    import sklearn

    hook = MlflowRegistryHook()
    hook.register_version("churn", _package(make_model_files(tmp_path), "1.0.0"))
    reqs = Path(hook.download_model("churn", "1", str(tmp_path / "dl")), "requirements.txt")
    assert f"scikit-learn=={sklearn.__version__}" in reqs.read_text().splitlines()


def test_pagination_is_correct_past_one_page(mlflow_registry: str, tmp_path: Path) -> None:
    hook = MlflowRegistryHook()
    paths = make_model_files(tmp_path)
    for i in range(5):
        hook.register_version("paged", _package(paths, f"1.0.{i}", sha=str(i)))
    versions = [v.version for v in hook.iter_versions("paged", page_size=2)]
    assert versions == ["5", "4", "3", "2", "1"]
    assert hook.next_version_name("paged") == "1.0.5"
    assert hook.next_version_name("paged", "minor") == "1.1.0"
    assert hook.next_version_name("no_such_model") == "1.0.0"


def test_aliases_tags_and_description(mlflow_registry: str, tmp_path: Path) -> None:
    hook = MlflowRegistryHook()
    paths = make_model_files(tmp_path)
    hook.register_version("m", _package(paths, "1.0.0"))
    hook.set_alias("m", "champion", "1")
    hook.set_version_tags("m", "1", {"a": "1", "b": "2"})
    hook.set_model_tags("m", {"owner": "growth"})
    hook.set_description("m", "1", "first")
    version = hook.get_version("m", alias="champion")
    assert version.version == "1" and version.aliases == ("champion",)
    assert version.tags["a"] == "1" and version.description == "first"
    assert hook.get_model_tags("m") == {"owner": "growth"}
    hook.delete_alias("m", "champion")
    assert hook.get_alias_version("m", "champion") is None
    with pytest.raises(InvalidInputError, match="reserved"):
        hook.set_alias("m", "latest", "1")


def test_artifacts_round_trip(mlflow_registry: str, tmp_path: Path) -> None:
    hook = MlflowRegistryHook()
    hook.register_version("m", _package(make_model_files(tmp_path), "1.0.0"))
    card = tmp_path / "card.md"
    card.write_text("# card")
    uri = hook.upload_artifact("m", "1", str(card), "cards/model_card.md")
    assert uri.endswith("/cards/model_card.md")
    local = hook.download_artifact("m", "1", "cards/model_card.md", str(tmp_path / "dl"))
    assert Path(local).read_text() == "# card"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_fails_clearly_after_bounded_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_DOWN",
        json.dumps(
            {
                "conn_type": "mlflow_registry",
                "login": "bob",
                "password": "s3cret-pw",
                "extra": {"tracking_uri": uri, "max_retries": 1, "timeout": 2},
            }
        ),
    )
    hook = MlflowRegistryHook("mlflow_down")
    with pytest.raises(RegistryUnavailableError, match=f"{uri} is unreachable after 1 retries"):
        hook.get_version("m", "1")
    # Credentials and retry settings were scoped to the call.
    assert "MLFLOW_TRACKING_PASSWORD" not in os.environ
    assert "MLFLOW_TRACKING_USERNAME" not in os.environ
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    ok, message = hook.test_connection()
    assert not ok and "unreachable" in message


def test_version_url_only_for_servers(monkeypatch: pytest.MonkeyPatch, mlflow_registry: str) -> None:
    assert MlflowRegistryHook().version_url("m", "1") is None
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_SRV",
        json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": "http://mlflow.local:5000/"}}),
    )
    assert MlflowRegistryHook("mlflow_srv").version_url("my model", "3") == (
        "http://mlflow.local:5000/#/models/my%20model/versions/3"
    )


def test_register_ignores_an_experiment_set_by_user_code(mlflow_registry: str, tmp_path: Path) -> None:
    import mlflow

    mlflow.set_tracking_uri(mlflow_registry)
    mlflow.set_experiment("someone_elses_experiment")
    try:
        version, created = MlflowRegistryHook().register_version("m", _package(make_model_files(tmp_path), "1.0.0"))
    finally:
        mlflow.set_tracking_uri(None)
    assert created
    assert version.version == "1"


def test_a_version_created_twice_by_an_http_retry_is_kept_once(
    mlflow_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's HTTP client retries a POST whose response was lost: the version would exist twice."""
    create = MlflowClient.create_model_version

    def lost_response_then_retry(self: MlflowClient, *args: object, **kwargs: object) -> object:
        create(self, *args, **kwargs)  # the server made it; the response never arrived
        return create(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "create_model_version", lost_response_then_retry)
    version, created = MlflowRegistryHook().register_version("m", _package(make_model_files(tmp_path), "1.0.0"))
    assert created and version.version == "1"
    assert [str(v.version) for v in MlflowClient(mlflow_registry).search_model_versions("name = 'm'")] == ["1"]


def test_colliding_version_numbers_are_retried(
    mlflow_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlflow/mlflow#22635: concurrent creations collide on MAX+1 and MLflow gives up; nothing was created."""
    from mlflow.exceptions import MlflowException

    create = MlflowClient.create_model_version
    failures = iter([MlflowException("Model Version creation error (name=m). Giving up after 3 attempts.")])

    def collide_once(self: MlflowClient, *args: object, **kwargs: object) -> object:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return create(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "create_model_version", collide_once)
    version, created = MlflowRegistryHook().register_version("m", _package(make_model_files(tmp_path), "1.0.0"))
    assert created and version.version == "1"


def test_server_errors_stay_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server answering 503 to everything: a transient error after the bounded retries, never a configuration error."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from airflow_registry_provider.exceptions import CONFIGURATION_ERRORS

    class Unavailable(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv(
            "AIRFLOW_CONN_MLFLOW_503",
            json.dumps(
                {"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri, "max_retries": 1, "timeout": 5}}
            ),
        )
        hook = MlflowRegistryHook("mlflow_503")
        for call in (lambda: hook.get_version("m", "1"), lambda: hook.set_version_tags("m", "1", {"k": "v"})):
            with pytest.raises(RegistryUnavailableError) as raised:
                call()
            assert not isinstance(raised.value, CONFIGURATION_ERRORS)
    finally:
        server.shutdown()
        server.server_close()


def test_reads_of_two_local_registries_at_once_touch_no_process_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from airflow_registry_provider.hooks.mlflow.environment import scope_active

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        uri = f"sqlite:///{tmp_path / name / 'mlflow.db'}"
        monkeypatch.setenv(
            f"AIRFLOW_CONN_MLFLOW_{name.upper()}",
            json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri}}),
        )
        hook = MlflowRegistryHook(f"mlflow_{name}")
        hook.register_version(f"model_{name}", _package(make_model_files(tmp_path / name), "1.0.0"))
        hook.set_alias(f"model_{name}", "champion", "1")
    environ = type(os.environ)
    writes: list[str] = []
    set_item = environ.__setitem__
    monkeypatch.setattr(environ, "__setitem__", lambda self, k, v: writes.append(k) or set_item(self, k, v))
    failures: list[BaseException] = []

    def poll(name: str) -> None:
        try:
            for _ in range(5):
                hook = MlflowRegistryHook(f"mlflow_{name}")
                assert hook.get_alias_version(f"model_{name}", "champion").model_name == f"model_{name}"
                assert next(hook.iter_versions(f"model_{name}", page_size=1)).version == "1"
                assert not scope_active()
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=poll, args=(name,)) for name in ("a", "b") for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures and writes == []
