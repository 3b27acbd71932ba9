"""Registrations per second against one ``mlflow server`` on PostgreSQL, at concurrency 1, 4 and 16.

Contenders, each registering ``--per-level`` new versions of a fresh model at every level:

* ours: ``MlflowRegistryHook.register_version`` with a package whose source is an already
  logged model (no upload), the path a LogModel retry or a cross-registry copy takes: name
  and version-name checks, the version-name lookup that makes retries idempotent, and the
  registration itself, retried when concurrent registrations collide;
* bare: ``MlflowClient.create_model_version`` with the same source.

Concurrency is ``c`` forked processes (Airflow tasks are processes), all released together
by a barrier; the wall time runs from the release to the last registration. Every level
must end with ``--per-level`` distinct versions and no error for both contenders.

Run: ``.venv/bin/python bench/registrations.py [--per-level 48] [--levels 1,4,16] [--server-workers 2]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.child import load_average


def _setup(url: str, home: str) -> None:
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW_CONN_MLFLOW_DEFAULT"] = json.dumps(
        {"conn_type": "mlflow_registry", "extra": {"tracking_uri": url, "timeout": 60}}
    )
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def _seed_version(url: str) -> dict[str, Any]:
    """Log one small model through the hook; its source is what every registration points at."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from airflow_registry_provider import tags
    from airflow_registry_provider.hooks.base import ModelPackage
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 3)), columns=["a", "b", "c"])
    model = LogisticRegression().fit(frame, (frame.a > 0).astype(int))
    package = ModelPackage(
        version_name="1.0.0",
        flavor="sklearn",
        artifact_sha256="seed",
        model=model,
        sample_input=frame.head(5),
        tags={tags.VERSION_NAME: "1.0.0", tags.ARTIFACT_SHA256: "seed"},
    )
    version, _ = MlflowRegistryHook().register_version("bench_seed", package)
    from mlflow import MlflowClient

    mv = MlflowClient(url).get_model_version("bench_seed", version.version)
    return {
        "uri": f"models:/bench_seed/{version.version}",
        "source": mv.source,
        "run_id": mv.run_id,
        "model_id": getattr(mv, "model_id", None) or mv.source.removeprefix("models:/"),
    }


def _register_ours(model: str, index: int, seed: dict[str, Any]) -> str:
    from airflow_registry_provider import tags
    from airflow_registry_provider.hooks.base import ModelPackage
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    name = f"1.0.{index}"
    package = ModelPackage(
        version_name=name,
        flavor="sklearn",
        artifact_sha256=f"sha-{index}",
        source_uri=seed["uri"],
        tags={tags.VERSION_NAME: name, tags.ARTIFACT_SHA256: f"sha-{index}"},
    )
    version, created = MlflowRegistryHook().register_version(model, package)
    assert created
    return version.version


def _register_bare(model: str, index: int, seed: dict[str, Any], url: str) -> str:
    from mlflow import MlflowClient

    mv = MlflowClient(url).create_model_version(
        model, seed["source"], run_id=seed["run_id"], tags={"version_name": f"1.0.{index}"}, model_id=seed["model_id"]
    )
    return str(mv.version)


def _worker(contender: str, model: str, indexes: list[int], seed: dict, url: str, barrier: Any, queue: Any) -> None:
    results = []
    try:
        barrier.wait(timeout=300)
        for index in indexes:
            try:
                if contender == "ours":
                    results.append((True, _register_ours(model, index, seed)))
                else:
                    results.append((True, _register_bare(model, index, seed, url)))
            except Exception as err:
                results.append((False, f"{type(err).__name__}: {err}"[:500]))
    except Exception:
        results.append((False, traceback.format_exc()[-500:]))
    queue.put((time.perf_counter(), results))


def run_level(contender: str, concurrency: int, per_level: int, seed: dict, url: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    model = f"bench_{contender}_c{concurrency}"
    client = MlflowClient(url)
    client.create_registered_model(model)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(concurrency + 1)
    queue = context.Queue()
    shares = [list(range(i, per_level, concurrency)) for i in range(concurrency)]
    processes = [
        context.Process(target=_worker, args=(contender, model, share, seed, url, barrier, queue)) for share in shares
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    outcomes = [queue.get(timeout=600) for _ in processes]
    elapsed = max(done for done, _ in outcomes) - started
    for process in processes:
        process.join(timeout=30)
    results = [r for _, rs in outcomes for r in rs]
    errors = [value for ok, value in results if not ok]
    versions = {str(mv.version) for mv in client.search_model_versions(f"name = '{model}'")}
    return {
        "per_s": per_level / elapsed,
        "errors": errors,
        "distinct": len(versions) == per_level and {v for ok, v in results if ok} == versions,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-level", type=int, default=48)
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--server-workers", type=int, default=2)
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    from tests.scaleout.servers import MlflowServer

    root = Path(tempfile.mkdtemp(prefix="arp-bench-registrations-"))
    server = MlflowServer(root, workers=args.server_workers)
    server.start()
    ok = True
    try:
        _setup(server.url, str(root / "airflow"))
        # Everything the children use is imported before they fork.
        import mlflow  # noqa: F401

        from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook  # noqa: F401

        seed = _seed_version(server.url)
        print(f"server {server.url} ({args.server_workers} workers) on PostgreSQL; {load_average()}")
        print(f"{'concurrency':>11} {'ours reg/s':>11} {'bare reg/s':>11} {'ours/bare':>10}  errors (ours, bare)")
        for concurrency in levels:
            ours = run_level("ours", concurrency, args.per_level, seed, server.url)
            bare = run_level("bare", concurrency, args.per_level, seed, server.url)
            level_ok = not ours["errors"] and ours["distinct"]
            ok = ok and level_ok
            ratio = ours["per_s"] / bare["per_s"]
            print(
                f"{concurrency:>11} {ours['per_s']:>11.1f} {bare['per_s']:>11.1f} {ratio:>10.2f}"
                f"  {len(ours['errors'])}, {len(bare['errors'])}{'' if ours['distinct'] else ' (ours: versions lost)'}"
                f"{'' if bare['distinct'] else ' (bare: versions lost)'}"
            )
            for error in (ours["errors"] + bare["errors"])[:3]:
                print(f"    {error}")
        print(f"after: {load_average()}")
    finally:
        server.close()
    print("no errors at any level for ours: " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
