"""Every example DAG imports cleanly, and parsing one imports no heavy library."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

DAG_FILES = sorted(p.name for p in (REPO / "dags").glob("*.py"))


def test_dagbag_has_no_import_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert "churn_model_lifecycle" in bag.dag_ids


@pytest.mark.parametrize("dag_file", DAG_FILES)
def test_parsing_does_not_import_backends_or_ml_libraries(dag_file: str) -> None:
    # Parse time is dominated by imports: top-level mlflow alone costs ~2.7 s. The
    # budget itself (<= 0.3 s) is measured by bench/parse_time.py, not asserted here.
    code = (
        f"import runpy, sys; sys.path.append({str(REPO / 'dags')!r});"
        f"runpy.run_path({str(REPO / 'dags' / dag_file)!r});"
        "heavy = [m for m in ('mlflow', 'snowflake.ml', 'snowflake.snowpark', 'sklearn', 'pandas', 'scipy') "
        "if m in sys.modules];"
        "print('HEAVY', heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
