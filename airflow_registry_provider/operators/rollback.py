"""Undo a promotion whose post-promotion check failed, and mark the version so it is not promoted again."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.base import get_registry_hook
from airflow_registry_provider.model_version import parse_ref, parse_structured
from airflow_registry_provider.operators.base import BaseRegistryOperator, to_json

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.hooks.base import RegistryHook
    from airflow_registry_provider.model_version import ModelVersionRef


def rolled_back(tags: Mapping[str, str]) -> dict[str, Any] | None:
    """The rollback record a version carries (``RollbackOperator``), or None."""
    text = tags.get(tag_keys.ROLLED_BACK)
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return {"reason": text}
    return record if isinstance(record, dict) else {"reason": text}


class RollbackOperator(BaseRegistryOperator):
    """Give ``alias`` back to the version that held it before ``promotion``.

    Reads the previous holder from PromoteVersionOperator's output (``previous_version``);
    with no previous holder the alias is removed. The failed version is tagged
    ``rolled_back`` (with the reason and run) and rejected by validation, so no later run
    promotes it again; so are the ``lineage`` versions it was copied from. Every change is
    recorded in the audit trail with the reason. Re-running converges: an alias already
    given back is left alone; an alias moved to a third version since is not touched (the
    task fails and names it).

    :param promotion: PromoteVersionOperator's output (``promote.output``). None (the
        promotion did not run) skips the task.
    :param reason: Why, e.g. which check failed; the failed metrics recorded on the version
        by ValidateMetricsOperator are appended.
    :param alias: The alias to give back. Default ``champion``.
    :param lineage: References of the versions ``promotion``'s version was copied from
        (other registries allowed): tagged too, so that the source is not promoted again.
    :param environment: Name of the environment, recorded with the rollback.
    :return: (XCom) the restored version's reference (``version`` None when the alias was
        removed) with ``rolled_back_version`` and ``reason``.
    """

    template_fields: Sequence[str] = (
        "registry_conn_id",
        "audit_conn_id",
        "promotion",
        "reason",
        "alias",
        "lineage",
        "environment",
    )
    template_fields_renderers = {"promotion": "json", "lineage": "json"}
    ui_color = "#ffd8d8"

    def __init__(
        self,
        *,
        promotion: Mapping[str, Any] | str | None,
        reason: str = "post-promotion check failed",
        alias: str = "champion",
        lineage: Sequence[ModelVersionRef | str] | None = None,
        environment: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.promotion = promotion
        self.reason = reason
        self.alias = alias
        self.lineage = lineage
        self.environment = environment

    def execute(self, context: Context) -> dict[str, Any]:
        if not self.promotion:
            raise AirflowSkipException("Nothing was promoted: nothing to roll back.")
        with self.fail_fast_on_bad_input():
            ref = parse_ref(self.promotion, "promotion")
            self.adopt_connection(ref)
            previous = self._previous_version()
            model_name = self.hook.validate_model_name(ref["model_name"])
            alias = self.hook.validate_alias(self.alias)
            lineage = [parse_ref(item, f"lineage[{i}]") for i, item in enumerate(self.lineage or ())]
            failed = self.hook.get_version(model_name, ref["version"])
            current = self.hook.get_alias_version(model_name, alias)
        reason = self._reason(failed.tags)
        trail = self.audit_trail(context)
        holder = current.version if current else None
        if previous == failed.version:
            # PromoteVersion found the alias already on this version: there is nothing older to restore.
            self.log.warning("%r of %s was on version %s before this run: left there.", alias, model_name, previous)
        elif holder == failed.version:
            if previous is None:
                self.hook.delete_alias(model_name, alias)
            else:
                self.hook.set_alias(model_name, alias, previous)
            trail.record_alias(model_name, alias, old_version=failed.version, new_version=previous, reason=reason)
            self.log.info("Rolled back %r of %s: version %s -> %s (%s)", alias, model_name, holder, previous, reason)
        elif holder == previous:
            self.log.info("%r of %s already back on version %s.", alias, model_name, previous)
        else:
            raise AirflowFailException(
                f"alias: {alias!r} of {model_name} moved to version {holder} after version {failed.version} was "
                f"promoted; not rolling back over a newer promotion (expected {failed.version} or {previous})"
            )
        record = to_json(
            {
                "at": datetime.now(UTC).isoformat(),
                "reason": reason,
                "run": f"{context['ti'].dag_id}/{context['ti'].run_id}",
                "environment": self.environment,
                "registry_conn_id": self.registry_conn_id,
                "model_name": model_name,
                "version": failed.version,
            }
        )
        self._mark(context, self.hook, model_name, failed.version, failed.tags, record, reason)
        for source in lineage:
            hook = get_registry_hook(source["registry_conn_id"]) if source["registry_conn_id"] else self.hook
            tags = hook.get_version_tags(source["model_name"], source["version"])
            self._mark(context, hook, source["model_name"], source["version"], tags, record, reason)
        restored = self.hook.get_version(model_name, previous).ref(self.registry_conn_id) if previous else None
        base: dict[str, Any] = dict(restored) if restored else {**ref, "version": None, "aliases": []}
        return {
            **base,
            "model_version": restored,
            "rolled_back_version": failed.version,
            "reason": reason,
        }

    def _previous_version(self) -> str | None:
        promotion = parse_structured(self.promotion, "promotion")
        if "previous_version" not in promotion:
            raise InvalidInputError("promotion", "expected PromoteVersionOperator's output (with previous_version)")
        previous = promotion["previous_version"]
        return None if previous in (None, "") else str(previous)

    def _reason(self, tags: Mapping[str, str]) -> str:
        """The given reason, with the failed checks ValidateMetricsOperator recorded on the version."""
        if tags.get(tag_keys.VALIDATION_STATUS) != tag_keys.VALIDATION_REJECTED:
            return self.reason
        try:
            metrics = json.loads(tags.get(tag_keys.VALIDATION_RESULT, "{}")).get("metrics", {})
            failed = ["; ".join(o["checks"]) for o in metrics.values() if not o["passed"]]
        except (ValueError, AttributeError, KeyError, TypeError):
            return self.reason
        return f"{self.reason}: {', '.join(failed)}" if failed else self.reason

    def _mark(
        self,
        context: Context,
        hook: RegistryHook,
        model_name: str,
        version: str,
        tags: Mapping[str, str],
        record: str,
        reason: str,
    ) -> None:
        """Tag a version rolled back and rejected, through that registry's audit trail."""
        if rolled_back(tags) is not None and tags.get(tag_keys.VALIDATION_STATUS) == tag_keys.VALIDATION_REJECTED:
            return  # a retry: already marked
        from airflow_registry_provider.audit_trail import AuditTrail

        trail = AuditTrail.from_context(context, hook, sql_conn_id=self.audit_conn_id or None)
        trail.record(
            "tag",
            model=model_name,
            version=version,
            before={tag_keys.VALIDATION_STATUS: tags.get(tag_keys.VALIDATION_STATUS)},
            after={tag_keys.VALIDATION_STATUS: tag_keys.VALIDATION_REJECTED, tag_keys.ROLLED_BACK: True},
            reason=reason,
            version_tags=tags,
            also_set={tag_keys.ROLLED_BACK: record, tag_keys.VALIDATION_STATUS: tag_keys.VALIDATION_REJECTED},
        )
