"""The core operators on Snowflake: the same operator code, a ``snowflake`` connection id.

The operators run against the scripted account (``tests/snowflake/session_double.py``);
each test asserts the SQL they caused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import tags
from airflow_registry_provider.assets import MODEL_EVENTS_ALIAS
from airflow_registry_provider.governance.audit import parse_log
from airflow_registry_provider.hooks.snowflake import METADATA_TAGS_KEY
from airflow_registry_provider.operators import (
    BatchInferenceOperator,
    LogModelOperator,
    PromoteVersionOperator,
    ValidateMetricsOperator,
)
from tests.helpers import FEATURES, make_data, make_model_files, task_context
from tests.snowflake.session_double import SnowflakeDouble

CONN = "snowflake_default"


def _log(paths: dict[str, str], version_name: str = "1.0.0", **kwargs: Any) -> LogModelOperator:
    params: dict[str, Any] = {
        "task_id": "log_model",
        "registry_conn_id": CONN,
        "model_name": "churn",
        "model": paths["model"],
        "version_name": version_name,
        "sample_input": paths["sample"],
        "metrics": {"accuracy": 0.9},
        "training_data": [paths["train"]],
        "description": "LogisticRegression on f1..f3",
    }
    params.update(kwargs)
    return LogModelOperator(**params)


def _validate(ref: dict[str, Any], **kwargs: Any) -> ValidateMetricsOperator:
    return ValidateMetricsOperator(task_id="validate", registry_conn_id=CONN, model_version=ref, **kwargs)


def _promote(**kwargs: Any) -> PromoteVersionOperator:
    return PromoteVersionOperator(task_id="promote", registry_conn_id=CONN, **kwargs)


def _sql(double: SnowflakeDouble) -> list[str]:
    return [" ".join(sql.split()) for sql in double.statements("query")]


def _metadata(double: SnowflakeDouble, version: str) -> dict[str, Any]:
    return json.loads(double.model("CHURN").versions[version].metadata or "{}")


def test_log_model_registers_on_snowflake_with_lineage(snowflake_double: SnowflakeDouble, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    context = task_context()
    operator = _log(paths)

    ref = operator.execute(context)

    expected = {
        "registry_conn_id": CONN,
        "model_name": "CHURN",
        "version": "V1_0_0",
        "version_name": "1.0.0",
        "uri": "snowflake://ML.REGISTRY.CHURN/V1_0_0",
        "aliases": [],
    }
    assert ref == {**expected, "model_version": expected}  # the one XCom shape
    assert any(
        re.match(r"^CREATE MODEL ML\.REGISTRY\.CHURN WITH VERSION V1_0_0 FROM @", s) for s in _sql(snowflake_double)
    )
    stored = _metadata(snowflake_double, "V1_0_0")
    assert stored["metrics"] == {"accuracy": 0.9}
    assert stored[METADATA_TAGS_KEY][tags.TASK_ID] == "task"
    assert json.loads(stored[METADATA_TAGS_KEY][tags.TRAINING_DATA_SHA256])
    assert operator.registry_version_url == (
        "https://app.snowflake.com/acme/analytics/#/data/databases/ML/schemas/REGISTRY/model/CHURN/version/V1_0_0"
    )
    events = {asset.uri: extra for asset, extra in context["outlet_events"][MODEL_EVENTS_ALIAS].added}
    assert events["model-registry://snowflake_default/CHURN"]["version"] == "V1_0_0"

    snowflake_double.reset_log()
    assert _log(paths).execute(task_context()) == ref  # a retry reuses the version
    assert snowflake_double.writes() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version_name": "1.0-beta+x"}, "version_name"),
        ({"model_name": "churn model"}, "model_name"),
        ({"description": "use $$ wisely"}, "description"),
        ({"backend_options": {"target_platforms": ["GPU"]}}, "backend_options.target_platforms"),
        ({"registry_conn_id": "snowflake_missing"}, "registry_conn_id"),
    ],
)
def test_log_model_bad_input_fails_without_retry_and_sends_no_write(
    snowflake_double: SnowflakeDouble, tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(AirflowFailException, match=rf"^{re.escape(field)}: "):
        _log(make_model_files(tmp_path), **change).execute(task_context())
    assert snowflake_double.writes() == []


def test_gate_promote_rollback_and_batch_inference(snowflake_double: SnowflakeDouble, tmp_path: Path) -> None:
    paths = make_model_files(tmp_path)
    v1 = _log(paths, metrics={"accuracy": 0.80}).execute(task_context())

    # ValidateMetrics: the inference test runs the registered version in the warehouse.
    snowflake_double.reset_log()
    gate = _validate(
        v1,
        thresholds={"accuracy": ">= 0.7"},
        compare_to="champion",
        validation_data=paths["validation"],
        label_column="label",
    ).execute(task_context())
    assert gate["passed"]
    assert gate["metrics"]["accuracy"]["value"] > 0.9
    sql = _sql(snowflake_double)
    assert any("MODEL(ML.REGISTRY.CHURN,V1_0_0)!PREDICT(" in s for s in sql)
    assert len([s for s in sql if "SET METADATA=" in s]) == 1
    assert _metadata(snowflake_double, "V1_0_0")[METADATA_TAGS_KEY][tags.VALIDATION_STATUS] == "passed"

    # PromoteVersion: alias, default version, promotion tags with the move's audit record.
    snowflake_double.reset_log()
    first = _promote(model_version=v1, reason="first").execute(task_context())
    assert first["previous_version"] is None
    assert "ALTER MODEL ML.REGISTRY.CHURN VERSION V1_0_0 SET ALIAS = CHAMPION" in _sql(snowflake_double)
    # The first version is the default already: nothing to set.
    assert snowflake_double.model("CHURN").default_version == "V1_0_0"
    assert not [s for s in _sql(snowflake_double) if "SET DEFAULT_VERSION" in s]

    (tmp_path / "two").mkdir()
    v2 = _log(make_model_files(tmp_path / "two", seed=1), "1.0.1", metrics={"accuracy": 0.95}).execute(task_context())
    _validate(v2, thresholds={"accuracy": ">= 0.7"}, compare_to="champion").execute(task_context())
    second = _promote(model_version=v2, reason="better").execute(task_context(user="bob"))
    assert (second["version"], second["previous_version"]) == ("V1_0_1", "V1_0_0")
    versions = snowflake_double.model("CHURN").versions
    assert (versions["V1_0_0"].aliases, versions["V1_0_1"].aliases) == (["PREVIOUS_CHAMPION"], ["CHAMPION"])
    assert snowflake_double.model("CHURN").default_version == "V1_0_1"
    promoted = _metadata(snowflake_double, "V1_0_1")[METADATA_TAGS_KEY]
    assert (promoted[tags.PROMOTED_BY], promoted[tags.PROMOTION_REASON]) == ("bob", "better")
    assert "ALTER MODEL ML.REGISTRY.CHURN SET DEFAULT_VERSION = V1_0_1" in _sql(snowflake_double)
    moves = [r for r in parse_log(promoted[tags.AUDIT_LOG]) if r.action == "alias"]
    assert [(r.before, r.after) for r in moves] == [
        ({"alias": "CHAMPION", "version": "V1_0_0"}, {"alias": "CHAMPION", "version": "V1_0_1"})
    ]

    # BatchInference from a table, with the champion, in the warehouse.
    scoring = make_data(40, seed=7)[FEATURES].assign(customer_id=range(40))
    snowflake_double.add_table("SCORING", scoring)
    snowflake_double.reset_log()
    scored = BatchInferenceOperator(
        task_id="score", registry_conn_id=CONN, model_name="churn", input_path="SCORING", output_path="CHURN_SCORES"
    ).execute(task_context())
    assert scored["rows"] == 40
    assert scored["model_version"]["version"] == "V1_0_1"
    assert any(
        s.startswith("CREATE OR REPLACE TABLE CHURN_SCORES") and "MODEL(ML.REGISTRY.CHURN,V1_0_1)!PREDICT(" in s
        for s in _sql(snowflake_double)
    )
    table = snowflake_double.schema_state().tables["CHURN_SCORES"].data
    assert list(table.columns) == ["CUSTOMER_ID", "PREDICTION", "MODEL_NAME", "MODEL_VERSION"]

    # Rollback: one call puts the previous champion back.
    back = _promote(model_name="churn", rollback=True, reason="incident").execute(task_context())
    assert (back["version"], back["previous_version"]) == ("V1_0_0", "V1_0_1")
    assert (versions["V1_0_0"].aliases, versions["V1_0_1"].aliases) == (["CHAMPION"], ["PREVIOUS_CHAMPION"])
    assert snowflake_double.model("CHURN").default_version == "V1_0_0"


def test_promote_refuses_a_version_that_did_not_pass_validation(
    snowflake_double: SnowflakeDouble, tmp_path: Path
) -> None:
    v1 = _log(make_model_files(tmp_path)).execute(task_context())
    snowflake_double.reset_log()

    with pytest.raises(AirflowFailException, match="^model_version: .*has not passed"):
        _promote(model_version=v1).execute(task_context())
    assert snowflake_double.writes() == []


def test_batch_inference_from_a_query(snowflake_double: SnowflakeDouble, tmp_path: Path) -> None:
    v1 = _log(make_model_files(tmp_path)).execute(task_context())
    data = make_data(30, seed=3)
    snowflake_double.add_table("EVENTS", data)

    result = BatchInferenceOperator(
        task_id="score",
        registry_conn_id=CONN,
        model_version=v1,
        input_path="SELECT f1, f2, f3 FROM events",
        output_path="ml.registry.event_scores",
        prediction_column="churn_score",
    ).execute(task_context())

    assert result["output"] == "ML.REGISTRY.EVENT_SCORES"
    table = snowflake_double.schema_state().tables["EVENT_SCORES"].data
    from joblib import load

    expected = load(tmp_path / "model-0.joblib").predict(pd.DataFrame(data[FEATURES].to_numpy(), columns=FEATURES))
    np.testing.assert_array_equal(table["CHURN_SCORE"], expected)
