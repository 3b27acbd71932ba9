"""Partitioned scoring under the CeleryExecutor: 1 worker against 2 workers, and the per-task overhead.

Input: ``--partitions`` (default 8) Parquet files of ``--rows`` (default 2,000,000) rows x 20
float64 features under ``bench/out/`` (generated once). A LogisticRegression is registered
in a sqlite MLflow registry every worker reads, and holds ``champion``.

One cluster (``tests/cluster``: api-server, scheduler, dag-processor, 2 Celery workers of one
slot each, metadata in a fresh PostgreSQL database, Redis broker) runs the DAG
``partitioned_scoring`` (tests/scaleout/dags): pin the version, one mapped BatchInference
task per partition, a manifest. Rounds alternate 1 worker (worker2 stopped) and 2 workers
(``--rounds``, default 2: 1w, 2w, ...). Per round: the run's wall time (DAG run start to
end), and per task its duration, its bare scoring time (the ``seconds`` BatchInference
reports: read, predict, write) and its queue latency (queued -> started).

Prints the speed-up wall(1 worker) / wall(2 workers) (target >= 1.6 on 2 cores) and the
per-task overhead (duration - bare scoring) next to the bare scoring time.

Run: ``.venv/bin/python bench/partitions.py [--rows 2000000] [--partitions 8] [--rounds 2]``
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.batch_inference import MODEL_NAME, OUT, use_bytecode_cache  # noqa: E402
from bench.child import bench_parser, child_main, data_handlers, load_average, prepare  # noqa: E402

if TYPE_CHECKING:
    from tests.cluster.harness import AirflowCluster

DAG_ID = "partitioned_scoring"
TARGET = 1.6


def child_alias(work: str) -> dict:
    from mlflow import MlflowClient

    uri = f"sqlite:///{Path(work) / 'mlflow.db'}"
    MlflowClient(uri, uri).set_registered_model_alias(MODEL_NAME, "champion", "1")
    return {"ok": True}


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def one_round(cluster: AirflowCluster, inputs: Path, outputs: Path, batch_size: int) -> dict:
    if outputs.exists():
        shutil.rmtree(outputs)
    conf = {"input_root": str(inputs), "output_dir": str(outputs), "model_name": MODEL_NAME, "batch_size": batch_size}
    run_id = cluster.trigger(DAG_ID, conf)
    state = cluster.wait_for_run(DAG_ID, run_id, timeout=3600)
    if state != "success":
        raise SystemExit(f"run {run_id} ended {state}")
    run = cluster.api("GET", cluster.run_path(DAG_ID, run_id))
    scores = [ti for ti in cluster.task_instances(DAG_ID, run_id) if ti["task_id"] == "score"]
    tasks = []
    for ti in scores:
        bare = cluster.xcom(DAG_ID, run_id, "score", map_index=ti["map_index"])["seconds"]
        tasks.append(
            {
                "duration": _seconds(ti["start_date"], ti["end_date"]),
                "bare": float(bare),
                "queued": _seconds(ti["queued_when"], ti["start_date"]) if ti.get("queued_when") else 0.0,
                "worker": ti["hostname"],
            }
        )
    return {"wall": _seconds(run["start_date"], run["end_date"]), "tasks": tasks}


def main() -> int:
    parser = bench_parser(__doc__ or "", rows=2_000_000, rounds=2)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    use_bytecode_cache()
    if args.child:
        return child_main({**data_handlers(), "alias": child_alias}, args.child)

    inputs = OUT / f"partitions_{args.partitions}x{args.rows}"
    files = [inputs / f"part-{i:04d}.parquet" for i in range(args.partitions)]
    work = prepare(__file__, files, args.rows, "arp-bench-partitions-", "alias")

    from tests.cluster.harness import AirflowCluster, ClusterConfig, services_missing

    missing = services_missing()
    if missing:
        raise SystemExit(missing)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    conn = json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri}})
    cluster = AirflowCluster(
        work / "cluster",
        ClusterConfig(REPO / "tests" / "scaleout" / "dags", workers=2, env={"AIRFLOW_CONN_MLFLOW_DEFAULT": conn}),
    )
    rounds: dict[int, list[dict]] = {1: [], 2: []}
    try:
        cluster.start()
        cluster.wait_for_dag(DAG_ID)
        print(f"{args.partitions} partitions x {args.rows:,} rows x 20 float64; {load_average()}")
        for round_no in range(args.rounds):
            workers = 1 if round_no % 2 == 0 else 2
            worker2 = cluster.components["worker2"]
            if workers == 1 and worker2.running():
                worker2.stop()
            elif workers == 2 and not worker2.running():
                worker2.start()
                cluster.wait_for_worker("worker2")
            result = one_round(cluster, inputs, work / f"out_{round_no}", args.batch_size)
            rounds[workers].append(result)
            tasks = result["tasks"]
            print(
                f"round {round_no + 1}: {workers} worker(s), run {result['wall']:6.1f} s, "
                f"tasks on {len({t['worker'] for t in tasks})} worker(s), bare scoring "
                f"{sum(t['bare'] for t in tasks):6.1f} s in all; {load_average()}"
            )
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)

    if not rounds[1] or not rounds[2]:
        print("need at least 2 rounds (1 worker and 2 workers)")
        return 1
    wall = {n: statistics.median(r["wall"] for r in rounds[n]) for n in (1, 2)}
    tasks = [t for n in (1, 2) for r in rounds[n] for t in r["tasks"]]
    bare = statistics.mean(t["bare"] for t in tasks)
    overhead = statistics.mean(t["duration"] - t["bare"] for t in tasks)
    queued = statistics.mean(t["queued"] for t in tasks)
    speedup = wall[1] / wall[2]
    print(f"run wall: 1 worker {wall[1]:.1f} s, 2 workers {wall[2]:.1f} s")
    print(
        f"per task: bare scoring {bare:.2f} s, task overhead (duration - bare: process, imports, "
        f"model load) {overhead:.2f} s ({overhead / bare:.0%} of bare), queue latency {queued:.2f} s"
    )
    print(
        f"speed-up 2 workers / 1 worker = {speedup:.2f} (target >= {TARGET}): {'OK' if speedup >= TARGET else 'FAIL'}"
    )
    return 0 if speedup >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
