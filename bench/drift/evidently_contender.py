"""The evidently contender: ``Report([DataDriftPreset()])`` on the bench files.

Runs in its own virtualenv (``bench/.venv-evidently``, made by ``run.py``): evidently
is a benchmark oracle, not a dependency of the project. Reads the same Parquet files
with pandas, runs the preset with its defaults and prints one JSON object: ``seconds``
(the work, timed after imports), ``cpu_seconds``, the columns evidently flags as drifted and their
scores.

Usage: ``bench/.venv-evidently/bin/python bench/drift/evidently_contender.py OUT_DIR``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main() -> None:
    out = Path(sys.argv[1])
    start, cpu_start = time.perf_counter(), time.process_time()
    reference = pd.read_parquet(out / "reference.parquet")
    current = pd.read_parquet(out / "current.parquet")
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    result = snapshot.dict()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    # One ValueDrift metric per column: its score, method and threshold. As evidently
    # decides, a p-value method drifts below its threshold, a distance at or above it.
    drifted, scores = [], {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith(":ValueDrift"):
            score, threshold = metric["value"], config["threshold"]
            scores[config["column"]] = [config["method"], score]
            flagged = score < threshold if "p_value" in config["method"] else score >= threshold
            if flagged:
                drifted.append(config["column"])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "drifted": sorted(drifted),
                "scores": scores,
            }
        )
    )


if __name__ == "__main__":
    main()
