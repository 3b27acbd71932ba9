"""The pure copy core: lineage digest, carried tags, routes, flavors, signature types."""

from __future__ import annotations

import pytest

from airflow_registry_provider import copying, tags
from airflow_registry_provider.exceptions import InvalidInputError, UnsupportedOperationError


def test_the_source_digest_names_registry_model_and_version() -> None:
    source = copying.CopySource("http://dev:5000", "churn", "3")
    assert source.digest == copying.CopySource("http://dev:5000", "churn", "3").digest
    others = {
        copying.CopySource("http://sit:5000", "churn", "3").digest,
        copying.CopySource("http://dev:5000", "churn2", "3").digest,
        copying.CopySource("http://dev:5000", "churn", "4").digest,
        # no ambiguity from concatenation
        copying.CopySource("http://dev:5000", "churn3", "").digest,
    }
    assert source.digest not in others and len(others) == 4
    assert source.lineage_tags() == {
        copying.COPIED_FROM_REGISTRY: "http://dev:5000",
        copying.COPIED_FROM_MODEL: "churn",
        copying.COPIED_FROM_VERSION: "3",
        copying.COPY_SOURCE: source.digest,
    }


def test_only_what_describes_the_model_is_carried() -> None:
    source_tags = {
        "team": "risk",
        tags.VERSION_NAME: "1.2.0",
        tags.ARTIFACT_SHA256: "abc",
        tags.FLAVOR: "sklearn",
        tags.DAG_ID: "train",
        tags.TRAINING_DATA_SHA256: "{}",
        tags.MODEL_MANIFEST: "{}",
        tags.MODEL_SHA256: "d",
        tags.VALIDATION_STATUS: tags.VALIDATION_PASSED,
        tags.PROMOTED_BY: "alice",
        tags.AUDIT_LOG: "[]",
        tags.MODEL_CARD: "card.md",
        "mlflow.source.type": "JOB",
        **copying.CopySource("http://old", "m", "1").lineage_tags(),
    }
    assert copying.carried_tags(source_tags) == {
        "team": "risk",
        tags.VERSION_NAME: "1.2.0",
        tags.ARTIFACT_SHA256: "abc",
        tags.FLAVOR: "sklearn",
        tags.DAG_ID: "train",
        tags.TRAINING_DATA_SHA256: "{}",
    }


def test_routes() -> None:
    assert copying.route("mlflow", "mlflow") == copying.FILES
    assert copying.route("snowflake", "snowflake") == copying.SNOWFLAKE
    assert copying.route("mlflow", "snowflake") == copying.NATIVE
    with pytest.raises(UnsupportedOperationError, match="^target_registry_conn_id: cannot copy a snowflake version"):
        copying.route("snowflake", "mlflow")


@pytest.mark.parametrize(
    ("flavors", "chosen"),
    [
        (["python_function", "sklearn"], "sklearn"),
        (["xgboost", "python_function"], "xgboost"),
        (["lightgbm"], "lightgbm"),
    ],
)
def test_warehouse_flavors(flavors: list[str], chosen: str) -> None:
    assert copying.check_warehouse_flavor(flavors, "v1") == chosen


@pytest.mark.parametrize("flavors", [["python_function"], ["pytorch", "python_function"], ["transformers"], []])
def test_other_flavors_are_refused_naming_them(flavors: list[str]) -> None:
    with pytest.raises(InvalidInputError, match="^model_version: v1 has MLflow flavor") as info:
        copying.check_warehouse_flavor(flavors, "v1")
    for flavor in flavors:
        assert flavor in str(info.value)


def test_signature_types_map_to_snowflake() -> None:
    columns = [("a", "double"), ("b", "long"), ("c", "string"), ("d", "boolean"), ("e", "float"), ("f", "integer")]
    assert copying.snowflake_feature_types(columns) == [
        ("a", "DOUBLE"),
        ("b", "INT64"),
        ("c", "STRING"),
        ("d", "BOOL"),
        ("e", "FLOAT"),
        ("f", "INT32"),
    ]
    with pytest.raises(InvalidInputError, match="^model_version: input column 'g' has MLflow type 'Array"):
        copying.snowflake_feature_types([("g", "Array(double)")])


def test_every_mapped_type_is_a_snowflake_data_type() -> None:
    from mlflow.types import DataType as MlflowType
    from snowflake.ml.model.model_signature import DataType

    assert set(copying.MLFLOW_TO_SNOWFLAKE_TYPES) == {t.name for t in MlflowType}
    for member in copying.MLFLOW_TO_SNOWFLAKE_TYPES.values():
        assert DataType[member]
