"""A named person's approval before a version is promoted, on Airflow's human-in-the-loop operator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.base import RegistryHook, get_registry_hook
from airflow_registry_provider.model_version import parse_ref
from airflow_registry_provider.operators.base import BaseRegistryOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.model_version import ModelVersionRef

APPROVED = "approved"
REJECTED = "rejected"


class RegistryApprovalOperator(ApprovalOperator):
    """Ask the ``approvers`` to approve promoting ``model_version``; only they count.

    Built on providers-standard's ``ApprovalOperator``: the task parks in ``awaiting_input``
    (no worker slot) until someone answers in the UI or through the REST API
    (``PATCH .../taskInstances/{task_id}/{map_index}/hitlDetails``). The approvers become
    the request's ``assigned_users``, so Airflow refuses (403) anyone else; the answer is
    checked again here, so an answer from anyone else (e.g. under an auth manager that lets
    every admin answer) fails the task and nothing is promoted. Who answered and when is
    recorded on the version (``approval_status``, ``approved_by``, ``approved_at`` tags) and
    in the audit trail. "Reject" skips everything downstream; no answer within
    ``response_timeout`` fails the task: either way nothing is promoted.

    :param model_version: The version to approve (``copy.output``, a reference or its JSON).
    :param approvers: Airflow user ids allowed to answer.
    :param registry_conn_id: The version's registry; default the reference's.
    :param audit_conn_id: Optional SQL connection of the audit table.
    :param subject: Headline shown to the approvers; default names the model and version.
    :param response_timeout: How long to wait for an answer.
    :return: (XCom) the version's reference with ``approved``, ``approver`` and ``approved_at``.
    """

    template_fields: Sequence[str] = (
        "subject",
        "body",
        "model_version",
        "approvers",
        "registry_conn_id",
        "audit_conn_id",
    )
    template_fields_renderers = {"model_version": "json", "body": "md"}
    ui_color = "#fff3bf"

    def __init__(
        self,
        *,
        model_version: ModelVersionRef | str,
        approvers: Sequence[str],
        registry_conn_id: str | None = None,
        audit_conn_id: str | None = None,
        subject: str = "Approve promoting this model version",
        response_timeout: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        # Reject must stop the whole promotion, also tasks whose trigger rules tolerate skips.
        kwargs.setdefault("ignore_downstream_trigger_rules", True)
        super().__init__(subject=subject, response_timeout=response_timeout, **kwargs)
        self.model_version = model_version
        self.approvers = approvers
        self.registry_conn_id = registry_conn_id
        self.audit_conn_id = audit_conn_id

    @cached_property
    def hook(self) -> RegistryHook:
        return get_registry_hook(self.registry_conn_id or parse_ref(self.model_version)["registry_conn_id"])

    def _approvers(self) -> list[str]:
        approvers = [self.approvers] if isinstance(self.approvers, str) else list(self.approvers or ())
        if not approvers or not all(isinstance(a, str) and a for a in approvers):
            raise InvalidInputError("approvers", f"must name at least one Airflow user id, got {self.approvers!r}")
        return approvers

    def execute(self, context: Context) -> Any:
        with BaseRegistryOperator.fail_fast_on_bad_input():
            approvers = self._approvers()
            ref = parse_ref(self.model_version)
            try:
                version = self.hook.get_version(ref["model_name"], ref["version"])
            except InvalidInputError as err:
                raise err.for_field("model_version") from err
        if version.tags.get(tag_keys.VALIDATION_STATUS) == tag_keys.VALIDATION_REJECTED:
            raise AirflowFailException(f"Version {version.version} of {version.model_name} was rejected by validation")
        self.assigned_users = [{"id": name, "name": name} for name in approvers]
        if self.body is None:
            self.body = (
                f"Promote version **{version.version}** ({version.version_name or 'unnamed'}) of "
                f"**{version.model_name}** in `{self.hook.registry_conn_id}`.\n\n"
                f"Metrics: {dict(version.metrics)}\n\nAllowed approvers: {', '.join(approvers)}"
            )
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        if "error" in event:
            self.log.error("No approval: %s. Nothing is promoted.", event["error"])
            return super().execute_complete(context, event)
        approvers = self._approvers()
        responder = event.get("responded_by_user") or {}
        who = responder.get("id")
        chosen = list(event.get("chosen_options") or [])
        if who not in approvers:
            raise AirflowFailException(
                f"approvers: the answer {chosen} came from {who or 'nobody (timeout default)'}, who is not an allowed "
                f"approver ({', '.join(approvers)}); it does not count and nothing is promoted"
            )
        approved = chosen == [self.APPROVE]
        at = event["responded_at"]
        at_text = at.isoformat() if isinstance(at, datetime) else str(at or datetime.now(UTC).isoformat())
        ref = parse_ref(self.model_version)
        self._record(context, ref, APPROVED if approved else REJECTED, who, at_text)
        super().execute_complete(context, event)  # on Reject: skips the downstream tasks
        return {**ref, "model_version": ref, "approved": approved, "approver": who, "approved_at": at_text}

    def _record(self, context: Context, ref: ModelVersionRef, status: str, who: str, at: str) -> None:
        from airflow_registry_provider.audit_trail import AuditTrail

        hook = self.hook
        tags = hook.get_version_tags(ref["model_name"], ref["version"])
        trail = AuditTrail.from_context(context, hook, sql_conn_id=self.audit_conn_id or None)
        trail.record(
            "tag",  # the approval is recorded as the tags it sets, with the approver
            model=ref["model_name"],
            version=ref["version"],
            before={tag_keys.APPROVAL_STATUS: tags.get(tag_keys.APPROVAL_STATUS)},
            after={tag_keys.APPROVAL_STATUS: status, "at": at},
            reason=f"{status} by {who} at {at}",
            approver=who,
            version_tags=tags,
            also_set={tag_keys.APPROVAL_STATUS: status, tag_keys.APPROVED_BY: who, tag_keys.APPROVED_AT: at},
        )
        self.log.info("Version %s of %s %s by %s at %s.", ref["version"], ref["model_name"], status, who, at)
