from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from airflow_registry_provider import tags
from airflow_registry_provider.governance.audit import AuditRecord, alias_change, append_capped
from airflow_registry_provider.governance.model_card import build_card, render_html, render_markdown
from airflow_registry_provider.model_version import ModelVersion

EVIL = '<script>alert("x")</script><img src=http://evil/x onerror=1>'


def version(**extra_tags: str) -> ModelVersion:
    before, after = alias_change("champion", None, "3")
    audit = AuditRecord(
        at=datetime(2026, 2, 1, tzinfo=UTC),
        actor="bob",
        backend="mlflow",
        model="churn",
        action="alias",
        version="3",
        before=before,
        after=after,
        reason="beat the champion",
        approver="carol",
    )
    result = {"passed": True, "metrics": {"auc": {"value": 0.9, "passed": True, "checks": [">= 0.8: ok"]}}}
    return ModelVersion(
        model_name="churn",
        version="3",
        uri="models:/churn/3",
        version_name="1.2.0",
        aliases=("champion",),
        metrics={"auc": 0.9, "log_loss": 0.31},
        description="Predict churn for retention offers",
        created_at=datetime(2026, 1, 31, tzinfo=UTC),
        run_id="abc123",
        tags={
            tags.TRAINING_DATA_SHA256: json.dumps({"/data/train.parquet": "f" * 64}),
            tags.VALIDATION_STATUS: "passed",
            tags.VALIDATION_AT: "2026-01-31T10:00:00+00:00",
            tags.VALIDATION_RESULT: json.dumps(result),
            tags.DAG_ID: "churn_model_lifecycle",
            tags.AUDIT_LOG: append_capped(None, [audit], max_records=10, max_chars=10_000),
            **extra_tags,
        },
    )


def test_card_collects_every_section() -> None:
    card = build_card(version(), {"owner": "growth-team"}, limitations=["Trained on EU customers only"])
    assert card.owner == "growth-team"
    assert card.purpose == "Predict churn for retention offers"
    assert card.training_data == {"/data/train.parquet": "f" * 64}
    assert card.validation_checks == [{"metric": "auc", "value": 0.9, "passed": True, "checks": [">= 0.8: ok"]}]
    assert card.approvals[0] | {} == {
        "at": "2026-02-01T00:00:00+00:00",
        "by": "bob",
        "approver": "carol",
        "reason": "beat the champion",
        "what": "alias champion",
    }
    markdown = render_markdown(card)
    for text in (
        "## Purpose",
        "growth-team",
        "f" * 64,
        "| auc | 0.9 |",
        "**passed**",
        "approved by carol",
        "churn\\_model\\_lifecycle",
        "Trained on EU customers only",
        "## Limitations",
    ):
        assert text in markdown, text


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs


def test_html_is_self_contained_and_escapes_registry_values() -> None:
    card = build_card(version(owner=EVIL, **{"note": EVIL}), {}, limitations=[EVIL], purpose=EVIL, owner=None)
    page = render_html(card)
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not [a for a in parser.attrs if a[0] in ("src", "href", "onerror")]
    assert "&lt;script&gt;" in page
    assert not re.search(r"https?://(?!evil)", page)  # nothing is fetched from anywhere
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page

    markdown = render_markdown(card)
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown


def test_card_without_metadata_says_so() -> None:
    bare = ModelVersion(model_name="m", version="1", uri="")
    markdown = render_markdown(build_card(bare, {}))
    assert "Not documented." in markdown and "No metrics recorded." in markdown and "None recorded." in markdown
    assert "Not documented." in render_html(build_card(bare, {}))
