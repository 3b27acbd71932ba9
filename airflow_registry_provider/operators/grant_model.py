"""Declare who may read, use, edit or own a model, and converge the registry to it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from airflow_registry_provider.exceptions import UnsupportedOperationError
from airflow_registry_provider.governance.grants import (
    GrantPlan,
    GrantPolicy,
    parse_grants,
    plan_grants,
    refuse_padded,
)
from airflow_registry_provider.model_version import parse_structured
from airflow_registry_provider.operators.base import BaseRegistryOperator, as_bool, is_template

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.audit_trail import AuditTrail
    from airflow_registry_provider.governance.grants import Grant

FUTURE_SCOPE = "future models"


class GrantModelOperator(BaseRegistryOperator):
    """Apply declared grants on a model; with ``revoke_missing`` make them the only ones.

    Privileges are ``READ``, ``USAGE``, ``EDIT`` (MLflow only) and ``OWNERSHIP``; each
    backend maps them to its own permissions (see ``docs/governance.md``). Every name is
    validated and the policy checked before the registry is asked anything.

    :param model_name: The model.
    :param grants: ``{grantee: privilege}``, e.g. ``{"ML_ADMIN": "OWNERSHIP",
        "DATA_SCIENTIST": "USAGE", "user:alice": "READ"}``; roles by name, single users as
        ``user:<name>`` where the registry has per-user grants (MLflow).
    :param admin_roles: The only grantees allowed to hold OWNERSHIP.
    :param revoke_missing: Also revoke current grants that are not declared, so that the
        model ends up with exactly ``grants``. Privileges outside the vocabulary (an MLflow
        ``DENY``) are never revoked.
    :param future_grants: Grants every model created later receives (Snowflake: ``ON
        FUTURE MODELS IN SCHEMA`` of the connection; MLflow: the ``*`` model pattern,
        which also covers existing models). Converged like ``grants``.
    :param allow_public: Allow grants to PUBLIC (never OWNERSHIP).
    :param dry_run: Log and return the plan without changing anything (the plan is still
        checked by the registry where it can check one).
    :param reason: Why, recorded in the audit trail.
    :param revoke_implicit: With ``revoke_missing``, also revoke the grant the registry
        gave the model's creator (MLflow's MANAGE, Snowflake's owner). Default: kept and
        reported, so converging never locks the registry's own admin out.
    :return: (XCom) ``{"model_name", "dry_run", "changed", "plans": [plan, ...],
        "implicit_kept": [...]}``, each plan listing grant/revoke/unchanged/unmanaged grants.

    On a registry without access control (a local MLflow store, a server without the
    auth app) the task is skipped, the reason in the log.
    """

    template_fields: Sequence[str] = (
        "registry_conn_id",
        "audit_conn_id",
        "model_name",
        "grants",
        "admin_roles",
        "revoke_missing",
        "future_grants",
        "allow_public",
        "is_dry_run",
        "reason",
    )
    template_fields_renderers = {"grants": "json", "future_grants": "json"}
    ui_color = "#f3e1f7"

    def __init__(
        self,
        *,
        model_name: str,
        grants: Mapping[str, str] | str,
        admin_roles: Sequence[str] = (),
        revoke_missing: bool = False,
        future_grants: Mapping[str, str] | str | None = None,
        allow_public: bool = False,
        dry_run: bool = False,
        reason: str | None = None,
        revoke_implicit: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.grants = grants
        self.admin_roles = admin_roles
        self.revoke_missing = revoke_missing
        self.future_grants = future_grants
        self.allow_public = allow_public
        # BaseOperator.dry_run() is a method: the flag lives under another name.
        self.is_dry_run = dry_run
        self.reason = reason
        self.revoke_implicit = revoke_implicit
        for name, value in (("grants", grants), ("future_grants", future_grants)):
            if not is_template(value):
                refuse_padded(value, name)

    def check_inputs(self) -> None:
        super().check_inputs()
        for name, attr in (
            ("revoke_missing", "revoke_missing"),
            ("allow_public", "allow_public"),
            ("dry_run", "is_dry_run"),
            ("revoke_implicit", "revoke_implicit"),
        ):
            setattr(self, attr, as_bool(getattr(self, attr), name))
        if isinstance(self.admin_roles, str):
            self.admin_roles = parse_structured(self.admin_roles, "admin_roles", (list, tuple))

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.hook
        capabilities = hook.grant_capabilities
        if capabilities is None:
            raise AirflowSkipException(f"{hook.backend} registries have no access control: no grants to apply")
        policy = GrantPolicy.build(self.admin_roles, allow_public=bool(self.allow_public))
        model_name = hook.validate_model_name(self.model_name)
        declared = parse_grants(self.grants, policy, capabilities)
        declared_future = None
        if self.future_grants:
            declared_future = parse_grants(self.future_grants, policy, capabilities, field_name="future_grants")
        try:
            current = hook.list_grants(model_name)
        except UnsupportedOperationError as err:
            # A registry without access control (a local MLflow store, a server without the
            # auth app) has nothing to converge: skipped, not failed, with the reason.
            self.log.warning("Skipping: %s", err)
            raise AirflowSkipException(str(err)) from err
        implicit = self._implicit(model_name)
        diff = partial(self._diff, implicit=implicit)
        plan = diff(model_name, declared, current)
        future_plan = None
        if declared_future is not None:
            future_plan = diff(FUTURE_SCOPE, declared_future, hook.list_future_grants())
        self._check_plan(model_name, plan, future_plan)
        plans = [p for p in (plan, future_plan) if p is not None]
        for p in plans:
            self.log.info("%s", p.describe())
        kept = [{"grantee": g.grantee, "privilege": g.privilege} for g in implicit]
        result = {
            "model_name": model_name,
            "dry_run": bool(self.is_dry_run),
            "changed": any(p.changed for p in plans),
            "plans": [p.to_json() for p in plans],
            "implicit_kept": kept,
        }
        if self.is_dry_run:
            self.log.info("Dry run: nothing was changed.")
            return result
        trail = self.audit_trail(context)
        if plan.changed:
            hook.apply_grants(model_name, plan.to_grant, plan.to_revoke)
            self._audit(trail, model_name, plan, scope="model")
        if future_plan is not None and future_plan.changed:
            hook.apply_future_grants(future_plan.to_grant, future_plan.to_revoke)
            self._audit(trail, model_name, future_plan, scope=FUTURE_SCOPE)
        self._verify(model_name, plan, future_plan, diff)
        return result

    def _implicit(self, model_name: str) -> tuple[Grant, ...]:
        """Grants the registry made itself (the creator's), kept unless ``revoke_implicit``."""
        if not self.revoke_missing or self.revoke_implicit:
            return ()
        implicit = tuple(sorted(self.hook.implicit_grants(model_name)))
        for g in implicit:
            self.log.info(
                "Keeping %s of %s on %s: the registry gave it to the model's creator "
                "(revoke_implicit=True revokes it).",
                g.privilege,
                g.grantee,
                model_name,
            )
        return implicit

    def _diff(
        self, target: str, declared: Iterable[Grant], current: Iterable[Grant], *, implicit: Sequence[Grant]
    ) -> GrantPlan:
        plan = plan_grants(
            target, declared, current, revoke_missing=bool(self.revoke_missing), exclusive=self._exclusive
        )
        kept = [g for g in plan.to_revoke if g in implicit]
        if not kept:
            return plan
        return dataclasses.replace(
            plan,
            to_revoke=tuple(g for g in plan.to_revoke if g not in kept),
            unmanaged=tuple(sorted({*plan.unmanaged, *kept})),
        )

    def _check_plan(self, model_name: str, plan: GrantPlan, future_plan: GrantPlan | None) -> None:
        """Let the hook refuse the whole plan before its first change, where it can check one (Snowflake)."""
        check = getattr(self.hook, "check_grant_plan", None)
        if check is None:
            return
        check(
            model_name if plan.changed else None,
            plan.to_grant,
            plan.to_revoke,
            future_grant=future_plan.to_grant if future_plan else (),
            future_revoke=future_plan.to_revoke if future_plan else (),
        )

    @property
    def _exclusive(self) -> bool:
        capabilities = self.hook.grant_capabilities
        return capabilities is not None and capabilities.exclusive

    def _audit(self, trail: AuditTrail, model_name: str, plan: GrantPlan, scope: str) -> None:
        """One record per grantee whose privilege changed (a change of privilege is one ``grant``)."""
        revoked = {g.grantee: g.privilege for g in plan.to_revoke}
        with trail.batch():
            for g in plan.to_grant:
                before = revoked.pop(g.grantee, None)
                trail.record(
                    "grant",
                    model=model_name,
                    before={"scope": scope, "grantee": g.grantee, "privilege": before},
                    after={"scope": scope, "grantee": g.grantee, "privilege": g.privilege},
                    reason=self.reason,
                )
            for grantee, privilege in revoked.items():
                trail.record(
                    "revoke",
                    model=model_name,
                    before={"scope": scope, "grantee": grantee, "privilege": privilege},
                    after={"scope": scope, "grantee": grantee, "privilege": None},
                    reason=self.reason,
                )

    def _verify(
        self, model_name: str, plan: GrantPlan, future_plan: GrantPlan | None, diff: Callable[..., GrantPlan]
    ) -> None:
        """Read the grants back: the registry must now hold what was declared."""
        left = diff(model_name, {*plan.to_grant, *plan.unchanged}, self.hook.list_grants(model_name))
        if future_plan is not None:
            wanted = {*future_plan.to_grant, *future_plan.unchanged}
            future_left = diff(FUTURE_SCOPE, wanted, self.hook.list_future_grants())
            left = GrantPlan(
                target=f"{model_name} and {FUTURE_SCOPE}",
                to_grant=left.to_grant + future_left.to_grant,
                to_revoke=left.to_revoke + future_left.to_revoke,
            )
        if left.changed:
            raise AirflowException(f"Grants did not converge; still to apply:\n{left.describe()}")
        self.log.info("Grants on %s now match the declaration.", model_name)
