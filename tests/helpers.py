"""Small builders shared by tests: a trained model file, sample data, a task context."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

FEATURES = ["f1", "f2", "f3"]


def make_data(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=FEATURES)
    frame["label"] = (frame.f1 + 0.5 * frame.f2 > 0).astype(int)
    return frame


def make_model_files(tmp: Path, seed: int = 0) -> dict[str, str]:
    """Fit a model and write it, a sample input and validation data; return their paths."""
    frame = make_data(seed=seed)
    model = LogisticRegression().fit(frame[FEATURES], frame["label"])
    paths = {
        "model": str(tmp / f"model-{seed}.joblib"),
        "sample": str(tmp / "sample.parquet"),
        "validation": str(tmp / "validation.parquet"),
        "train": str(tmp / "train.parquet"),
    }
    joblib.dump(model, paths["model"])
    frame[FEATURES].head(20).to_parquet(paths["sample"], index=False)
    make_data(200, seed + 100).to_parquet(paths["validation"], index=False)
    frame.to_parquet(paths["train"], index=False)
    return paths


class _Events:
    def __init__(self) -> None:
        self.added: list[tuple[Any, dict]] = []

    def add(self, asset: Any, extra: dict | None = None) -> None:
        self.added.append((asset, extra or {}))


def task_context(task_id: str = "task", run_id: str = "manual__test", user: str | None = "alice") -> dict[str, Any]:
    """The parts of an Airflow context the registry operators read."""
    ti = SimpleNamespace(dag_id="test_dag", run_id=run_id, task_id=task_id, try_number=1)
    dag_run = SimpleNamespace(run_type="manual", triggering_user_name=user, bundle_version=None)
    events: defaultdict[Any, _Events] = defaultdict(_Events)
    return {"ti": ti, "dag_run": dag_run, "run_id": run_id, "outlet_events": events}
