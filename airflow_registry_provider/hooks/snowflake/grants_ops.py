"""The grant methods of ``SnowflakeRegistryHook``: read, check the whole plan, then apply.

Statements and privilege rules come from ``grants.py``; here they meet the session.
:meth:`GrantsMixin.check_grant_plan` checks everything a plan needs before its first
statement (roles exist, the acting role may grant, an OWNERSHIP transfer keeps it in
control, MANAGE GRANTS for future grants); ``apply_grants`` / ``apply_future_grants``
call it themselves, so a caller that does not is still refused before any change.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import ClassVar

from airflow_registry_provider.exceptions import InvalidInputError, PrivilegeError
from airflow_registry_provider.governance.grants import OWNERSHIP, Grant, GrantCapabilities
from airflow_registry_provider.hooks.snowflake import grants
from airflow_registry_provider.hooks.snowflake.core import SnowflakeCore


class GrantsMixin(SnowflakeCore):
    """Grants on models and future grants in the registry schema (mixed into the hook)."""

    grant_capabilities: ClassVar[GrantCapabilities | None] = grants.CAPABILITIES

    def _grants_from(self, statement: str, model_name: str | None = None) -> list[Grant]:
        with self._translated(model_name):
            rows = self._sql(statement)
        found, skipped = grants.grants_from_rows(rows)
        for description in skipped:
            self.log.info("Not managed by this provider (left as is): %s", description)
        return found

    @cached_property
    def _role_names(self) -> set[str]:
        return {str(row["name"]) for row in self._sql("SHOW ROLES")}

    def _owner(self, model_name: str) -> str:
        row = self._model_row(model_name)
        if row is None:
            raise self._no_model(model_name)
        return str(row.get("owner") or "")

    def list_grants(self, model_name: str) -> list[Grant]:
        """``SHOW GRANTS ON MODEL``: privileges granted to account roles (the owner among them)."""
        model_name = self.validate_model_name(model_name)
        s = self.settings
        found = self._grants_from(grants.show_grants_sql(s.database, s.schema, model_name), model_name)
        owner = next((g.grantee for g in found if g.privilege == OWNERSHIP), None)
        if owner is not None:  # what SHOW MODELS would say: the owner check needs no second statement
            self._cache.model_row(model_name, lambda: {"name": model_name, "owner": owner})
        return found

    def implicit_grants(self, model_name: str) -> list[Grant]:
        """The owner's OWNERSHIP: Snowflake gives it to the role that created the model."""
        owner = self._owner(self.validate_model_name(model_name))
        plain, _ = grants.grants_from_rows(
            [{"privilege": OWNERSHIP, "granted_on": "MODEL", "granted_to": "ROLE", "grantee_name": owner}]
        )
        return plain

    def list_future_grants(self) -> list[Grant]:
        """``SHOW FUTURE GRANTS IN SCHEMA`` of the registry schema, for models."""
        return self._grants_from(grants.show_future_grants_sql(self.settings.database, self.settings.schema))

    def check_grant_plan(
        self,
        model_name: str | None,
        grant: Sequence[Grant] = (),
        revoke: Sequence[Grant] = (),
        *,
        future_grant: Sequence[Grant] = (),
        future_revoke: Sequence[Grant] = (),
        release_ownership: bool = False,
        allow_future_ownership: bool = False,
    ) -> None:
        """Refuse a grant plan before its first statement (PrivilegeError / InvalidInputError naming the field).

        * The acting role must own the model (or inherit its owner) or hold MANAGE GRANTS.
        * OWNERSHIP may go only to a role the acting role inherits, so that it keeps
          reading and changing the model; ``release_ownership`` accepts losing control
          (the transfer is then the plan's last statement).
        * Future grants need MANAGE GRANTS; future OWNERSHIP is refused unless
          ``allow_future_ownership`` (every new model would be owned by that role from
          CREATE on, and the next LogModel statement would fail).
        * Every grantee must exist.
        """
        s = self.settings
        if grant or revoke:
            if model_name is None:
                raise InvalidInputError("model_name", "grants on a model need the model")
            model_name = self.validate_model_name(model_name)
            grants.grant_statements(grants.model_target(s.database, s.schema, model_name), grant, revoke)
            owner = self._owner(model_name)
            roles = self._roles
            may_grant = grants.Need(grants.MANAGE_GRANTS, "ACCOUNT", "", f"grant on model {model_name}")
            if not roles.inherits(owner) and not roles.holds(may_grant):
                raise PrivilegeError(
                    "grants",
                    f"role {roles.role} can grant on model {model_name} only as its owner ({owner}, not inherited) "
                    "or with MANAGE GRANTS; nothing was changed",
                )
            for new_owner in (g.grantee for g in grant if g.privilege == OWNERSHIP):
                if new_owner != owner and not roles.inherits(new_owner) and not release_ownership:
                    raise PrivilegeError(
                        "grants",
                        f"OWNERSHIP of {model_name} to {new_owner} would leave role {roles.role} unable to read or "
                        f"change the model: {roles.role} does not inherit {new_owner}. Grant role {new_owner} to "
                        f"role {roles.role} first, or opt in to losing control (the transfer then runs last); "
                        "nothing was changed",
                    )
        if future_grant or future_revoke:
            grants.grant_statements(
                grants.future_target(s.database, s.schema), future_grant, future_revoke, future=True
            )
            owners = sorted(g.grantee for g in future_grant if g.privilege == OWNERSHIP)
            if owners and not allow_future_ownership:
                raise InvalidInputError(
                    "future_grants",
                    f"future OWNERSHIP to {', '.join(owners)} is refused: every model created later would belong "
                    "to that role from CREATE on, and the provider's next statement on it would fail",
                )
            self._roles.require(
                [grants.Need(grants.MANAGE_GRANTS, "ACCOUNT", "", "define future grants")], field="future_grants"
            )
        missing = sorted({g.grantee for g in (*grant, *future_grant)} - self._role_names)
        if missing:
            raise InvalidInputError(
                "grants", f"role(s) {', '.join(missing)} do not exist or are not visible to the connection's role"
            )

    def _run(self, statements: Sequence[str]) -> None:
        for statement in statements:
            self.log.info("%s", statement)
            self._sql(statement)

    def apply_grants(
        self, model_name: str, grant: Sequence[Grant], revoke: Sequence[Grant], *, release_ownership: bool = False
    ) -> None:
        """Grant and revoke on a model; an OWNERSHIP transfer is the last statement (see :meth:`check_grant_plan`)."""
        if not grant and not revoke:
            return
        model_name = self.validate_model_name(model_name)
        self.check_grant_plan(model_name, grant, revoke, release_ownership=release_ownership)
        s = self.settings
        statements = grants.grant_statements(grants.model_target(s.database, s.schema, model_name), grant, revoke)
        with self._writing(model_name, model_changed=True):
            self._run(statements)

    def apply_future_grants(
        self, grant: Sequence[Grant], revoke: Sequence[Grant], *, allow_future_ownership: bool = False
    ) -> None:
        """``GRANT <privilege> ON FUTURE MODELS IN SCHEMA`` of the registry schema (needs MANAGE GRANTS)."""
        if not grant and not revoke:
            return
        self.check_grant_plan(
            None, future_grant=grant, future_revoke=revoke, allow_future_ownership=allow_future_ownership
        )
        s = self.settings
        self._run(grants.grant_statements(grants.future_target(s.database, s.schema), grant, revoke, future=True))


__all__ = ["GrantsMixin"]
