"""Fixtures for Snowflake tests: the scripted account, its connection and a churn model.

The ``snowflake_default`` connection points at the double (``session_double.py``); the
real SnowflakeHook -> Snowpark -> snowflake-ml-python stack runs on top of it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from session_double import SnowflakeDouble
from snowflake_test_data import package, set_snowflake_connection, train_churn_model


@pytest.fixture(scope="session")
def churn_model() -> Any:
    return train_churn_model()


@pytest.fixture
def snowflake_double(monkeypatch: pytest.MonkeyPatch) -> Iterator[SnowflakeDouble]:
    """A fresh scripted account behind the ``snowflake_default`` connection."""
    set_snowflake_connection(monkeypatch)
    double = SnowflakeDouble(database="ML", schema="REGISTRY")
    with double.installed():
        yield double


@pytest.fixture(scope="session")
def _registered_state(churn_model: Any) -> dict[str, Any]:
    """The account after two versions of CHURN were logged (logging packs the model: done once)."""
    from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook

    with pytest.MonkeyPatch.context() as monkeypatch:
        set_snowflake_connection(monkeypatch)
        double = SnowflakeDouble(database="ML", schema="REGISTRY")
        with double.installed():
            hook = SnowflakeRegistryHook()
            hook.register_version("churn", package(churn_model, "1.0.0", sha256="1" * 64))
            hook.register_version("churn", package(churn_model, "1.1.0", sha256="2" * 64))
            hook.session.close()
        return copy.deepcopy(double.databases)


@pytest.fixture
def registered(snowflake_double: SnowflakeDouble, _registered_state: dict[str, Any]) -> SnowflakeDouble:
    """The double holding model CHURN with versions V1_0_0 (default) and V1_1_0; the log is empty."""
    snowflake_double.databases = copy.deepcopy(_registered_state)
    return snowflake_double
