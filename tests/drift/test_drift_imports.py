"""The drift engine is a pure core: importing and running it pulls in no heavy stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq

# Runs in a fresh interpreter. The snowflake namespace package may already be registered
# at start-up by a .pth file of snowflake-snowpark-python, so compare with the modules
# present before the import. The data comes from Parquet, the operator's path: building
# a pyarrow table from Python objects would import pandas by itself.
SCRIPT = """
import json, sys
before = set(sys.modules)
from airflow_registry_provider.drift import build_profile, check_drift, render_html
path = sys.argv[1]
render_html(check_drift(path, build_profile(path)))
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_drift_imports_no_airflow_mlflow_snowflake_or_pandas(tmp_path):
    path = tmp_path / "batch.parquet"
    table = pa.table({"x": [1.0, 2.0, 3.0, None], "n": [1, None, 3, 4], "c": ["a", "b", "a", None]})
    pq.write_table(table, path)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = json.loads(out)
    assert "airflow_registry_provider.drift.engine" in loaded
    heavy = [name for name in loaded if name.split(".")[0] in ("airflow", "mlflow", "snowflake", "pandas")]
    assert heavy == []
