"""The Snowflake lifecycle DAG, run with dag.test() against the scripted Snowflake account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_registry_provider import tags
from airflow_registry_provider.hooks.snowflake import METADATA_TAGS_KEY
from tests.conftest import REPO
from tests.snowflake.session_double import SnowflakeDouble

MODEL = "CUSTOMER_CHURN_PREDICTOR"


@pytest.fixture
def snowflake_dag(airflow_db: None) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "snowflake_model_lifecycle.py"))
    return bag.get_dag("snowflake_model_lifecycle")


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_lifecycle_on_snowflake_registers_gates_promotes_and_scores_in_the_warehouse(
    snowflake_dag: Any, snowflake_double: SnowflakeDouble, tmp_path: Path
) -> None:
    run = snowflake_dag.test(run_conf={"data_dir": str(tmp_path)})

    assert str(run.state) == "success", _states(run)
    model = snowflake_double.model(MODEL)
    version = model.versions["V1_0_0"]
    metadata = json.loads(version.metadata or "{}")
    assert metadata[METADATA_TAGS_KEY][tags.VERSION_NAME] == "1.0.0"
    assert metadata[METADATA_TAGS_KEY][tags.VALIDATION_STATUS] == "passed"
    assert version.aliases == ["CHAMPION"]
    assert model.default_version == "V1_0_0"
    sql = [" ".join(s.split()) for s in snowflake_double.statements("query")]
    assert any(s.startswith(f"CREATE MODEL ML.REGISTRY.{MODEL} WITH VERSION V1_0_0 FROM @") for s in sql)
    (scoring_sql,) = [s for s in sql if s.startswith("CREATE OR REPLACE TABLE CHURN_PREDICTIONS")]
    assert f"MODEL(ML.REGISTRY.{MODEL},V1_0_0)!PREDICT(" in scoring_sql
    assert "FROM CHURN_SCORING" in scoring_sql
    predictions = snowflake_double.schema_state().tables["CHURN_PREDICTIONS"].data
    assert len(predictions) == 5_000
    assert list(predictions.columns) == ["CUSTOMER_ID", "PREDICTION", "MODEL_NAME", "MODEL_VERSION"]
    # Least privilege: the consumer may score, the connection's role still owns the model.
    assert snowflake_double.model_grants(MODEL) == {("OWNERSHIP", "ML_ENGINEER"), ("USAGE", "DATA_SCIENTIST")}
    assert [s for s in sql if s.startswith("GRANT")] == [
        f'GRANT USAGE ON MODEL "ML"."REGISTRY"."{MODEL}" TO ROLE "DATA_SCIENTIST"'
    ]

    second = snowflake_dag.test(run_conf={"data_dir": str(tmp_path)})
    states = _states(second)
    assert "V1_0_1" in model.versions
    champion = next(v.name for v in model.versions.values() if "CHAMPION" in v.aliases)
    if states["promote_version"] == "success":
        assert champion == "V1_0_1"
        assert model.versions["V1_0_0"].aliases == ["PREVIOUS_CHAMPION"]
    else:
        assert (states["validate_metrics"], champion) == ("skipped", "V1_0_0")
    assert states["batch_inference"] == "success"
    assert states["grant_model"] == "success"  # the next run still works: nothing it needs was given away
    assert snowflake_double.model_grants(MODEL) == {("OWNERSHIP", "ML_ENGINEER"), ("USAGE", "DATA_SCIENTIST")}
