"""The manifest of a version's stored files: recorded with the version, checked before any load.

The stored ``model.pkl`` is replaced by a pickle that runs code when it is loaded; every
way of loading the version must refuse it before unpickling, naming the version and the
file, and the code must not run.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest
from mlflow import MlflowClient

from airflow_registry_provider import integrity, tags
from airflow_registry_provider.exceptions import CONFIGURATION_ERRORS, IntegrityError, InvalidInputError
from airflow_registry_provider.hooks.base import ModelPackage
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from tests.helpers import FEATURES, make_data, make_model_files
from tests.hooks.mlflow_state import registry_state
from tests.hooks.test_mlflow_bad_input import _package


class _RunsCodeOnLoad:
    """Unpickling this writes ``marker``: proof that a load executed the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


def stored_dir(tracking_uri: str, model: str, version: str) -> Path:
    """The directory in the artifact store that holds a version's model files."""
    uri = MlflowClient(tracking_uri, tracking_uri).get_model_version_download_uri(model, version)
    return Path(unquote(urlparse(uri).path))


def tamper_pickle(model_dir: Path, marker: Path) -> None:
    (model_dir / "model.pkl").write_bytes(pickle.dumps(_RunsCodeOnLoad(marker)))


@pytest.fixture
def registered(mlflow_registry: str, tmp_path: Path) -> dict[str, Any]:
    hook = MlflowRegistryHook()
    paths = make_model_files(tmp_path)
    version, _ = hook.register_version("m", _package(paths, "1.0.0"))
    return {"hook": hook, "uri": mlflow_registry, "version": version, "paths": paths, "marker": tmp_path / "ran.txt"}


def test_the_manifest_of_every_stored_file_is_written_with_the_version(
    registered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    version = registered["version"]
    manifest = json.loads(version.tags[tags.MODEL_MANIFEST])
    stored = stored_dir(registered["uri"], "m", version.version)
    assert manifest == integrity.file_manifest(stored)
    assert {"MLmodel", "model.pkl", "requirements.txt", "input_example.json"} <= set(manifest)
    assert version.tags[tags.MODEL_SHA256] == integrity.manifest_digest(manifest)
    assert version.tags[tags.ARTIFACT_SHA256] == "sha-1.0.0"  # the input's hash stays beside it

    # Written by create_model_version itself, never by a later tag write.
    created: list[dict[str, str]] = []
    create = MlflowClient.create_model_version
    monkeypatch.setattr(
        MlflowClient,
        "create_model_version",
        lambda self, *a, **k: created.append(dict(k["tags"])) or create(self, *a, **k),
    )
    registry_cls = type(MlflowClient(registered["uri"])._get_registry_client())
    monkeypatch.setattr(registry_cls, "set_model_version_tag", lambda *a, **k: pytest.fail("a separate tag write"))
    second, _ = registered["hook"].register_version("m", _package(registered["paths"], "1.0.1"))
    assert tags.MODEL_MANIFEST in created[0] and tags.MODEL_SHA256 in created[0]
    assert second.tags[tags.MODEL_SHA256] == created[0][tags.MODEL_SHA256]


@pytest.mark.parametrize(
    "load",
    [
        pytest.param(lambda hook, tmp: hook.load_model("m", "1"), id="load_model"),
        pytest.param(lambda hook, tmp: hook.load_native_model("m", "1"), id="load_native_model"),
        pytest.param(lambda hook, tmp: hook.download_model("m", "1", str(tmp / "dl")), id="download_model"),
        pytest.param(lambda hook, tmp: hook.predict("m", "1", make_data(5)[FEATURES]), id="predict"),
        pytest.param(
            lambda hook, tmp: hook.batch_predict(
                hook.get_version("m", "1"), str(tmp / "in.parquet"), str(tmp / "out.parquet")
            ),
            id="batch_predict",
        ),
    ],
)
def test_a_tampered_pickle_is_refused_before_it_is_unpickled(
    registered: dict[str, Any], tmp_path: Path, load: Any
) -> None:
    make_data(50)[FEATURES].to_parquet(tmp_path / "in.parquet")
    marker = registered["marker"]
    stored = stored_dir(registered["uri"], "m", "1")
    tamper_pickle(stored, marker)
    with pytest.raises(IntegrityError) as raised:
        load(registered["hook"], tmp_path)
    message = str(raised.value)
    assert "version 1 of 'm'" in message and "model.pkl (sha256 differs)" in message and "nothing was loaded" in message
    assert isinstance(raised.value, CONFIGURATION_ERRORS)
    assert not marker.exists(), "the tampered pickle was loaded"
    assert not (tmp_path / "out.parquet").exists()
    with open(stored / "model.pkl", "rb") as fh:  # the payload is live: loading it does run the code
        pickle.load(fh)
    assert marker.read_text() == "ran"


def test_the_signature_is_read_from_a_verified_mlmodel(registered: dict[str, Any]) -> None:
    hook = registered["hook"]
    assert hook.input_schema("m", "1") == [("f1", "double"), ("f2", "double"), ("f3", "double")]
    mlmodel = stored_dir(registered["uri"], "m", "1") / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("f1", "g1"))
    with pytest.raises(IntegrityError, match=r"version 1 of 'm': stored model file MLmodel does not match"):
        hook.input_schema("m", "1")


@pytest.mark.parametrize("change", ["extra", "missing"])
def test_added_or_removed_files_are_named(registered: dict[str, Any], change: str) -> None:
    stored = stored_dir(registered["uri"], "m", "1")
    if change == "extra":
        (stored / "sitecustomize.py").write_text("print('hi')")
        expected = "sitecustomize.py (not in the manifest)"
    else:
        (stored / "conda.yaml").unlink()
        expected = "conda.yaml (missing)"
    with pytest.raises(IntegrityError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        registered["hook"].load_model("m", "1")


def test_a_changed_manifest_tag_is_caught_by_its_digest(registered: dict[str, Any]) -> None:
    client = MlflowClient(registered["uri"])
    manifest = json.loads(registered["version"].tags[tags.MODEL_MANIFEST])
    manifest["model.pkl"] = "0" * 64
    client.set_model_version_tag("m", "1", tags.MODEL_MANIFEST, integrity.manifest_text(manifest))
    with pytest.raises(IntegrityError, match="does not match its recorded digest"):
        registered["hook"].load_model("m", "1")


def test_a_version_without_a_manifest_is_refused_unless_allowed(
    registered: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A version registered before integrity checks (here: straight through MlflowClient)."""
    client = MlflowClient(registered["uri"], registered["uri"])
    source = client.get_model_version_download_uri("m", "1")
    client.create_model_version("m", source=source, tags={tags.VERSION_NAME: "0.9.0"})
    hook = registered["hook"]
    with pytest.raises(IntegrityError, match="version 2 of 'm' has no model manifest.*allow_unverified=True"):
        hook.load_model("m", "2")
    with pytest.raises(IntegrityError, match="no model manifest"):
        hook.load_native_model("m", "2")
    capsys.readouterr()
    model = hook.load_model("m", "2", allow_unverified=True)
    assert len(model.predict(make_data(3)[FEATURES])) == 3
    logged = capsys.readouterr().out  # the task log (Airflow's structlog writes to stdout)
    assert "warning" in logged and "Loading version 2 of 'm' without verifying its files" in logged
    estimator, flavor = hook.load_native_model("m", "2", allow_unverified=True)
    assert flavor == "sklearn" and hasattr(estimator, "predict_proba")
    assert hook.input_schema("m", "2") is not None  # MLmodel is data: readable without a manifest


def test_a_manifest_too_long_for_a_tag_is_stored_as_a_file(registered: dict[str, Any], tmp_path: Path) -> None:
    hook = registered["hook"]
    source = Path(hook.download_model("m", "1", str(tmp_path / "src")))
    for i in range(80):  # 80 more files: the manifest no longer fits 5,000 characters
        (source / "extra" / f"file_{i:03d}.txt").parent.mkdir(exist_ok=True)
        (source / "extra" / f"file_{i:03d}.txt").write_text(str(i))
    package = ModelPackage(
        version_name="2.0.0",
        flavor="sklearn",
        artifact_sha256="dir",
        source_uri=str(source),
        tags={tags.VERSION_NAME: "2.0.0", tags.ARTIFACT_SHA256: "dir"},
    )
    version, _ = hook.register_version("m", package)
    pointer = version.tags[tags.MODEL_MANIFEST]
    assert pointer.startswith(f"runs:/{version.run_id}/airflow_registry/manifests/")
    assert len(integrity.manifest_text(integrity.file_manifest(source))) > hook.max_version_tag_length
    assert len(hook.load_model("m", version.version).predict(make_data(3)[FEATURES])) == 3
    # The stored manifest file is pinned by the digest in the registry's database.
    run_files = Path(unquote(urlparse(MlflowClient(registered["uri"]).get_run(version.run_id).info.artifact_uri).path))
    manifest_file = next((run_files / "airflow_registry" / "manifests").iterdir())
    tampered = json.loads(manifest_file.read_text())
    tampered["model.pkl"] = "0" * 64
    manifest_file.write_text(json.dumps(tampered))
    with pytest.raises(IntegrityError, match="does not match its recorded digest"):
        hook.load_model("m", version.version)


def test_registering_from_a_tampered_version_writes_nothing(registered: dict[str, Any]) -> None:
    tamper_pickle(stored_dir(registered["uri"], "m", "1"), registered["marker"])
    before = registry_state(registered["uri"])
    package = ModelPackage(
        version_name="3.0.0",
        flavor="sklearn",
        artifact_sha256="copy",
        source_uri="models:/m/1",
        tags={tags.VERSION_NAME: "3.0.0", tags.ARTIFACT_SHA256: "copy"},
    )
    with pytest.raises(IntegrityError, match="source models:/m/1: .*model.pkl"):
        registered["hook"].register_version("m", package)
    assert registry_state(registered["uri"]) == before
    assert not registered["marker"].exists()


def test_registering_from_a_version_keeps_its_manifest(registered: dict[str, Any]) -> None:
    package = ModelPackage(
        version_name="3.0.0",
        flavor="sklearn",
        artifact_sha256="copy",
        source_uri="models:/m/1",
        sample_input=pd.read_parquet(registered["paths"]["sample"]),
        tags={tags.VERSION_NAME: "3.0.0", tags.ARTIFACT_SHA256: "copy"},
    )
    copy, _ = registered["hook"].register_version("m", package)
    assert copy.tags[tags.MODEL_SHA256] == registered["version"].tags[tags.MODEL_SHA256]
    assert len(registered["hook"].load_model("m", copy.version).predict(make_data(3)[FEATURES])) == 3
    with pytest.raises(InvalidInputError, match="sample_input"):
        registered["hook"].register_version(
            "m", replace(package, version_name="3.0.1", sample_input=package.sample_input.assign(f1="x"))
        )
