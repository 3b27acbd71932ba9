"""The same refusals on Snowflake: same error class and field as on MLflow, and no write recorded.

The scripted account (``tests/snowflake/session_double.py``, the real snowflake-ml-python
code on top) holds CHURN with versions V1_0_0 and V1_1_0, owned by the connection's role.
"""

from __future__ import annotations

from typing import Any

import joblib
import pytest

from airflow_registry_provider.exceptions import (
    AliasNotFoundError,
    InvalidInputError,
    ModelNotFoundError,
    PrivilegeError,
    VersionNotFoundError,
)
from tests.bad_input.conftest import Case, expect_refusal
from tests.snowflake.session_double import SnowflakeDouble

CONN = "snowflake_default"
V1 = {"registry_conn_id": CONN, "model_name": "CHURN", "version": "V1_0_0"}
MISSING_VERSION = {**V1, "version": "V9_9_9"}
MISSING_MODEL = {**V1, "model_name": "NO_SUCH_MODEL"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from tests.snowflake.fixtures import FEATURES, churn_frame, train_churn_model

    folder = tmp_path_factory.mktemp("bad-input-snowflake")
    paths = {"model": str(folder / "model.joblib"), "sample": str(folder / "sample.parquet")}
    joblib.dump(train_churn_model(), paths["model"])
    churn_frame(20, seed=1)[FEATURES].to_parquet(paths["sample"], index=False)
    words = churn_frame(20, seed=2)[FEATURES].astype(object)
    words["monthly_spend"] = "a lot"
    paths["unscorable"] = str(folder / "unscorable.parquet")
    words.to_parquet(paths["unscorable"], index=False)
    return paths


def _op(name: str, defaults: dict[str, Any]) -> Any:
    def factory(**changes: Any) -> Any:
        def build(files: dict[str, str]) -> Any:
            import airflow_registry_provider.operators as operators

            given = {**defaults, **changes}  # values given as callables are paths
            params = {"task_id": name.lower(), "registry_conn_id": CONN}
            params.update({k: v(files) if callable(v) else v for k, v in given.items()})
            return getattr(operators, name)(**params)

        return build

    return factory


log = _op(
    "LogModelOperator",
    {
        "model_name": "PRICING",
        "model": lambda f: f["model"],
        "version_name": "1.0.0",
        "sample_input": lambda f: f["sample"],
        "metrics": {"accuracy": 0.8},
    },
)
validate = _op("ValidateMetricsOperator", {"model_version": V1, "thresholds": {"accuracy": ">= 0.5"}})
retention = _op("RetentionOperator", {"model_name": "CHURN", "keep_latest": 1})
grant = _op("GrantModelOperator", {"model_name": "CHURN", "grants": {"DATA_SCIENTIST": "READ"}})
compare = _op("CompareVersionsOperator", {"model_name": "CHURN", "base": "V1_0_0", "candidate": "V1_1_0"})
card = _op("ModelCardOperator", {"model_version": V1})


def case(id: str, build: Any, error: type[Exception], field: str, **kwargs: Any) -> Any:
    return Case(id, build, error, field, **kwargs).param()


CASES = [
    case("log_bad_model_name", log(model_name="bad name!"), InvalidInputError, "model_name"),
    case("log_version_name_not_semver", log(version_name="1.0"), InvalidInputError, "version_name"),
    case(
        "log_metric_nan", log(metrics={"accuracy": float("nan")}), InvalidInputError, "metrics.accuracy", at_parse=True
    ),
    case("log_tags_text", log(tags="team=pricing"), InvalidInputError, "tags"),
    case("log_tag_value_too_long", log(tags={"notes": "x" * 100_001}), InvalidInputError, "tags.notes"),
    case("log_tag_key_quote", log(tags={'a"b': "x"}), InvalidInputError, "tags"),
    case("log_tag_value_dollars", log(tags={"notes": "$$ drop $$"}), InvalidInputError, "tags.notes"),
    case("log_unscorable_sample", log(sample_input=lambda f: f["unscorable"]), InvalidInputError, "sample_input"),
    case("log_mlflow_uri", log(model="models:/churn/1"), InvalidInputError, "model"),
    case("validate_missing_version", validate(model_version=MISSING_VERSION), VersionNotFoundError, "model_version"),
    case("validate_missing_model", validate(model_version=MISSING_MODEL), ModelNotFoundError, "model_version"),
    case("validate_unknown_metric", validate(thresholds={"acuracy": ">= 0.5"}), InvalidInputError, "thresholds"),
    case("validate_bad_alias", validate(compare_to="bad alias!"), InvalidInputError, "compare_to"),
    case("retention_missing_model", retention(model_name="NO_SUCH_MODEL"), ModelNotFoundError, "model_name"),
    case("retention_keep_word", retention(keep_latest="abc"), InvalidInputError, "keep_latest"),
    case("grant_edit_unsupported", grant(grants={"DATA_SCIENTIST": "EDIT"}), InvalidInputError, "grants"),
    case("grant_to_user", grant(grants={"user:alice": "READ"}), InvalidInputError, "grants"),
    case("grant_padded", grant(grants={"DATA_SCIENTIST": "read\n"}), InvalidInputError, "grants", at_parse=True),
    case("grant_missing_role", grant(grants={"NO_SUCH_ROLE": "READ"}), InvalidInputError, "grants"),
    case(
        "grant_ownership_away",
        grant(grants={"OTHER_ADMIN": "OWNERSHIP"}, admin_roles=["OTHER_ADMIN"]),
        PrivilegeError,
        "grants",
    ),
    case("grant_missing_model", grant(model_name="NO_SUCH_MODEL"), ModelNotFoundError, "model_name"),
    case("compare_missing_version", compare(base="V9_9_9"), VersionNotFoundError, "base"),
    case("compare_missing_alias", compare(base="@nobody"), AliasNotFoundError, "base"),
    case("card_missing_version", card(model_version=MISSING_VERSION), VersionNotFoundError, "model_version"),
]


@pytest.mark.parametrize("bad", CASES)
def test_snowflake_refuses(registered: SnowflakeDouble, files: dict[str, str], bad: Case) -> None:
    registered.reset_log()
    expect_refusal(
        Case(bad.id, lambda: bad.build(files), bad.error, bad.field, bad.params, bad.at_parse),
        before=registered.writes,
        after=registered.writes,
    )
    assert registered.writes() == [], "a refused task wrote to the account"
