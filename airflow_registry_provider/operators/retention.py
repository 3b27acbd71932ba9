"""Keep the latest versions of a model; archive (and eventually delete) the rest."""

from __future__ import annotations

import math
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

    def check_inputs(self) -> None:
        super().check_inputs()
        self.keep_latest = _number(self.keep_latest, "keep_latest", int, minimum=1)
        if self.delete_after_days in ("", "None"):
            self.delete_after_days = None
        if self.delete_after_days is not None:
            self.delete_after_days = _number(self.delete_after_days, "delete_after_days", float, minimum=0)
        self.per_stage = as_bool(self.per_stage, "per_stage")
        self.is_dry_run = as_bool(self.is_dry_run, "dry_run")

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.hook
        model_name = hook.validate_model_name(self.model_name)
        days = self.delete_after_days
        policy = RetentionPolicy(
            keep_latest=int(self.keep_latest),
            per_stage=bool(self.per_stage),
            delete_after=None if days is None else timedelta(days=float(days)),
        )
        now = datetime.now(UTC)
        plan = plan_retention(
            model_name,
            hook.iter_versions(model_name),
            policy,
            now=now,
            default_version=hook.get_default_version(model_name),
        )
        if plan.total == 0:
            hook.get_model_tags(model_name)  # ModelNotFoundError (model_name) when there is no such model
        self.log.info("%s", plan.describe())
        if self.is_dry_run:
            self.log.info("Dry run: nothing was changed.")
        elif plan.changed:
            self._apply(context, plan, now)
        return {**plan.to_json(), "dry_run": bool(self.is_dry_run)}

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


def _number(value: Any, field: str, kind: type[int] | type[float], *, minimum: float) -> Any:
    """A whole (``int``) or real (``float``) number at least ``minimum``, also from rendered text."""
    if isinstance(value, bool):
        raise InvalidInputError(field, f"must be a number, not {value!r}")
    try:
        number = kind(value) if not isinstance(value, str) else kind(value.strip())
    except (TypeError, ValueError):
        raise InvalidInputError(field, f"must be a {'whole ' if kind is int else ''}number, not {value!r}") from None
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise InvalidInputError(field, f"must be a whole number, not {value!r}")
    if not math.isfinite(number) or number < minimum:
        raise InvalidInputError(field, f"must be at least {minimum:g}, not {value!r}")
    return number
