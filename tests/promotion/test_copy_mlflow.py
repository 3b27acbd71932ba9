"""CopyVersionOperator between two local (sqlite) MLflow registries: files land in the target's
own artifact store, lineage and metadata travel, retries converge, bad input changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from mlflow import MlflowClient

from airflow_registry_provider import copying, integrity, tags
from airflow_registry_provider.exceptions import IntegrityError, InvalidInputError, VersionNotFoundError
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.operators.copy_version import CopyVersionOperator
from tests.conftest import set_mlflow_connection
from tests.helpers import make_data, make_model_files, task_context
from tests.hooks.mlflow_state import registry_state
from tests.hooks.test_mlflow_bad_input import _package
from tests.hooks.test_mlflow_integrity import stored_dir


@pytest.fixture
def registries(tmp_path: Path) -> dict[str, Any]:
    """``dev`` holds version 1.0.0 of ``churn`` (validated there); ``prd`` is an empty store."""
    uris = {}
    for name in ("dev", "prd"):
        (tmp_path / name).mkdir()
        uris[name] = f"sqlite:///{tmp_path / name / 'mlflow.db'}"
        set_mlflow_connection(name, uris[name])
    dev = MlflowRegistryHook("dev")
    paths = make_model_files(tmp_path)
    version, _ = dev.register_version("churn", _package(paths, "1.0.0", description="churn v1", metrics={"auc": 0.91}))
    dev.set_version_tags("churn", version.version, {"team": "risk", tags.VALIDATION_STATUS: tags.VALIDATION_PASSED})
    MlflowClient(uris["prd"]).search_registered_models()  # an existing, empty PRD store
    return {"uris": uris, "dev": dev, "source": dev.get_version("churn", version.version), "tmp": tmp_path}


def _copy(source: Any, **kwargs: Any) -> CopyVersionOperator:
    return CopyVersionOperator(
        task_id="copy",
        model_version=source.ref("dev") if hasattr(source, "ref") else source,
        target_registry_conn_id=kwargs.pop("target_registry_conn_id", "prd"),
        **kwargs,
    )


def test_copy_lands_in_the_targets_own_store_with_lineage_and_metadata(registries: dict[str, Any]) -> None:
    source = registries["source"]
    result = _copy(source).execute(task_context("copy"))

    assert result["copied"] is True
    assert result["registry_conn_id"] == "prd" and result["model_name"] == "churn"
    assert result["model_version"] == {k: result[k] for k in result["model_version"]}
    assert result["source"]["registry_conn_id"] == "dev" and result["source"]["version"] == source.version

    prd = MlflowRegistryHook("prd")
    copied = prd.get_version("churn", result["version"])
    assert copied.version_name == "1.0.0" and copied.description == "churn v1"
    assert copied.metrics == {"auc": 0.91}
    assert copied.tags["team"] == "risk"
    assert tags.VALIDATION_STATUS not in copied.tags  # the target's gate decides again
    assert copied.tags[copying.COPIED_FROM_REGISTRY] == registries["uris"]["dev"]
    assert copied.tags[copying.COPIED_FROM_MODEL] == "churn"
    assert copied.tags[copying.COPIED_FROM_VERSION] == source.version

    # Same files, stored under the target's artifact root, not pointing at the source.
    source_dir = stored_dir(registries["uris"]["dev"], "churn", source.version)
    target_dir = stored_dir(registries["uris"]["prd"], "churn", copied.version)
    assert target_dir.is_relative_to(registries["tmp"] / "prd")
    assert integrity.file_manifest(target_dir) == integrity.file_manifest(source_dir)
    assert copied.tags[tags.MODEL_SHA256] == source.tags[tags.MODEL_SHA256]
    assert prd.input_schema("churn", copied.version) == registries["dev"].input_schema("churn", source.version)
    predictions = prd.predict("churn", copied.version, make_data(10)[["f1", "f2", "f3"]])
    assert len(predictions) == 10

    # The copy is in the target's audit trail.
    audit = json.loads(prd.get_model_tags("churn")[tags.AUDIT_LOG])
    assert [(r["action"], r["version"]) for r in audit] == [("register", copied.version)]


def test_copying_again_returns_the_copy(registries: dict[str, Any]) -> None:
    first = _copy(registries["source"]).execute(task_context())
    state = registry_state(registries["uris"]["prd"])
    again = _copy(json.dumps(first["source"])).execute(task_context())
    assert again["copied"] is False
    assert again["version"] == first["version"]
    assert registry_state(registries["uris"]["prd"]) == state


def test_a_tampered_source_file_fails_before_anything_is_written(registries: dict[str, Any]) -> None:
    source = registries["source"]
    (stored_dir(registries["uris"]["dev"], "churn", source.version) / "model.pkl").write_bytes(b"not the model")
    state = registry_state(registries["uris"]["prd"])
    with pytest.raises(AirflowFailException, match=r"model\.pkl \(sha256 differs\)") as info:
        _copy(source).execute(task_context())
    assert isinstance(info.value.__cause__, IntegrityError)
    assert registry_state(registries["uris"]["prd"]) == state


def test_a_mismatch_after_the_copy_deletes_the_new_version(
    registries: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The target's stored files are read back and compared with the source manifest."""
    log_model_artifacts = MlflowClient.log_model_artifacts

    def upload_then_tamper(self: MlflowClient, model_id: str, local_dir: str) -> None:
        log_model_artifacts(self, model_id, local_dir)
        stored = Path(self.get_logged_model(model_id).artifact_location.removeprefix("file://"))
        (stored / "model.pkl").write_bytes(b"changed in the store")

    monkeypatch.setattr(MlflowClient, "log_model_artifacts", upload_then_tamper)
    with pytest.raises(AirflowFailException, match="the copy .* model.pkl") as info:
        _copy(registries["source"]).execute(task_context())
    assert isinstance(info.value.__cause__, IntegrityError)
    assert list(MlflowRegistryHook("prd").iter_versions("churn")) == []


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        (
            {"model_version": {"model_name": "churn", "version": "7", "registry_conn_id": "dev"}},
            VersionNotFoundError,
            "model_version",
        ),
        (
            {"model_version": {"model_name": "nope", "version": "1", "registry_conn_id": "dev"}},
            InvalidInputError,
            "model_version",
        ),
        ({"target_registry_conn_id": "no_such_conn"}, InvalidInputError, "target_registry_conn_id"),
        ({"source_registry_conn_id": "no_such_conn"}, InvalidInputError, "source_registry_conn_id"),
        ({"model_version": {"model_name": "churn", "version": "1"}}, InvalidInputError, "source_registry_conn_id"),
        ({"target_model_name": "bad/name"}, InvalidInputError, "target_model_name"),
        ({"model_version": "not a reference"}, InvalidInputError, "model_version"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(
    registries: dict[str, Any], change: dict[str, Any], error: type[Exception], field: str
) -> None:
    state = registry_state(registries["uris"]["prd"])
    with pytest.raises(AirflowFailException, match=f"^{field}: ") as info:
        _copy(change.pop("model_version", registries["source"]), **change).execute(task_context())
    assert isinstance(info.value.__cause__, error)
    assert registry_state(registries["uris"]["prd"]) == state
