"""Print where the quickstart's results are: registry, champion version, predictions file."""

from __future__ import annotations

import os

import pyarrow.parquet as pq

from airflow_registry_provider.hooks import get_registry_hook

MODEL = "customer_churn_predictor"
hook = get_registry_hook("mlflow_default")
champion = hook.get_alias_version(MODEL, "champion")
predictions = os.path.join(os.environ["AIRFLOW_HOME"], "churn_data", "predictions.parquet")
print(f"Registry:          {hook.tracking_uri}")  # type: ignore[attr-defined]
if champion is None:
    print(f"Champion:          none yet ({MODEL} has no version that passed the gate)")
else:
    print(
        f"Champion:          {MODEL} version {champion.version} ({champion.version_name}), "
        f"accuracy {champion.metrics.get('accuracy', float('nan')):.3f}"
    )
if os.path.exists(predictions):
    print(f"Predictions file:  {predictions} ({pq.ParquetFile(predictions).metadata.num_rows} rows)")
else:
    print("Predictions file:  not written (no champion to score with)")
