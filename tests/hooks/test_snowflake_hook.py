"""SnowflakeRegistryHook on the real snowflake-ml-python code over the scripted account.

Every test asserts the SQL the operation sent (``SnowflakeDouble.log``).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError, ModelNotFoundError, VersionConflictError
from airflow_registry_provider.hooks.base import get_registry_hook
from airflow_registry_provider.hooks.snowflake import METADATA_TAGS_KEY, SnowflakeRegistryHook
from tests.snowflake.fixtures import FEATURES, churn_frame, package, set_snowflake_connection
from tests.snowflake.session_double import SnowflakeDouble

MODEL = "ML.REGISTRY.CHURN"


def queries(double: SnowflakeDouble) -> list[str]:
    return [" ".join(sql.split()) for sql in double.statements("query")]


def matching(double: SnowflakeDouble, pattern: str) -> list[str]:
    return [sql for sql in queries(double) if re.search(pattern, sql)]


def metadata(double: SnowflakeDouble, version: str) -> dict[str, Any]:
    return json.loads(double.model("CHURN").versions[version].metadata or "{}")


# -- registration ------------------------------------------------------------------------
def test_register_creates_the_model_with_version_comment_and_one_metadata_write(
    snowflake_double: SnowflakeDouble, churn_model: Any
) -> None:
    hook = get_registry_hook("snowflake_default")
    assert isinstance(hook, SnowflakeRegistryHook)

    version, created = hook.register_version("churn", package(churn_model))

    assert created
    assert matching(
        snowflake_double, r"^CREATE MODEL ML\.REGISTRY\.CHURN WITH VERSION V1_2_0 FROM @ML\.REGISTRY\.\w+/model$"
    )
    assert matching(
        snowflake_double,
        r"^ALTER MODEL ML\.REGISTRY\.CHURN MODIFY VERSION V1_2_0 SET COMMENT=\$\$Churn classifier\$\$$",
    )
    (write,) = matching(snowflake_double, r"SET METADATA=")
    document = json.loads(write.split("SET METADATA=$$", 1)[1].removesuffix("$$"))
    assert document["metrics"] == {"accuracy": 0.81, "roc_auc": 0.84}
    assert document[METADATA_TAGS_KEY][tag_keys.VERSION_NAME] == "1.2.0"
    assert document[METADATA_TAGS_KEY][tag_keys.ARTIFACT_SHA256] == "a" * 64
    assert version.version == "V1_2_0"
    assert version.version_name == "1.2.0"
    assert version.model_name == "CHURN"
    assert version.uri == "snowflake://ML.REGISTRY.CHURN/V1_2_0"
    assert version.metrics == {"accuracy": 0.81, "roc_auc": 0.84}
    assert version.tags[tag_keys.DAG_ID] == "churn_model_lifecycle"
    assert version.description == "Churn classifier"


def test_register_logs_for_the_warehouse_with_sample_input_and_pinned_conda_dependencies(
    snowflake_double: SnowflakeDouble, churn_model: Any
) -> None:
    from importlib.metadata import version as installed

    SnowflakeRegistryHook().register_version("churn", package(churn_model))

    files = snowflake_double.model("CHURN").versions["V1_2_0"].files
    manifest = yaml.safe_load(files["MANIFEST.yml"])
    spec = yaml.safe_load(files["model/model.yaml"])
    conda = yaml.safe_load(files["model/env/conda.yml"])
    assert manifest["target_platforms"] == ["WAREHOUSE"]
    assert [f["name"] for f in spec["signatures"]["predict"]["inputs"]] == FEATURES  # from sample_input
    assert f"scikit-learn=={installed('scikit-learn')}" in conda["dependencies"]
    assert not any(str(dep).startswith("mlflow") for dep in conda["dependencies"])
    assert "model/sample_input_data.json" in files


def test_register_on_request_for_container_services_uses_pip_requirements(
    snowflake_double: SnowflakeDouble, churn_model: Any
) -> None:
    hook = SnowflakeRegistryHook()
    hook.register_version("churn", package(churn_model, options={"target_platforms": ["SNOWPARK_CONTAINER_SERVICES"]}))

    files = snowflake_double.model("CHURN").versions["V1_2_0"].files
    assert yaml.safe_load(files["MANIFEST.yml"])["target_platforms"] == ["SNOWPARK_CONTAINER_SERVICES"]
    assert "scikit-learn==" in files["model/env/requirements.txt"].decode()


def test_a_second_version_is_added_to_the_existing_model(registered: SnowflakeDouble, churn_model: Any) -> None:
    version, created = SnowflakeRegistryHook().register_version("CHURN", package(churn_model, "1.2.0-rc.1"))

    assert created
    assert version.version == "V1_2_0_RC_1"
    assert matching(registered, r"^ALTER MODEL ML\.REGISTRY\.CHURN ADD VERSION V1_2_0_RC_1 FROM @")
    assert not matching(registered, r"^CREATE MODEL")


def test_find_version_is_one_show_versions_like_with_the_converted_name(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()
    hook.registry  # noqa: B018 - open the registry first: only find_version's statements are counted
    registered.reset_log()

    found = hook.find_version("churn", "1.1.0")

    # The model's row (existence and owner, needed by the registration that follows), then the version.
    assert queries(registered) == [
        "SHOW MODELS LIKE 'CHURN' IN SCHEMA ML.REGISTRY",
        "SHOW VERSIONS LIKE 'V1_1_0' IN MODEL ML.REGISTRY.CHURN",
    ]
    assert found is not None
    assert found.version == "V1_1_0"
    assert found.tags[tag_keys.ARTIFACT_SHA256] == "2" * 64
    assert hook.find_version("churn", "9.9.9") is None
    assert hook.find_version("new_model", "1.0.0") is None


def test_find_version_ignores_names_the_like_wildcard_also_matches(registered: SnowflakeDouble) -> None:
    versions = registered.model("CHURN").versions
    versions["V1X2Y0"] = copy.deepcopy(versions["V1_1_0"])
    versions["V1X2Y0"].name = "V1X2Y0"

    assert SnowflakeRegistryHook().find_version("churn", "1.2.0") is None  # LIKE 'V1_2_0' matches V1X2Y0


def test_a_retry_with_the_same_artifact_reuses_the_version_and_writes_nothing(
    registered: SnowflakeDouble, churn_model: Any
) -> None:
    version, created = SnowflakeRegistryHook().register_version("churn", package(churn_model, "1.1.0", "2" * 64))

    assert not created
    assert version.version == "V1_1_0"
    assert registered.writes() == []


def test_the_same_version_name_with_another_artifact_is_refused(registered: SnowflakeDouble, churn_model: Any) -> None:
    with pytest.raises(VersionConflictError, match="never overwritten"):
        SnowflakeRegistryHook().register_version("churn", package(churn_model, "1.1.0", "f" * 64))
    assert registered.writes() == []


# -- reads -------------------------------------------------------------------------------------
def test_get_version_reads_metadata_comment_and_user_aliases(registered: SnowflakeDouble) -> None:
    registered.model("CHURN").versions["V1_0_0"].aliases.append("CHAMPION")

    version = SnowflakeRegistryHook().get_version("churn", "V1_0_0")

    assert version.aliases == ("CHAMPION",)  # DEFAULT and FIRST are Snowflake's, not ours
    assert version.version_name == "1.0.0"
    assert version.metrics == {"accuracy": 0.81, "roc_auc": 0.84}
    assert version.created_at is not None
    assert SnowflakeRegistryHook().get_version("churn", "1.0.0").version == "V1_0_0"  # semantic names convert
    with pytest.raises(InvalidInputError) as missing:
        SnowflakeRegistryHook().get_version("churn", "V9_0_0")
    assert missing.value.field == "version"


def test_reads_in_one_hook_share_one_versions_listing(registered: SnowflakeDouble) -> None:
    registered.model("CHURN").versions["V1_0_0"].aliases.append("CHAMPION")
    hook = SnowflakeRegistryHook()

    hook.get_version("churn", "V1_1_0")
    champion = hook.get_alias_version("churn", "champion")
    again = hook.get_alias_version("churn", "champion")
    hook.get_version("churn", "V1_0_0")

    assert champion == again
    assert champion is not None
    assert champion.version == "V1_0_0"
    assert len(matching(registered, r"^SHOW VERSIONS IN MODEL ML\.REGISTRY\.CHURN$")) == 1
    assert not matching(registered, r"^SHOW MODELS")


def test_a_write_drops_the_cached_listing(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()
    assert hook.get_alias_version("churn", "champion") is None

    hook.set_alias("churn", "champion", "V1_1_0")

    champion = hook.get_alias_version("churn", "champion")
    assert champion is not None
    assert champion.version == "V1_1_0"
    assert len(matching(registered, r"^SHOW VERSIONS IN MODEL")) == 2


def test_get_alias_version_of_a_model_that_does_not_exist_raises_model_not_found(
    snowflake_double: SnowflakeDouble,
) -> None:
    with pytest.raises(ModelNotFoundError) as missing:
        SnowflakeRegistryHook().get_alias_version("nothing_here", "champion")
    assert missing.value.field == "model_name"
    assert snowflake_double.writes() == []


def test_iter_versions_newest_first_and_next_version_name(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()

    assert [v.version for v in hook.iter_versions("churn")] == ["V1_1_0", "V1_0_0"]
    assert hook.next_version_name("churn") == "1.1.1"
    assert hook.next_version_name("brand_new") == "1.0.0"


# -- promotion -----------------------------------------------------------------------------------
def test_set_alias_and_default_version_send_alter_model(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()

    hook.set_alias("churn", "champion", "V1_1_0")
    hook.set_default_version("churn", "V1_1_0")

    assert matching(registered, r"^ALTER MODEL ML\.REGISTRY\.CHURN VERSION V1_1_0 SET ALIAS = CHAMPION$")
    assert matching(registered, r"^ALTER MODEL ML\.REGISTRY\.CHURN SET DEFAULT_VERSION = V1_1_0$")
    assert registered.model("CHURN").default_version == "V1_1_0"
    assert hook.has_default_version


def test_moving_an_alias_unsets_it_first_and_the_previous_holder_can_take_another(registered: SnowflakeDouble) -> None:
    registered.model("CHURN").versions["V1_0_0"].aliases.append("CHAMPION")
    hook = SnowflakeRegistryHook()

    # What PromoteVersionOperator does: the previous holder keeps previous_champion.
    hook.set_alias("churn", "previous_champion", "V1_0_0")
    hook.set_alias("churn", "champion", "V1_1_0")

    versions = registered.model("CHURN").versions
    assert versions["V1_0_0"].aliases == ["PREVIOUS_CHAMPION"]
    assert versions["V1_1_0"].aliases == ["CHAMPION"]
    assert registered.writes() == [
        "ALTER MODEL ML.REGISTRY.CHURN VERSION V1_0_0 UNSET ALIAS",
        "ALTER MODEL ML.REGISTRY.CHURN VERSION V1_0_0 SET ALIAS = PREVIOUS_CHAMPION",
        "ALTER MODEL ML.REGISTRY.CHURN VERSION V1_1_0 SET ALIAS = CHAMPION",
    ]


def test_rollback_swaps_the_two_aliases(registered: SnowflakeDouble) -> None:
    versions = registered.model("CHURN").versions
    versions["V1_0_0"].aliases.append("PREVIOUS_CHAMPION")
    versions["V1_1_0"].aliases.append("CHAMPION")
    hook = SnowflakeRegistryHook()

    hook.set_alias("churn", "previous_champion", "V1_1_0")
    hook.set_alias("churn", "champion", "V1_0_0")

    assert versions["V1_0_0"].aliases == ["CHAMPION"]
    assert versions["V1_1_0"].aliases == ["PREVIOUS_CHAMPION"]


def test_setting_an_alias_the_version_already_holds_sends_nothing(registered: SnowflakeDouble) -> None:
    registered.model("CHURN").versions["V1_1_0"].aliases.append("CHAMPION")

    SnowflakeRegistryHook().set_alias("churn", "champion", "V1_1_0")

    assert registered.writes() == []


def test_delete_alias(registered: SnowflakeDouble) -> None:
    registered.model("CHURN").versions["V1_1_0"].aliases.append("CHALLENGER")
    hook = SnowflakeRegistryHook()

    hook.delete_alias("churn", "challenger")
    hook.delete_alias("churn", "challenger")  # already gone: nothing to send

    assert registered.writes() == ["ALTER MODEL ML.REGISTRY.CHURN VERSION V1_1_0 UNSET ALIAS"]


# -- metadata ------------------------------------------------------------------------------------------
def test_version_tags_are_one_read_and_one_metadata_write(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()
    hook.registry  # noqa: B018
    registered.reset_log()

    hook.set_version_tags(
        "churn", "V1_1_0", {tag_keys.VALIDATION_STATUS: "passed", tag_keys.VALIDATION_AT: "2026-01-01T00:00:00"}
    )

    # The owner check (SHOW MODELS), the version's current metadata, the write.
    assert queries(registered)[:2] == [
        "SHOW MODELS LIKE 'CHURN' IN SCHEMA ML.REGISTRY",
        "SHOW VERSIONS LIKE 'V1_1_0' IN MODEL ML.REGISTRY.CHURN",
    ]
    assert len(queries(registered)) == 3
    stored = metadata(registered, "V1_1_0")
    assert stored[METADATA_TAGS_KEY][tag_keys.VALIDATION_STATUS] == "passed"
    assert stored[METADATA_TAGS_KEY][tag_keys.VERSION_NAME] == "1.1.0"  # merged, not replaced
    assert stored["metrics"] == {"accuracy": 0.81, "roc_auc": 0.84}


def test_log_metrics_merges_all_metrics_in_one_write_the_library_reads_back(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()

    hook.log_metrics("churn", "V1_1_0", {"f1": 0.7, "log_loss": 0.45, "accuracy": 0.83})

    assert len(matching(registered, r"SET METADATA=")) == 1
    library_view = hook._model_version("CHURN", "V1_1_0").show_metrics()
    assert library_view == {"accuracy": 0.83, "roc_auc": 0.84, "f1": 0.7, "log_loss": 0.45}


def test_set_description(registered: SnowflakeDouble) -> None:
    SnowflakeRegistryHook().set_description("churn", "V1_1_0", "Retrained on Q3 data")

    assert registered.writes() == [
        "ALTER MODEL ML.REGISTRY.CHURN MODIFY VERSION V1_1_0 SET COMMENT=$$Retrained on Q3 data$$"
    ]


def test_model_tags_are_snowflake_tags_in_the_registry_schema(registered: SnowflakeDouble) -> None:
    hook = SnowflakeRegistryHook()

    hook.set_model_tags("churn", {tag_keys.ARCHIVED: "false", "team": "growth"})
    hook.set_model_tags("churn", {"team": "retention"})

    assert matching(registered, r'^CREATE TAG IF NOT EXISTS ML\.REGISTRY\."airflow_registry\.archived"$')
    assert len(matching(registered, r'^CREATE TAG IF NOT EXISTS ML\.REGISTRY\."team"$')) == 1
    assert matching(registered, r'^ALTER MODEL ML\.REGISTRY\.CHURN SET TAG ML\.REGISTRY\."team" = \$\$retention\$\$$')
    assert hook.get_model_tags("churn") == {tag_keys.ARCHIVED: "false", "team": "retention"}


def test_a_long_history_tag_keeps_its_newest_entries(registered: SnowflakeDouble) -> None:
    history = [{"alias": "CHAMPION", "version": f"V1_{i}_0", "reason": "passed the gate"} for i in range(20)]

    SnowflakeRegistryHook().set_model_tags("churn", {tag_keys.ALIAS_HISTORY: json.dumps(history)})

    stored = json.loads(SnowflakeRegistryHook().get_model_tags("churn")[tag_keys.ALIAS_HISTORY])
    assert 0 < len(stored) < 20
    assert stored[-1]["version"] == "V1_19_0"


# -- inference -------------------------------------------------------------------------------------------
def test_predict_runs_the_registered_version_in_the_warehouse(registered: SnowflakeDouble, churn_model: Any) -> None:
    data = churn_frame(30, seed=7)[FEATURES]

    predictions = SnowflakeRegistryHook().predict("churn", "V1_1_0", data)

    np.testing.assert_array_equal(predictions, churn_model.predict(data))
    assert matching(registered, r"MODEL\(ML\.REGISTRY\.CHURN,V1_1_0\)!PREDICT\(")


def test_input_schema_comes_from_the_predict_function_signature(registered: SnowflakeDouble) -> None:
    schema = SnowflakeRegistryHook().input_schema("churn", "V1_0_0")

    assert schema == [("tenure_months", "double"), ("monthly_spend", "double"), ("support_tickets", "double")]
    assert matching(registered, r"^SHOW FUNCTIONS IN MODEL ML\.REGISTRY\.CHURN VERSION V1_0_0$")


def test_batch_predict_from_a_table_runs_in_the_warehouse_and_saves_a_table(
    registered: SnowflakeDouble, churn_model: Any
) -> None:
    scoring = churn_frame(50, seed=3)[FEATURES].assign(customer_id=range(50))
    registered.add_table("SCORING", scoring)
    hook = SnowflakeRegistryHook()
    version = hook.get_version("churn", "V1_1_0")
    registered.reset_log()

    summary = hook.batch_predict(version, "scoring", "ml.registry.churn_scores", prediction_column="churn_pred")

    assert summary["rows"] == 50
    assert summary["output"] == "ML.REGISTRY.CHURN_SCORES"
    (ctas,) = matching(registered, r"^CREATE OR REPLACE TABLE ML\.REGISTRY\.CHURN_SCORES")
    assert "MODEL(ML.REGISTRY.CHURN,V1_1_0)!PREDICT(" in ctas
    assert "FROM SCORING" in ctas
    # No input row reaches the worker: the only query that returns rows is the COUNT.
    fetched = [q for q in queries(registered) if q.startswith(("SELECT", "WITH"))]
    assert fetched == ['SELECT count(1) AS "COUNT(LITERAL())" FROM ( SELECT * FROM ML.REGISTRY.CHURN_SCORES) LIMIT 1']
    table = registered.schema_state().tables["CHURN_SCORES"].data
    assert list(table.columns) == ["CUSTOMER_ID", "CHURN_PRED", "MODEL_NAME", "MODEL_VERSION"]
    np.testing.assert_array_equal(table["CHURN_PRED"], churn_model.predict(scoring[FEATURES]))
    assert set(table["MODEL_VERSION"]) == {"V1_1_0"}


def test_batch_predict_from_a_query_with_partition_column_and_append_mode(
    registered: SnowflakeDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_snowflake_connection(monkeypatch, batch_write_mode="append")
    registered.add_table("SCORING", churn_frame(20, seed=4)[FEATURES].assign(region=["EU", "US"] * 10))
    registered.add_table("SCORES", registered.schema_state().tables["SCORING"].data.iloc[:0])
    hook = SnowflakeRegistryHook()
    version = hook.get_version("churn", "V1_0_0")

    summary = hook.batch_predict(version, "SELECT * FROM SCORING", "SCORES", partition_column="region")

    assert summary["mode"] == "append"
    assert matching(registered, r"^INSERT INTO SCORES .*MODEL\(ML\.REGISTRY\.CHURN,V1_0_0\)!PREDICT\(")
    assert "REGION" in registered.schema_state().tables["SCORES"].data.columns


# -- artifacts, UI, connection ----------------------------------------------------------------------------
def test_artifacts_round_trip_through_the_model_artifacts_stage(registered: SnowflakeDouble, tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    card.write_text("# Churn model card\n")
    hook = SnowflakeRegistryHook()

    uri = hook.upload_artifact("churn", "V1_1_0", str(card), "reports/model_card.md")
    hook.upload_artifact("churn", "V1_1_0", str(card), "reports/copy.md")
    local = hook.download_artifact("churn", "V1_1_0", "reports/model_card.md", str(tmp_path / "out"))

    assert uri == "@ML.REGISTRY.MODEL_ARTIFACTS/CHURN/V1_1_0/reports/model_card.md"
    assert Path(local) == tmp_path / "out" / "reports" / "model_card.md"
    assert Path(local).read_text() == "# Churn model card\n"
    assert len(matching(registered, r"^CREATE STAGE IF NOT EXISTS ML\.REGISTRY\.MODEL_ARTIFACTS")) == 1
    with pytest.raises(InvalidInputError) as missing:
        hook.download_artifact("churn", "V1_1_0", "reports/none.md", str(tmp_path))
    assert missing.value.field == "artifact_path"


@pytest.mark.parametrize(
    ("extra", "url"),
    [
        (
            {"account": "acme-analytics"},
            "https://app.snowflake.com/acme/analytics/#/data/databases/ML/schemas/REGISTRY/model/CHURN/version/V1_0_0",
        ),
        (
            {"account": "xy12345.eu-central-1"},
            "https://app.snowflake.com/eu-central-1/xy12345/#/data/databases/ML/schemas/REGISTRY/model/CHURN/version/V1_0_0",
        ),
        (
            {"account": "xy12345", "region": "us-east-2.aws"},
            "https://app.snowflake.com/us-east-2.aws/xy12345/#/data/databases/ML/schemas/REGISTRY/model/CHURN/version/V1_0_0",
        ),
        ({"account": "xy12345"}, None),
    ],
)
def test_version_url(monkeypatch: pytest.MonkeyPatch, extra: dict[str, str], url: str | None) -> None:
    set_snowflake_connection(monkeypatch, **extra)

    assert SnowflakeRegistryHook().version_url("churn", "V1_0_0") == url


def test_location_comes_from_parameters_then_registry_extras_then_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_snowflake_connection(monkeypatch)
    assert SnowflakeRegistryHook().location == "ML.REGISTRY"
    set_snowflake_connection(monkeypatch, registry_database="gov", registry_schema="models")
    assert SnowflakeRegistryHook().location == "GOV.MODELS"
    assert SnowflakeRegistryHook(database="dev", schema="sandbox").location == "DEV.SANDBOX"


def test_create_schema_creates_a_missing_registry_schema(snowflake_double: SnowflakeDouble) -> None:
    snowflake_double.acl.grants[("DATABASE", "ML")].add(("CREATE SCHEMA", "ML_ENGINEER"))
    hook = SnowflakeRegistryHook(schema="models", create_schema=True)

    ok, message = hook.test_connection()

    assert ok, message
    assert snowflake_double.writes() == ["CREATE SCHEMA IF NOT EXISTS ML.MODELS"]
    assert "MODELS" in snowflake_double.databases["ML"]


def test_test_connection_reports_a_missing_schema(snowflake_double: SnowflakeDouble) -> None:
    ok, message = SnowflakeRegistryHook(schema="nowhere").test_connection()

    assert not ok
    assert "ML.NOWHERE does not exist" in message


def test_load_model_downloads_the_original_estimator(registered: SnowflakeDouble, churn_model: Any) -> None:
    data = churn_frame(10, seed=9)[FEATURES]

    loaded = SnowflakeRegistryHook().load_model("churn", "V1_0_0")

    np.testing.assert_array_equal(loaded.predict(data), churn_model.predict(data))


def test_delete_version(registered: SnowflakeDouble) -> None:
    SnowflakeRegistryHook().delete_version("churn", "V1_1_0")

    assert "V1_1_0" not in registered.model("CHURN").versions
    assert matching(registered, r"^ALTER MODEL ML\.REGISTRY\.CHURN DROP VERSION V1_1_0$")


# -- deployable dependencies ------------------------------------------------------------------------------
def test_dependencies_are_relaxed_like_the_library_does_and_the_worker_versions_recorded(
    snowflake_double: SnowflakeDouble, churn_model: Any
) -> None:
    from importlib.metadata import version as installed

    with SnowflakeRegistryHook() as hook:
        version, _ = hook.register_version("churn", package(churn_model))

    manifest = yaml.safe_load(snowflake_double.model("CHURN").versions["V1_2_0"].files["MANIFEST.yml"])
    conda = json.dumps(manifest)
    assert f"scikit-learn=={installed('scikit-learn')}" not in conda  # a range the channel can satisfy
    worker = json.loads(version.tags["airflow_registry.worker_packages"])
    assert worker["scikit-learn"] == installed("scikit-learn")
    assert worker["snowflake-ml-python"] == installed("snowflake-ml-python")
    # One package lookup for our check and the library's own.
    assert len(matching(snowflake_double, r"information_schema\.packages")) == 1


def test_exact_pins_are_an_option_and_are_checked_against_the_channel(
    snowflake_double: SnowflakeDouble, churn_model: Any
) -> None:
    from importlib.metadata import version as installed

    major, minor, _ = installed("scikit-learn").split(".")
    snowflake_double.packages["scikit-learn"] = [f"{major}.{minor}.0"]  # the channel lags one patch behind
    exact = package(churn_model, options={"relax_version": False})

    with SnowflakeRegistryHook() as hook, pytest.raises(InvalidInputError, match="scikit-learn==") as refused:
        hook.register_version("churn", exact)
    assert refused.value.field == "backend_options.conda_dependencies"
    assert snowflake_double.writes() == []

    with SnowflakeRegistryHook() as hook:
        _, created = hook.register_version("churn", package(churn_model))  # relaxed (the default): accepted
    assert created


# -- batch output ------------------------------------------------------------------------------------------
def test_overwriting_the_predictions_keeps_their_grants(registered: SnowflakeDouble) -> None:
    registered.add_table("SCORING", churn_frame(10, seed=3)[FEATURES].assign(customer_id=range(10)))
    registered.add_table("CHURN_SCORES", churn_frame(1)[FEATURES])
    registered.acl.grants[("TABLE", "ML.REGISTRY.CHURN_SCORES")].add(("SELECT", "ANALYST"))

    with SnowflakeRegistryHook() as hook:
        summary = hook.batch_predict(hook.get_version("churn", "V1_1_0"), "SCORING", "CHURN_SCORES")

    assert summary["rows"] == 10
    assert matching(registered, r"^CREATE OR REPLACE TABLE CHURN_SCORES.* COPY GRANTS AS SELECT")
    assert ("SELECT", "ANALYST") in registered.acl.grants[("TABLE", "ML.REGISTRY.CHURN_SCORES")]


def test_appending_reports_the_rows_this_run_wrote(
    registered: SnowflakeDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_snowflake_connection(monkeypatch, batch_write_mode="append")
    registered.add_table("SCORING", churn_frame(20, seed=4)[FEATURES])

    with SnowflakeRegistryHook() as hook:
        version = hook.get_version("churn", "V1_0_0")
        first = hook.batch_predict(version, "SCORING", "SCORES")  # creates the table
        second = hook.batch_predict(version, "SCORING", "SCORES")

    assert (first["rows"], second["rows"]) == (20, 20)
    assert len(registered.schema_state().tables["SCORES"].data) == 40


def test_an_input_table_that_does_not_exist_is_named(registered: SnowflakeDouble) -> None:
    with SnowflakeRegistryHook() as hook, pytest.raises(InvalidInputError) as missing:
        hook.batch_predict(hook.get_version("churn", "V1_0_0"), "NO_SUCH_TABLE", "SCORES")
    assert missing.value.field == "input_path"
    assert registered.writes() == []
