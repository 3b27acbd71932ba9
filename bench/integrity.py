"""Integrity check cost: verifying a version's files against its manifest vs loading the model.

Two scikit-learn models are registered in a fresh sqlite MLflow registry through the hook
(which records the manifest): a small LogisticRegression (a few kB of pickle) and a
RandomForest of 200 trees (tens of MB). For each, in one warm process and alternating:

* verify: reading the manifest from the version's tags and checking every downloaded
  file against it (``integrity.recorded_manifest`` + ``integrity.verify_files``), the
  work ``load_model`` adds;
* load: ``mlflow.pyfunc.load_model`` of the same downloaded directory;
* end to end: ``hook.load_model`` (download, verify, load) next to the same download and
  load without the check.

Medians over ``--rounds`` rounds (default 15) and the ratios are printed. Target: verify
< 10 % of the small model's load. Hashing grows with the bytes and unpickling does not, so
the larger model shows where the check starts to cost (reported, not gated).

Run: ``.venv/bin/python bench/integrity.py [--rounds 15]``
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_RATIO = 0.10


def median_time(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(hook: Any, version: Any, model_dir: str, work: Path, rounds: int) -> tuple[float, float, float, float]:
    """Median seconds of: verify, pyfunc load, hook.load_model, and download+load without the check."""
    import mlflow.artifacts
    import mlflow.pyfunc

    from airflow_registry_provider import integrity
    from airflow_registry_provider.hooks.mlflow.lookup import registry_client

    def verify() -> None:
        manifest = integrity.recorded_manifest(version.tags, what="bench", fetch=lambda uri: "")
        assert manifest is not None
        integrity.verify_files(model_dir, manifest, what="bench")

    def load() -> object:
        return mlflow.pyfunc.load_model(model_dir)

    def unverified_end_to_end() -> object:
        # The same reads, download and load as hook.load_model, without the manifest check.
        tmp = tempfile.mkdtemp(dir=work)
        hook.get_version_tags(version.model_name, version.version)
        uri = registry_client(hook._mlflow_client).get_model_version_download_uri(version.model_name, version.version)
        model = mlflow.pyfunc.load_model(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        shutil.rmtree(tmp)
        return model

    load()  # warm-up: the first unpickle imports sklearn's modules
    return (
        median_time(verify, rounds),
        median_time(load, rounds),
        median_time(lambda: hook.load_model(version.model_name, version.version), rounds),
        median_time(unverified_end_to_end, rounds),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="arp-bench-integrity-"))
    os.environ["AIRFLOW_HOME"] = str(work / "airflow")  # before anything imports airflow
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW_CONN_MLFLOW_DEFAULT"] = json.dumps(
        {"conn_type": "mlflow_registry", "extra": {"tracking_uri": f"sqlite:///{work / 'mlflow.db'}"}}
    )
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    import logging
    import warnings

    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from airflow_registry_provider import tags
    from airflow_registry_provider.artifacts import pinned_requirements
    from airflow_registry_provider.hooks.base import ModelPackage
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "airflow"):
        logging.getLogger(name).setLevel(logging.ERROR)

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(2_000, 8)), columns=[f"f{i}" for i in range(8)])
    label = (frame.f0 + frame.f1 * frame.f2 > 0).astype(int)
    hook = MlflowRegistryHook()
    models = {
        "logistic regression": LogisticRegression().fit(frame, label),
        "random forest (200 trees)": RandomForestClassifier(n_estimators=200, random_state=0).fit(frame, label),
    }

    ok = True
    try:
        for i, (label_name, estimator) in enumerate(models.items()):
            name = f"bench_{i}"
            package = ModelPackage(
                version_name="1.0.0",
                flavor="sklearn",
                artifact_sha256=str(i),
                model=estimator,
                sample_input=frame.head(20),
                pip_requirements=pinned_requirements("sklearn"),
                tags={tags.VERSION_NAME: "1.0.0", tags.ARTIFACT_SHA256: str(i)},
            )
            version, _ = hook.register_version(name, package)
            model_dir = hook.download_model(name, version.version, str(work / f"dl-{i}"))
            size = sum(p.stat().st_size for p in Path(model_dir).rglob("*") if p.is_file())
            t_verify, t_load, t_hook, t_plain = measure(hook, version, model_dir, work, args.rounds)
            ratio, e2e_ratio = t_verify / t_load, t_verify / t_plain
            if i == 0:  # the target is set for a small model
                ok = ratio < TARGET_RATIO
            files = len(json.loads(version.tags[tags.MODEL_MANIFEST]))
            print(f"{label_name}: {size / 1e3:,.0f} kB in {files} files")
            print(f"  verify {t_verify * 1000:.2f} ms vs pyfunc load {t_load * 1000:.1f} ms: ratio {ratio:.3f}")
            print(
                f"  verify vs download+load {t_plain * 1000:.1f} ms: ratio {e2e_ratio:.3f}; "
                f"hook.load_model (all of it, verified) {t_hook * 1000:.1f} ms"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"target: verify < {TARGET_RATIO:.0%} of the small model's load: {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
