"""dags/environment_promotion.py across backends: DEV a sqlite MLflow registry, PRD Snowflake.

The environments file has two environments; PRD (the scripted account of
``tests/snowflake/session_double.py``, run in-process by dag.test()) needs no approval here,
so the whole route runs with dag.test(): the DEV champion is copied into Snowflake as a new
version with the MLflow signature, passes PRD's gate, becomes the default version holding
CHAMPION, and PRD's grants are applied as SQL the double records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from airflow_registry_provider import copying, integrity, tags
from airflow_registry_provider.governance.audit import parse_log
from airflow_registry_provider.hooks.base import ModelPackage
from airflow_registry_provider.hooks.snowflake import METADATA_TAGS_KEY
from tests.conftest import REPO
from tests.promotion.environments_fixtures import MODEL, THRESHOLDS, Registries, connection_env
from tests.snowflake.session_double import SnowflakeDouble

SF_MODEL = "CHURN"


def _environments(thresholds: dict[str, str]) -> dict[str, Any]:
    return {
        "environments": {
            "DEV": {"registry_conn_id": "mlflow_dev", "model_name": MODEL, "next": ["PRD"]},
            "PRD": {
                "registry_conn_id": "snowflake_default",
                "model_name": SF_MODEL,
                "checks": {"thresholds": thresholds},
                "grants": {"DATA_SCIENTIST": "USAGE"},
            },
        }
    }


def _dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, thresholds: dict[str, str]) -> Registries:
    """The DEV registry and an environments file DEV -> PRD (Snowflake) behind ARP_ENVIRONMENTS_FILE."""
    root = tmp_path / "registries"
    (root / "DEV").mkdir(parents=True)
    uris = {"DEV": f"sqlite:///{root / 'DEV' / 'mlflow.db'}"}
    file = root / "environments.yml"
    file.write_text(yaml.safe_dump(_environments(thresholds), sort_keys=False))
    for key, value in connection_env(uris).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ARP_ENVIRONMENTS_FILE", str(file))
    return Registries(root, uris, file, root / "unused.parquet")


def _run() -> tuple[Any, dict[str, str]]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "environment_promotion.py"))
    assert bag.import_errors == {}
    run = bag.dags["environment_promotion"].test()
    return run, {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _sql(double: SnowflakeDouble, *kinds: str) -> list[str]:
    return [" ".join(s.split()) for s in double.statements(*kinds)]


def _audit(double: SnowflakeDouble, version: str) -> list[Any]:
    metadata = json.loads(double.model(SF_MODEL).versions[version].metadata or "{}")
    return parse_log(metadata[METADATA_TAGS_KEY].get(tags.AUDIT_LOG))


def _promotions(double: SnowflakeDouble) -> list[str]:
    return [
        s for s in _sql(double, "query") if s.startswith("ALTER MODEL") and ("ALIAS" in s or "DEFAULT_VERSION" in s)
    ]


def test_the_mlflow_dev_champion_becomes_the_snowflake_prd_champion(
    airflow_db: None, snowflake_double: SnowflakeDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = _dev(tmp_path, monkeypatch, THRESHOLDS)
    source = dev.register("DEV", "1.0.0")
    run, states = _run()

    assert str(run.state) == "success", states
    assert {states[t] for t in ("PRD.copy", "PRD.validate", "PRD.promote", "PRD.grant")} == {"success"}
    model = snowflake_double.model(SF_MODEL)
    (name,) = model.versions
    version = model.versions[name]
    # The signature comes from the MLflow signature.
    inputs = version.model_spec["signatures"]["predict"]["inputs"]
    mlflow_inputs = dev.hook("DEV").input_schema(MODEL, source)
    assert mlflow_inputs is not None
    assert [(i["name"], i["type"]) for i in inputs] == copying.snowflake_feature_types(mlflow_inputs)
    metadata = json.loads(version.metadata or "{}")
    version_tags = metadata[METADATA_TAGS_KEY]
    assert version_tags[copying.COPIED_FROM_VERSION] == source
    assert version_tags[copying.COPIED_FROM_REGISTRY] == dev.uris["DEV"]
    assert version_tags[tags.VALIDATION_STATUS] == tags.VALIDATION_PASSED  # PRD's own gate
    # Promoted: CHAMPION and the default version, on Snowflake.
    assert version.aliases == ["CHAMPION"]
    assert model.default_version == name
    # Least privilege: USAGE for the consumer, no OWNERSHIP given away.
    grants = [s for s in _sql(snowflake_double, "query") if s.startswith("GRANT")]
    assert grants == [f'GRANT USAGE ON MODEL "ML"."REGISTRY"."{SF_MODEL}" TO ROLE "DATA_SCIENTIST"']
    assert not any("OWNERSHIP" in s for s in grants)
    assert snowflake_double.model_grants(SF_MODEL) == {("OWNERSHIP", "ML_ENGINEER"), ("USAGE", "DATA_SCIENTIST")}
    # The audit trail in Snowflake (on the version: model tags hold 256 characters) records
    # the copy, with its source, and the promotion.
    audit = _audit(snowflake_double, name)
    copies = [r for r in audit if r.action == "register"]
    assert len(copies) == 1 and copies[0].after["source"]["version"] == source
    assert copies[0].after["source"]["registry"] == dev.uris["DEV"]
    assert [r.after["alias"] for r in audit if r.action == "alias" and r.version == name] == ["CHAMPION"]

    # A second run finds the copy: no second version, no second copy record.
    snowflake_double.reset_log()
    again, states = _run()
    assert str(again.state) == "success", states
    assert list(snowflake_double.model(SF_MODEL).versions) == [name]
    assert not any(s.startswith("CREATE MODEL") or "ADD VERSION" in s for s in _sql(snowflake_double, "query"))
    assert len([r for r in _audit(snowflake_double, name) if r.action == "register"]) == 1


def test_a_failing_prd_gate_promotes_nothing_on_snowflake(
    airflow_db: None, snowflake_double: SnowflakeDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = _dev(tmp_path, monkeypatch, {"accuracy": ">= 0.99"})  # the version logged 0.95
    dev.register("DEV", "1.0.0")
    run, states = _run()

    assert str(run.state) == "failed"
    assert (states["PRD.copy"], states["PRD.validate"]) == ("success", "failed"), states
    assert {states["PRD.promote"], states["PRD.grant"]} == {"upstream_failed"}
    (version,) = snowflake_double.model(SF_MODEL).versions.values()
    assert version.aliases == []
    metadata = json.loads(version.metadata or "{}")
    assert metadata[METADATA_TAGS_KEY][tags.VALIDATION_STATUS] == tags.VALIDATION_REJECTED
    assert _promotions(snowflake_double) == []
    assert not any(s.startswith("GRANT") for s in _sql(snowflake_double, "query"))


def test_a_flavor_the_warehouse_cannot_serve_copies_nothing_into_snowflake(
    airflow_db: None, snowflake_double: SnowflakeDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc
    from mlflow.models import infer_signature
    from mlflow.pyfunc import PythonModel

    class Doubler(PythonModel):
        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            return model_input["f1"] * 2

    dev = _dev(tmp_path, monkeypatch, THRESHOLDS)
    frame = pd.DataFrame({"f1": [1.0, 2.0]})
    model_dir = tmp_path / "custom"
    mlflow.pyfunc.save_model(str(model_dir), python_model=Doubler(), signature=infer_signature(frame, frame["f1"]))
    package = ModelPackage(
        version_name="1.0.0",
        flavor="python_function",
        artifact_sha256=integrity.manifest_digest(integrity.file_manifest(model_dir)),
        source_uri=str(model_dir),
        tags={tags.VERSION_NAME: "1.0.0", tags.VALIDATION_STATUS: tags.VALIDATION_PASSED},
    )
    hook = dev.hook("DEV")
    version, _ = hook.register_version(MODEL, package)
    hook.set_alias(MODEL, "champion", version.version)
    run, states = _run()

    assert str(run.state) == "failed"
    assert states["PRD.copy"] == "failed", states
    assert {states[t] for t in ("PRD.validate", "PRD.promote", "PRD.grant")} == {"upstream_failed"}
    assert snowflake_double.writes() == []
    assert SF_MODEL not in snowflake_double.schema_state().models
