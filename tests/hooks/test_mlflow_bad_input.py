"""Bad input to the MLflow hook: the provider's typed error naming the field, and a registry
left exactly as it was (every table of the sqlite store, the store file's bytes, and every
file of the artifact tree), with no temp files left behind."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from airflow_registry_provider import tags
from airflow_registry_provider.artifacts import load_model_file, pinned_requirements, read_table_file
from airflow_registry_provider.exceptions import (
    CONFIGURATION_ERRORS,
    AliasNotFoundError,
    InvalidInputError,
    ModelNotFoundError,
    RegistryUnavailableError,
    VersionNotFoundError,
)
from airflow_registry_provider.hooks.base import ModelPackage
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from tests.helpers import make_model_files
from tests.hooks.mlflow_state import registry_state

CONN = "mlflow_bad_input"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sqlite registry holding model ``m`` (version 1, alias ``champion``) and a source model directory."""
    root = tmp_path_factory.mktemp("bad-input")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(
            f"AIRFLOW_CONN_{CONN.upper()}", json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri}})
        )
        hook = MlflowRegistryHook(CONN)
        paths = make_model_files(root)
        package = _package(paths, "1.0.0")
        version, _ = hook.register_version("m", package)
        hook.set_alias("m", "champion", version.version)
        source_dir = hook.download_model("m", version.version, str(root / "source"))
        yield {"uri": uri, "hook": hook, "package": package, "paths": paths, "source_dir": source_dir, "root": root}


def _package(paths: dict[str, str], version_name: str, **changes: Any) -> ModelPackage:
    model, flavor = load_model_file(paths["model"])
    package = ModelPackage(
        version_name=version_name,
        flavor=flavor,
        artifact_sha256=f"sha-{version_name}",
        model=model,
        sample_input=read_table_file(paths["sample"], "sample_input"),
        pip_requirements=pinned_requirements(flavor),
        metrics={"accuracy": 0.9},
        tags={tags.VERSION_NAME: version_name, tags.ARTIFACT_SHA256: f"sha-{version_name}"},
    )
    return replace(package, **changes)


def _register(**changes: Any) -> Callable[[dict[str, Any]], Any]:
    def call(r: dict[str, Any]) -> Any:
        package = r["package"]
        if "tags" in changes:
            changes["tags"] = {**package.tags, **changes["tags"]}
        return r["hook"].register_version(
            changes.pop("model_name", "m"), replace(package, version_name="2.0.0", **changes)
        )

    return call


def _source(kind: str) -> Callable[[dict[str, Any]], Any]:
    def call(r: dict[str, Any]) -> Any:
        uri = {
            "missing_model": "models:/nope/1",
            "missing_version": "models:/m/99",
            "missing_alias": "models:/m@ghost",
            "missing_run": "runs:/0123456789abcdef0123456789abcdef/model",
            "directory": r["source_dir"],
        }[kind]
        sample = read_table_file(r["paths"]["sample"], "sample_input")
        if kind == "directory":
            sample = sample.assign(f1="high")  # the signature says double
        package = ModelPackage(
            version_name="2.0.0",
            flavor="sklearn",
            artifact_sha256="x",
            source_uri=uri,
            sample_input=sample,
            tags={tags.VERSION_NAME: "2.0.0", tags.ARTIFACT_SHA256: "x"},
        )
        return r["hook"].register_version("m", package)

    return call


def _unscorable(r: dict[str, Any]) -> Any:
    sample = pd.DataFrame({"f1": ["a", "b"], "f2": [1.0, 2.0], "f3": [1.0, 2.0]})
    return _register(sample_input=sample)(r)


CASES: list[tuple[str, Callable[[dict[str, Any]], Any], type[Exception], str]] = [
    # registration: everything MLflow would refuse is checked before the first write
    ("metric name", _register(metrics={"bad name!": 1.0}), InvalidInputError, "metrics.bad name!"),
    ("metric path", _register(metrics={"../up": 1.0}), InvalidInputError, "metrics.../up"),
    ("metric nan", _register(metrics={"acc": math.nan}), InvalidInputError, "metrics.acc"),
    ("metric text", _register(metrics={"acc": "high"}), InvalidInputError, "metrics.acc"),
    ("metric too long", _register(metrics={"m" * 251: 1.0}), InvalidInputError, "metrics." + "m" * 251),
    ("tag key", _register(tags={"bad key!": "v"}), InvalidInputError, "tags.bad key!"),
    ("tag key path", _register(tags={"a/../b": "v"}), InvalidInputError, "tags.a/../b"),
    ("tag key length", _register(tags={"k" * 251: "v"}), InvalidInputError, "tags." + "k" * 251),
    ("tag value length", _register(tags={"big": "x" * 5001}), InvalidInputError, "tags.big"),
    ("tag value none", _register(tags={"none": None}), InvalidInputError, "tags.none"),
    ("prompt tag", _register(tags={"mlflow.prompt.is_prompt": "true"}), InvalidInputError, "tags"),
    ("description", _register(description="d" * 5001), InvalidInputError, "description"),
    ("sample cannot be scored", _unscorable, InvalidInputError, "sample_input"),
    ("save option", _register(options={"no_such_option": 1}), InvalidInputError, "backend_options"),
    ("model name", _register(model_name="bad/name"), InvalidInputError, "model_name"),
    (
        "version name",
        lambda r: r["hook"].register_version("m", replace(r["package"], version_name="1.0")),
        InvalidInputError,
        "version_name",
    ),
    ("source model", _source("missing_model"), InvalidInputError, "model"),
    ("source version", _source("missing_version"), InvalidInputError, "model"),
    ("source alias", _source("missing_alias"), InvalidInputError, "model"),
    ("source run", _source("missing_run"), InvalidInputError, "model"),
    ("source dtypes", _source("directory"), InvalidInputError, "sample_input"),
    ("describe model", lambda r: r["hook"].describe_source("models:/nope/1"), InvalidInputError, "model"),
    ("describe alias", lambda r: r["hook"].describe_source("models:/m@ghost"), InvalidInputError, "model"),
    (
        "describe run",
        lambda r: r["hook"].describe_source("runs:/0123456789abcdef0123456789abcdef/model"),
        InvalidInputError,
        "model",
    ),
    ("describe file", lambda r: r["hook"].describe_source(str(r["root"])), InvalidInputError, "model"),
    # reads and writes that name what does not exist
    ("model", lambda r: r["hook"].get_version("nope", "1"), ModelNotFoundError, "model_name"),
    ("version", lambda r: r["hook"].get_version("m", "99"), VersionNotFoundError, "version"),
    ("version id", lambda r: r["hook"].get_version("m", "abc"), VersionNotFoundError, "version"),
    ("alias", lambda r: r["hook"].get_version("m", alias="ghost"), AliasNotFoundError, "alias"),
    ("alias of no model", lambda r: r["hook"].get_version("nope", alias="champion"), ModelNotFoundError, "model_name"),
    (
        "alias holder of no model",
        lambda r: r["hook"].get_alias_version("nope", "champion"),
        ModelNotFoundError,
        "model_name",
    ),
    ("reserved alias", lambda r: r["hook"].get_alias_version("m", "latest"), InvalidInputError, "alias"),
    ("model tags", lambda r: r["hook"].get_model_tags("nope"), ModelNotFoundError, "model_name"),
    ("version tags", lambda r: r["hook"].get_version_tags("m", "99"), VersionNotFoundError, "version"),
    ("params", lambda r: r["hook"].get_version_params("nope", "1"), ModelNotFoundError, "model_name"),
    ("set alias version", lambda r: r["hook"].set_alias("m", "champion", "99"), VersionNotFoundError, "version"),
    ("set alias model", lambda r: r["hook"].set_alias("nope", "champion", "1"), ModelNotFoundError, "model_name"),
    ("set bad alias", lambda r: r["hook"].set_alias("m", "v1", "1"), InvalidInputError, "alias"),
    ("delete alias model", lambda r: r["hook"].delete_alias("nope", "champion"), ModelNotFoundError, "model_name"),
    (
        "version tag key",
        lambda r: r["hook"].set_version_tags("m", "1", {"bad key!": "v"}),
        InvalidInputError,
        "tags.bad key!",
    ),
    (
        "version tag value",
        lambda r: r["hook"].set_version_tags("m", "1", {"k": "x" * 5001}),
        InvalidInputError,
        "tags.k",
    ),
    (
        "version tag version",
        lambda r: r["hook"].set_version_tags("m", "99", {"k": "v"}),
        VersionNotFoundError,
        "version",
    ),
    ("model tag value", lambda r: r["hook"].set_model_tags("m", {"k": "x" * 5001}), InvalidInputError, "tags.k"),
    ("model tag model", lambda r: r["hook"].set_model_tags("nope", {"k": "v"}), ModelNotFoundError, "model_name"),
    (
        "log metric name",
        lambda r: r["hook"].log_metrics("m", "1", {"bad name!": 1.0}),
        InvalidInputError,
        "metrics.bad name!",
    ),
    ("log metric inf", lambda r: r["hook"].log_metrics("m", "1", {"acc": math.inf}), InvalidInputError, "metrics.acc"),
    ("log metric version", lambda r: r["hook"].log_metrics("m", "99", {"acc": 1.0}), VersionNotFoundError, "version"),
    ("set description", lambda r: r["hook"].set_description("m", "1", "d" * 5001), InvalidInputError, "description"),
    ("description version", lambda r: r["hook"].set_description("m", "99", "d"), VersionNotFoundError, "version"),
    (
        "stage version",
        lambda r: r["hook"].transition_stage("m", "99", "Staging", archive_existing=False),
        VersionNotFoundError,
        "version",
    ),
    ("delete version", lambda r: r["hook"].delete_version("m", "99"), VersionNotFoundError, "version"),
    (
        "stage value",
        lambda r: r["hook"].transition_stage("m", "1", "Bogus", archive_existing=False),
        InvalidInputError,
        "stage",
    ),
    ("alias version id", lambda r: r["hook"].set_alias("m", "champion", "abc"), VersionNotFoundError, "version"),
    ("tag version id", lambda r: r["hook"].set_version_tags("m", "1.0", {"k": "v"}), VersionNotFoundError, "version"),
    ("load version", lambda r: r["hook"].load_model("m", "99"), VersionNotFoundError, "version"),
    ("load model", lambda r: r["hook"].load_model("nope", "1"), ModelNotFoundError, "model_name"),
    ("schema version", lambda r: r["hook"].input_schema("m", "99"), VersionNotFoundError, "version"),
    ("native version", lambda r: r["hook"].load_native_model("m", "99"), VersionNotFoundError, "version"),
    (
        "artifact path",
        lambda r: r["hook"].download_artifact("m", "1", "../../etc/passwd", str(r["root"] / "dl")),
        InvalidInputError,
        "artifact_path",
    ),
    (
        "upload path",
        lambda r: r["hook"].upload_artifact("m", "1", r["paths"]["sample"], "/abs/x"),
        InvalidInputError,
        "artifact_path",
    ),
    (
        "upload version",
        lambda r: r["hook"].upload_artifact("m", "99", r["paths"]["sample"], "x.parquet"),
        VersionNotFoundError,
        "version",
    ),
    ("grants", lambda r: r["hook"].list_grants("m"), InvalidInputError, "registry_conn_id"),
]


@pytest.mark.parametrize(("name", "call", "error", "field"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_names_the_field_and_changes_nothing(
    registry: dict[str, Any], name: str, call: Callable[[dict[str, Any]], Any], error: type[Exception], field: str
) -> None:
    before = registry_state(registry["uri"])
    temp_before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(error) as raised:
        call(registry)
    assert isinstance(raised.value, CONFIGURATION_ERRORS)  # fails the task at once, no retry
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert registry_state(registry["uri"]) == before
    left = {p for p in set(os.listdir(tempfile.gettempdir())) - temp_before if p.startswith("arp-")}
    assert not left


def test_no_holder_is_none_not_an_error(registry: dict[str, Any]) -> None:
    assert registry["hook"].get_alias_version("m", "ghost") is None
    assert registry["hook"].get_alias_version("m", "champion").version == "1"


def test_a_locked_sqlite_store_is_retried_not_blamed_on_input(registry: dict[str, Any]) -> None:
    db = registry["uri"].removeprefix("sqlite:///")
    with closing(sqlite3.connect(db, timeout=0)) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(RegistryUnavailableError, match="locked") as raised:
                registry["hook"].set_version_tags("m", "1", {"k": "v"})
        finally:
            holder.rollback()
    assert not isinstance(raised.value, CONFIGURATION_ERRORS)


@pytest.mark.parametrize("case", ["missing file", "missing folder", "not mlflow"])
def test_connection_test_never_creates_a_database(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = {
        "missing file": tmp_path / "absent.db",
        "missing folder": tmp_path / "no" / "such" / "folder" / "mlflow.db",
        "not mlflow": tmp_path / "other.db",
    }[case]
    if case == "not mlflow":
        with closing(sqlite3.connect(path)) as db:
            db.execute("CREATE TABLE t (x)")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_T",
        json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": f"sqlite:///{path}"}}),
    )
    ok, message = MlflowRegistryHook("mlflow_t").test_connection()
    assert not ok
    expected = {
        "missing file": "does not exist (its folder",
        "missing folder": "does not exist either",
        "not mlflow": "not an MLflow registry",
    }
    assert expected[case] in message and str(path) in message
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_connection_test_on_a_registry(registry: dict[str, Any]) -> None:
    ok, message = registry["hook"].test_connection()
    assert ok and "Connected" in message


@pytest.mark.parametrize(
    ("extra", "key"),
    [({"max_retries": "many"}, "max_retries"), ({"timeout": 0}, "timeout"), ({"max_retries": -1}, "max_retries")],
)
def test_bad_connection_extras(monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], key: str) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_X",
        json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": "http://x:1", **extra}}),
    )
    with pytest.raises(InvalidInputError, match=f"registry_conn_id: .*{key}"):
        MlflowRegistryHook("mlflow_x").get_version("m", "1")
