"""Run ``churn_model_lifecycle`` once, in one process, and report what the run did.

Called by ``scripts/quickstart.sh``, which sets AIRFLOW_HOME, the dags folder, the metadata
DB and the ``mlflow_default`` connection. It does what ``airflow db migrate``, ``airflow
dags reserialize`` and ``airflow dags test`` do, without paying Airflow's start-up three
times: the metadata DB is created or migrated only when it is not at the current
revision, and ``dag.test()`` syncs the dags folder to the DB itself.

Run: ``python scripts/quickstart.py [-c '{"feature_set": "full"}']``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from lifecycle_summary import print_summary

DAG_ID = "churn_model_lifecycle"


def migrate_if_needed() -> bool:
    """Bring the metadata DB to the current revision; ``True`` when it had to."""
    from airflow.utils import db

    try:
        db.check_migrations(timeout=0)
    except TimeoutError:  # not created yet, or created by an older Airflow
        db.initdb()
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-c", "--conf", type=json.loads, default={}, help="run conf as JSON (as for `airflow dags test -c`)"
    )
    args = parser.parse_args(argv)
    started = time.time()
    marks: list[tuple[str, float]] = []
    if "ARP_QUICKSTART_T0" in os.environ:
        marks.append(("setup", started - float(os.environ["ARP_QUICKSTART_T0"])))

    def mark(label: str, since: float) -> float:
        now = time.time()
        marks.append((label, now - since))
        return now

    import airflow.models  # noqa: F401 - Airflow's start-up, timed on its own

    now = mark("Airflow start-up", started)
    migrated = migrate_if_needed()
    now = mark("metadata DB migrated" if migrated else "metadata DB check", now)

    from airflow.dag_processing.dagbag import BundleDagBag

    # As the DAG processor parses: the bundle root goes on sys.path (for churn_example_data).
    dags_folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    bag = BundleDagBag(
        dag_folder=os.path.join(dags_folder, f"{DAG_ID}.py"), bundle_path=dags_folder, bundle_name="dags-folder"
    )
    if bag.import_errors:
        print(json.dumps(bag.import_errors, indent=2), file=sys.stderr)
        return 1
    dag = bag.get_dag(DAG_ID)
    now = mark("DAG parse", now)
    run = dag.test(run_conf=args.conf)
    now = mark("DAG run (dag.test)", now)
    print_summary(dag, run)
    mark("summary", now)
    total = time.time() - started + (marks[0][1] if marks[0][0].startswith("setup") else 0.0)
    print("\nTime: " + ", ".join(f"{label} {seconds:.1f} s" for label, seconds in marks) + f"; total {total:.1f} s")
    return 0 if str(run.state) == "success" else 1


if __name__ == "__main__":
    code = main()
    # Everything is written by now. Interpreter shutdown (the in-process task supervisor's
    # threads, finalising the modules of Airflow, MLflow and scikit-learn) adds seconds.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
