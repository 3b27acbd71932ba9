"""Fixtures and data for Snowflake tests: the scripted account, its connection, a churn model.

Registered for every test module through ``pytest_plugins`` in ``tests/conftest.py``.
The ``snowflake_default`` connection points at the double (``session_double.py``); the
real SnowflakeHook -> Snowpark -> snowflake-ml-python stack runs on top of it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.hooks.base import ModelPackage
from tests.snowflake.session_double import SnowflakeDouble

FEATURES = ["tenure_months", "monthly_spend", "support_tickets"]
CONNECTION: dict[str, Any] = {
    "conn_type": "snowflake",
    "login": "airflow",
    "password": "not-used",
    "schema": "REGISTRY",
    "extra": {"account": "acme-analytics", "database": "ML", "warehouse": "COMPUTE_WH", "role": "ML_ENGINEER"},
}


def set_snowflake_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str = "snowflake_default", **extra: Any) -> None:
    connection = copy.deepcopy(CONNECTION)
    connection["extra"].update(extra)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))


def churn_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """Features (lower-case, as a pandas user writes them) and a ``churned`` label."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 72, n).astype(float),
            "monthly_spend": rng.normal(80.0, 25.0, n),
            "support_tickets": rng.poisson(1.5, n).astype(float),
        }
    )
    logit = 0.6 * frame.support_tickets - 0.05 * frame.tenure_months + 0.01 * frame.monthly_spend - 0.5
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def train_churn_model() -> Any:
    """A scaled logistic regression, like the example DAG's."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = churn_frame(600)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(frame[FEATURES], frame["churned"])


def package(model: Any, version_name: str = "1.2.0", sha256: str = "a" * 64, **changes: Any) -> ModelPackage:
    from airflow_registry_provider.artifacts import pinned_requirements

    fields: dict[str, Any] = {
        "version_name": version_name,
        "flavor": "sklearn",
        "artifact_sha256": sha256,
        "model": model,
        "sample_input": churn_frame(20, seed=1)[FEATURES],
        "pip_requirements": pinned_requirements("sklearn"),
        "metrics": {"accuracy": 0.81, "roc_auc": 0.84},
        "tags": {
            tag_keys.VERSION_NAME: version_name,
            tag_keys.ARTIFACT_SHA256: sha256,
            tag_keys.FLAVOR: "sklearn",
            tag_keys.DAG_ID: "churn_model_lifecycle",
        },
        "description": "Churn classifier",
    }
    fields.update(changes)
    return ModelPackage(**fields)


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
        with double.installed(), SnowflakeRegistryHook() as hook:
            hook.register_version("churn", package(churn_model, "1.0.0", sha256="1" * 64))
            hook.register_version("churn", package(churn_model, "1.1.0", sha256="2" * 64))
        return double.snapshot()


@pytest.fixture
def registered(snowflake_double: SnowflakeDouble, _registered_state: dict[str, Any]) -> SnowflakeDouble:
    """The double holding model CHURN (owned by ML_ENGINEER) with versions V1_0_0 (default) and V1_1_0; no log."""
    snowflake_double.restore(_registered_state)
    return snowflake_double
