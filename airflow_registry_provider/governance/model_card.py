"""Model cards: what a version is for, who owns it, what it was trained on, how it scored,
whether it passed validation, who approved it, where it came from, and its limits.

Pure module. :func:`build_card` gathers the facts from a version and its model's tags;
:func:`render_markdown` and :func:`render_html` render them. The HTML is one
self-contained file (inline CSS, no scripts, no external resources) and every value from
the registry is escaped, so a hostile tag cannot inject markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.governance.audit import parse_log
from airflow_registry_provider.model_version import ModelVersion

OWNER_TAG = "owner"


@dataclass(frozen=True)
class ModelCard:
    """The facts a card shows; plain data so tests and other renderers can use it."""

    model_name: str
    version: str
    version_name: str | None
    purpose: str | None
    owner: str | None
    created_at: datetime | None
    aliases: tuple[str, ...]
    stage: str | None
    training_data: dict[str, str]
    metrics: dict[str, float]
    validation_status: str | None
    validation_at: str | None
    validation_checks: list[dict[str, Any]]
    approvals: list[dict[str, str | None]]
    lineage: dict[str, str]
    limitations: tuple[str, ...] = ()
    extra_tags: dict[str, str] = field(default_factory=dict)


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _approvals(version: ModelVersion) -> list[dict[str, str | None]]:
    """Promotions and their approvers, from the version's audit log and promotion tags."""
    found = [
        {"at": r.at.isoformat(), "by": r.actor, "approver": r.approver, "reason": r.reason, "what": _what(r.after)}
        for r in parse_log(version.tags.get(tag_keys.AUDIT_LOG))
        if r.action in ("alias", "stage", "default_version")
    ]
    if not found and version.tags.get(tag_keys.PROMOTED_BY):
        found.append(
            {
                "at": version.tags.get(tag_keys.PROMOTED_AT),
                "by": version.tags.get(tag_keys.PROMOTED_BY),
                "approver": None,
                "reason": version.tags.get(tag_keys.PROMOTION_REASON),
                "what": "promoted",
            }
        )
    return found


def _what(after: Any) -> str:
    if isinstance(after, dict) and "alias" in after:
        return f"alias {after['alias']}"
    if isinstance(after, dict) and "stage" in after:
        return f"stage {after['stage']}"
    return "default version" if isinstance(after, str) else str(after)


def build_card(
    version: ModelVersion,
    model_tags: Mapping[str, str],
    *,
    limitations: Sequence[str] = (),
    purpose: str | None = None,
    owner: str | None = None,
) -> ModelCard:
    """Collect a version's card from the registry's metadata.

    ``purpose`` defaults to the version's description, ``owner`` to an ``owner`` tag on
    the version or the model.
    """
    validation = _json(version.tags.get(tag_keys.VALIDATION_RESULT)) or {}
    lineage_keys = {
        "DAG": tag_keys.DAG_ID,
        "DAG run": tag_keys.RUN_ID,
        "task": tag_keys.TASK_ID,
        "DAG bundle": tag_keys.BUNDLE_NAME,
        "code version": tag_keys.BUNDLE_VERSION,
        "artifact sha256": tag_keys.ARTIFACT_SHA256,
        "flavor": tag_keys.FLAVOR,
    }
    lineage = {label: version.tags[key] for label, key in lineage_keys.items() if version.tags.get(key)}
    if version.run_id:
        lineage["registry run"] = version.run_id
    if version.uri:
        lineage["model URI"] = version.uri
    shown = {tag_keys.AUDIT_LOG, tag_keys.VALIDATION_RESULT, OWNER_TAG, *lineage_keys.values()}
    return ModelCard(
        model_name=version.model_name,
        version=version.version,
        version_name=version.version_name,
        purpose=purpose or version.description,
        owner=owner or version.tags.get(OWNER_TAG) or model_tags.get(OWNER_TAG),
        created_at=version.created_at,
        aliases=tuple(version.aliases),
        stage=version.stage,
        training_data=_json(version.tags.get(tag_keys.TRAINING_DATA_SHA256)) or {},
        metrics=dict(version.metrics),
        validation_status=version.tags.get(tag_keys.VALIDATION_STATUS),
        validation_at=version.tags.get(tag_keys.VALIDATION_AT),
        validation_checks=[
            {"metric": metric, **outcome}
            for metric, outcome in (validation.get("metrics") or {}).items()
            if isinstance(outcome, dict)
        ],
        approvals=_approvals(version),
        lineage=lineage,
        limitations=tuple(str(item) for item in limitations),
        extra_tags={k: v for k, v in sorted(version.tags.items()) if k not in shown and not k.startswith("mlflow.")},
    )


# -- Markdown --------------------------------------------------------------------------
def _md(value: Any) -> str:
    """A value safe inside Markdown text and table cells (HTML-escaped too: renderers pass HTML through)."""
    text = html.escape("-" if value is None or value == "" else str(value))
    for char in "\\`*_[]|#":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def _check_text(check: Mapping[str, Any]) -> str:
    return "; ".join(str(c) for c in check.get("checks", [])) or "-"


def render_markdown(card: ModelCard) -> str:
    title = f"{card.model_name} version {card.version}" + (f" ({card.version_name})" if card.version_name else "")
    out = [f"# Model card: {_md(title)}", ""]
    out += ["## Purpose", "", _md(card.purpose or "Not documented."), ""]
    out += [
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| Owner | {_md(card.owner)} |",
        f"| Created | {_md(card.created_at.isoformat() if card.created_at else None)} |",
        f"| Aliases | {_md(', '.join(card.aliases))} |",
        f"| Stage | {_md(card.stage)} |",
        f"| Validation | {_md(card.validation_status or 'not validated')} |",
        "",
    ]
    out += ["## Training data", ""]
    out += [f"- {_md(path)}: sha256 `{_md(sha)}`" for path, sha in card.training_data.items()] or ["- Not recorded."]
    out += ["", "## Metrics", ""]
    if card.metrics:
        out += ["| Metric | Value |", "|---|---|"]
        out += [f"| {_md(name)} | {_md(f'{value:.6g}')} |" for name, value in sorted(card.metrics.items())]
    else:
        out.append("No metrics recorded.")
    out += ["", "## Validation", "", f"Outcome: **{_md(card.validation_status or 'not validated')}**"]
    if card.validation_at:
        out[-1] += f" at {_md(card.validation_at)}"
    if card.validation_checks:
        out += ["", "| Metric | Passed | Checks |", "|---|---|---|"]
        out += [
            f"| {_md(c.get('metric'))} | {_md('yes' if c.get('passed') else 'no')} | {_md(_check_text(c))} |"
            for c in card.validation_checks
        ]
    out += ["", "## Approvals", ""]
    out += [
        f"- {_md(a['at'])}: {_md(a['what'])} by {_md(a['by'])}, approved by {_md(a['approver'])}: {_md(a['reason'])}"
        for a in card.approvals
    ] or ["- None recorded."]
    out += ["", "## Lineage", ""]
    out += [f"- {_md(k)}: {_md(v)}" for k, v in card.lineage.items()] or ["- Not recorded."]
    out += ["", "## Limitations", ""]
    out += [f"- {_md(item)}" for item in card.limitations] or ["- None documented."]
    if card.extra_tags:
        out += ["", "## Tags", ""]
        out += [f"- {_md(k)}: {_md(v)}" for k, v in card.extra_tags.items()]
    return "\n".join(out) + "\n"


# -- HTML ------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1d2330;line-height:1.45}h1{font-size:1.6rem}h2{font-size:1.2rem;border-bottom:1px solid #dde;
padding-bottom:.2rem;margin-top:1.8rem}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #dde;
padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f4f8}code{background:#f3f4f8;padding:0 .2rem}
.passed{color:#17692d;font-weight:600}.rejected{color:#a3201b;font-weight:600}.muted{color:#667}
"""
_APPROVAL_HEADER = ("When", "What", "By", "Approved by", "Reason")


def _h(value: Any) -> str:
    return html.escape("-" if value is None or value == "" else str(value))


def _rows(pairs: Sequence[tuple[Any, ...]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_h(cell)}</td>" for cell in row) + "</tr>" for row in pairs)
    return f"<table><tr>{head}</tr>{body}</table>"


def _items(values: Sequence[str], empty: str) -> str:
    if not values:
        return f'<p class="muted">{_h(empty)}</p>'
    return "<ul>" + "".join(f"<li>{_h(v)}</li>" for v in values) + "</ul>"


def render_html(card: ModelCard) -> str:
    title = f"{card.model_name} version {card.version}" + (f" ({card.version_name})" if card.version_name else "")
    status = card.validation_status or "not validated"
    status_class = status if status in ("passed", "rejected") else "muted"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Model card: {_h(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Model card: {_h(title)}</h1>",
        "<h2>Purpose</h2>",
        f"<p>{_h(card.purpose or 'Not documented.')}</p>",
        "<h2>Summary</h2>",
        _rows(
            [
                ("Owner", card.owner),
                ("Created", card.created_at.isoformat() if card.created_at else None),
                ("Aliases", ", ".join(card.aliases)),
                ("Stage", card.stage),
                ("Validation", status),
            ],
            ("", ""),
        ),
        "<h2>Training data</h2>",
        _rows(list(card.training_data.items()), ("File", "sha256"))
        if card.training_data
        else '<p class="muted">Not recorded.</p>',
        "<h2>Metrics</h2>",
        _rows([(k, f"{v:.6g}") for k, v in sorted(card.metrics.items())], ("Metric", "Value"))
        if card.metrics
        else '<p class="muted">No metrics recorded.</p>',
        "<h2>Validation</h2>",
        f'<p>Outcome: <span class="{status_class}">{_h(status)}</span>'
        + (f" at {_h(card.validation_at)}" if card.validation_at else "")
        + "</p>",
    ]
    if card.validation_checks:
        checks = [(c.get("metric"), "yes" if c.get("passed") else "no", _check_text(c)) for c in card.validation_checks]
        parts.append(_rows(checks, ("Metric", "Passed", "Checks")))
    parts += [
        "<h2>Approvals</h2>",
        _rows([(a["at"], a["what"], a["by"], a["approver"], a["reason"]) for a in card.approvals], _APPROVAL_HEADER)
        if card.approvals
        else '<p class="muted">None recorded.</p>',
        "<h2>Lineage</h2>",
        _rows(list(card.lineage.items()), ("", "")) if card.lineage else '<p class="muted">Not recorded.</p>',
        "<h2>Limitations</h2>",
        _items(list(card.limitations), "None documented."),
    ]
    if card.extra_tags:
        parts += ["<h2>Tags</h2>", _rows(list(card.extra_tags.items()), ("Tag", "Value"))]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
