"""Test setup shared by every test module.

Airflow reads its configuration when first imported, so AIRFLOW_HOME, the dags folder
and the metadata database are pointed at a per-process temp dir here, before any test
module imports airflow.

Hygiene, checked for every run: everything a test writes goes under one temp root per
session (``TMPDIR`` points there, also for the processes tests start), removed when the
run passes; MLflow has no usable default tracking URI; and the run fails if it leaves a
new file in the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"

# Cache bytecode also where the environment sets PYTHONDONTWRITEBYTECODE (as scripts/env.sh
# does for the scripts): every worker, server and CLI a test starts would otherwise compile
# Airflow and MLflow from source again.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(Path(sys.prefix) / "pycache"))
    sys.dont_write_bytecode = False
    sys.pycache_prefix = os.environ["PYTHONPYCACHEPREFIX"]

# The process that starts the run (a plain pytest, or pytest-xdist's controller) makes the
# temp root; its xdist workers inherit it through the environment, and each uses a folder of
# its own in it (so that a test comparing the temp dir before and after sees its own files).
_OWNS_TMP_ROOT = "ARP_TEST_TMP" not in os.environ
if _OWNS_TMP_ROOT:
    os.environ["ARP_TEST_TMP"] = tempfile.mkdtemp(prefix="arp-tests-")
TMP_ROOT = Path(os.environ["ARP_TEST_TMP"])
_TMP = TMP_ROOT / os.environ["PYTEST_XDIST_WORKER"] if "PYTEST_XDIST_WORKER" in os.environ else TMP_ROOT
_TMP.mkdir(exist_ok=True)
os.environ["TMPDIR"] = str(_TMP)
tempfile.tempdir = str(_TMP)

_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ["GIT_PYTHON_REFRESH"] = "quiet"
# MLflow's default tracking URI is sqlite:///mlflow.db in the working directory: a call that
# forgets its connection's URI silently creates a registry wherever the process runs (that
# is how an mlflow.db got committed at the root). In tests such a call fails, naming this.
os.environ["MLFLOW_TRACKING_URI"] = "no-default-tracking-uri://pass-the-connection-uri-explicitly"
os.environ.pop("MLFLOW_REGISTRY_URI", None)

# Airflow's bundle DagBag puts the bundle root on sys.path, so example DAGs import their
# shared helper module (dags/churn_example_data.py) by name; tests parse DAGs the same way.
sys.path.append(str(REPO / "dags"))

# The scripted Snowflake account and its fixtures (snowflake_double, registered, churn_model).
pytest_plugins = ("tests.snowflake.fixtures",)

# tests/smoke runs against the built wheel in a fresh venv (scripts/smoke.sh), not here.
collect_ignore = ["smoke"]

# Tests sharing an expensive session fixture (a server process) run on one pytest-xdist
# worker (``--dist loadgroup``, see scripts/test.sh), so each server starts once per run
# rather than once per worker. A new server fixture: add its name here.
SERVER_FIXTURES = ("mlflow_server", "mlflow_auth_server")
#: Tests that run whole Airflow clusters or many PostgreSQL clients at once take turns on one
#: worker: together they would exceed the shared PostgreSQL's ~100 connections.
POSTGRES_HEAVY = pytest.mark.xdist_group("postgres_heavy")

# Tool caches that may appear in the repository; anything else a run leaves there fails it.
_CACHE_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}


def require_service(available: bool, reason: str) -> None:
    """Skip when a local service is missing, except under CI=true where it must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh Airflow metadata database for tests that run DAGs (one per xdist worker)."""
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


# -- session hooks ---------------------------------------------------------------------------
def _is_session_owner(config: pytest.Config) -> bool:
    return _OWNS_TMP_ROOT and not hasattr(config, "workerinput")


def _repository_entries() -> set[str]:
    """Every file and folder in the checkout, relative, except tool caches."""
    entries: set[str] = set()
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in _CACHE_DIRS]
        rel = Path(root).relative_to(REPO)
        entries.update(str(rel / d) + "/" for d in dirs)
        entries.update(str(rel / f) for f in files)
    return entries


def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_session_owner(session.config):
        session.config.stash[_BEFORE] = _repository_entries()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        server = next((name for name in SERVER_FIXTURES if name in getattr(item, "fixturenames", ())), None)
        if server is not None:
            item.add_marker(pytest.mark.xdist_group(server))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # xdist marks a grouped test by suffixing its node id; a pytest/xdist pair where that
    # no longer works would start each server once per worker without saying so.
    if hasattr(session.config, "workerinput") and session.config.getvalue("loadgroup"):
        lost = [
            item.nodeid for item in session.items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid
        ]
        if lost:
            raise pytest.UsageError(f"--dist loadgroup is not grouping tests (pytest/xdist versions?): {lost[:3]}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if not _is_session_owner(config) or _BEFORE not in config.stash:
        return
    left = sorted(_repository_entries() - config.stash[_BEFORE])
    config.stash[_LEFT] = left
    if left:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    config.stash[_PASSED] = session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    if not _is_session_owner(config):
        return
    left = config.stash.get(_LEFT, [])
    if left:
        terminalreporter.write_sep("=", "the run left files in the repository (write under tmp_path)", red=True)
        for entry in left:
            terminalreporter.write_line(f"  {entry}")
    if exitstatus != 0 or left:
        terminalreporter.write_line(f"temp files of this run kept for inspection: {TMP_ROOT}")


def pytest_unconfigure(config: pytest.Config) -> None:
    # A failed run keeps its temp root (logs of the servers it started, the failing tmp_paths).
    if _is_session_owner(config) and config.stash.get(_PASSED, False):
        shutil.rmtree(TMP_ROOT, ignore_errors=True)


_BEFORE = pytest.StashKey[set[str]]()
_LEFT = pytest.StashKey[list[str]]()
_PASSED = pytest.StashKey[bool]()
