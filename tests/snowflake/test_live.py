"""Opt-in tests against a real Snowflake account.

Run with ``pytest -m snowflake_live tests/snowflake`` after setting SNOWFLAKE_ACCOUNT,
SNOWFLAKE_USER, SNOWFLAKE_PASSWORD (or SNOWFLAKE_PRIVATE_KEY_FILE), SNOWFLAKE_DATABASE,
SNOWFLAKE_SCHEMA and SNOWFLAKE_WAREHOUSE (SNOWFLAKE_ROLE optional). The role needs
CREATE MODEL, CREATE TABLE, CREATE STAGE and CREATE TAG in that schema (docs/snowflake.md,
"Privileges"). Everything the
test creates is named LIVE_<random> and dropped at the end.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook
from tests.snowflake.fixtures import FEATURES, churn_frame, package

REQUIRED = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_DATABASE", "SNOWFLAKE_SCHEMA", "SNOWFLAKE_WAREHOUSE")
CONFIGURED = all(os.environ.get(name) for name in REQUIRED) and bool(
    os.environ.get("SNOWFLAKE_PASSWORD") or os.environ.get("SNOWFLAKE_PRIVATE_KEY_FILE")
)

pytestmark = [
    pytest.mark.snowflake_live,
    pytest.mark.skipif(not CONFIGURED, reason=f"set {', '.join(REQUIRED)} and a password or key to run"),
]


@pytest.fixture
def live_hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[SnowflakeRegistryHook]:
    extra = {
        "account": os.environ["SNOWFLAKE_ACCOUNT"],
        "database": os.environ["SNOWFLAKE_DATABASE"],
        "warehouse": os.environ["SNOWFLAKE_WAREHOUSE"],
    }
    if os.environ.get("SNOWFLAKE_ROLE"):
        extra["role"] = os.environ["SNOWFLAKE_ROLE"]
    if os.environ.get("SNOWFLAKE_PRIVATE_KEY_FILE"):
        extra["private_key_file"] = os.environ["SNOWFLAKE_PRIVATE_KEY_FILE"]
    connection = {
        "conn_type": "snowflake",
        "login": os.environ["SNOWFLAKE_USER"],
        "password": os.environ.get("SNOWFLAKE_PASSWORD", ""),
        "schema": os.environ["SNOWFLAKE_SCHEMA"],
        "extra": extra,
    }
    monkeypatch.setenv("AIRFLOW_CONN_SNOWFLAKE_LIVE", json.dumps(connection))
    with SnowflakeRegistryHook("snowflake_live") as hook:
        yield hook


def test_lifecycle_on_a_real_account(live_hook: SnowflakeRegistryHook, churn_model: Any, tmp_path: Path) -> None:
    name = f"LIVE_{uuid.uuid4().hex[:8].upper()}"
    session = live_hook.session
    try:
        version, created = live_hook.register_version(name, package(churn_model, "1.0.0"))
        assert created
        assert version.version == "V1_0_0"
        again, created_again = live_hook.register_version(name, package(churn_model, "1.0.0"))
        assert (again.version, created_again) == ("V1_0_0", False)

        data = churn_frame(25, seed=5)[FEATURES]
        np.testing.assert_array_equal(live_hook.predict(name, "V1_0_0", data), churn_model.predict(data))

        live_hook.set_version_tags(name, "V1_0_0", {tag_keys.VALIDATION_STATUS: tag_keys.VALIDATION_PASSED})
        live_hook.set_alias(name, "champion", "V1_0_0")
        live_hook.set_default_version(name, "V1_0_0")
        champion = live_hook.get_alias_version(name, "champion")
        assert champion is not None
        assert champion.tags[tag_keys.VALIDATION_STATUS] == tag_keys.VALIDATION_PASSED

        session.write_pandas(
            churn_frame(100, seed=6)[FEATURES].assign(customer_id=range(100)),
            f"{name}_SCORING",
            auto_create_table=True,
            quote_identifiers=False,
        )
        summary = live_hook.batch_predict(champion, f"{name}_SCORING", f"{name}_SCORES")
        assert summary["rows"] == 100

        card = tmp_path / "card.md"
        card.write_text("live")
        live_hook.upload_artifact(name, "V1_0_0", str(card), "reports/card.md")
        fetched = live_hook.download_artifact(name, "V1_0_0", "reports/card.md", str(tmp_path / "out"))
        assert Path(fetched).read_text() == "live"
    finally:
        live_hook.registry.delete_model(name)
        session.sql(f"DROP TABLE IF EXISTS {name}_SCORING").collect()
        session.sql(f"DROP TABLE IF EXISTS {name}_SCORES").collect()
        session.sql(f"REMOVE @{live_hook.location}.MODEL_ARTIFACTS/{name}/").collect()
