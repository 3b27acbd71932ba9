"""One worker's scoring throughput: BatchInferenceOperator against a floor script.

Input: ``--rows`` (default 4,000,000) rows x 20 float64 features in 1M-row row groups,
generated once under ``bench/out/`` (shared with ``bench/batch_inference.py``). A
LogisticRegression is registered with its signature in a fresh sqlite MLflow registry.
Each contender runs in its own process (imports outside the timing: an Airflow worker has
them loaded); the parent measures wall time and peak RSS:

* floor: ``pyarrow.parquet.ParquetFile.iter_batches`` -> ``numpy`` matrix -> the native
  estimator's ``predict`` (unpickled directly, no MLflow) -> ``ParquetWriter``;
* ours: ``BatchInferenceOperator(...).execute(context)`` with ``alias="champion"``: resolve
  the version, verify and load the model, check the schema, stream, write atomically.

Each reports two times: **scoring** (the stream: read batches, predict, write; for ours the
``seconds`` BatchInference returns, which includes its probe of the numpy path) and **task**
(everything after imports: the floor's model unpickling; ours resolving the alias,
verifying and loading the model, checking the schema). Contenders alternate for
``--rounds`` rounds (default 3); the medians give the scoring-throughput ratio ours/floor
(target >= 0.7), the whole-task ratio and the peak-RSS ratio, and both outputs are checked
to hold the same predictions.

Run: ``.venv/bin/python bench/batch_throughput.py [--rows 4000000] [--batch-size 100000]``
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.batch_inference import (
    MODEL_NAME,
    N_FEATURES,
    OUT,
    _quiet,
    _setup_env,
    use_bytecode_cache,
)
from bench.child import bench_parser, child_main, data_handlers, load_average, prepare, run_child

TARGET = 0.7


def child_export(work: str) -> dict:
    """Save the registered estimator as a plain pickle for the floor (outside its timing).

    Through the hook, not ``mlflow.sklearn.load_model``: loading a ``models:/`` URI from a
    local artifact store makes MLflow write ``registered_model_meta`` into the stored files.
    """
    _setup_env(Path(work))
    _quiet()
    import joblib

    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    hook = MlflowRegistryHook()
    model, _ = hook.load_native_model(MODEL_NAME, "1")
    joblib.dump(model, Path(work) / "native.joblib")
    hook.set_alias(MODEL_NAME, "champion", "1")
    return {"saved": True}


def child_floor(work: str, source: str, destination: str, batch_size: str) -> dict:
    import warnings

    import joblib
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Predicting a matrix on a model fitted with column names warns once per batch.
    warnings.simplefilter("ignore", UserWarning)
    started = time.perf_counter()
    model = joblib.load(Path(work) / "native.joblib")
    scoring = time.perf_counter()
    parquet = pq.ParquetFile(source, pre_buffer=False)
    rows = 0
    with pq.ParquetWriter(destination, pa.schema([("prediction", pa.int64())])) as writer:
        for batch in parquet.iter_batches(batch_size=int(batch_size)):
            matrix = np.column_stack([column.to_numpy() for column in batch.columns])
            predictions = model.predict(matrix)
            writer.write_table(pa.table({"prediction": pa.array(predictions, pa.int64())}))
            rows += batch.num_rows
    end = time.perf_counter()
    return {"rows": rows, "score_s": end - scoring, "task_s": end - started}


def child_ours(work: str, source: str, destination: str, batch_size: str) -> dict:
    _setup_env(Path(work))
    _quiet()
    from collections import defaultdict
    from types import SimpleNamespace

    import mlflow.pyfunc
    import mlflow.sklearn  # noqa: F401

    from airflow_registry_provider.operators import BatchInferenceOperator

    ti = SimpleNamespace(dag_id="bench", run_id="manual__bench", task_id="score", try_number=1, map_index=-1)
    context = {"ti": ti, "run_id": ti.run_id, "dag_run": SimpleNamespace(run_id=ti.run_id, run_type="manual")}
    context["outlet_events"] = defaultdict(lambda: SimpleNamespace(add=lambda *a, **k: None))
    started = time.perf_counter()
    summary = BatchInferenceOperator(
        task_id="score",
        model_name=MODEL_NAME,
        alias="champion",
        input_path=source,
        output_path=destination,
        batch_size=int(batch_size),
    ).execute(context)
    task_s = time.perf_counter() - started
    return {"rows": summary["rows"], "score_s": summary["seconds"], "task_s": task_s, "path": summary["scored_with"]}


def child_verify(ours: str, floor: str) -> dict:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    a = pq.read_table(ours, columns=["prediction"]).column("prediction")
    b = pq.read_table(floor, columns=["prediction"]).column("prediction")
    same = len(a) == len(b) and pc.all(pc.equal(a.cast("int64"), b)).as_py()
    return {"same": bool(same)}


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def main() -> int:
    args = bench_parser(__doc__ or "", rows=4_000_000, rounds=3).parse_args()
    use_bytecode_cache()
    if args.child:
        handlers = {
            **data_handlers(),
            "export": child_export,
            "floor": child_floor,
            "ours": child_ours,
            "verify": child_verify,
        }
        return child_main(handlers, args.child)

    script = __file__
    source = OUT / f"features_{args.rows}.parquet"
    work = prepare(script, [source], args.rows, "arp-bench-throughput-", "export")
    print(f"input: {source} ({args.rows:,} rows x {N_FEATURES} float64), batch size {args.batch_size:,}")
    print(f"before: {load_average()}")
    outputs = {name: str(work / f"pred_{name}.parquet") for name in ("floor", "ours")}
    results: dict[str, list[tuple[float, float, float, int]]] = {"floor": [], "ours": []}
    for round_no in range(1, args.rounds + 1):
        for name in ("floor", "ours") if round_no % 2 else ("ours", "floor"):
            if os.path.exists(outputs[name]):
                os.remove(outputs[name])
            info, wall, rss = run_child(script, [name, str(work), str(source), outputs[name], str(args.batch_size)])
            assert info["rows"] == args.rows, info
            results[name].append((info["score_s"], info["task_s"], wall, rss))
            path = f" ({info['path']} path)" if "path" in info else ""
            print(
                f"round {round_no} {name:>5}: scoring {info['score_s']:6.2f} s, task {info['task_s']:6.2f} s, "
                f"process {wall:6.2f} s, RSS {_mb(rss)}{path}"
            )
    check, _, _ = run_child(script, ["verify", outputs["ours"], outputs["floor"]])
    print(f"after: {load_average()}")

    def med(name: str, i: int) -> float:
        return statistics.median(r[i] for r in results[name])

    for name in ("floor", "ours"):
        print(
            f"{name:>5}: scoring {args.rows / med(name, 0):>12,.0f} rows/s, "
            f"whole task {args.rows / med(name, 1):>12,.0f} rows/s, peak RSS {_mb(med(name, 3))}"
        )
    ratio = med("floor", 0) / med("ours", 0)
    ok = ratio >= TARGET and check["same"]
    print(
        f"scoring throughput ours/floor = {ratio:.2f} (target >= {TARGET}); whole task ours/floor = "
        f"{med('floor', 1) / med('ours', 1):.2f} (fixed costs: ours {med('ours', 1) - med('ours', 0):.2f} s, floor "
        f"{med('floor', 1) - med('floor', 0):.2f} s); peak RSS ours/floor = {med('ours', 3) / med('floor', 3):.2f}; "
        f"same predictions: {check['same']}: {'OK' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
