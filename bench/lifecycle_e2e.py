"""End to end: ``airflow dags test churn_model_lifecycle`` on the embedded default (no server).

Sets up a fresh AIRFLOW_HOME temp dir the way ``scripts/quickstart.sh`` does (sqlite
metadata DB after ``airflow db migrate`` and ``airflow dags reserialize``, the
``mlflow_default`` connection on a sqlite MLflow registry in that dir), then times the
``airflow dags test churn_model_lifecycle`` command alone and reports the DagRun's
``run_duration`` from its output, and each task's duration from the metadata DB.
Target: <= 30 s. ``--runs N`` repeats it in N fresh homes (alternating nothing: one
contender) and prints medians.

Fresh processes cache bytecode under ``bench/out/pycache`` (this environment may set
PYTHONDONTWRITEBYTECODE with no .pyc files in the venv; a deployed worker has them); the
untimed migrate/reserialize steps and one untimed warm-up run fill that cache.

Run: ``.venv/bin/python bench/lifecycle_e2e.py [--runs 1] [--no-warmup]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAG_ID = "churn_model_lifecycle"
TARGET_S = 30.0


def home_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            "PYTHONPYCACHEPREFIX": str(REPO / "bench" / "out" / "pycache"),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps(
                {"conn_type": "mlflow_registry", "extra": {"tracking_uri": f"sqlite:///{home / 'mlflow.db'}"}}
            ),
            "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
            "GIT_PYTHON_REFRESH": "quiet",
        }
    )
    return env


def run_once(label: str) -> dict:
    home = Path(tempfile.mkdtemp(prefix="arp-bench-e2e-"))
    env = home_env(home)
    for step in (["db", "migrate"], ["dags", "reserialize"]):
        subprocess.run([AIRFLOW, *step], env=env, cwd=REPO, check=True, capture_output=True)
    started = time.perf_counter()
    result = subprocess.run(
        [AIRFLOW, "dags", "test", DAG_ID], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    output = result.stdout + result.stderr
    (home / "dags_test.log").write_text(output)
    finished = re.findall(r"run_duration=([\d.]+).*?state=(\w+)", output)
    if result.returncode != 0 or not finished:
        raise SystemExit(
            f"{label}: dags test failed ({result.returncode}); log {home / 'dags_test.log'}\n{output[-3000:]}"
        )
    run_duration, state = float(finished[-1][0]), finished[-1][1]
    with sqlite3.connect(home / "airflow.db") as db:
        tasks = db.execute(
            "SELECT task_id, state, duration FROM task_instance WHERE dag_id = ? ORDER BY start_date", (DAG_ID,)
        ).fetchall()
    return {"wall": wall, "run_duration": run_duration, "state": state, "tasks": tasks, "home": home}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-warmup", action="store_true")
    args = parser.parse_args()
    if not args.no_warmup:
        warm = run_once("warm-up")
        print(f"warm-up (not counted): command {warm['wall']:.1f} s, run_duration {warm['run_duration']:.1f} s")
    runs = []
    for i in range(1, args.runs + 1):
        runs.append(run_once(f"run {i}"))
        r = runs[-1]
        print(
            f"run {i}: `airflow dags test {DAG_ID}` {r['wall']:.1f} s; DagRun run_duration {r['run_duration']:.1f} s, "
            f"state {r['state']} (AIRFLOW_HOME {r['home']})"
        )
        for task_id, state, duration in r["tasks"]:
            print(f"    {task_id:<18} {state:<8} {duration or 0:6.2f} s")
    wall = statistics.median(r["wall"] for r in runs)
    run_duration = statistics.median(r["run_duration"] for r in runs)
    ok = wall <= TARGET_S and all(r["state"] == "success" for r in runs)
    print(
        f"median command {wall:.1f} s, median run_duration {run_duration:.1f} s; target <= {TARGET_S:.0f} s: "
        f"{'OK' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
