"""Snowflake grants: statements from validated, quoted identifiers, and the privilege preflight.

Pure module: nothing here talks to Snowflake. ``SnowflakeRegistryHook`` runs the
statements these functions build (so they are tested as strings) and feeds
:class:`RoleHierarchy` the rows of ``SHOW GRANTS TO ROLE``. Every statement is built,
and every privilege checked, before the first change is sent.

Snowflake's rules this module encodes:

* Every change to a model (``ALTER MODEL``: versions, aliases, metadata, default version,
  tags) needs OWNERSHIP of the model, held by the acting role or a role it inherits.
* Granting on a model needs its OWNERSHIP or the global MANAGE GRANTS; future grants
  (``ON FUTURE MODELS IN SCHEMA``) need MANAGE GRANTS.
* ``GRANT OWNERSHIP`` to another role leaves the acting role with nothing on the model
  unless it inherits that role.
* A role inherits every role granted to it (``SHOW GRANTS TO ROLE`` rows
  ``USAGE … ROLE <child>``), transitively.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_registry_provider.exceptions import InvalidInputError, PrivilegeError
from airflow_registry_provider.governance.grants import OWNERSHIP, PRIVILEGES, READ, USAGE, Grant, GrantCapabilities
from airflow_registry_provider.governance.identifiers import (
    is_user,
    quote_identifier,
    quote_qualified,
    validate_identifier,
)

CAPABILITIES = GrantCapabilities(privileges=frozenset({READ, USAGE, OWNERSHIP}), users=False, single_owner=True)
MANAGE_GRANTS = "MANAGE GRANTS"


# -- statements --------------------------------------------------------------------------
def model_target(database: str, schema: str, model: str) -> str:
    """``MODEL "DB"."SCH"."M"``."""
    return "MODEL " + quote_qualified((database, schema, model), "model")


def future_target(database: str, schema: str) -> str:
    """``FUTURE MODELS IN SCHEMA "DB"."SCH"``."""
    return "FUTURE MODELS IN SCHEMA " + quote_qualified((database, schema), "schema")


def show_grants_sql(database: str, schema: str, model: str) -> str:
    return "SHOW GRANTS ON " + model_target(database, schema, model)


def show_future_grants_sql(database: str, schema: str) -> str:
    return "SHOW FUTURE GRANTS IN SCHEMA " + quote_qualified((database, schema), "schema")


def show_grants_to_role_sql(role: str) -> str:
    return "SHOW GRANTS TO ROLE " + quote_identifier(role, "role")


def _lowered(row: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in row.items()}


def grants_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Grant], list[str]]:
    """Parse ``SHOW GRANTS ON MODEL`` / ``SHOW FUTURE GRANTS IN SCHEMA`` rows.

    Returns ``(grants, skipped)``: grants to account roles, and a description of every
    other row (database roles, shares, other object types in a schema listing, roles
    created with quoted mixed-case names), which this provider does not manage and
    therefore never revokes.
    """
    grants: list[Grant] = []
    skipped: list[str] = []
    for row in rows:
        lowered = _lowered(row)
        privilege = str(lowered.get("privilege", "")).upper()
        name = str(lowered.get("grantee_name", ""))
        granted_to = str(lowered.get("granted_to") or lowered.get("grant_to") or "").upper()
        object_type = str(lowered.get("granted_on") or lowered.get("grant_on") or "MODEL").upper()
        if granted_to != "ROLE" or object_type != "MODEL" or not _is_plain_upper(name):
            skipped.append(f"{privilege} on {object_type} to {granted_to} {name}")
            continue
        grants.append(Grant(name, privilege))
    return grants, skipped


def _is_plain_upper(name: str) -> bool:
    """Whether ``name`` is how Snowflake stores an unquoted identifier (so quoting it is lossless)."""
    try:
        return validate_identifier(name, "grantee") == name
    except InvalidInputError:
        return False


def grant_statements(
    target: str, grant: Sequence[Grant], revoke: Sequence[Grant], *, future: bool = False
) -> list[str]:
    """GRANT/REVOKE statements applying a plan to ``target`` (:func:`model_target`, :func:`future_target`).

    A model always has exactly one owner, so OWNERSHIP is never revoked on its own: a
    declared new owner takes it over (``COPY CURRENT GRANTS`` keeps the other grants),
    and that transfer is the last statement, after every grant the current owner still
    has to make.
    """
    for g in (*grant, *revoke):
        if g.privilege not in PRIVILEGES or g.privilege not in CAPABILITIES.privileges:
            raise InvalidInputError("grants", f"{g.privilege!r} is not a Snowflake model privilege")
        if is_user(g.grantee):
            raise InvalidInputError("grants", f"{g.grantee}: Snowflake model privileges are granted to roles only")
    new_owner = [g for g in grant if g.privilege == OWNERSHIP]
    statements = [
        f"REVOKE {g.privilege} ON {target} FROM ROLE {quote_identifier(g.grantee, 'grants')}"
        for g in revoke
        if future or g.privilege != OWNERSHIP
    ]
    lone_owner_revokes = [g.grantee for g in revoke if g.privilege == OWNERSHIP and not future]
    if lone_owner_revokes and not new_owner:
        raise InvalidInputError(
            "grants",
            f"cannot revoke OWNERSHIP from {', '.join(lone_owner_revokes)}: a Snowflake model always has an "
            "owner; declare the role that should own it instead",
        )
    statements += [
        f"GRANT {g.privilege} ON {target} TO ROLE {quote_identifier(g.grantee, 'grants')}"
        for g in grant
        if future or g.privilege != OWNERSHIP
    ]
    if not future:
        statements += [
            f"GRANT OWNERSHIP ON {target} TO ROLE {quote_identifier(g.grantee, 'grants')} COPY CURRENT GRANTS"
            for g in new_owner
        ]
    return statements


# -- the acting role's privileges -----------------------------------------------------------
@dataclass(frozen=True)
class Need:
    """One privilege a plan needs: ``privilege`` on ``on`` (``SCHEMA``, ``ACCOUNT``, …) ``name``, and why."""

    privilege: str
    on: str
    name: str
    why: str

    def grant_hint(self, role: str) -> str:
        target = "ACCOUNT" if self.on == "ACCOUNT" else f"{self.on} {self.name}"
        return f"GRANT {self.privilege} ON {target} TO ROLE {role}"


def _plain(name: Any) -> str:
    return str(name or "").replace('"', "").upper()


class RoleHierarchy:
    """The acting role, the roles it inherits and their privileges.

    ``fetch(role)`` returns the rows of ``SHOW GRANTS TO ROLE <role>``; each role is read
    at most once, and only as far as a question needs (a role's own privileges answer
    most of them without reading the roles below it).
    """

    def __init__(self, role: str, fetch: Callable[[str], Sequence[Mapping[str, Any]]]) -> None:
        self.role = _plain(role)
        self._fetch = fetch
        self._grants: dict[str, list[dict[str, Any]]] = {}

    def _rows(self, role: str) -> list[dict[str, Any]]:
        if role not in self._grants:
            self._grants[role] = [_lowered(row) for row in self._fetch(role)]
        return self._grants[role]

    def _walk(self, stop: Callable[[str, list[dict[str, Any]]], bool]) -> bool:
        """Breadth-first over the hierarchy until ``stop(role, rows)`` holds."""
        seen, queue = {self.role}, [self.role]
        while queue:
            role = queue.pop(0)
            rows = self._rows(role)
            if stop(role, rows):
                return True
            for row in rows:
                child = _plain(row.get("name"))
                if str(row.get("granted_on", "")).upper() == "ROLE" and child not in seen:
                    seen.add(child)
                    queue.append(child)
        return False

    def inherits(self, role: str) -> bool:
        """Whether the acting role is ``role`` or inherits it."""
        wanted = _plain(role)
        if wanted == self.role:
            return True
        return self._walk(
            lambda _, rows: any(
                str(r.get("granted_on", "")).upper() == "ROLE" and _plain(r.get("name")) == wanted for r in rows
            )
        )

    def holds(self, need: Need) -> bool:
        """Whether the hierarchy holds ``need`` (OWNERSHIP of the object, or of its schema for CREATE, counts)."""

        def granted(row: dict[str, Any]) -> bool:
            on = str(row.get("granted_on", "")).upper()
            privilege = str(row.get("privilege", "")).upper()
            if on != need.on or (need.on != "ACCOUNT" and _plain(row.get("name")) != _plain(need.name)):
                return False
            return privilege in (need.privilege, OWNERSHIP)

        return self._walk(lambda _, rows: any(granted(r) for r in rows))

    def require(self, needs: Iterable[Need], field: str = "registry_conn_id") -> None:
        """Raise :class:`PrivilegeError` naming every need the hierarchy does not hold."""
        missing = [n for n in needs if not self.holds(n)]
        if missing:
            raise PrivilegeError(
                field,
                f"role {self.role} (and the roles it inherits) lacks "
                + "; ".join(f"{n.privilege} on {n.on.lower()} {n.name}, needed to {n.why}" for n in missing)
                + ". Nothing was changed. Grant it first: "
                + "; ".join(n.grant_hint(self.role) for n in missing),
            )

    def require_owner(self, owner: str, model: str, why: str, field: str = "registry_conn_id") -> None:
        """Refuse unless the acting role owns ``model`` (its owner is the role or one it inherits)."""
        if not self.inherits(owner):
            raise PrivilegeError(
                field,
                f"role {self.role} cannot {why}: model {model} is owned by {owner}, which {self.role} does not "
                f"inherit (ALTER MODEL needs OWNERSHIP). Nothing was changed. Grant role {owner} to role "
                f"{self.role}, or run with a role that inherits it",
            )


__all__ = [
    "CAPABILITIES",
    "MANAGE_GRANTS",
    "Need",
    "RoleHierarchy",
    "future_target",
    "grant_statements",
    "grants_from_rows",
    "model_target",
    "show_future_grants_sql",
    "show_grants_sql",
    "show_grants_to_role_sql",
]
