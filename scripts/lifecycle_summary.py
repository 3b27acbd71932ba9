"""What one run of ``churn_model_lifecycle`` did, read back from the registry.

The version this run registered (found by its run-id lineage tag), each gate rule with
the measured value, the champion's value and the verdict, whether the version was
promoted, who is champion now, and the predictions file with the version that scored it.
Used by ``scripts/quickstart.py`` right after ``dag.test()``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow_registry_provider import tags

LABEL_WIDTH = 13


def _line(label: str, text: str) -> None:
    print(f"  {label:<{LABEL_WIDTH}}{text}")


def _param(dag: Any, run: Any, name: str) -> Any:
    conf = run.conf or {}
    return conf[name] if name in conf else dag.params[name]


def _version_of_run(hook: Any, model_name: str, run_id: str) -> Any:
    for version in hook.iter_versions(model_name):
        if version.tags.get(tags.RUN_ID) == run_id:
            return version
    return None


def _gate_lines(version: Any, thresholds: dict[str, Any]) -> None:
    result = json.loads(version.tags.get(tags.VALIDATION_RESULT) or "{}")
    champion = result.get("champion_version")
    for metric, outcome in result.get("metrics", {}).items():
        value = outcome.get("value")
        shown = "missing" if value is None else f"{value:.4f}"
        rule = f"{thresholds[metric]}" if metric in thresholds else "no threshold"
        versus = ""
        if champion is not None and outcome.get("champion_value") is not None:
            versus = f", champion v{champion} {outcome['champion_value']:.4f}"
        verdict = "pass" if outcome.get("passed") else "FAIL"
        _line("", f"{metric:<10} {shown:>8}  (rule {rule}{versus}): {verdict}")
    if champion is None and result:
        _line("", "no champion yet: judged on the thresholds alone")


def print_summary(dag: Any, run: Any) -> None:
    """Print what ``run`` (a finished DagRun of ``dag``) did."""
    import pyarrow.parquet as pq

    from airflow_registry_provider.hooks import get_registry_hook

    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    durations = {ti.task_id: ti.duration or 0.0 for ti in run.get_task_instances()}
    model_name = _param(dag, run, "model_name")
    hook = get_registry_hook(_param(dag, run, "registry_conn_id"))
    print(f"\nWhat run {run.run_id} did ({run.state}):")
    _line("Tasks", ", ".join(f"{task} {state} {durations[task]:.1f} s" for task, state in states.items()))
    version = _version_of_run(hook, model_name, run.run_id)
    if version is None:
        _line("Registered", "nothing (log_model did not succeed)")
    else:
        features = _param(dag, run, "feature_set") if "feature_set" in dag.params else "?"
        _line("Registered", f"{model_name} version {version.version} ({version.version_name}), features {features!r}")
        status = version.tags.get(tags.VALIDATION_STATUS, "not validated")
        _line("Gate", f"{status}")
        _gate_lines(version, _param(dag, run, "thresholds"))
        promoted = states.get("promote_version") == "success"
        _line("Promoted", "yes: it is champion now" if promoted else "no: the champion stays")
    champion = hook.get_alias_version(model_name, "champion")
    if champion is None:
        _line("Champion", "none yet (no version passed the gate)")
    else:
        accuracy = champion.metrics.get("accuracy")
        shown = f", accuracy {accuracy:.4f}" if accuracy is not None else ""
        _line("Champion", f"version {champion.version} ({champion.version_name}){shown}")
    predictions = os.path.join(_param(dag, run, "data_dir"), "predictions.parquet")
    if states.get("batch_inference") == "success" and os.path.exists(predictions):
        table = pq.read_table(predictions, columns=["model_version"])
        scored_by = ", ".join(sorted({str(v) for v in table.column("model_version").to_pylist()}))
        _line("Predictions", f"{predictions} ({table.num_rows} rows, scored by version {scored_by})")
    else:
        _line("Predictions", f"not written by this run (batch_inference {states.get('batch_inference')})")
    _line("Registry", getattr(hook, "tracking_uri", "") or type(hook).__name__)
    if version is not None and not promoted and "feature_set" in dag.params:
        print('\nTo see a promotion: bash scripts/quickstart.sh -c \'{"feature_set": "full"}\'')
