"""Promotions of one alias against one ``mlflow server`` on PostgreSQL: what the alias lease costs.

Contenders, each moving ``champion`` onto ``--n`` versions of a fresh model:

* ours, sequential: ``PromoteVersionOperator.execute`` one after another in one process
  (lease claim, 0.5 s settle, reads, both alias moves, audit records, release);
* ours, concurrent: the same ``--n`` promotions in forked processes released together by a
  barrier (Airflow tasks are processes); the lease makes them take turns;
* bare: ``set_registered_model_alias`` for ``previous_champion`` then ``champion``, one
  promotion after another: the two writes alone, with no read, record or guarantee.

Afterwards ``champion`` must be on one of the promoted versions and the lease free.

Run: ``.venv/bin/python bench/promotions.py [--n 8] [--server-workers 2]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.child import load_average
from bench.registrations import _setup


def _model(url: str, name: str, n: int) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(url)
    client.create_registered_model(name)
    return [str(client.create_model_version(name, source="s3://bench-bucket/model").version) for _ in range(n)]


def _promote(name: str, version: str, index: int) -> dict[str, Any]:
    from airflow_registry_provider.operators import PromoteVersionOperator
    from tests.helpers import task_context

    ref = {"registry_conn_id": "mlflow_default", "model_name": name, "version": version}
    operator = PromoteVersionOperator(task_id="promote", model_version=ref, require_validation=False)
    return operator.execute(task_context("promote", run_id=f"manual__bench{index}"))


def _child(name: str, version: str, index: int, barrier: Any, queue: Any) -> None:
    barrier.wait(timeout=300)
    try:
        _promote(name, version, index)
        queue.put((time.perf_counter(), None))
    except Exception as err:
        queue.put((time.perf_counter(), f"{type(err).__name__}: {err}"[:300]))


def concurrent(url: str, n: int) -> tuple[float, list[str], str]:
    name = "bench_promote_concurrent"
    versions = _model(url, name, n)
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(n + 1), context.Queue()
    processes = [context.Process(target=_child, args=(name, v, i, barrier, queue)) for i, v in enumerate(versions)]
    for process in processes:
        process.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    outcomes = [queue.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return max(t for t, _ in outcomes) - started, [e for _, e in outcomes if e], name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--server-workers", type=int, default=2)
    args = parser.parse_args()

    from tests.scaleout.servers import MlflowServer

    root = Path(tempfile.mkdtemp(prefix="arp-bench-promotions-"))
    server = MlflowServer(root, workers=args.server_workers)
    server.start()
    try:
        _setup(server.url, str(root / "airflow"))
        from mlflow import MlflowClient

        from airflow_registry_provider.alias_lease import lease_key
        from airflow_registry_provider.operators import PromoteVersionOperator  # noqa: F401 - before forking

        client = MlflowClient(server.url)
        print(f"server {server.url} ({args.server_workers} workers) on PostgreSQL; {load_average()}")

        versions = _model(server.url, "bench_promote_bare", args.n)
        started = time.perf_counter()
        for previous, version in zip([None, *versions], versions, strict=False):
            if previous is not None:
                client.set_registered_model_alias("bench_promote_bare", "previous_champion", previous)
            client.set_registered_model_alias("bench_promote_bare", "champion", version)
        bare = time.perf_counter() - started

        versions = _model(server.url, "bench_promote_sequential", args.n)
        started = time.perf_counter()
        for index, version in enumerate(versions):
            _promote("bench_promote_sequential", version, index)
        sequential = time.perf_counter() - started

        together, errors, name = concurrent(server.url, args.n)
        champion = str(client.get_model_version_by_alias(name, "champion").version)
        lease = client.get_registered_model(name).tags.get(lease_key("champion"))
        ok = not errors and champion in {str(v) for v in range(1, args.n + 1)} and lease == ""

        n = args.n
        print(f"{'contender':>22} {'total s':>8} {'per promotion s':>16} {'vs bare':>8}")
        rows = (("bare (2 writes)", bare), ("ours sequential", sequential), ("ours concurrent", together))
        for label, seconds in rows:
            print(f"{label:>22} {seconds:>8.2f} {seconds / n:>16.3f} {seconds / bare:>8.1f}x")
        print(f"concurrent / sequential: {together / sequential:.2f}  (the lease makes them take turns)")
        print(f"errors: {len(errors)}; champion on version {champion}; lease free: {lease == ''}")
        for error in errors[:3]:
            print(f"    {error}")
        print(f"after: {load_average()}")
    finally:
        server.close()
    print("one consistent champion, no errors: " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
