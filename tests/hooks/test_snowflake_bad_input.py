"""Bad input fails with an error naming the field, and no SQL that changes anything is sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook
from tests.snowflake.fixtures import FEATURES, churn_frame, package, set_snowflake_connection
from tests.snowflake.session_double import SnowflakeDouble


def fails(call: Callable[[], Any], field: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as raised:
        call()
    assert raised.value.field == field, raised.value
    return raised.value


class ClipOutliers(BaseEstimator, TransformerMixin):
    """A custom transformer: its code is not in any warehouse package."""

    def fit(self, X: Any, y: Any = None) -> ClipOutliers:
        return self

    def transform(self, X: Any) -> Any:
        return X.clip(-1e6, 1e6)


@pytest.mark.parametrize("version_name", ["1.0-beta+x", "1.0.0-beta+x", "1.2.0 beta", "1 2 0", "v1", ""])
def test_version_names_that_cannot_become_identifiers(
    snowflake_double: SnowflakeDouble, churn_model: Any, version_name: str
) -> None:
    hook = SnowflakeRegistryHook()

    fails(lambda: hook.validate_version_name(version_name), "version_name")
    fails(lambda: hook.register_version("churn", package(churn_model, version_name)), "version_name")

    assert snowflake_double.log == []


@pytest.mark.parametrize("model_name", ["churn-model", "1churn", "my model", "db.schema.churn", ""])
def test_invalid_model_names(snowflake_double: SnowflakeDouble, churn_model: Any, model_name: str) -> None:
    hook = SnowflakeRegistryHook()

    fails(lambda: hook.register_version(model_name, package(churn_model)), "model_name")
    fails(lambda: hook.get_alias_version(model_name, "champion"), "model_name")

    assert snowflake_double.log == []


@pytest.mark.parametrize("alias", ["DEFAULT", "first", "Last", "champion-1", "two words"])
def test_reserved_or_invalid_aliases(registered: SnowflakeDouble, alias: str) -> None:
    hook = SnowflakeRegistryHook()

    fails(lambda: hook.set_alias("churn", alias, "V1_1_0"), "alias")
    fails(lambda: hook.get_alias_version("churn", alias), "alias")
    fails(lambda: hook.delete_alias("churn", alias), "alias")

    assert registered.log == []


def test_a_system_alias_is_not_a_version(registered: SnowflakeDouble) -> None:
    fails(lambda: SnowflakeRegistryHook().get_version("churn", "DEFAULT"), "version")
    assert registered.log == []


def test_a_missing_database_is_named(snowflake_double: SnowflakeDouble, churn_model: Any) -> None:
    error = fails(
        lambda: SnowflakeRegistryHook(database="analytics").register_version("churn", package(churn_model)), "database"
    )

    assert "ANALYTICS does not exist" in str(error)
    assert snowflake_double.writes() == []


def test_a_missing_schema_is_named(snowflake_double: SnowflakeDouble, churn_model: Any) -> None:
    error = fails(
        lambda: SnowflakeRegistryHook(schema="models").register_version("churn", package(churn_model)), "schema"
    )

    assert "ML.MODELS does not exist" in str(error)
    assert snowflake_double.writes() == []


def test_create_schema_does_not_try_to_create_a_schema_in_a_missing_database(snowflake_double: SnowflakeDouble) -> None:
    fails(lambda: SnowflakeRegistryHook(database="analytics", create_schema=True).registry, "database")

    assert snowflake_double.writes() == []


def test_a_connection_without_database_or_schema(
    snowflake_double: SnowflakeDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_snowflake_connection(monkeypatch, database="")
    fails(lambda: SnowflakeRegistryHook().registry, "database")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SNOWFLAKE_DEFAULT", json.dumps({"conn_type": "snowflake", "extra": {"database": "ML"}})
    )
    fails(lambda: SnowflakeRegistryHook().registry, "schema")

    assert snowflake_double.log == []


def test_a_missing_snowflake_connection(snowflake_double: SnowflakeDouble, churn_model: Any) -> None:
    error = fails(
        lambda: SnowflakeRegistryHook("snowflake_prod").register_version("churn", package(churn_model)),
        "registry_conn_id",
    )

    assert "'snowflake_prod' is not defined" in str(error)
    assert snowflake_double.log == []


def test_a_connection_of_another_type(snowflake_double: SnowflakeDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "mlflow_registry", "extra": {}}))

    fails(lambda: SnowflakeRegistryHook("mlflow_default").registry, "registry_conn_id")


@pytest.mark.parametrize(
    "description",
    ["Scored with $$ magic", "ends with a dollar $", "x$$; DROP MODEL ML.REGISTRY.CHURN; SELECT $$"],
)
def test_comments_that_would_break_out_of_dollar_quotes(
    registered: SnowflakeDouble, churn_model: Any, description: str
) -> None:
    hook = SnowflakeRegistryHook()

    fails(lambda: hook.register_version("churn", package(churn_model, "2.0.0", description=description)), "description")
    fails(lambda: hook.set_description("churn", "V1_1_0", description), "description")

    assert registered.writes() == []


def test_tags_and_metrics_that_would_break_out_of_dollar_quotes(registered: SnowflakeDouble, churn_model: Any) -> None:
    hook = SnowflakeRegistryHook()
    bad = package(churn_model, "2.0.0")
    bad.tags["note"] = "$$"

    fails(lambda: hook.register_version("churn", bad), "tags.note")
    fails(lambda: hook.set_version_tags("churn", "V1_1_0", {"reason": "a $$ b"}), "tags.reason")
    fails(lambda: hook.log_metrics("churn", "V1_1_0", {"$$": 1.0}), "metrics.$$")
    fails(lambda: hook.set_model_tags("churn", {"owner": "ml$$"}), "tags.owner")

    assert registered.writes() == []


def test_a_long_model_tag_that_is_not_a_history_is_refused(registered: SnowflakeDouble) -> None:
    fails(lambda: SnowflakeRegistryHook().set_model_tags("churn", {"notes": "x" * 300}), "tags.notes")

    assert registered.writes() == []


def test_a_model_type_the_warehouse_cannot_serve(snowflake_double: SnowflakeDouble, churn_model: Any) -> None:
    frame = churn_frame(100)
    custom = make_pipeline(ClipOutliers(), LogisticRegression()).fit(frame[FEATURES], frame["churned"])
    hook = SnowflakeRegistryHook()

    error = fails(lambda: hook.register_version("churn", package(custom)), "model")
    assert "ClipOutliers" in str(error)
    assert "SNOWPARK_CONTAINER_SERVICES" in str(error)
    fails(lambda: hook.register_version("churn", package(churn_model, flavor="pytorch")), "model")

    assert snowflake_double.writes() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sample_input": None}, "sample_input"),
        ({"model": None, "source_uri": "runs:/abc/model"}, "model"),
        ({"options": {"serialization_format": "cloudpickle"}}, "backend_options"),
        ({"options": {"target_platforms": ["GPU_CLUSTER"]}}, "backend_options.target_platforms"),
    ],
)
def test_registration_input_snowflake_cannot_use(
    snowflake_double: SnowflakeDouble, churn_model: Any, changes: dict[str, Any], field: str
) -> None:
    bad = package(churn_model)
    for name, value in changes.items():
        setattr(bad, name, value)

    fails(lambda: SnowflakeRegistryHook().register_version("churn", bad), field)

    assert snowflake_double.writes() == []


@pytest.mark.parametrize(
    ("source", "destination", "options", "field"),
    [
        ("scoring; DROP TABLE scoring", "scores", {}, "input_path"),
        ("SELECT * FROM scoring; DROP TABLE scoring", "scores", {}, "input_path"),
        ("/data/scoring.parquet", "scores", {}, "input_path"),
        ("scoring", "my scores", {}, "output_path"),
        ("scoring", "scores", {"prediction_column": "churn prediction"}, "prediction_column"),
        ("scoring", "scores", {"partition_column": "1region"}, "partition_column"),
    ],
)
def test_batch_inference_names(
    registered: SnowflakeDouble, source: str, destination: str, options: dict[str, Any], field: str
) -> None:
    hook = SnowflakeRegistryHook()
    version = hook.get_version("churn", "V1_1_0")

    fails(lambda: hook.batch_predict(version, source, destination, **options), field)

    assert registered.writes() == []


@pytest.mark.parametrize("artifact_path", ["../../etc/passwd", "reports/../../x", "/abs/path.txt", "a b.txt", ""])
def test_artifact_paths(registered: SnowflakeDouble, tmp_path: Any, artifact_path: str) -> None:
    local = tmp_path / "card.md"
    local.write_text("card")

    fails(
        lambda: SnowflakeRegistryHook().upload_artifact("churn", "V1_1_0", str(local), artifact_path), "artifact_path"
    )

    assert registered.writes() == []
