"""Smoke suite for the package as a user installs it.

``scripts/smoke.sh`` builds the sdist and the wheel, installs the wheel with all extras
into a fresh venv (no lock: the newest dependencies the metadata allows) and runs this
file there, from a directory outside the checkout, so nothing can import the source tree.
The main suite does not collect it (``collect_ignore`` in tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(os.environ["ARP_SMOKE_REPO"])
DIST = Path(os.environ["ARP_SMOKE_DIST"])
BIN = Path(sys.executable).parent
HEAVY = ("mlflow", "snowflake.ml", "snowflake.snowpark", "snowflake.connector", "sklearn", "pandas")


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The settings a deployment gives Airflow: a home, the dags folder, the registry connection."""
    home = tmp_path_factory.mktemp("airflow-home")
    registry = {"conn_type": "mlflow_registry", "extra": {"tracking_uri": f"sqlite:///{home / 'mlflow.db'}"}}
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps(registry),
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        "GIT_PYTHON_REFRESH": "quiet",
    }


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, (
        f"{command} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def test_the_package_is_the_installed_wheel() -> None:
    import airflow_registry_provider

    location = Path(airflow_registry_provider.__file__).resolve()
    assert location.is_relative_to(Path(sys.prefix).resolve()), location
    assert not location.is_relative_to(REPO.resolve()), location


def test_airflow_providers_list_discovers_the_provider(airflow_env: dict[str, str], tmp_path: Path) -> None:
    from importlib.metadata import version

    result = run([str(BIN / "airflow"), "providers", "list", "--output", "json"], airflow_env, tmp_path)
    providers = {p["package_name"]: p["version"] for p in json.loads(result.stdout[result.stdout.index("[") :])}
    assert providers.get("airflow-registry-provider") == version("airflow-registry-provider"), providers


def test_every_operator_imports_without_mlflow_or_snowflake(airflow_env: dict[str, str], tmp_path: Path) -> None:
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import airflow_registry_provider.operators as ops\n"
        "classes = [getattr(ops, name) for name in ops.__all__]\n"
        "modules = [m.name for m in pkgutil.iter_modules(ops.__path__, ops.__name__ + '.')]\n"
        "for name in modules:\n"
        "    importlib.import_module(name)\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'classes': len(classes), 'modules': modules, 'heavy': heavy}))\n"
    )
    result = run([sys.executable, "-c", code], airflow_env, tmp_path)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["classes"] >= 6 and report["modules"], report
    assert report["heavy"] == [], report


def test_every_example_dag_parses(airflow_env: dict[str, str], tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from airflow.dag_processing.dagbag import BundleDagBag\n"
        "bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[1], bundle_name='dags-folder')\n"
        "print(json.dumps({'dags': sorted(bag.dag_ids), 'errors': bag.import_errors}))\n"
    )
    result = run([sys.executable, "-c", code, str(REPO / "dags")], airflow_env, tmp_path)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}, report["errors"]
    assert {"churn_model_lifecycle", "drift_monitoring", "snowflake_model_lifecycle"} <= set(report["dags"]), report


def test_the_lifecycle_dag_runs_once(airflow_env: dict[str, str], tmp_path: Path) -> None:
    # The quickstart's runner (metadata DB, dag.test(), summary) on the installed package.
    result = run([sys.executable, str(REPO / "scripts" / "quickstart.py")], airflow_env, tmp_path)
    assert "Registered   customer_churn_predictor version 1 (1.0.0)" in result.stdout, result.stdout[-3000:]
    assert "Champion     version 1 (1.0.0)" in result.stdout, result.stdout[-3000:]


def test_the_distributions_hold_no_databases_caches_or_local_state() -> None:
    (sdist,) = DIST.glob("*.tar.gz")
    (wheel,) = DIST.glob("*.whl")
    with tarfile.open(sdist) as archive:
        sdist_names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = archive.namelist()
    forbidden_parts = {
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        ".venv",
        ".airflow",
        "mlruns",
    }
    for names in (sdist_names, wheel_names):
        bad = [
            n for n in names if set(Path(n).parts) & forbidden_parts or n.endswith((".db", ".sqlite", ".pyc", ".log"))
        ]
        assert bad == [], bad
    assert "LICENSE" in sdist_names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel_names), wheel_names
    assert not any(n.startswith(("tests/", "dags/", "bench/")) for n in wheel_names)
