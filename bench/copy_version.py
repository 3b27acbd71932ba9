"""Copying a ~50 MB model between two ``mlflow server``s on loopback vs a plain file copy of its files.

Two tracking servers on PostgreSQL, each proxying its own artifact store (``--artifacts-destination``),
as two environments' registries are. A model whose stored files weigh ``--megabytes``
(default 50; a k-nearest-neighbours classifier keeps its training data) is registered on
the source. Contenders, alternating for ``--rounds`` rounds (default 3) in this process:

* ours: ``CopyVersionOperator.execute`` into a fresh model of the target each round: the
  source's files downloaded and verified against their manifest, uploaded into the
  target's store, registered with metrics, tags, lineage, then read back and verified;
* plain: ``shutil.copytree`` of the version's directory in the source server's artifact
  store to a new temporary directory (no network, no registry, no verification);
* http: a plain file copy between the two servers' artifact stores: each file read from
  the source's artifact proxy and written to the target's (``requests``, one connection
  each, no registry, no verification): the bytes' own cost of crossing servers;
* transfer: MLflow's own artifact transfer of the same files, for reference
  (``download_artifacts`` from the source, ``log_artifacts`` into a run of the target).

Medians and every ratio are printed; the issue's target is ours/plain <= 1.5 (the exit
status); ours/http is the same comparison for files that must cross two servers.

Run: ``.venv/bin/python bench/copy_version.py [--megabytes 50] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.child import load_average

TARGET = 1.5
MODEL = "bench_copy"


def _setup(home: str, source_url: str, target_url: str) -> None:
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
    for conn_id, url in (("bench_dev", source_url), ("bench_prd", target_url)):
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
            {"conn_type": "mlflow_registry", "extra": {"tracking_uri": url, "timeout": 120}}
        )
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def _register_source(megabytes: int) -> Any:
    """A KNN classifier whose pickle holds ``megabytes`` of training data, registered on the source."""
    import numpy as np
    import pandas as pd
    from sklearn.neighbors import KNeighborsClassifier

    from airflow_registry_provider import tags
    from airflow_registry_provider.hooks.base import ModelPackage
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    columns = [f"f{i}" for i in range(10)]
    rows = megabytes * 1_000_000 // (8 * len(columns))
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(rows, len(columns))), columns=columns)
    model = KNeighborsClassifier(n_neighbors=3, algorithm="brute").fit(frame, (frame.f0 > 0).astype(int))
    package = ModelPackage(
        version_name="1.0.0",
        flavor="sklearn",
        artifact_sha256="bench",
        model=model,
        sample_input=frame.head(5),
        metrics={"accuracy": 0.9},
        tags={tags.VERSION_NAME: "1.0.0", tags.ARTIFACT_SHA256: "bench"},
        description="50 MB of neighbours",
    )
    version, _ = MlflowRegistryHook("bench_dev").register_version(MODEL, package)
    return version


def _stored_dir(source_url: str, artifacts_root: Path, version: str) -> Path:
    """The version's directory in the source server's artifact store (``mlflow-artifacts:/…``)."""
    from mlflow import MlflowClient

    uri = MlflowClient(source_url, source_url).get_model_version_download_uri(MODEL, version)
    return artifacts_root / unquote(urlparse(uri).path).lstrip("/")


def _ours(round_no: int, source: Any) -> float:
    from airflow_registry_provider.operators.copy_version import CopyVersionOperator
    from tests.helpers import task_context

    operator = CopyVersionOperator(
        task_id="copy",
        model_version=source.ref("bench_dev"),
        target_registry_conn_id="bench_prd",
        target_model_name=f"{MODEL}_{round_no}",
    )
    started = time.perf_counter()
    result = operator.execute(task_context("copy", run_id=f"bench_{round_no}"))
    elapsed = time.perf_counter() - started
    assert result["copied"], result
    return elapsed


def _plain(stored: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="arp-bench-plain-") as tmp:
        started = time.perf_counter()
        shutil.copytree(stored, Path(tmp) / "model")
        return time.perf_counter() - started


def _http(round_no: int, source_url: str, target_url: str, artifacts_root: Path, stored: Path) -> float:
    import requests

    files = sorted(p for p in stored.rglob("*") if p.is_file())
    proxy = "/api/2.0/mlflow-artifacts/artifacts/"
    with requests.Session() as reads, requests.Session() as writes:
        started = time.perf_counter()
        for path in files:
            got = reads.get(source_url + proxy + path.relative_to(artifacts_root).as_posix(), timeout=120)
            got.raise_for_status()
            put = f"{target_url}{proxy}bench_http/{round_no}/{path.relative_to(stored).as_posix()}"
            writes.put(put, data=got.content, timeout=120).raise_for_status()
        return time.perf_counter() - started


def _transfer(source_url: str, target_url: str, source: Any) -> float:
    import mlflow.artifacts
    from mlflow import MlflowClient

    target = MlflowClient(target_url, target_url)
    experiment = target.get_experiment_by_name("bench_transfer") or target.get_experiment(
        target.create_experiment("bench_transfer")
    )
    run_id = target.create_run(experiment.experiment_id).info.run_id
    uri = MlflowClient(source_url, source_url).get_model_version_download_uri(MODEL, source.version)
    with tempfile.TemporaryDirectory(prefix="arp-bench-transfer-") as tmp:
        started = time.perf_counter()
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp, tracking_uri=source_url)
        target.log_artifacts(run_id, local, "model")
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from tests.scaleout.servers import MlflowServer

    ratio = float("inf")
    root = Path(tempfile.mkdtemp(prefix="arp-bench-copy-"))
    servers = [MlflowServer(root / name) for name in ("source", "target")]
    try:
        for server in servers:
            server.root.mkdir()
            server.start()
        source_server, target_server = servers
        _setup(str(root / "airflow"), source_server.url, target_server.url)
        os.environ["MLFLOW_TRACKING_URI"] = "no-default-tracking-uri://pass-the-connection-uri-explicitly"
        source = _register_source(args.megabytes)
        stored = _stored_dir(source_server.url, source_server.root / "artifacts", source.version)
        size = sum(p.stat().st_size for p in stored.rglob("*") if p.is_file())
        print(f"source version {source.version}: {size / 1e6:.1f} MB in {stored}; {load_average()}")
        times: dict[str, list[float]] = {"ours": [], "plain": [], "http": [], "transfer": []}
        for round_no in range(args.rounds):
            times["plain"].append(_plain(stored))
            times["http"].append(
                _http(round_no, source_server.url, target_server.url, source_server.root / "artifacts", stored)
            )
            times["ours"].append(_ours(round_no, source))
            times["transfer"].append(_transfer(source_server.url, target_server.url, source))
            print(f"round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
        median = {k: statistics.median(v) for k, v in times.items()}
        ratio = median["ours"] / median["plain"]
        print(", ".join(f"median {k} {v:.3f}s" for k, v in median.items()))
        pairs = (("http", "plain"), ("transfer", "plain"), ("ours", "http"), ("ours", "transfer"))
        print("; ".join(f"{num}/{den} {median[num] / median[den]:.2f}" for num, den in pairs))
        verdict = "OK" if ratio <= TARGET else "FAIL"
        print(f"ours/plain {ratio:.2f} (target <= {TARGET}): {verdict}; after: {load_average()}")
    finally:
        for server in servers:
            server.close()
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
