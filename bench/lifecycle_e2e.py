"""End to end: a warm re-run of ``bash scripts/quickstart.sh``, beside the CLI sequence it replaces.

Two contenders, each in its own AIRFLOW_HOME temp dir (sqlite metadata DB, sqlite MLflow
registry, as the quickstart sets up), each warmed by one untimed run, then alternating
for ``--runs`` rounds (default 3):

- ``quickstart``: ``bash scripts/quickstart.sh`` as a user runs it (``ARP_QUICKSTART_HOME``
  points it at the temp dir): ``uv sync``, then one Python process that checks the
  metadata DB revision, runs ``dag.test()`` and prints the summary. Its ``Time:`` line
  says where the time went.
- ``cli``: what the quickstart did before: ``airflow db migrate``, ``airflow dags
  reserialize``, ``airflow dags test churn_model_lifecycle``, three processes.

Both share the bytecode cache of ``scripts/env.sh``. Prints each run, the medians, their
ratio and the quickstart's median breakdown. Target: quickstart <= 60 s.

Run: ``.venv/bin/python bench/lifecycle_e2e.py [--runs 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAG_ID = "churn_model_lifecycle"
TARGET_S = 60.0


def home_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    registry = {"conn_type": "mlflow_registry", "extra": {"tracking_uri": f"sqlite:///{home / 'mlflow.db'}"}}
    env.update(
        {
            "PYTHONPYCACHEPREFIX": str(REPO / ".venv" / "pycache"),
            "ARP_QUICKSTART_HOME": str(home),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps(registry),
            "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
            "GIT_PYTHON_REFRESH": "quiet",
        }
    )
    return env


def run(commands: list[list[str]], home: Path, label: str) -> tuple[float, str]:
    env = home_env(home)
    started = time.perf_counter()
    output = []
    for command in commands:
        result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
        output.append(result.stdout + result.stderr)
        if result.returncode != 0:
            log = home / "failed.log"
            log.write_text("\n".join(output))
            raise SystemExit(f"{label}: {command} exited {result.returncode}; log {log}\n{output[-1][-3000:]}")
    return time.perf_counter() - started, "\n".join(output)


CONTENDERS = {
    "quickstart": [["bash", str(REPO / "scripts" / "quickstart.sh")]],
    "cli": [[AIRFLOW, "db", "migrate"], [AIRFLOW, "dags", "reserialize"], [AIRFLOW, "dags", "test", DAG_ID]],
}


def breakdown(output: str) -> dict[str, float]:
    """The quickstart's ``Time:`` line as {step: seconds}."""
    line = next(line for line in reversed(output.splitlines()) if line.startswith("Time: "))
    return {label: float(seconds) for label, seconds in re.findall(r"([A-Za-z][\w ().-]*?) ([\d.]+) s", line)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    homes = {name: Path(tempfile.mkdtemp(prefix=f"arp-bench-e2e-{name}-")) for name in CONTENDERS}
    for name, commands in CONTENDERS.items():
        wall, _ = run(commands, homes[name], f"{name} warm-up")
        print(f"warm-up (not counted) {name}: {wall:.1f} s")
    walls: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    steps: list[dict[str, float]] = []
    names = list(CONTENDERS)
    for i in range(args.runs):
        for name in names if i % 2 == 0 else names[::-1]:
            wall, output = run(CONTENDERS[name], homes[name], name)
            walls[name].append(wall)
            if name == "quickstart":
                steps.append(breakdown(output))
            print(f"run {i + 1} {name}: {wall:.1f} s")
    medians = {name: statistics.median(values) for name, values in walls.items()}
    for name in names:
        print(f"median {name}: {medians[name]:.1f} s (min {min(walls[name]):.1f}, max {max(walls[name]):.1f})")
    print(f"quickstart / cli: {medians['quickstart'] / medians['cli']:.2f}")
    labels = [label for label in steps[0] if label != "total"]
    print(
        "quickstart median breakdown: "
        + ", ".join(f"{label} {statistics.median(s.get(label, 0.0) for s in steps):.1f} s" for label in labels)
    )
    ok = medians["quickstart"] <= TARGET_S
    print(f"target: warm quickstart <= {TARGET_S:.0f} s: {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
