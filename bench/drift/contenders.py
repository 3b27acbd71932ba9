"""One bench contender per process (run by ``run.py``, which measures its peak RSS).

Prints one JSON object: ``seconds`` is the contender's own work, timed from after its
imports, so interpreter start-up and import times do not blur the ratios, and
``cpu_seconds`` the CPU time of that work (all threads), which other load on the
machine disturbs less than the wall time.

- ``floor``: read both files, then one ``np.sort`` per numeric column of each, on the
  same thread pool size as the engine: the least any exact check must do.
- ``floor-current``: the same for the current file alone, the least a check against a
  stored profile must do.
- ``ours-raw``: ``check_drift(current, reference_path)``.
- ``ours-profile``: ``check_drift(current, ReferenceProfile.from_json(...))``, the
  operator's path (reading the profile JSON included).
- ``build-profile``: ``build_profile(reference)`` written as JSON.

Usage: ``python bench/drift/contenders.py NAME OUT_DIR``
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from airflow_registry_provider.drift import ReferenceProfile, build_profile, check_drift
from airflow_registry_provider.drift.inputs import MAX_WORKERS


def _floor(paths: list[Path]) -> dict[str, object]:
    start = time.perf_counter()
    tables = [pq.ParquetFile(path).read() for path in paths]
    # Zero-copy from the arrow buffers, as the engine does: pyarrow's to_numpy would
    # import pandas on the clock. The bench's numeric columns are 64-bit without nulls.
    numeric = [
        np.concatenate(
            [
                np.frombuffer(
                    chunk.buffers()[1],
                    dtype=np.float64 if pa.types.is_floating(field.type) else np.int64,
                    count=len(chunk),
                )
                for chunk in table.column(field.name).chunks
            ]
        )
        for table in tables
        for field in table.schema
        if pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
    ]
    with ThreadPoolExecutor(MAX_WORKERS) as pool:
        # Each sorted column is dropped at once, as the engine drops its columns.
        sorted_columns = list(pool.map(lambda values: np.sort(values).size, numeric))
    return {
        "seconds": time.perf_counter() - start,
        "sorted_columns": len(sorted_columns),
    }


_STATS = (
    "ks",
    "wasserstein",
    "std_reference",
    "ks_error_bound",
    "wasserstein_error_bound",
)


def _check(out: Path, reference: str) -> dict[str, object]:
    start = time.perf_counter()
    if reference == "profile":
        ref: ReferenceProfile | Path = ReferenceProfile.from_json((out / "profile.json").read_text())
        current = out / "current.parquet"
    elif reference == "control":
        ref = ReferenceProfile.from_json((out / "profile.json").read_text())
        current = out / "control.parquet"
    else:
        ref = out / "reference.parquet"
        current = out / "current.parquet"
    report = check_drift(current, ref).to_dict()
    seconds = time.perf_counter() - start
    stats = {
        name: {key: col.get(key) for key in _STATS}
        for name, col in report["columns"].items()
        if col["kind"] == "numeric"
    }
    return {"seconds": seconds, "drifted": report["drifted_columns"], "numeric": stats}


def main() -> None:
    name, out = sys.argv[1], Path(sys.argv[2])
    cpu_start = time.process_time()
    if name == "floor":
        result = _floor([out / "reference.parquet", out / "current.parquet"])
    elif name == "floor-current":
        result = _floor([out / "current.parquet"])
    elif name == "ours-raw":
        result = _check(out, "data")
    elif name == "ours-profile":
        result = _check(out, "profile")
    elif name == "ours-control":
        result = _check(out, "control")
    elif name == "build-profile":
        start = time.perf_counter()
        text = build_profile(out / "reference.parquet", model_name="bench").to_json()
        (out / "profile.json").write_text(text)
        result = {"seconds": time.perf_counter() - start, "profile_bytes": len(text)}
    else:
        raise SystemExit(f"unknown contender {name!r}")
    result["cpu_seconds"] = time.process_time() - cpu_start
    print(json.dumps(result))


if __name__ == "__main__":
    main()
