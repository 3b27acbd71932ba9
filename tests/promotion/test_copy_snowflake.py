"""CopyVersionOperator into Snowflake, on the scripted account (``tests/snowflake/session_double.py``).

* Snowflake → Snowflake (``ML.REGISTRY`` → ``ML.PRD``): one ``CREATE MODEL … FROM MODEL …``
  statement copies the files inside the account; the provider's metadata follows.
* MLflow → Snowflake: a scikit-learn version of a sqlite MLflow registry is loaded (after
  verification) and logged into Snowflake with the MLflow signature's columns and types.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import copying, integrity, tags
from airflow_registry_provider.exceptions import IntegrityError, InvalidInputError
from airflow_registry_provider.hooks.base import ModelPackage
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.hooks.snowflake import METADATA_TAGS_KEY
from airflow_registry_provider.operators.copy_version import CopyVersionOperator
from tests.conftest import set_mlflow_connection
from tests.helpers import FEATURES, make_data, make_model_files, task_context
from tests.hooks.test_mlflow_bad_input import _package
from tests.hooks.test_mlflow_integrity import stored_dir
from tests.snowflake.fixtures import CONNECTION
from tests.snowflake.session_double import SchemaState, SnowflakeDouble


def _sql(double: SnowflakeDouble) -> list[str]:
    return [" ".join(sql.split()) for sql in double.statements("query")]


def _metadata(double: SnowflakeDouble, model: str, version: str, schema: str) -> dict[str, Any]:
    return json.loads(double.model(model, schema=schema).versions[version].metadata or "{}")


@pytest.fixture
def prd(registered: SnowflakeDouble, monkeypatch: pytest.MonkeyPatch) -> SnowflakeDouble:
    """Schema ``ML.PRD`` beside ``ML.REGISTRY`` (same grants), behind connection ``sf_prd``."""
    registered.databases["ML"]["PRD"] = SchemaState()
    registered.acl.grants[("SCHEMA", "ML.PRD")] = set(registered.acl.grants[("SCHEMA", "ML.REGISTRY")])
    monkeypatch.setenv("AIRFLOW_CONN_SF_PRD", json.dumps({**CONNECTION, "schema": "PRD"}))
    registered.reset_log()
    return registered


def test_snowflake_to_snowflake_copies_inside_the_account(prd: SnowflakeDouble) -> None:
    source_ref = {"registry_conn_id": "snowflake_default", "model_name": "CHURN", "version": "V1_0_0"}
    result = CopyVersionOperator(task_id="copy", model_version=source_ref, target_registry_conn_id="sf_prd").execute(
        task_context()
    )

    assert result["copied"] is True
    assert (result["registry_conn_id"], result["model_name"], result["version"]) == ("sf_prd", "CHURN", "V1_0_0")
    assert result["uri"] == "snowflake://ML.PRD.CHURN/V1_0_0"
    assert result["source"]["uri"] == "snowflake://ML.REGISTRY.CHURN/V1_0_0"
    creates = [s for s in prd.writes() if s.startswith(("CREATE MODEL", "ALTER MODEL ML.PRD"))]
    assert creates[0] == "CREATE MODEL ML.PRD.CHURN WITH VERSION V1_0_0 FROM MODEL ML.REGISTRY.CHURN VERSION V1_0_0"
    assert not any(rt.kind == "put" for rt in prd.log)  # nothing uploaded: Snowflake copied the files

    source, copy = prd.model("CHURN").versions["V1_0_0"], prd.model("CHURN", schema="PRD").versions["V1_0_0"]
    assert copy.files == source.files
    assert copy.comment == "Churn classifier"
    document = _metadata(prd, "CHURN", "V1_0_0", "PRD")
    assert document["metrics"] == {"accuracy": 0.81, "roc_auc": 0.84}
    copied_tags = document[METADATA_TAGS_KEY]
    assert copied_tags[copying.COPIED_FROM_REGISTRY] == "snowflake-ml://acme-analytics/ML.REGISTRY"
    assert (copied_tags[copying.COPIED_FROM_MODEL], copied_tags[copying.COPIED_FROM_VERSION]) == ("CHURN", "V1_0_0")
    assert copied_tags[tags.DAG_ID] == "churn_model_lifecycle"  # training lineage travels
    manifest = json.loads(copied_tags[tags.MODEL_MANIFEST])
    assert manifest and all(path.startswith("model/") for path in manifest)

    # A retry finds the copy: no second version, no write.
    prd.reset_log()
    again = CopyVersionOperator(
        task_id="copy", model_version=result["source"], target_registry_conn_id="sf_prd"
    ).execute(task_context())
    assert again["copied"] is False and again["version"] == "V1_0_0"
    assert prd.writes() == []


def test_a_copy_whose_files_differ_is_dropped(prd: SnowflakeDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copied files are exported and checked; a difference drops the new version."""
    copied = SnowflakeDouble._copied_version

    def copy_then_tamper(self: SnowflakeDouble, model: Any, version_ref: str, *args: Any) -> None:
        copied(self, model, version_ref, *args)
        files = model.versions[version_ref].files
        name = next(p for p in files if p.startswith("model/models/"))
        files[name] = b"changed in the copy"

    monkeypatch.setattr(SnowflakeDouble, "_copied_version", copy_then_tamper)
    source_ref = {"registry_conn_id": "snowflake_default", "model_name": "CHURN", "version": "V1_1_0"}
    with pytest.raises(AirflowFailException, match="the copy .*sha256 differs") as info:
        CopyVersionOperator(task_id="copy", model_version=source_ref, target_registry_conn_id="sf_prd").execute(
            task_context()
        )
    assert isinstance(info.value.__cause__, IntegrityError)
    assert "CHURN" not in prd.schema_state(schema="PRD").models
    assert "DROP MODEL ML.PRD.CHURN" in prd.writes()  # it was the only version


@pytest.fixture
def mlflow_dev(tmp_path: Path) -> dict[str, Any]:
    """A sqlite MLflow registry ``dev`` holding version 1.0.0 of ``churn`` (scikit-learn)."""
    set_mlflow_connection("dev", f"sqlite:///{tmp_path / 'mlflow.db'}")
    hook = MlflowRegistryHook("dev")
    paths = make_model_files(tmp_path)
    version, _ = hook.register_version("churn", _package(paths, "1.0.0", description="churn v1"))
    hook.set_version_tags("churn", version.version, {"team": "risk"})
    return {"hook": hook, "version": hook.get_version("churn", version.version), "tmp": tmp_path}


def test_mlflow_to_snowflake_logs_the_estimator_with_the_mlflow_signature(
    snowflake_double: SnowflakeDouble, mlflow_dev: dict[str, Any]
) -> None:
    source = mlflow_dev["version"]
    result = CopyVersionOperator(
        task_id="copy", model_version=source.ref("dev"), target_registry_conn_id="snowflake_default"
    ).execute(task_context())

    assert result["copied"] is True
    assert (result["model_name"], result["version"], result["version_name"]) == ("CHURN", "V1_0_0", "1.0.0")
    writes = [" ".join(s.split()) for s in snowflake_double.writes()]
    assert any(re.match(r"^CREATE MODEL ML\.REGISTRY\.CHURN WITH VERSION V1_0_0 FROM @", s) for s in writes)
    assert any(rt.kind == "put" for rt in snowflake_double.log)  # the estimator's files, logged anew

    version = snowflake_double.model("CHURN").versions["V1_0_0"]
    inputs = version.model_spec["signatures"]["predict"]["inputs"]
    mlflow_inputs = mlflow_dev["hook"].input_schema("churn", source.version)
    assert [(i["name"], i["type"]) for i in inputs] == copying.snowflake_feature_types(mlflow_inputs)
    assert version.comment == "churn v1"
    document = json.loads(version.metadata)
    assert document["metrics"] == {"accuracy": 0.9}
    copied_tags = document[METADATA_TAGS_KEY]
    assert copied_tags["team"] == "risk" and copied_tags[tags.FLAVOR] == "sklearn"
    assert copied_tags[copying.COPIED_FROM_REGISTRY].startswith("sqlite:///")
    assert copied_tags[copying.COPIED_FROM_VERSION] == source.version

    # The copy scores like its source, in the warehouse.
    frame = make_data(20, seed=7)[FEATURES]
    expected = mlflow_dev["hook"].predict("churn", source.version, frame)
    from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook

    with SnowflakeRegistryHook() as target:
        assert list(target.predict("CHURN", "V1_0_0", frame)) == list(expected)


def test_flavors_a_warehouse_cannot_serve_are_refused_naming_the_flavor(
    snowflake_double: SnowflakeDouble, mlflow_dev: dict[str, Any]
) -> None:
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            return model_input["f1"] * 2

    frame = pd.DataFrame({"f1": [1.0, 2.0]})
    model_dir = mlflow_dev["tmp"] / "custom"
    mlflow.pyfunc.save_model(str(model_dir), python_model=Doubler(), signature=infer_signature(frame, frame["f1"]))
    package = ModelPackage(
        version_name="2.0.0",
        flavor="python_function",
        artifact_sha256=integrity.manifest_digest(integrity.file_manifest(model_dir)),
        source_uri=str(model_dir),
        tags={tags.VERSION_NAME: "2.0.0"},
    )
    custom, _ = mlflow_dev["hook"].register_version("custom", package)
    with pytest.raises(AirflowFailException, match=r"^model_version: .*python_function.*lightgbm, sklearn, xgboost"):
        CopyVersionOperator(
            task_id="copy", model_version=custom.ref("dev"), target_registry_conn_id="snowflake_default"
        ).execute(task_context())
    assert snowflake_double.writes() == []


def test_a_tampered_mlflow_source_is_refused_before_snowflake_sees_anything(
    snowflake_double: SnowflakeDouble, mlflow_dev: dict[str, Any]
) -> None:
    source = mlflow_dev["version"]
    (stored_dir(mlflow_dev["hook"].tracking_uri, "churn", source.version) / "model.pkl").write_bytes(b"tampered")
    with pytest.raises(AirflowFailException, match=r"model\.pkl \(sha256 differs\)") as info:
        CopyVersionOperator(
            task_id="copy", model_version=source.ref("dev"), target_registry_conn_id="snowflake_default"
        ).execute(task_context())
    assert isinstance(info.value.__cause__, IntegrityError)
    assert snowflake_double.writes() == []


def test_unsupported_routes_name_the_target(snowflake_double: SnowflakeDouble, mlflow_dev: dict[str, Any]) -> None:
    ref = {"registry_conn_id": "snowflake_default", "model_name": "CHURN", "version": "V1_0_0"}
    with pytest.raises(AirflowFailException, match="^target_registry_conn_id: cannot copy a snowflake version") as info:
        CopyVersionOperator(task_id="copy", model_version=ref, target_registry_conn_id="dev").execute(task_context())
    assert isinstance(info.value.__cause__, InvalidInputError)


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm"])
def test_gradient_boosting_flavors_copy_too(
    snowflake_double: SnowflakeDouble, mlflow_dev: dict[str, Any], flavor: str
) -> None:
    from airflow_registry_provider.artifacts import pinned_requirements
    from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook

    frame = make_data(300)
    if flavor == "xgboost":
        from xgboost import XGBClassifier

        estimator = XGBClassifier(n_estimators=5, max_depth=2).fit(frame[FEATURES], frame["label"])
    else:
        from lightgbm import LGBMClassifier

        estimator = LGBMClassifier(n_estimators=5, verbose=-1).fit(frame[FEATURES], frame["label"])
    package = ModelPackage(
        version_name="1.0.0",
        flavor=flavor,
        artifact_sha256=f"sha-{flavor}",
        model=estimator,
        sample_input=frame[FEATURES].head(5),
        pip_requirements=pinned_requirements(flavor),
        tags={tags.VERSION_NAME: "1.0.0", tags.ARTIFACT_SHA256: f"sha-{flavor}", tags.FLAVOR: flavor},
    )
    source, _ = mlflow_dev["hook"].register_version(flavor, package)
    snowflake_double.packages[flavor] = [__import__(flavor).__version__]  # in Snowflake's Anaconda channel
    result = CopyVersionOperator(
        task_id="copy", model_version=source.ref("dev"), target_registry_conn_id="snowflake_default"
    ).execute(task_context())

    version = snowflake_double.model(flavor.upper()).versions[result["version"]]
    assert version.model_spec["model_type"] == flavor
    assert json.loads(version.metadata)[METADATA_TAGS_KEY][tags.FLAVOR] == flavor
    sample = make_data(20, seed=9)[FEATURES]
    with SnowflakeRegistryHook() as target:  # loaded from the verified exported files (the double runs pickles only)
        copied = target.load_model(flavor.upper(), result["version"]).predict(sample)
    assert list(copied) == list(mlflow_dev["hook"].predict(flavor, source.version, sample))


def test_a_registry_in_another_account_is_refused(prd: SnowflakeDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    other = {**CONNECTION, "schema": "PRD", "extra": {**CONNECTION["extra"], "account": "other-account"}}
    monkeypatch.setenv("AIRFLOW_CONN_SF_OTHER", json.dumps(other))
    source_ref = {"registry_conn_id": "snowflake_default", "model_name": "CHURN", "version": "V1_0_0"}
    with pytest.raises(AirflowFailException, match="^target_registry_conn_id: Snowflake copies a version only"):
        CopyVersionOperator(task_id="copy", model_version=source_ref, target_registry_conn_id="sf_other").execute(
            task_context()
        )
    assert prd.writes() == []
