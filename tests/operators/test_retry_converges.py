"""Retries converge: a task that dies after any one of its registry writes, then is retried,
leaves the registry as one clean run leaves it (issue 10.5).

The fault is a hook wrapper: the k-th write call completes, then the attempt fails as a lost
connection would (a retryable error, not ``AirflowFailException``). Try 2 runs clean. The
end state — every version's tags, aliases, stored files, and which changes its audit log
records — is compared with a clean run's on a fresh registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from airflow_registry_provider import tags
from airflow_registry_provider.exceptions import AuditError
from airflow_registry_provider.hooks import MlflowRegistryHook
from airflow_registry_provider.operators import (
    DriftCheckOperator,
    LogModelOperator,
    ModelCardOperator,
    RetentionOperator,
    ValidateMetricsOperator,
)
from tests.helpers import make_model_files, task_context

WRITES = ("_create_version", "upload_artifact", "set_version_tags", "set_model_tags", "log_metrics", "set_alias")
#: Tags whose values name the moment or the attempt (MLmodel holds a uuid and a time): compared as present.
VOLATILE = {tags.VALIDATION_AT, tags.TRY_NUMBER, tags.MODEL_MANIFEST, tags.MODEL_SHA256, tags.ARCHIVED}


class Lost(ConnectionError):
    """The connection died after the write went through."""


def _inject(monkeypatch: pytest.MonkeyPatch, after: int) -> list[str]:
    """Fail the attempt right after its ``after``-th write; return the writes made."""
    done: list[str] = []
    for name in WRITES:
        original = getattr(MlflowRegistryHook, name)

        def faulty(self: Any, *args: Any, __original: Callable = original, __name: str = name, **kwargs: Any) -> Any:
            result = __original(self, *args, **kwargs)
            done.append(__name)
            if len(done) == after:
                raise Lost(f"injected after write {after} ({__name})")
            return result

        monkeypatch.setattr(MlflowRegistryHook, name, faulty)
    return done


def _state(uri: str, model: str) -> dict[str, Any]:
    client = MlflowClient(uri)
    versions = {}
    for mv in client.search_model_versions(f"name = '{model}'"):
        # A volatile value must be there; what it is differs between runs.
        version_tags = {k: "<set>" if k in VOLATILE else v for k, v in mv.tags.items()}
        log = json.loads(version_tags.pop(tags.AUDIT_LOG, "[]"))
        if tags.DRIFT_SUMMARY in version_tags:
            summary = json.loads(version_tags[tags.DRIFT_SUMMARY])
            summary.pop("at")
            version_tags[tags.DRIFT_SUMMARY] = summary
        files = sorted(_files(client, mv.run_id)) if mv.run_id else []
        versions[mv.version] = {
            "tags": version_tags,
            "changes": sorted({r["action"] for r in log}),
            "aliases": sorted(mv.aliases),
            "files": files,
        }
    registered = client.get_registered_model(model)
    model_tags = {k: v for k, v in registered.tags.items() if k != tags.AUDIT_LOG}
    return {"versions": versions, "model_tags": model_tags, "aliases": dict(registered.aliases)}


def _files(client: MlflowClient, run_id: str, path: str | None = None) -> list[str]:
    found = []
    for item in client.list_artifacts(run_id, path):
        found += _files(client, run_id, item.path) if item.is_dir else [item.path]
    return found


def _log(paths: dict[str, str], version_name: str = "1.0.0") -> LogModelOperator:
    return LogModelOperator(
        task_id="log_model",
        model_name="churn",
        model=paths["model"],
        version_name=version_name,
        sample_input=paths["sample"],
        reference_data=paths["train"],
        metrics={"accuracy": 0.9},
    )


def _steps(paths: dict[str, str], ref: dict[str, Any], out: Path) -> dict[str, Callable[[], Any]]:
    return {
        "validate": lambda: ValidateMetricsOperator(
            task_id="validate", model_version=ref, thresholds={"accuracy": ">= 0.5"}
        ),
        "model_card": lambda: ModelCardOperator(task_id="model_card", model_version=ref),
        "drift": lambda: DriftCheckOperator(
            task_id="drift", current=paths["validation"], reference=ref, report_dir=str(out)
        ),
    }


def _run(operator: Any, try_number: int) -> Any:
    context = task_context(operator.task_id, run_id="manual__retry")
    context["ti"].try_number = try_number
    return operator.execute(context)


def _fresh(tmp_path: Path, name: str, patch: pytest.MonkeyPatch) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A registry of its own behind ``mlflow_default``; for steps after LogModel, the version is logged."""
    uri = f"sqlite:///{tmp_path / f'{name}.db'}"
    patch.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri}})
    )
    folder = tmp_path / name
    folder.mkdir()
    return uri, make_model_files(folder), {}


def _operator(step: str, paths: dict[str, str], out: Path) -> Callable[[], Any]:
    """A factory of the step's operator (a fresh instance per attempt, as each try parses the DAG)."""
    if step == "log_model":
        return lambda: _log(paths)
    if step == "retention":
        for version_name in ("1.0.0", "1.0.1", "1.0.2"):
            _run(_log(paths, version_name), 1)
        return lambda: RetentionOperator(task_id="retention", model_name="churn", keep_latest=1)
    ref = _run(_log(paths), 1)
    return _steps(paths, ref, out)[step]


@pytest.mark.parametrize("step", ["log_model", "validate", "model_card", "drift", "retention"])
def test_a_retry_after_any_write_converges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    with monkeypatch.context() as patch:
        uri, paths, _ = _fresh(tmp_path, "clean", patch)
        build = _operator(step, paths, tmp_path / "clean" / "reports")
        writes = _inject(patch, after=0)  # counts, never fails
        _run(build(), 1)
        expected = _state(uri, "churn")
    assert len(writes) >= 2, writes
    for after in range(1, len(writes) + 1):
        with monkeypatch.context() as patch:
            uri, paths, _ = _fresh(tmp_path, f"fault{after}", patch)
            build = _operator(step, paths, tmp_path / f"fault{after}" / "reports")
            with monkeypatch.context() as faulty:
                _inject(faulty, after=after)
                with pytest.raises((Lost, AuditError)):  # the trail reports a lost record write as AuditError
                    _run(build(), 1)
            _run(build(), 2)
            got = _state(uri, "churn")
            assert got == expected, f"{step}: fault after write {after} of {writes}: {_diff(got, expected)}"


def _diff(got: Any, expected: Any, where: str = "") -> list[str]:
    """Where two states differ, as paths (a readable assertion message)."""
    if isinstance(got, dict) and isinstance(expected, dict):
        return [
            d
            for key in sorted({*got, *expected}, key=str)
            for d in _diff(got.get(key), expected.get(key), f"{where}/{key}")
        ]
    return [] if got == expected else [f"{where}: {got!r} != {expected!r}"]
