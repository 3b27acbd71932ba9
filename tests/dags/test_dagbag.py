"""Every example DAG imports cleanly, and parsing one imports no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

DAG_FILES = sorted(p.name for p in (REPO / "dags").glob("*.py"))
HEAVY = ("mlflow", "snowflake.ml", "snowflake.snowpark", "sklearn", "pandas", "scipy")

# Parses the DAG files one after another in one fresh interpreter (this one has imported
# everything already) and reports, per file, the heavy modules its parse added. A module
# pulled in by an earlier file is charged to that file, whose test then fails.
PROBE = """
import json, runpy, sys
dags, files, heavy = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
sys.path.append(dags)
added = {}
for name in files:
    before = {m for m in heavy if m in sys.modules}
    runpy.run_path(f"{dags}/{name}")
    added[name] = sorted(m for m in heavy if m in sys.modules and m not in before)
print(json.dumps(added))
"""

# The probe runs once per worker that gets this module's tests: keep them on one worker.
pytestmark = pytest.mark.xdist_group("dag_parse_probe")


def test_dagbag_has_no_import_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert "churn_model_lifecycle" in bag.dag_ids


@pytest.fixture(scope="module")
def heavy_imports_by_file() -> dict[str, list[str]]:
    command = [sys.executable, "-c", PROBE, str(REPO / "dags"), json.dumps(DAG_FILES), json.dumps(HEAVY)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dag_file", DAG_FILES)
def test_parsing_does_not_import_backends_or_ml_libraries(
    heavy_imports_by_file: dict[str, list[str]], dag_file: str
) -> None:
    # Parse time is dominated by imports: top-level mlflow alone costs ~2.7 s. The
    # budget itself (<= 0.3 s) is measured by bench/parse_time.py, not asserted here.
    assert heavy_imports_by_file[dag_file] == []
