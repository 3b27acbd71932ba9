"""What one run of ``churn_model_lifecycle`` did, read back from the registry.

The version this run registered (found by its run-id lineage tag), each gate rule with
the measured value, the champion's value and the verdict, whether the version was
promoted, who got access (GrantModel), who is champion now, and the run's predictions: the
partitions, rows and the version that scored them, read from the run's manifest.
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


def _run_manifest(data_dir: str, run_id: str) -> tuple[str, dict[str, Any]] | None:
    """The manifest the run's last task wrote (``<data_dir>/runs/<run>/predictions/_manifest.json``)."""
    import glob

    for path in sorted(glob.glob(os.path.join(glob.escape(data_dir), "runs", "*", "predictions", "_manifest.json"))):
        with open(path) as fh:
            manifest = json.load(fh)
        if manifest.get("run_id") == run_id:
            return path, manifest
    return None


def print_summary(dag: Any, run: Any) -> None:
    """Print what ``run`` (a finished DagRun of ``dag``) did."""
    import pyarrow.parquet as pq

    from airflow_registry_provider.hooks import get_registry_hook

    tis = run.get_task_instances()
    # A mapped task counts once: its worst state and its summed duration.
    states: dict[str, str] = {}
    durations: dict[str, float] = {}
    for ti in tis:
        state = str(ti.state)
        if ti.task_id not in states or state != "success":
            states[ti.task_id] = state
        durations[ti.task_id] = durations.get(ti.task_id, 0.0) + (ti.duration or 0.0)
    model_name = _param(dag, run, "model_name")
    hook = get_registry_hook(_param(dag, run, "registry_conn_id"))
    print(f"\nWhat run {run.run_id} did ({run.state}):")
    mapped = {ti.task_id for ti in tis if ti.map_index >= 0}
    _line(
        "Tasks",
        ", ".join(
            f"{task}{'[]' if task in mapped else ''} {state} {durations[task]:.1f} s" for task, state in states.items()
        ),
    )
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
    grant = states.get("grant_model")
    if grant == "skipped":
        _line("Grants", "skipped: this registry has no access control (the grant_model log says why)")
    elif grant == "success":
        _line("Grants", f"converged to {_param(dag, run, 'grants') or 'nothing declared (param grants)'}")
    elif grant is not None:
        _line("Grants", f"grant_model {grant}")
    found = _run_manifest(_param(dag, run, "data_dir"), run.run_id)
    if found is None:
        _line("Predictions", f"no manifest: write_manifest {states.get('write_manifest')}")
    else:
        path, manifest = found
        # The manifest's claim, checked against the files it lists.
        files = [p["output"] for p in manifest["partitions"]]
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        scored = {str(v) for f in files for v in pq.read_table(f, columns=["model_version"]).column(0).to_pylist()}
        _line(
            "Predictions",
            f"{len(files)} partitions, {rows} rows, scored by version {', '.join(sorted(scored))} "
            f"(manifest: {manifest['rows']} rows, version {manifest['model_version']['version']})",
        )
        _line("", path)
    _line("Registry", getattr(hook, "tracking_uri", "") or type(hook).__name__)
    if version is not None and not promoted and "feature_set" in dag.params:
        print('\nTo see a promotion: bash scripts/quickstart.sh -c \'{"feature_set": "full"}\'')
