"""Move an alias (``champion`` by default) to a version, keeping the previous holder reachable."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.assets import MODEL_EVENTS_ALIAS, model_asset
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.links import RegistryVersionLink
from airflow_registry_provider.model_version import parse_ref
from airflow_registry_provider.operators.base import BaseRegistryOperator, actor, to_json

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.model_version import ModelVersion, ModelVersionRef

ALIAS_HISTORY_LIMIT = 50


class PromoteVersionOperator(BaseRegistryOperator):
    """Point ``alias`` at a validated version; the previous holder keeps ``previous_alias``.

    :param model_version: The version to promote (``log_model.output`` or its JSON).
        Not needed with ``rollback=True``.
    :param model_name: The model, when rolling back without a ``model_version``.
    :param alias: The alias to move. Default ``champion``.
    :param previous_alias: Where the previous holder stays reachable. Default ``previous_champion``.
    :param rollback: Swap ``alias`` and ``previous_alias`` back: one call undoes a promotion.
    :param reason: Why, recorded on the version and in the alias history.
    :param approver: Who approved the promotion, recorded in the audit trail.
    :param require_validation: Refuse versions that did not pass ValidateMetricsOperator.
    :param stage: Optional legacy MLflow stage (e.g. ``Production``) for teams still on stages.
    :param archive_existing: With ``stage``, archive the versions in it.
    :param set_default: Also make the version the model's default where the registry has
        one (Snowflake).
    :return: (XCom) the promoted version's reference, with ``previous_version``.
    """

    template_fields: Sequence[str] = (
        "registry_conn_id",
        "audit_conn_id",
        "model_version",
        "model_name",
        "alias",
        "previous_alias",
        "reason",
        "approver",
        "stage",
    )
    template_fields_renderers = {"model_version": "json"}
    operator_extra_links = (RegistryVersionLink(),)
    ui_color = "#d8f0d2"

    def __init__(
        self,
        *,
        model_version: ModelVersionRef | str | None = None,
        model_name: str | None = None,
        alias: str = "champion",
        previous_alias: str = "previous_champion",
        rollback: bool = False,
        reason: str | None = None,
        approver: str | None = None,
        require_validation: bool = True,
        stage: str | None = None,
        archive_existing: bool = True,
        set_default: bool = True,
        **kwargs: Any,
    ) -> None:
        outlets = list(kwargs.pop("outlets", None) or [])
        super().__init__(outlets=[*outlets, MODEL_EVENTS_ALIAS], **kwargs)
        self.model_version = model_version
        self.model_name = model_name
        self.alias = alias
        self.previous_alias = previous_alias
        self.rollback = rollback
        self.reason = reason
        self.approver = approver
        self.require_validation = require_validation
        self.stage = stage
        self.archive_existing = archive_existing
        self.set_default = set_default
        self.registry_version_url: str | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        with self.fail_fast_on_bad_input():
            model_name, alias, previous_alias = self._names()
            current = self.hook.get_alias_version(model_name, alias)
            target = self._target(model_name, previous_alias)
        if current is not None and current.version == target.version:
            self.log.info("Version %s of %s already holds %r: nothing to do.", target.version, model_name, alias)
        else:
            self._move(context, model_name, alias, previous_alias, current, target)
        self.registry_version_url = self.hook.version_url(model_name, target.version)
        ref = self.hook.get_version(model_name, target.version).ref(self.registry_conn_id)
        context["outlet_events"][MODEL_EVENTS_ALIAS].add(
            model_asset(self.registry_conn_id, model_name), extra={**cast("dict[str, Any]", ref), "alias": alias}
        )
        return {**ref, "previous_version": current.version if current else None}

    def _names(self) -> tuple[str, str, str]:
        if self.model_version is not None:
            model_name = parse_ref(self.model_version)["model_name"]
        elif self.model_name and self.rollback:
            model_name = self.model_name
        else:
            raise InvalidInputError("model_version", "is required (model_name alone is enough only for rollback)")
        model_name = self.hook.validate_model_name(model_name)
        alias = self.hook.validate_alias(self.alias, "alias")
        previous_alias = self.hook.validate_alias(self.previous_alias, "previous_alias")
        if alias == previous_alias:
            raise InvalidInputError("previous_alias", "must differ from alias")
        if self.stage is not None and self.stage not in ("Staging", "Production", "Archived"):
            raise InvalidInputError("stage", f"must be Staging, Production or Archived, not {self.stage!r}")
        return model_name, alias, previous_alias

    def _target(self, model_name: str, previous_alias: str) -> ModelVersion:
        if self.rollback:
            target = self.hook.get_alias_version(model_name, previous_alias)
            if target is None:
                raise InvalidInputError("rollback", f"no version of {model_name!r} holds {previous_alias!r}")
            return target
        target = self.hook.get_version(model_name, parse_ref(self.model_version)["version"])
        status = target.tags.get(tag_keys.VALIDATION_STATUS)
        if status == tag_keys.VALIDATION_REJECTED:
            raise AirflowFailException(f"Version {target.version} of {model_name} was rejected by validation")
        if self.require_validation and status != tag_keys.VALIDATION_PASSED:
            raise InvalidInputError(
                "model_version",
                f"version {target.version} has not passed ValidateMetricsOperator (set require_validation=False "
                "to promote anyway)",
            )
        return target

    def _move(
        self,
        context: Context,
        model_name: str,
        alias: str,
        previous_alias: str,
        current: ModelVersion | None,
        target: ModelVersion,
    ) -> None:
        hook = self.hook
        trail = self.audit_trail(context)
        reason = self.reason or ("rollback" if self.rollback else "promotion")
        with trail.batch():
            if current is not None:
                held = hook.get_alias_version(model_name, previous_alias)
                hook.set_alias(model_name, previous_alias, current.version)
                old = held.version if held else None
                trail.record_alias(
                    model_name, previous_alias, old_version=old, new_version=current.version, reason=reason
                )
            hook.set_alias(model_name, alias, target.version)
            old = current.version if current else None
            trail.record_alias(
                model_name, alias, old_version=old, new_version=target.version, reason=reason, approver=self.approver
            )
            if self.set_default and hook.has_default_version:
                hook.set_default_version(model_name, target.version)
                trail.record(
                    "default_version", model=model_name, version=target.version, after=target.version, reason=reason
                )
            if self.stage is not None:
                hook.transition_stage(model_name, target.version, self.stage, archive_existing=self.archive_existing)
                trail.record(
                    "stage",
                    model=model_name,
                    version=target.version,
                    before=target.stage,
                    # archive_existing moves the stage's other versions to Archived in the same call
                    after={"stage": self.stage, "archive_existing": self.archive_existing},
                    reason=reason,
                )
        who, now = actor(context), datetime.now(UTC).isoformat()
        hook.set_version_tags(
            model_name,
            target.version,
            {
                tag_keys.PROMOTED_BY: who,
                tag_keys.PROMOTED_AT: now,
                tag_keys.PROMOTION_REASON: reason,
                tag_keys.PROMOTION_RUN: f"{context['ti'].dag_id}/{context['ti'].run_id}",
            },
        )
        history = json.loads(hook.get_model_tags(model_name).get(tag_keys.ALIAS_HISTORY, "[]"))
        history.append(
            {
                "alias": alias,
                "version": target.version,
                "previous": current.version if current else None,
                "at": now,
                "by": who,
                "reason": reason,
            }
        )
        hook.set_model_tags(model_name, {tag_keys.ALIAS_HISTORY: to_json(history[-ALIAS_HISTORY_LIMIT:])})
        self.log.info(
            "%s: %r -> version %s of %s (previous holder %s keeps %r) by %s",
            "Rolled back" if self.rollback else "Promoted",
            alias,
            target.version,
            model_name,
            current.version if current else None,
            previous_alias,
            who,
        )
