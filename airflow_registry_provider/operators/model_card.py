"""Render a version's model card (Markdown and self-contained HTML) and store it with the version."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.model_card import build_card, render_html, render_markdown
from airflow_registry_provider.links import RegistryReportLink
from airflow_registry_provider.operators.base import BaseRegistryOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.model_version import ModelVersionRef

CARD_DIR = "model_card"


class ModelCardOperator(BaseRegistryOperator):
    """Write ``model_card/model_card.md`` and ``model_card/model_card.html`` with a version.

    The card shows purpose, owner, training data hashes, metrics, the validation outcome,
    approvals (from the audit trail), lineage and the limitations given here. Files are
    stored with the version through the hook (MLflow: run artifacts), and the version's
    ``airflow_registry.model_card`` tag points at the Markdown file.

    :param model_version: The version (``log_model.output`` or its JSON).
    :param limitations: Known limitations, one per item (a string is one item).
    :param purpose: What the model is for; defaults to the version's description.
    :param model_owner: Who owns the model; defaults to an ``owner`` tag on the version or
        model. (``owner`` is BaseOperator's task owner.)
    :return: (XCom) the version's reference keys and ``model_version`` (the one XCom
        shape), plus ``markdown`` and ``html``: the URIs of the stored card.
    """

    template_fields: Sequence[str] = (
        "registry_conn_id",
        "audit_conn_id",
        "model_version",
        "limitations",
        "purpose",
        "model_owner",
    )
    template_fields_renderers = {"model_version": "json"}
    operator_extra_links = (RegistryReportLink(),)
    ui_color = "#f7f0da"

    def __init__(
        self,
        *,
        model_version: ModelVersionRef | str,
        limitations: Sequence[str] | str = (),
        purpose: str | None = None,
        model_owner: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_version = model_version
        self.limitations = limitations
        self.purpose = purpose
        self.model_owner = model_owner
        self.registry_report_url: str | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        limitations = [self.limitations] if isinstance(self.limitations, str) else list(self.limitations or ())
        if not all(isinstance(item, str) for item in limitations):
            raise InvalidInputError("limitations", "give a list of strings")
        version = self.resolve_version(model_version=self.model_version)
        hook, model_name = self.hook, version.model_name
        card = build_card(
            version,
            hook.get_model_tags(model_name),
            limitations=limitations,
            purpose=self.purpose,
            owner=self.model_owner,
        )
        uris = {}
        with tempfile.TemporaryDirectory() as tmp:
            for kind, text in (("markdown", render_markdown(card)), ("html", render_html(card))):
                name = f"model_card.{'md' if kind == 'markdown' else 'html'}"
                path = os.path.join(tmp, name)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
                uris[kind] = hook.upload_artifact(model_name, version.version, path, f"{CARD_DIR}/{name}")
        self.audit_trail(context).record(
            "artifact",
            model=model_name,
            version=version.version,
            before={tag_keys.MODEL_CARD: version.tags.get(tag_keys.MODEL_CARD)},
            after=uris,
            reason="model card",
            version_tags=version.tags,
            also_set={tag_keys.MODEL_CARD: f"{CARD_DIR}/model_card.md"},
        )
        self.report_lineage(inputs=self.version_dataset(model_name, version.version))
        self.registry_report_url = hook.artifact_url(model_name, version.version, f"{CARD_DIR}/model_card.html")
        self.log.info("Model card for %s version %s: %s", model_name, version.version, uris)
        return self.version_result(version, **uris)
