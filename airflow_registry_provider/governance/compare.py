"""Diff two versions of a model: metrics, params, tags and lineage.

Pure module. :func:`compare_versions` returns plain JSON (for XCom); :func:`render_text`
makes the same diff readable in a task log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.model_version import ModelVersion

#: Tags left out of the tag diff: logs that differ on every version by construction.
IGNORED_TAGS = frozenset({tag_keys.AUDIT_LOG, tag_keys.VALIDATION_RESULT})
#: Where a version's code version is read from, first found wins.
CODE_VERSION_TAGS = (tag_keys.BUNDLE_VERSION, "code_version", "mlflow.source.git.commit")


def _metric(base: float | None, candidate: float | None) -> dict[str, float | None]:
    delta = pct = None
    if base is not None and candidate is not None:
        delta = candidate - base
        pct = None if base == 0 or not math.isfinite(base) else 100.0 * delta / abs(base)
    return {"base": base, "candidate": candidate, "delta": delta, "pct": pct}


def _mapping_diff(base: Mapping[str, str], candidate: Mapping[str, str]) -> dict[str, Any]:
    return {
        "added": {k: candidate[k] for k in sorted(candidate.keys() - base.keys())},
        "removed": {k: base[k] for k in sorted(base.keys() - candidate.keys())},
        "changed": {
            k: {"base": base[k], "candidate": candidate[k]}
            for k in sorted(base.keys() & candidate.keys())
            if base[k] != candidate[k]
        },
    }


def data_hashes(version: ModelVersion) -> list[str] | None:
    """The sha256 of each training data file (paths differ between runs; contents matter)."""
    text = version.tags.get(tag_keys.TRAINING_DATA_SHA256)
    if not text:
        return None
    try:
        hashes = json.loads(text)
    except ValueError:
        return [text]
    return sorted(hashes.values()) if isinstance(hashes, dict) else [str(hashes)]


def code_version(version: ModelVersion) -> str | None:
    return next((version.tags[k] for k in CODE_VERSION_TAGS if version.tags.get(k)), None)


def _lineage_item(base: Any, candidate: Any) -> dict[str, Any]:
    known = base is not None and candidate is not None
    return {"base": base, "candidate": candidate, "changed": (base != candidate) if known else None}


def compare_versions(
    base: ModelVersion,
    candidate: ModelVersion,
    *,
    base_params: Mapping[str, str] | None = None,
    candidate_params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The difference from ``base`` to ``candidate``.

    Metrics carry ``delta`` (candidate - base) and ``pct`` (relative to ``|base|``; None
    when base is 0 or either side lacks the metric). Lineage says whether the training
    data hashes and the code version changed (None when a side does not record them).
    """
    names = sorted(base.metrics.keys() | candidate.metrics.keys())
    return {
        "model_name": candidate.model_name,
        "base": {"version": base.version, "version_name": base.version_name, "aliases": list(base.aliases)},
        "candidate": {
            "version": candidate.version,
            "version_name": candidate.version_name,
            "aliases": list(candidate.aliases),
        },
        "metrics": {n: _metric(base.metrics.get(n), candidate.metrics.get(n)) for n in names},
        "params": _mapping_diff(base_params or {}, candidate_params or {}),
        "tags": _mapping_diff(
            {k: v for k, v in base.tags.items() if k not in IGNORED_TAGS},
            {k: v for k, v in candidate.tags.items() if k not in IGNORED_TAGS},
        ),
        "lineage": {
            "training_data_sha256": _lineage_item(data_hashes(base), data_hashes(candidate)),
            "code_version": _lineage_item(code_version(base), code_version(candidate)),
        },
    }


def render_text(diff: Mapping[str, Any]) -> str:
    """The diff as aligned text for a task log."""

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.6g}"

    base, candidate = diff["base"], diff["candidate"]
    lines = [f"{diff['model_name']}: version {base['version']} -> {candidate['version']}", "Metrics:"]
    for name, m in diff["metrics"].items():
        pct = "" if m["pct"] is None else f" ({m['pct']:+.2f}%)"
        delta = "" if m["delta"] is None else f"  delta {m['delta']:+.6g}{pct}"
        lines.append(f"  {name:<24} {number(m['base']):>12} -> {number(m['candidate']):<12}{delta}")
    for section in ("params", "tags"):
        part = diff[section]
        if not any(part.values()):
            lines.append(f"{section.capitalize()}: no differences")
            continue
        lines.append(f"{section.capitalize()}:")
        lines += [f"  + {k} = {v}" for k, v in part["added"].items()]
        lines += [f"  - {k} = {v}" for k, v in part["removed"].items()]
        lines += [f"  ~ {k}: {c['base']} -> {c['candidate']}" for k, c in part["changed"].items()]
    lines.append("Lineage:")
    for name, item in diff["lineage"].items():
        state = {True: "CHANGED", False: "same", None: "unknown"}[item["changed"]]
        lines.append(f"  {name:<24} {state}")
    return "\n".join(lines)
