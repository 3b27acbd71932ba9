"""Bad input fails with an error naming the field, and no SQL that changes anything is sent."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from airflow_registry_provider.exceptions import (
    AliasNotFoundError,
    InvalidInputError,
    ModelNotFoundError,
    VersionConflictError,
    VersionNotFoundError,
)
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


# -- names Snowflake would not parse -----------------------------------------------------------------
@pytest.mark.parametrize("model_name", ["select", "TABLE", "order", "churn$$x", "churn$"])
def test_reserved_keywords_and_dollar_sequences_are_refused_as_model_names(
    snowflake_double: SnowflakeDouble, churn_model: Any, model_name: str
) -> None:
    hook = SnowflakeRegistryHook()

    fails(lambda: hook.register_version(model_name, package(churn_model)), "model_name")
    fails(lambda: hook.get_alias_version(model_name, "champion"), "model_name")

    assert snowflake_double.log == []


@pytest.mark.parametrize("alias", ["from", "Where", "LIKE", "x$$", "champion$"])
def test_reserved_keywords_and_dollar_sequences_are_refused_as_aliases(registered: SnowflakeDouble, alias: str) -> None:
    hook = SnowflakeRegistryHook()

    fails(lambda: hook.set_alias("churn", alias, "V1_1_0"), "alias")
    fails(lambda: hook.move_alias("churn", "champion", "V1_1_0", previous_alias=alias), "previous_alias")

    assert registered.log == []


@pytest.mark.parametrize("table", ["select", "ml.order.scores", "scores$"])
def test_reserved_keywords_are_refused_as_table_names(registered: SnowflakeDouble, table: str) -> None:
    hook = SnowflakeRegistryHook()
    version = hook.get_version("churn", "V1_1_0")

    fails(lambda: hook.batch_predict(version, "scoring", table), "output_path")
    fails(lambda: hook.batch_predict(version, "scoring", "scores", prediction_column="group"), "prediction_column")

    assert registered.writes() == []


def test_batch_output_cannot_be_its_input(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()
    fails(
        lambda: hook.batch_predict(hook.get_version("churn", "V1_1_0"), "scoring", "ML.REGISTRY.SCORING"), "output_path"
    )
    assert registered.writes() == []


@pytest.mark.parametrize("other", ["1.1.0-rc.1", "1.1.0-RC.1", "1.1.0-rc-1"])
def test_a_version_identifier_taken_by_another_semantic_version_is_refused(
    registered: SnowflakeDouble, churn_model: Any, other: str
) -> None:
    versions = registered.model("CHURN").versions
    taken = copy.deepcopy(versions["V1_1_0"])
    taken.name = "V1_1_0_RC_1"
    document = json.loads(taken.metadata)
    document["airflow_registry_tags"]["airflow_registry.version_name"] = "1.1.0-Rc.1"
    taken.metadata = json.dumps(document)
    versions["V1_1_0_RC_1"] = taken

    error = fails(
        lambda: SnowflakeRegistryHook().register_version("churn", package(churn_model, other)), "version_name"
    )

    assert isinstance(error, VersionConflictError)
    assert "V1_1_0_RC_1" in error.message
    assert "1.1.0-Rc.1" in error.message
    assert registered.writes() == []


# -- typed not-found errors (the same classes as on MLflow) ---------------------------------------------
def test_not_found_errors_are_typed(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()

    assert isinstance(fails(lambda: hook.get_version("churn", "V9_0_0"), "version"), VersionNotFoundError)
    assert isinstance(fails(lambda: hook.get_version("churn", "1.1.0-rc.9"), "version"), VersionNotFoundError)
    assert isinstance(fails(lambda: hook.get_version("nothing", "V1_0_0"), "model_name"), ModelNotFoundError)
    assert isinstance(fails(lambda: hook.get_version("churn", alias="champion"), "alias"), AliasNotFoundError)
    assert hook.get_alias_version("churn", "champion") is None
    assert isinstance(fails(lambda: hook.set_alias("churn", "champion", "V9_0_0"), "version"), VersionNotFoundError)
    assert isinstance(
        fails(lambda: hook.set_version_tags("churn", "V9_0_0", {"a": "b"}), "version"), VersionNotFoundError
    )
    assert isinstance(
        fails(lambda: hook.log_metrics("nothing", "V1_0_0", {"a": 1.0}), "model_name"), ModelNotFoundError
    )
    assert isinstance(fails(lambda: hook.get_model_tags("nothing"), "model_name"), ModelNotFoundError)
    assert isinstance(fails(lambda: hook.set_default_version("churn", "V9_0_0"), "version"), VersionNotFoundError)
    assert registered.writes() == []


# -- tags and metrics ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tags", "level", "field"),
    [
        ({'a"b': "x"}, "version", 'tags.a"b'),
        ({"": "x"}, "version", "tags."),
        ({"k" * 256: "x"}, "version", f"tags.{'k' * 256}"),
        ({"a$$b": "x"}, "version", "tags.a$$b"),
        ({"note": "a $$ b"}, "version", "tags.note"),
        ({"note": "x" * 100_001}, "version", "tags.note"),
        ({"note": "x" * 257}, "model", "tags.note"),
        ({"note": "ends with $"}, "model", "tags.note"),
    ],
)
def test_validate_tags_refuses_what_snowflake_would(
    snowflake_double: SnowflakeDouble, tags: dict[str, str], level: str, field: str
) -> None:
    fails(lambda: SnowflakeRegistryHook().validate_tags(tags, level=level), field)
    assert snowflake_double.log == []


def test_validate_tags_accepts_what_snowflake_stores(snowflake_double: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()
    assert hook.validate_tags({"team": "growth", "cost": 3}) == {"team": "growth", "cost": "3"}
    assert hook.validate_tags({"note": "ends with $"}) == {"note": "ends with $"}  # inside JSON a '$' is closed by '"'
    assert hook.validate_tags({"x": "y" * 256}, level="model") == {"x": "y" * 256}


@pytest.mark.parametrize(
    ("metrics", "field"),
    [
        ({"accuracy": float("nan")}, "metrics.accuracy"),
        ({"accuracy": float("inf")}, "metrics.accuracy"),
        ({"accuracy": "high"}, "metrics.accuracy"),
        ({"a$$": 1.0}, "metrics.a$$"),
        ({"": 1.0}, "metrics."),
    ],
)
def test_validate_metrics_refuses_what_snowflake_would(
    registered: SnowflakeDouble, metrics: dict[str, Any], field: str
) -> None:
    hook = SnowflakeRegistryHook()
    fails(lambda: hook.validate_metrics(metrics), field)
    fails(lambda: hook.log_metrics("churn", "V1_1_0", metrics), field)
    assert registered.writes() == []


# -- dependencies the warehouse cannot install -----------------------------------------------------------
def test_a_dependency_missing_from_the_anaconda_channel_is_named_before_logging(
    snowflake_double: SnowflakeDouble, churn_model: Any
) -> None:
    del snowflake_double.packages["scipy"]

    error = fails(
        lambda: SnowflakeRegistryHook().register_version("churn", package(churn_model)),
        "backend_options.conda_dependencies",
    )

    assert "scipy" in error.message
    assert "INFORMATION_SCHEMA.PACKAGES" in error.message
    assert snowflake_double.writes() == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"relax_version": "yes"}, "backend_options.relax_version"),
        ({"conda_dependencies": "scikit-learn"}, "backend_options.conda_dependencies"),
        ({"conda_dependencies": ["scikit-learn=='; DROP"]}, "backend_options.conda_dependencies"),
        (
            {"pip_requirements": [""], "target_platforms": ["SNOWPARK_CONTAINER_SERVICES"]},
            "backend_options.pip_requirements",
        ),
    ],
)
def test_backend_options_snowflake_cannot_use(
    snowflake_double: SnowflakeDouble, churn_model: Any, options: dict[str, Any], field: str
) -> None:
    fails(lambda: SnowflakeRegistryHook().register_version("churn", package(churn_model, options=options)), field)
    assert snowflake_double.writes() == []
