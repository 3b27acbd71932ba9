"""Move an alias (``champion`` by default) to a version, keeping the previous holder reachable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.alias_lease import AliasLease, owner_token
from airflow_registry_provider.assets import MODEL_EVENTS_ALIAS, model_asset
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.links import RegistryVersionLink
from airflow_registry_provider.model_version import parse_ref
from airflow_registry_provider.operators.base import BaseRegistryOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.audit_trail import AuditTrail
    from airflow_registry_provider.model_version import ModelVersion, ModelVersionRef


class PromoteVersionOperator(BaseRegistryOperator):
    """Point ``alias`` at a validated version; the previous holder keeps ``previous_alias``.

    Concurrent promotions of one alias are serialised by a lease on that alias kept in a
    model tag (``alias_lease.py``): the holder is read, moved and recorded by one task at
    a time, so the audit trail's moves form one chain and ``previous_alias`` is on the
    version the last move replaced. When ``audit_conn_id`` is a PostgreSQL database the
    task also holds an advisory lock on ``(registry_conn_id, model, alias)`` there, which
    makes the exclusion strict for the tasks recording into it. Every change (``previous_alias``, ``alias`` with the
    promotion tags, the default version, the stage) gets one audit record, written after
    the changes. A retry converges on the whole intended end state: an attempt that failed
    after writing keeps its lease with its plan (the state it started from), and the retry
    completes the missing changes and the missing records from that plan, never recording
    a move twice. Re-running a promotion whose end state is in place writes nothing.

    :param model_version: The version to promote (``log_model.output`` or its JSON).
        Not needed with ``rollback=True``.
    :param model_name: The model, when rolling back without a ``model_version``.
    :param alias: The alias to move. Default ``champion``.
    :param previous_alias: Where the previous holder stays reachable. Default ``previous_champion``.
    :param rollback: Swap ``alias`` and ``previous_alias`` back: one call undoes a promotion.
    :param reason: Why, recorded on the version and in the audit trail.
    :param approver: Who approved the promotion, recorded in the audit trail.
    :param require_validation: Refuse versions that did not pass ValidateMetricsOperator.
    :param stage: Optional legacy MLflow stage (e.g. ``Production``) for teams still on stages.
    :param archive_existing: With ``stage``, archive the versions in it.
    :param set_default: Also make the version the model's default where the registry has
        one (Snowflake).
    :param lock_timeout: Seconds to wait for another task moving the same alias before
        failing (a transient error: Airflow retries).
    :return: (XCom) the promoted version's reference, under ``model_version`` too, with
        ``previous_version`` (the version the alias left; the version itself when nothing
        moved) and ``changes`` (what this task changed: ``previous_alias``, ``alias``,
        ``default_version``, ``stage``).
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
        lock_timeout: float = 300.0,
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
        self.lock_timeout = lock_timeout
        self.registry_version_url: str | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        with self.fail_fast_on_bad_input():
            model_name, alias, previous_alias = self._names()
            candidate = None if self.rollback else self._candidate(model_name)
        trail = self.audit_trail(context)
        trail.prepare_sql()  # an unreachable audit database fails the task before any write
        ti = context["ti"]
        lease = AliasLease(
            self.hook,
            model_name,
            alias,
            owner_token(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", None)),
            timeout=self.lock_timeout,
        )
        with self.fail_fast_on_bad_input():
            prior = lease.acquire()
        plan, steps = self._converge(context, trail, lease, prior, model_name, alias, previous_alias, candidate)
        target = plan["to"]
        self.log.info(
            "%s: %r -> version %s of %s (previous holder %s keeps %r)%s",
            "Rolled back" if self.rollback else "Promoted",
            alias,
            target,
            model_name,
            plan["alias_from"],
            previous_alias,
            "" if steps else ": already in place, nothing to do",
        )
        self.registry_version_url = self.hook.version_url(model_name, target)
        result = self.version_result(
            self.hook.get_version(model_name, target), previous_version=plan["alias_from"], changes=steps
        )
        context["outlet_events"][MODEL_EVENTS_ALIAS].add(
            model_asset(self.registry_conn_id, model_name), extra={**result["model_version"], "alias": alias}
        )
        return result

    def _converge(
        self,
        context: Context,
        trail: AuditTrail,
        lease: AliasLease,
        prior: dict[str, Any] | None,
        model_name: str,
        alias: str,
        previous_alias: str,
        candidate: ModelVersion | None,
    ) -> tuple[dict[str, Any], list[str]]:
        """Under the lease: plan (or take the earlier attempt's plan), change, record, release."""
        planned = False
        try:
            # Strict where the audit database is PostgreSQL (an advisory lock), on top of the lease.
            with trail.exclusive(f"{self.registry_conn_id}/{model_name}/{alias}"):
                with self.fail_fast_on_bad_input():
                    plan = prior or self._plan(model_name, alias, previous_alias, candidate)
                    if prior is not None:
                        self.log.info("Completing the move an earlier attempt of this task began: %s", plan)
                    steps = self._steps(plan)
                    if steps:
                        lease.record_plan(plan)  # refused (nothing written) if it does not fit a model tag
                if steps:
                    planned = True
                    with self.fail_fast_on_bad_input():
                        self._apply(model_name, alias, previous_alias, plan, steps)
                    # A retry completing its lost attempt's move writes only the records a sink lacks.
                    self._record(context, trail, model_name, alias, previous_alias, plan, steps, retry=bool(prior))
        except BaseException as err:
            # A claim with a plan stays for this task's retry; a refused input wrote nothing.
            if not planned or isinstance(err, AirflowFailException):
                self._release_quietly(lease)
            raise
        lease.release()
        return plan, steps

    def _names(self) -> tuple[str, str, str]:
        if self.model_version is not None:
            ref = parse_ref(self.model_version)
            self.adopt_connection(ref)
            model_name = ref["model_name"]
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

    def _candidate(self, model_name: str) -> ModelVersion:
        target = self.resolve_version(model_version=self.model_version)
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

    def _plan(self, model_name: str, alias: str, previous_alias: str, candidate: ModelVersion | None) -> dict[str, Any]:
        """The state found before the first write, read under the lease: what the move starts from."""
        hook = self.hook
        current = hook.get_alias_version(model_name, alias)
        held = hook.get_alias_version(model_name, previous_alias)
        if candidate is None:  # rollback: the previous holder comes back
            if held is None:
                raise InvalidInputError("rollback", f"no version of {model_name!r} holds {previous_alias!r}")
            candidate = held
        else:
            candidate = hook.get_version(model_name, candidate.version)  # its stage now, not before the wait
        return {
            "to": candidate.version,
            "alias_from": current.version if current else None,
            "previous_from": held.version if held else None,
            "stage_from": candidate.stage,
            "default_from": hook.get_default_version(model_name) if hook.has_default_version else None,
        }

    def _steps(self, plan: dict[str, Any]) -> list[str]:
        """The changes the plan calls for, in the order they are made."""
        steps = []
        if plan["alias_from"] != plan["to"]:
            if plan["alias_from"] is not None and plan["previous_from"] != plan["alias_from"]:
                steps.append("previous_alias")
            steps.append("alias")
        if self.set_default and self.hook.has_default_version and plan["default_from"] != plan["to"]:
            steps.append("default_version")
        if self.stage is not None and plan["stage_from"] != self.stage:
            steps.append("stage")
        return steps

    def _apply(self, model_name: str, alias: str, previous_alias: str, plan: dict[str, Any], steps: list[str]) -> None:
        """Make each planned change that is not in place yet (a retry finds some done)."""
        hook, target = self.hook, plan["to"]
        if "alias" in steps:
            # One alias per version on Snowflake: the hook refuses to displace another alias of
            # the target before any write, and undoes its completed steps if one fails.
            hook.move_alias(model_name, alias, target, previous_alias=previous_alias, allow_displace=False)
        if "default_version" in steps and hook.get_default_version(model_name) != target:
            hook.set_default_version(model_name, target)
        if "stage" in steps and hook.get_version(model_name, target).stage != self.stage:
            hook.transition_stage(model_name, target, cast("str", self.stage), archive_existing=self.archive_existing)

    def _record(
        self,
        context: Context,
        trail: AuditTrail,
        model_name: str,
        alias: str,
        previous_alias: str,
        plan: dict[str, Any],
        steps: list[str],
        *,
        retry: bool,
    ) -> None:
        target, reason = plan["to"], self.reason or ("rollback" if self.rollback else "promotion")
        with trail.batch(skip_recorded=retry):
            if "previous_alias" in steps:
                trail.record_alias(
                    model_name, previous_alias, old_version=plan["previous_from"], new_version=plan["alias_from"],
                    reason=reason,
                )  # fmt: skip
            if "alias" in steps:
                promotion = {
                    tag_keys.PROMOTED_BY: trail.actor,
                    tag_keys.PROMOTED_AT: datetime.now(UTC).isoformat(),
                    tag_keys.PROMOTION_REASON: reason,
                    tag_keys.PROMOTION_RUN: f"{context['ti'].dag_id}/{context['ti'].run_id}",
                }
                # The promotion tags are part of the move: written with its record, in one call.
                trail.record_alias(
                    model_name, alias, old_version=plan["alias_from"], new_version=target, reason=reason,
                    approver=self.approver, also_set=promotion,
                )  # fmt: skip
            if "default_version" in steps:
                trail.record(
                    "default_version", model=model_name, version=target, before=plan["default_from"], after=target,
                    reason=reason,
                )  # fmt: skip
            if "stage" in steps:
                trail.record(
                    "stage",
                    model=model_name,
                    version=target,
                    before=plan["stage_from"],
                    # archive_existing moves the stage's other versions to Archived in the same call
                    after={"stage": self.stage, "archive_existing": self.archive_existing},
                    reason=reason,
                )

    def _release_quietly(self, lease: AliasLease) -> None:
        try:
            lease.release()
        except Exception as err:  # the task's own error is the one to report
            self.log.warning("Could not release %s: %s (it expires on its own)", lease.key, err)
