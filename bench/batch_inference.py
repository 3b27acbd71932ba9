"""Batch inference, Parquet -> Parquet: the hook's streaming ``batch_predict`` vs load-everything pandas.

Input: ``--rows`` (default 10,000,000) rows x 20 float64 features, generated once with
pyarrow in 1M-row chunks/row groups under ``bench/out/`` (gitignored) and reused. A
LogisticRegression on the 20 features is registered (with its signature) in a fresh
sqlite MLflow registry. Each contender then runs in its own subprocess; the parent (which
imports nothing heavy) measures its wall time and peak RSS (``ru_maxrss`` from
``os.wait4``):

* ours: ``MlflowRegistryHook.batch_predict`` (reads the signature, loads the verified
  pyfunc model, streams through ``inference.stream_predict``, which scores numpy matrices
  with the native estimator after checking the schema once) with ``--batch-size`` rows
  per batch (default 100,000);
* baseline: ``mlflow.pyfunc.load_model`` + ``pd.read_parquet`` of the whole file +
  ``model.predict`` + a DataFrame with the prediction and constant ``model_name`` /
  ``model_version`` columns written with ``to_parquet``.

Each child also reports its scoring time after imports (load model, read, predict,
write): the throughput target is judged on that, since an Airflow worker has airflow
and mlflow imported already; whole-process wall times are printed too. The contenders
alternate for ``--rounds`` rounds (default 3); medians and ratios are printed, and both
outputs are checked to hold the same predictions. Targets: throughput ours/baseline
>= 0.9, peak RSS ours/baseline <= 0.25.

Run: ``.venv/bin/python bench/batch_inference.py [--rows 10000000] [--batch-size 100000]``
(``--batch-size`` takes several comma-separated sizes to compare them).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
N_FEATURES = 20
ROW_GROUP = 1_000_000
MODEL_NAME = "bench_batch"
THROUGHPUT_TARGET = 0.9
RSS_TARGET = 0.25


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


def _features() -> list[str]:
    return [f"x{i:02d}" for i in range(N_FEATURES)]


def _setup_env(work: Path) -> str:
    """Airflow and the registry connection, before anything imports airflow."""
    tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
    os.environ["AIRFLOW_HOME"] = str(work / "airflow")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW_CONN_MLFLOW_DEFAULT"] = json.dumps(
        {"conn_type": "mlflow_registry", "extra": {"tracking_uri": tracking_uri}}
    )
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return tracking_uri


def _quiet() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    for name in ("mlflow", "alembic", "airflow"):
        logging.getLogger(name).setLevel(logging.WARNING)


# -- children ----------------------------------------------------------------------------
def child_generate(path: Path, rows: int) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = _features()
    rng = np.random.default_rng(42)
    tmp = path.with_suffix(".tmp")
    schema = pa.schema([(name, pa.float64()) for name in names])
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            block = rng.normal(size=(n, N_FEATURES))
            table = pa.Table.from_arrays([pa.array(block[:, i]) for i in range(N_FEATURES)], schema=schema)
            writer.write_table(table, row_group_size=ROW_GROUP)
    tmp.replace(path)
    return {"rows": rows, "bytes": path.stat().st_size}


def child_register(work: Path) -> dict:
    _setup_env(work)
    _quiet()
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from airflow_registry_provider import tags
    from airflow_registry_provider.artifacts import pinned_requirements
    from airflow_registry_provider.hooks.base import ModelPackage
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20_000, N_FEATURES)), columns=_features())
    weights = rng.normal(size=N_FEATURES)
    label = (frame.to_numpy() @ weights + rng.normal(scale=0.5, size=len(frame)) > 0).astype(int)
    model = LogisticRegression(max_iter=500).fit(frame, label)
    package = ModelPackage(
        version_name="1.0.0",
        flavor="sklearn",
        artifact_sha256="bench",
        model=model,
        sample_input=frame.head(20),
        pip_requirements=pinned_requirements("sklearn"),
        tags={tags.VERSION_NAME: "1.0.0", tags.ARTIFACT_SHA256: "bench"},
    )
    version, _ = MlflowRegistryHook().register_version(MODEL_NAME, package)
    return {"version": version.version}


def child_ours(work: Path, source: str, destination: str, batch_size: int) -> dict:
    _setup_env(work)
    _quiet()
    import mlflow.pyfunc  # noqa: F401 - the same imports as the baseline, outside the timing
    import pandas as pd  # noqa: F401

    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    started = time.perf_counter()
    hook = MlflowRegistryHook()
    version = hook.get_version(MODEL_NAME, "1")
    summary = hook.batch_predict(version, source, destination, batch_size=batch_size)
    return {"rows": summary["rows"], "score_s": time.perf_counter() - started}


def child_baseline(work: Path, source: str, destination: str) -> dict:
    tracking_uri = _setup_env(work)
    _quiet()
    import mlflow
    import mlflow.pyfunc
    import pandas as pd

    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook  # noqa: F401 - same imports as ours

    started = time.perf_counter()
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/1")
    frame = pd.read_parquet(source)
    result = pd.DataFrame({"prediction": model.predict(frame)})
    result["model_name"] = MODEL_NAME
    result["model_version"] = "1"
    result.to_parquet(destination, index=False)
    return {"rows": len(result), "score_s": time.perf_counter() - started}


def child_verify(ours: str, baseline: str) -> dict:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    a = pq.read_table(ours, columns=["prediction", "model_name", "model_version"])
    b = pq.read_table(baseline, columns=["prediction", "model_name", "model_version"])
    same = a.num_rows == b.num_rows and a.column("prediction").equals(b.column("prediction"))
    for column in ("model_name", "model_version"):
        same = same and pc.all(pc.equal(a.column(column).cast("string"), b.column(column).cast("string"))).as_py()
    return {"same": bool(same), "rows": a.num_rows}


def run_child(*args: str) -> tuple[dict, float, int]:
    """Run this script as a child; return its JSON result, wall seconds and peak RSS bytes."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed with exit code {proc.returncode}")
    return json.loads(out.decode().strip().splitlines()[-1]), wall, usage.ru_maxrss * 1024


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch-size", default="100000", help="rows per batch; comma-separated to compare")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    use_bytecode_cache()

    if args.child:
        role, *rest = args.child
        handlers = {
            "generate": lambda: child_generate(Path(rest[0]), int(rest[1])),
            "register": lambda: child_register(Path(rest[0])),
            "ours": lambda: child_ours(Path(rest[0]), rest[1], rest[2], int(rest[3])),
            "baseline": lambda: child_baseline(Path(rest[0]), rest[1], rest[2]),
            "verify": lambda: child_verify(rest[0], rest[1]),
        }
        result = handlers[role]()
        sys.stdout.flush()
        print(json.dumps(result))
        return 0

    batch_sizes = [int(b) for b in args.batch_size.split(",")]
    OUT.mkdir(exist_ok=True)
    source = OUT / f"features_{args.rows}.parquet"
    if not source.exists():
        info, wall, _ = run_child("generate", str(source), str(args.rows))
        print(f"generated {source} ({info['bytes'] / 2**20:,.0f} MB) in {wall:.1f} s")
    warmup = OUT / "features_warmup.parquet"
    if not warmup.exists():
        run_child("generate", str(warmup), "100000")
    work = Path(tempfile.mkdtemp(prefix="arp-bench-batch-", dir=OUT))
    run_child("register", str(work))
    # Warm-up (not recorded): bytecode cache, page cache, sqlite file.
    scratch = str(work / "warmup.parquet")
    run_child("ours", str(work), str(warmup), scratch, str(batch_sizes[0]))
    run_child("baseline", str(work), str(warmup), scratch)
    print(f"input: {source} ({args.rows:,} rows x {N_FEATURES} float64), registry: {work / 'mlflow.db'}")
    print(f"parent peak RSS {_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)} (kept small)")

    contenders = [f"ours@{b}" for b in batch_sizes] + ["baseline"]
    results: dict[str, list[tuple[float, float, int]]] = {c: [] for c in contenders}
    outputs = {c: str(OUT / f"pred_{c.replace('@', '_')}.parquet") for c in contenders}
    for round_no in range(1, args.rounds + 1):
        order = contenders if round_no % 2 else contenders[::-1]
        for name in order:
            if name == "baseline":
                child_args = ["baseline", str(work), str(source), outputs[name]]
            else:
                child_args = ["ours", str(work), str(source), outputs[name], name.split("@")[1]]
            info, wall, rss = run_child(*child_args)
            assert info["rows"] == args.rows, info
            results[name].append((info["score_s"], wall, rss))
            print(
                f"round {round_no} {name:>14}: scoring {info['score_s']:6.2f} s, process {wall:6.2f} s, "
                f"peak RSS {_mb(rss)}"
            )

    for name in contenders[:-1]:
        check, _, _ = run_child("verify", outputs[name], outputs["baseline"])
        print(f"{name} output matches baseline: {check['same']}")
        if not check["same"]:
            return 1

    def med(name: str, i: int) -> float:
        return statistics.median(r[i] for r in results[name])

    base_score, base_wall, base_rss = med("baseline", 0), med("baseline", 1), med("baseline", 2)
    print(f"\n{'contender':>14} {'rows/s (scoring)':>17} {'rows/s (process)':>17} {'peak RSS':>10}")
    for name in contenders:
        print(
            f"{name:>14} {args.rows / med(name, 0):>17,.0f} {args.rows / med(name, 1):>17,.0f} {_mb(med(name, 2)):>10}"
        )
    best = max(contenders[:-1], key=lambda c: -med(c, 0))
    ok = True
    for name in contenders[:-1]:
        throughput = base_score / med(name, 0)
        throughput_wall = base_wall / med(name, 1)
        rss = med(name, 2) / base_rss
        passed = throughput >= THROUGHPUT_TARGET and rss <= RSS_TARGET
        ok = ok and (passed or name != best)
        print(
            f"{name}: throughput ours/baseline = {throughput:.2f} (whole process {throughput_wall:.2f}; "
            f"target >= {THROUGHPUT_TARGET}), peak RSS ours/baseline = {rss:.3f} (target <= {RSS_TARGET}): "
            f"{'OK' if passed else 'FAIL'}"
        )
    print(f"best batch size: {best.split('@')[1]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
