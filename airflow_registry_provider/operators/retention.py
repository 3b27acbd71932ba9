"""Keep the latest versions of a model; archive (and eventually delete) the rest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.retention import (
    ARCHIVED_STAGE,
    RetentionPlan,
    RetentionPolicy,
    plan_retention,
)
from airflow_registry_provider.operators.base import BaseRegistryOperator, as_bool

if TYPE_CHECKING:
    from airflow.sdk import Context


class RetentionOperator(BaseRegistryOperator):
    """Apply a retention policy to one model in one paged pass over its versions.

    Never touches a version that holds an alias, is the default version or is in the
    Production stage. Archiving tags the version (``airflow_registry.archived`` = when)
    and, for a version in a stage, moves it to Archived; nothing is deleted unless
    ``delete_after_days`` is set, and then only versions archived at least that long ago.

    :param model_name: The model.
    :param keep_latest: How many of the newest unprotected versions to keep.
    :param per_stage: Keep ``keep_latest`` per stage (Staging, None, ...) instead of overall.
    :param delete_after_days: Delete versions archived at least this many days ago.
    :param dry_run: Log and return the plan without changing anything.
    :param reason: Why, recorded in the audit trail.
    :return: (XCom) the plan: ``{"model_name", "total", "kept": {why: count},
        "archive": [versions], "delete": [versions], "dry_run"}``.
    """

    template_fields: Sequence[str] = (
        "registry_conn_id",
        "audit_conn_id",
        "model_name",
        "keep_latest",
        "per_stage",
        "delete_after_days",
        "is_dry_run",
        "reason",
    )
    ui_color = "#eee4d8"

    def __init__(
        self,
        *,
        model_name: str,
        keep_latest: int,
        per_stage: bool = False,
        delete_after_days: float | None = None,
        dry_run: bool = False,
        reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.keep_latest = keep_latest
        self.per_stage = per_stage
        self.delete_after_days = delete_after_days
        # BaseOperator.dry_run() is a method: the flag lives under another name.
        self.is_dry_run = dry_run
        self.reason = reason

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.hook
        with self.fail_fast_on_bad_input():
            model_name = hook.validate_model_name(self.model_name)
            policy = self._policy()
            dry_run = as_bool(self.is_dry_run, "dry_run")
        now = datetime.now(UTC)
        plan = plan_retention(
            model_name,
            hook.iter_versions(model_name),
            policy,
            now=now,
            default_version=hook.get_default_version(model_name),
        )
        self.log.info("%s", plan.describe())
        if dry_run:
            self.log.info("Dry run: nothing was changed.")
        elif plan.changed:
            self._apply(context, plan, now)
        return {**plan.to_json(), "dry_run": dry_run}

    def _policy(self) -> RetentionPolicy:
        try:
            keep = int(self.keep_latest)
            days = None if self.delete_after_days in (None, "", "None") else float(self.delete_after_days)
        except (TypeError, ValueError):
            raise InvalidInputError("keep_latest", "keep_latest and delete_after_days must be numbers") from None
        return RetentionPolicy(
            keep_latest=keep,
            per_stage=as_bool(self.per_stage, "per_stage"),
            delete_after=None if days is None else timedelta(days=days),
        )

    def _apply(self, context: Context, plan: RetentionPlan, now: datetime) -> None:
        hook, model_name = self.hook, plan.model_name
        trail = self.audit_trail(context)
        stamp = now.isoformat()
        with trail.batch():
            for version in plan.archive:
                if version.stage:
                    hook.transition_stage(model_name, version.version, ARCHIVED_STAGE, archive_existing=False)
                trail.record(
                    "archive",
                    model=model_name,
                    version=version.version,
                    before={"stage": version.stage},
                    after={"stage": ARCHIVED_STAGE if version.stage else None, tag_keys.ARCHIVED: stamp},
                    reason=self.reason,
                    version_tags=version.tags,
                    also_set={tag_keys.ARCHIVED: stamp},  # the archive tag and its record: one write
                )
            for version in plan.delete:
                hook.delete_version(model_name, version.version)
                trail.record(
                    "delete",
                    model=model_name,
                    version=version.version,
                    before={tag_keys.ARCHIVED: version.tags.get(tag_keys.ARCHIVED), "stage": version.stage},
                    reason=self.reason,
                )
        self.log.info("Archived %d and deleted %d versions of %s.", len(plan.archive), len(plan.delete), model_name)
