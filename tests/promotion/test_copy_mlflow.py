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


def test_a_source_without_manifest_needs_allow_unverified(registries: dict[str, Any]) -> None:
    source = registries["source"]
    client = MlflowClient(registries["uris"]["dev"])
    for key in (tags.MODEL_MANIFEST, tags.MODEL_SHA256):
        client.delete_model_version_tag("churn", source.version, key)
    state = registry_state(registries["uris"]["prd"])
    with pytest.raises(AirflowFailException, match="has no model manifest") as info:
        _copy(source).execute(task_context())
    assert isinstance(info.value.__cause__, IntegrityError)
    assert registry_state(registries["uris"]["prd"]) == state

    result = _copy(source, allow_unverified="true").execute(task_context())
    # The copy records the manifest of the files it stored: from now on it is verifiable.
    copied = MlflowRegistryHook("prd").get_version("churn", result["version"])
    assert copied.tags[tags.MODEL_SHA256] == integrity.manifest_digest(
        integrity.file_manifest(stored_dir(registries["uris"]["prd"], "churn", copied.version))
    )


def test_a_version_name_the_target_already_holds_is_a_conflict(registries: dict[str, Any]) -> None:
    other = registries["tmp"] / "other"
    other.mkdir()
    paths = make_model_files(other, seed=3)
    other_tags = {tags.VERSION_NAME: "1.0.0", tags.ARTIFACT_SHA256: "another"}
    MlflowRegistryHook("prd").register_version(
        "churn", _package(paths, "1.0.0", artifact_sha256="another", tags=other_tags)
    )
    state = registry_state(registries["uris"]["prd"])
    with pytest.raises(AirflowFailException, match="^target_model_name: '1.0.0' already exists"):
        _copy(registries["source"]).execute(task_context())
    assert registry_state(registries["uris"]["prd"]) == state
    # Into another model of the target it goes.
    assert _copy(registries["source"], target_model_name="churn_prd").execute(task_context())["copied"]


def test_a_source_without_a_version_name_is_refused(registries: dict[str, Any]) -> None:
    client = MlflowClient(registries["uris"]["dev"])
    bare = client.create_model_version("churn", registries["source"].uri, tags={})
    with pytest.raises(AirflowFailException, match="^model_version: .* has no semantic version name"):
        _copy({"registry_conn_id": "dev", "model_name": "churn", "version": bare.version}).execute(task_context())


def test_a_found_copy_is_verified_and_left_alone_when_it_differs(registries: dict[str, Any]) -> None:
    first = _copy(registries["source"]).execute(task_context())
    stored = stored_dir(registries["uris"]["prd"], "churn", first["version"])
    (stored / "model.pkl").write_bytes(b"changed after the copy")
    with pytest.raises(AirflowFailException, match=r"existing copy .* left as it is.*model\.pkl") as info:
        _copy(registries["source"]).execute(task_context())
    assert isinstance(info.value.__cause__, IntegrityError)
    assert [v.version for v in MlflowRegistryHook("prd").iter_versions("churn")] == [first["version"]]


def test_a_literal_that_is_no_reference_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(InvalidInputError, match="^model_version: "):
        CopyVersionOperator(task_id="copy", model_version="not a reference", target_registry_conn_id="prd")
    with pytest.raises(TypeError, match="target_registry_conn_id"):
        CopyVersionOperator(task_id="copy", model_version="{}", target_registry_conn_id="prd", registry_conn_id="x")


def test_rendered_templates_are_checked_before_execute(registries: dict[str, Any]) -> None:
    ref = registries["source"].ref("dev")
    operator = CopyVersionOperator(
        task_id="copy", model_version="{{ params.ref }}", target_registry_conn_id="{{ params.target }}"
    )
    operator.render_template_fields({"params": {"ref": ref, "target": "prd"}})  # a dict rendered as str
    assert operator.source_ref["model_name"] == "churn"
    assert operator.execute(task_context())["registry_conn_id"] == "prd"

    bad = CopyVersionOperator(task_id="copy", model_version="{{ params.ref }}", target_registry_conn_id="prd")
    with pytest.raises(AirflowFailException, match="^model_version: "):
        bad.render_template_fields({"params": {"ref": "nope"}})


def test_a_retry_completes_a_lost_audit_record_once(registries: dict[str, Any]) -> None:
    """A try that copied and verified but lost its audit record: its retry writes the record, once."""
    first = _copy(registries["source"]).execute(task_context())
    client = MlflowClient(registries["uris"]["prd"])
    client.delete_registered_model_tag("churn", tags.AUDIT_LOG)  # as if the record's write had been lost

    def records() -> list[tuple[str, str]]:
        log = MlflowRegistryHook("prd").get_model_tags("churn").get(tags.AUDIT_LOG, "[]")
        return [(r["action"], r["run_id"]) for r in json.loads(log)]

    for _ in range(2):
        again = _copy(registries["source"]).execute(task_context())
        assert (again["copied"], again["version"]) == (False, first["version"])
        assert records() == [("register", "manual__test")]
    # Another run finding the copy records nothing: it changed nothing.
    _copy(registries["source"]).execute(task_context(run_id="scheduled__later"))
    assert records() == [("register", "manual__test")]
