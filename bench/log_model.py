"""Registration cost: ``MlflowRegistryHook.register_version`` vs MLflow's default ``log_model``.

Both register the same small scikit-learn model (a LogisticRegression on a few
features) with a signature and an input example into a fresh sqlite MLflow registry,
in one warm process (imports done, one warm-up call of each first). Only the
registration call itself is timed:

* ours: ``hook.register_version(name, package)`` with a ``ModelPackage`` built the way
  ``LogModelOperator._package`` builds it (model loaded from its joblib file, sha256 of
  the file, pinned requirements from ``artifacts.pinned_requirements``, sample input);
* MLflow default: ``mlflow.start_run()`` + ``infer_signature`` +
  ``mlflow.sklearn.log_model(model, name="model", signature=..., input_example=...,
  registered_model_name=...)`` without ``pip_requirements``, so MLflow infers them.

The process works from the temp dir: run from a uv project (a folder with ``uv.lock`` and
``pyproject.toml``, such as this repository) MLflow 3.17 exports the requirements with
``uv export`` instead of inferring them, which is what ``--keep-cwd`` measures.

The two alternate for ``--rounds`` rounds (default 3); medians and the ratio are printed.
Target: ours <= 1/20 of MLflow's time.

Run: ``.venv/bin/python bench/log_model.py [--rounds 3]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 1 / 20


def use_bytecode_cache() -> None:
    """Cache compiled bytecode under bench/out/pycache, for this process and its children.

    This environment may set PYTHONDONTWRITEBYTECODE (and the venv holds no .pyc files),
    which makes every fresh process compile mlflow, airflow and sklearn from source: seconds
    a deployed worker, whose bytecode is cached, does not spend.
    """
    prefix = str(Path(__file__).resolve().parent / "out" / "pycache")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    sys.dont_write_bytecode = False
    sys.pycache_prefix = prefix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep-cwd", action="store_true", help="stay in the current directory (uv export path)")
    args = parser.parse_args()
    use_bytecode_cache()

    work = Path(tempfile.mkdtemp(prefix="arp-bench-logmodel-"))
    tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
    if not args.keep_cwd:
        os.chdir(work)
    # Airflow reads its configuration on first import: point it at the temp dir first.
    os.environ["AIRFLOW_HOME"] = str(work / "airflow")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW_CONN_MLFLOW_DEFAULT"] = json.dumps(
        {"conn_type": "mlflow_registry", "extra": {"tracking_uri": tracking_uri}}
    )
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    import logging
    import warnings

    import joblib
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from airflow_registry_provider import tags
    from airflow_registry_provider.artifacts import (
        load_model_file,
        pinned_requirements,
        read_table_file,
        sha256_file,
    )
    from airflow_registry_provider.hooks.base import ModelPackage
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "airflow"):
        logging.getLogger(name).setLevel(logging.ERROR)

    features = ["f1", "f2", "f3", "f4"]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(500, len(features))), columns=features)
    label = (frame.f1 + 0.5 * frame.f2 - 0.2 * frame.f4 > 0).astype(int)
    model_path = str(work / "model.joblib")
    sample_path = str(work / "sample.parquet")
    joblib.dump(LogisticRegression().fit(frame, label), model_path)
    frame.head(20).to_parquet(sample_path, index=False)

    hook = MlflowRegistryHook()

    def package(version_name: str) -> ModelPackage:
        """What LogModelOperator._package builds for a model file (lineage tags aside)."""
        estimator, flavor = load_model_file(model_path)
        sha256 = sha256_file(model_path)
        return ModelPackage(
            version_name=version_name,
            flavor=flavor,
            artifact_sha256=sha256,
            model=estimator,
            sample_input=read_table_file(sample_path, "sample_input"),
            pip_requirements=pinned_requirements(flavor),
            tags={tags.VERSION_NAME: version_name, tags.ARTIFACT_SHA256: sha256, tags.FLAVOR: flavor},
        )

    # MLflow's default path logs into its own experiment, with artifacts in the temp dir.
    client = MlflowClient(tracking_uri)
    # (No mlflow.set_experiment: a process-global active experiment makes the hook's
    # start_run(run_id=...) fail, as the experiment ids differ.)
    experiment_id = client.create_experiment(
        "mlflow_default_bench", artifact_location=(work / "mlflow-artifacts").as_uri()
    )

    def ours(i: int) -> float:
        pkg = package(f"1.0.{i}")
        started = time.perf_counter()
        _, created = hook.register_version("bench_ours", pkg)
        elapsed = time.perf_counter() - started
        assert created
        return elapsed

    def mlflow_default(i: int) -> float:
        model, _ = load_model_file(model_path)
        sample = read_table_file(sample_path, "sample_input")
        mlflow.set_tracking_uri(tracking_uri)
        started = time.perf_counter()
        # (MLflow prints "Successfully registered model ..." to stderr: keep the report readable.)
        with mlflow.start_run(experiment_id=experiment_id), contextlib.redirect_stderr(io.StringIO()):
            signature = infer_signature(sample, model.predict(sample))
            mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=sample.head(5),
                registered_model_name="bench_mlflow",
            )
        return time.perf_counter() - started

    print(f"store: {tracking_uri}; cwd: {os.getcwd()}")
    print(f"warm-up: ours {ours(0):.3f} s, mlflow default {mlflow_default(0):.3f} s")
    times: dict[str, list[float]] = {"ours": [], "mlflow": []}
    for i in range(1, args.rounds + 1):
        # Alternate which one goes first so drift in machine load hits both alike.
        order = [("ours", ours), ("mlflow", mlflow_default)]
        if i % 2 == 0:
            order.reverse()
        for key, fn in order:
            times[key].append(fn(i))
        print(f"round {i}: ours {times['ours'][-1]:.3f} s, mlflow default {times['mlflow'][-1]:.3f} s")

    ours_median = statistics.median(times["ours"])
    mlflow_median = statistics.median(times["mlflow"])
    ratio = ours_median / mlflow_median
    ok = ratio <= TARGET_RATIO
    print(f"median ours (register_version, pinned requirements): {ours_median * 1000:.0f} ms")
    print(f"median mlflow.sklearn.log_model (inferred requirements): {mlflow_median * 1000:.0f} ms")
    print(
        f"ratio ours/mlflow = {ratio:.3f} (1/{1 / ratio:.1f}); target <= 1/{1 / TARGET_RATIO:.0f}: "
        f"{'OK' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
