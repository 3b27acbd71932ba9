"""Test setup shared by every test module.

Airflow reads its configuration when first imported, so AIRFLOW_HOME, the dags folder
and the metadata database are pointed at a per-session temp dir here, before any test
module imports airflow.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="arp-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ["GIT_PYTHON_REFRESH"] = "quiet"

# Airflow's bundle DagBag puts the bundle root on sys.path, so example DAGs import their
# shared helper module (dags/churn_example_data.py) by name; tests parse DAGs the same way.
sys.path.append(str(REPO / "dags"))

IN_CI = os.environ.get("CI", "").lower() == "true"

# The scripted Snowflake account and its fixtures (snowflake_double, registered, churn_model).
pytest_plugins = ("tests.snowflake.fixtures",)


def require_service(available: bool, reason: str) -> None:
    """Skip when a local service is missing, except under CI=true where it must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh Airflow metadata database for tests that run DAGs."""
    from airflow.utils import db

    db.resetdb()


def set_mlflow_connection(conn_id: str, tracking_uri: str, **extra: object) -> None:
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {"conn_type": "mlflow_registry", "extra": {"tracking_uri": tracking_uri, **extra}}
    )


@pytest.fixture
def mlflow_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh sqlite MLflow registry behind the ``mlflow_default`` connection; returns its tracking URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT",
        json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri}}),
    )
    return uri
