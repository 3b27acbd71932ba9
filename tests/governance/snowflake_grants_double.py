"""The Snowflake session double, taught grants: roles, SHOW GRANTS, GRANT and REVOKE.

A subclass rather than an edit of ``tests/snowflake/session_double.py``: it adds scripts
for the statements ``governance/snowflake_sql.py`` builds and keeps grants per model and
future grants per schema. Unknown roles fail as Snowflake fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.snowflake.session_double import _NAME, _PART, DoubleSQLError, Result, SnowflakeDouble, split_name, unquote

_TEXT = "TEXT"
OWNER_ROLE = "ML_ENGINEER"  # the connection's role, which created the models


class GrantingDouble(SnowflakeDouble):
    def __init__(self, *args: Any, roles: set[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.roles = roles if roles is not None else {OWNER_ROLE, "ML_ADMIN", "DATA_SCIENTIST", "ML_ENGINEER_RO"}
        #: (database, schema, model) -> {(privilege, role)}; a model's owner is implicit until changed.
        self.grants: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
        self.future: dict[tuple[str, str], set[tuple[str, str]]] = {}

    def _scripts(self) -> list[tuple[str, Callable[..., Result]]]:
        return [
            (r"^SHOW ROLES$", self._show_roles),
            (rf"^SHOW GRANTS ON MODEL ({_NAME})$", self._show_grants),
            (rf"^SHOW FUTURE GRANTS IN SCHEMA ({_NAME})$", self._show_future),
            (rf"^GRANT (\w+) ON MODEL ({_NAME}) TO ROLE ({_PART})( COPY CURRENT GRANTS)?$", self._grant),
            (rf"^REVOKE (\w+) ON MODEL ({_NAME}) FROM ROLE ({_PART})$", self._revoke),
            (rf"^GRANT (\w+) ON FUTURE MODELS IN SCHEMA ({_NAME}) TO ROLE ({_PART})$", self._grant_future),
            (rf"^REVOKE (\w+) ON FUTURE MODELS IN SCHEMA ({_NAME}) FROM ROLE ({_PART})$", self._revoke_future),
            *super()._scripts(),
        ]

    def model_grants(self, model: str) -> set[tuple[str, str]]:
        key = (self.current_database, self.current_schema, model)
        self._model_state(".".join(key))  # the model must exist
        return self.grants.setdefault(key, {("OWNERSHIP", OWNER_ROLE)})

    def _role(self, part: str) -> str:
        role = unquote(part)
        if role not in self.roles:
            raise DoubleSQLError(f"Role '{role}' does not exist or not authorized.")
        return role

    def _show_roles(self, m: re.Match[str], **_: Any) -> Result:
        return Result([("created_on", "TIMESTAMP_LTZ"), ("name", _TEXT)], [(datetime.now(UTC), r) for r in self.roles])

    def _show_grants(self, m: re.Match[str], **_: Any) -> Result:
        database, schema, model = self._resolve(m.group(1))
        columns = ["created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option"]
        rows = [
            (datetime.now(UTC), p, "MODEL", f"{database}.{schema}.{model}", "ROLE", r, "false")
            for p, r in sorted(self.model_grants(model))
        ]
        return Result([(c, _TEXT) for c in columns], rows)

    def _show_future(self, m: re.Match[str], **_: Any) -> Result:
        database, schema = split_name(m.group(1))[-2:]
        columns = ["created_on", "privilege", "grant_on", "name", "grant_to", "grantee_name", "grant_option"]
        rows = [
            (datetime.now(UTC), p, "MODEL", f"{database}.{schema}.<MODEL>", "ROLE", r, "false")
            for p, r in sorted(self.future.get((database, schema), set()))
        ]
        return Result([(c, _TEXT) for c in columns], rows)

    def _grant(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        privilege, role = m.group(1).upper(), self._role(m.group(3))
        grants = self.model_grants(self._resolve(m.group(2))[2])
        if not describe:
            if privilege == "OWNERSHIP":  # ownership moves; COPY CURRENT GRANTS keeps the others
                grants -= {g for g in grants if g[0] == "OWNERSHIP"}
            grants.add((privilege, role))
        return Result([("status", _TEXT)], [("Statement executed successfully.",)])

    def _revoke(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        privilege, role = m.group(1).upper(), self._role(m.group(3))
        if not describe:
            self.model_grants(self._resolve(m.group(2))[2]).discard((privilege, role))
        return Result([("status", _TEXT)], [("Statement executed successfully.",)])

    def _grant_future(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        role = self._role(m.group(3))
        if not describe:
            self.future.setdefault(tuple(split_name(m.group(2))[-2:]), set()).add((m.group(1).upper(), role))
        return Result([("status", _TEXT)], [("Statement executed successfully.",)])

    def _revoke_future(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        role = self._role(m.group(3))
        if not describe:
            self.future.get(tuple(split_name(m.group(2))[-2:]), set()).discard((m.group(1).upper(), role))
        return Result([("status", _TEXT)], [("Statement executed successfully.",)])
