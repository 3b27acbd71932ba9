"""CopyVersionOperator between two real ``mlflow server``s on loopback (each on its own PostgreSQL
database and artifact store): the files end up in the target server's store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_registry_provider import copying, integrity, tags
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.operators.copy_version import CopyVersionOperator
from tests.conftest import set_mlflow_connection
from tests.helpers import FEATURES, make_data, make_model_files, task_context
from tests.hooks.test_mlflow_bad_input import _package
from tests.integration.servers import RunningServer, mlflow_server, pg_database, pg_uri, run_server

__all__ = ["mlflow_server"]  # the session's server fixture, used here as the source (DEV) registry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def target_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A second tracking server (the PRD registry) beside the session's ``mlflow_server``."""
    with pg_database() as database, run_server(tmp_path_factory.mktemp("mlflow-prd"), pg_uri(database)) as server:
        yield server


def _files_under(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of the model directories (holding an ``MLmodel``) under ``root``."""
    found: dict[str, str] = {}
    for mlmodel in root.rglob("MLmodel"):
        found |= {f"{mlmodel.parent.name}/{k}": v for k, v in integrity.file_manifest(mlmodel.parent).items()}
    return found


def test_copy_between_two_servers_stores_the_files_in_the_target(
    mlflow_server: RunningServer, target_server: RunningServer, tmp_path: Path
) -> None:
    set_mlflow_connection("it_dev", str(mlflow_server))
    set_mlflow_connection("it_prd", str(target_server))
    dev = MlflowRegistryHook("it_dev")
    model = f"copy_{tmp_path.name[-8:]}".replace("-", "_")
    source, _ = dev.register_version(model, _package(make_model_files(tmp_path), "1.0.0", description="v1"))
    source_files = integrity.file_manifest(Path(dev.download_model(model, source.version, str(tmp_path / "src"))))
    source_store = _files_under(mlflow_server.artifacts)

    result = CopyVersionOperator(
        task_id="copy", model_version=source.ref("it_dev"), target_registry_conn_id="it_prd"
    ).execute(task_context())

    assert result["copied"] is True and result["registry_conn_id"] == "it_prd"
    prd = MlflowRegistryHook("it_prd")
    copy = prd.get_version(model, result["version"])
    assert copy.tags[copying.COPIED_FROM_REGISTRY] == str(mlflow_server)
    assert copy.tags[tags.MODEL_SHA256] == integrity.manifest_digest(source_files)
    assert copy.description == "v1" and copy.metrics == {"accuracy": 0.9}
    # The target server's own store holds the files; the source's store gained nothing.
    target_store = _files_under(target_server.artifacts)
    assert set(source_files.values()) <= set(target_store.values())
    assert _files_under(mlflow_server.artifacts) == source_store
    frame = make_data(10, seed=3)[FEATURES]
    assert list(prd.predict(model, copy.version, frame)) == list(dev.predict(model, source.version, frame))

    again = CopyVersionOperator(
        task_id="copy", model_version=result["source"], target_registry_conn_id="it_prd"
    ).execute(task_context())
    assert (again["copied"], again["version"]) == (False, result["version"])
    assert [v.version for v in prd.iter_versions(model)] == [result["version"]]
