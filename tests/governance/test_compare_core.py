from __future__ import annotations

import json

from airflow_registry_provider import tags
from airflow_registry_provider.governance.compare import compare_versions, render_text
from airflow_registry_provider.model_version import ModelVersion


def mv(version: str, metrics: dict, **tag_values: str) -> ModelVersion:
    return ModelVersion(model_name="churn", version=version, uri="", metrics=metrics, tags=tag_values)


def test_metrics_params_tags_and_lineage() -> None:
    base = mv(
        "1",
        {"auc": 0.80, "loss": 0.5, "zero": 0.0, "old": 1.0},
        team="growth",
        owner="a",
        **{tags.TRAINING_DATA_SHA256: json.dumps({"/runs/a/train.parquet": "abc"}), tags.BUNDLE_VERSION: "git1"},
        **{tags.AUDIT_LOG: "[...]"},
    )
    candidate = mv(
        "2",
        {"auc": 0.84, "loss": 0.4, "zero": 0.1, "new": 2.0},
        team="growth",
        owner="b",
        stage="x",
        **{tags.TRAINING_DATA_SHA256: json.dumps({"/runs/b/train.parquet": "abc"}), tags.BUNDLE_VERSION: "git2"},
        **{tags.AUDIT_LOG: "[different]"},
    )
    diff = compare_versions(
        base, candidate, base_params={"C": "1.0", "x": "1"}, candidate_params={"C": "0.5", "y": "2"}
    )
    auc = diff["metrics"]["auc"]
    assert abs(auc["delta"] - 0.04) < 1e-12
    assert abs(auc["pct"] - 5.0) < 1e-9
    assert diff["metrics"]["loss"]["pct"] < 0
    assert diff["metrics"]["zero"]["pct"] is None  # no percentage of zero
    assert diff["metrics"]["old"] == {"base": 1.0, "candidate": None, "delta": None, "pct": None}
    assert diff["params"] == {
        "added": {"y": "2"},
        "removed": {"x": "1"},
        "changed": {"C": {"base": "1.0", "candidate": "0.5"}},
    }
    assert diff["tags"]["changed"].keys() == {"owner", tags.BUNDLE_VERSION, tags.TRAINING_DATA_SHA256}
    assert diff["tags"]["added"] == {"stage": "x"}
    # Same data under another path is the same data; the code moved on.
    assert diff["lineage"]["training_data_sha256"]["changed"] is False
    assert diff["lineage"]["code_version"] == {"base": "git1", "candidate": "git2", "changed": True}
    text = render_text(diff)
    assert "auc" in text and "+5.00%" in text
    assert "code_version             CHANGED" in text
    assert json.loads(json.dumps(diff)) == diff


def test_unknown_lineage() -> None:
    diff = compare_versions(mv("1", {}), mv("2", {}))
    assert diff["lineage"]["code_version"]["changed"] is None
    assert "Params: no differences" in render_text(diff)
