"""The double's scripts for roles and grants: ``SHOW GRANTS``, ``GRANT``/``REVOKE`` (also on future models).

Checked as Snowflake checks them: granting on a model needs its OWNERSHIP or MANAGE
GRANTS; future grants need MANAGE GRANTS; ``SHOW GRANTS TO ROLE`` needs the role in the
session's hierarchy (or MANAGE GRANTS); unknown roles do not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tests.snowflake.access import INSUFFICIENT_PRIVILEGES, OWNERSHIP, AccessControl, AccessDenied
from tests.snowflake.connector import DoubleSQLError, Result
from tests.snowflake.sqlnames import NAME as _NAME
from tests.snowflake.sqlnames import PART as _PART
from tests.snowflake.sqlnames import split_name, unquote

if TYPE_CHECKING:
    from tests.snowflake.session_double import ModelState

_TEXT = "TEXT"
_COLUMNS = ["created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option"]


def _ok() -> Result:
    return Result([("status", _TEXT)], [("Statement executed successfully.",)])


class GrantScripts:
    """Mixed into ``SnowflakeDouble``."""

    if TYPE_CHECKING:
        acl: AccessControl
        account: str
        current_role: str

        def _resolve(self, name: str) -> tuple[str, str, str]: ...
        def _model_state(self, name: str, *privileges: str) -> ModelState: ...
        def _schema(self, database: str, schema: str) -> Any: ...

    def _grant_scripts(self) -> list[tuple[str, Callable[..., Result]]]:
        return [
            (r"^SHOW ROLES$", self._show_roles),
            (rf"^SHOW GRANTS TO ROLE ({_PART})$", self._show_grants_to_role),
            (rf"^SHOW GRANTS ON MODEL ({_NAME})$", self._show_grants),
            (rf"^SHOW FUTURE GRANTS IN SCHEMA ({_NAME})$", self._show_future),
            (rf"^GRANT ROLE ({_PART}) TO ROLE ({_PART})$", self._grant_role),
            (
                rf"^GRANT (\w+) ON MODEL ({_NAME}) TO ROLE ({_PART})( COPY CURRENT GRANTS| REVOKE CURRENT GRANTS)?$",
                self._grant,
            ),
            (rf"^REVOKE (\w+) ON MODEL ({_NAME}) FROM ROLE ({_PART})$", self._revoke),
            (rf"^GRANT (\w+) ON FUTURE MODELS IN SCHEMA ({_NAME}) TO ROLE ({_PART})$", self._grant_future),
            (rf"^REVOKE (\w+) ON FUTURE MODELS IN SCHEMA ({_NAME}) FROM ROLE ({_PART})$", self._revoke_future),
        ]

    def _role(self, part: str) -> str:
        role = unquote(part)
        if role not in self.acl.roles:
            raise DoubleSQLError(f"Role '{role}' does not exist or not authorized.")
        return role

    def _model_key(self, name: str) -> tuple[str, str]:
        database, schema, model = self._resolve(name)
        self._model_state(name)  # visible to the session's role
        return ("MODEL", f"{database}.{schema}.{model}")

    def _may_grant_on(self, key: tuple[str, str]) -> None:
        if not self.acl.manages_grants(self.current_role) and not self.acl.holds(self.current_role, key):
            raise AccessDenied(f"Insufficient privileges to operate on model '{key[1]}'", INSUFFICIENT_PRIVILEGES)

    def _must_manage_grants(self) -> None:
        if not self.acl.manages_grants(self.current_role):
            raise AccessDenied("Insufficient privileges: MANAGE GRANTS is required", INSUFFICIENT_PRIVILEGES)

    def _show_roles(self, m: re.Match[str], **_: Any) -> Result:
        rows = [(datetime.now(UTC), r) for r in sorted(self.acl.roles)]
        return Result([("created_on", "TIMESTAMP_LTZ"), ("name", _TEXT)], rows)

    def _show_grants_to_role(self, m: re.Match[str], **_: Any) -> Result:
        role = self._role(m.group(1))
        if role not in self.acl.closure(self.current_role) and not self.acl.manages_grants(self.current_role):
            raise AccessDenied(f"Insufficient privileges to operate on role '{role}'", INSUFFICIENT_PRIVILEGES)
        rows = [
            (datetime.now(UTC), privilege, kind, name, "ROLE", role, "false")
            for privilege, kind, name in self.acl.rows_to_role(role)
        ]
        return Result([(c, _TEXT) for c in _COLUMNS], rows)

    def _show_grants(self, m: re.Match[str], **_: Any) -> Result:
        key = self._model_key(m.group(1))
        rows = [
            (datetime.now(UTC), p, "MODEL", key[1], "ROLE", r, "false")
            for p, r in sorted(self.acl.grants.get(key, set()))
        ]
        return Result([(c, _TEXT) for c in _COLUMNS], rows)

    def _future_key(self, name: str) -> tuple[str, str]:
        database, schema = split_name(name)[-2:]
        self._schema(database, schema)
        return ("MODEL", f"{database}.{schema}")

    def _show_future(self, m: re.Match[str], **_: Any) -> Result:
        key = self._future_key(m.group(1))
        columns = ["created_on", "privilege", "grant_on", "name", "grant_to", "grantee_name", "grant_option"]
        rows = [
            (datetime.now(UTC), p, "MODEL", f"{key[1]}.<MODEL>", "ROLE", r, "false")
            for p, r in sorted(self.acl.future.get(key, set()))
        ]
        return Result([(c, _TEXT) for c in columns], rows)

    def _grant_role(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        child, parent = self._role(m.group(1)), self._role(m.group(2))
        self._must_manage_grants()
        if not describe:
            self.acl.grant_role(child, parent)
        return _ok()

    def _grant(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        privilege, key, role = m.group(1).upper(), self._model_key(m.group(2)), self._role(m.group(3))
        self._may_grant_on(key)
        grants = self.acl.grants.setdefault(key, set())
        if privilege == OWNERSHIP:
            if not m.group(4) and any(p != OWNERSHIP for p, _ in grants):
                raise DoubleSQLError(
                    "Grant not executed: the object has dependent grants; use COPY CURRENT GRANTS or "
                    "REVOKE CURRENT GRANTS",
                    errno=3111,
                )
            if not describe:
                keep = set() if m.group(4) and "REVOKE" in m.group(4) else {g for g in grants if g[0] != OWNERSHIP}
                grants.clear()
                grants.update(keep | {(OWNERSHIP, role)})
        elif not describe:
            grants.add((privilege, role))
        return _ok()

    def _revoke(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        privilege, key, role = m.group(1).upper(), self._model_key(m.group(2)), self._role(m.group(3))
        self._may_grant_on(key)
        if not describe:
            self.acl.grants.get(key, set()).discard((privilege, role))
        return _ok()

    def _grant_future(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        key, role = self._future_key(m.group(2)), self._role(m.group(3))
        self._must_manage_grants()
        if not describe:
            self.acl.future.setdefault(key, set()).add((m.group(1).upper(), role))
        return _ok()

    def _revoke_future(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        key, role = self._future_key(m.group(2)), self._role(m.group(3))
        self._must_manage_grants()
        if not describe:
            self.acl.future.get(key, set()).discard((m.group(1).upper(), role))
        return _ok()
