"""Snowflake's access control for the session double: roles, ownership, privileges, future grants.

Rules modelled (Snowflake's "Access control privileges" and "Overview of access control"):

* Every securable object has exactly one owner role (OWNERSHIP); the owner holds every
  privilege on it. Objects are owned by the role that created them.
* A role inherits the privileges of every role granted to it, transitively; every role
  inherits PUBLIC.
* A role with no privilege on an object cannot see it: SHOW leaves it out and any
  statement naming it fails with "does not exist or not authorized" (002003). A role
  that sees it but lacks the privilege gets "Insufficient privileges" (003001).
* Using an object in a schema needs USAGE on its database and schema.
* Future grants in a schema are copied to every object created there later; a future
  OWNERSHIP makes that role the owner from CREATE on.
* ``CREATE OR REPLACE`` drops the replaced object's grants unless ``COPY GRANTS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

OWNERSHIP = "OWNERSHIP"
PUBLIC = "PUBLIC"
NOT_FOUND = 2003
INSUFFICIENT_PRIVILEGES = 3001

ObjectKey = tuple[str, str]  # (object type, fully qualified name), e.g. ("MODEL", "ML.REGISTRY.CHURN")


class AccessDenied(Exception):
    def __init__(self, message: str, errno: int) -> None:
        super().__init__(message)
        self.errno = errno


@dataclass
class AccessControl:
    #: role -> the roles granted to it (which it inherits).
    roles: dict[str, set[str]] = field(default_factory=dict)
    #: object -> {(privilege, role)}; OWNERSHIP appears exactly once per owned object.
    grants: dict[ObjectKey, set[tuple[str, str]]] = field(default_factory=dict)
    #: (object type, schema) -> {(privilege, role)} granted on future objects of that type.
    future: dict[ObjectKey, set[tuple[str, str]]] = field(default_factory=dict)
    account: str = "ACCOUNT"

    # -- roles -------------------------------------------------------------------------
    def add_role(self, role: str, *, inherits: Iterable[str] = ()) -> None:
        self.roles.setdefault(role, set()).update(inherits)

    def grant_role(self, child: str, parent: str) -> None:
        """``GRANT ROLE child TO ROLE parent``: parent inherits child."""
        self.roles[parent].add(child)

    def closure(self, role: str) -> set[str]:
        """``role`` and every role it inherits (PUBLIC included)."""
        seen, stack = {role, PUBLIC}, [role]
        while stack:
            for child in self.roles.get(stack.pop(), set()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    # -- objects ------------------------------------------------------------------------
    def owner(self, key: ObjectKey) -> str | None:
        return next((r for p, r in self.grants.get(key, set()) if p == OWNERSHIP), None)

    def create(
        self, key: ObjectKey, owner: str, *, schema: str | None = None, copy_from: ObjectKey | None = None
    ) -> None:
        """A new object owned by ``owner``; it gets the schema's future grants (and ``copy_from``'s grants)."""
        granted = {(p, r) for p, r in self.grants.get(copy_from, set()) if p != OWNERSHIP} if copy_from else set()
        granted.add((OWNERSHIP, owner))
        if schema is not None:
            for privilege, role in self.future.get((key[0], schema), set()):
                if privilege == OWNERSHIP:
                    granted = {g for g in granted if g[0] != OWNERSHIP}
                granted.add((privilege, role))
        self.grants[key] = granted

    def drop(self, key: ObjectKey) -> None:
        self.grants.pop(key, None)

    def rename(self, old: ObjectKey, new: ObjectKey) -> None:
        self.grants[new] = self.grants.pop(old, set())

    def privileges(self, role: str, key: ObjectKey) -> set[str]:
        roles = self.closure(role)
        return {p for p, r in self.grants.get(key, set()) if r in roles}

    def holds(self, role: str, key: ObjectKey, *privileges: str) -> bool:
        held = self.privileges(role, key)
        return OWNERSHIP in held or any(p in held for p in privileges)

    def visible(self, role: str, key: ObjectKey) -> bool:
        return bool(self.privileges(role, key))

    def require(self, role: str, key: ObjectKey, *privileges: str) -> None:
        """Raise as Snowflake does unless ``role`` holds one of ``privileges`` (or OWNERSHIP) on ``key``."""
        kind, name = key
        if not self.visible(role, key):
            raise AccessDenied(f"{kind.title()} '{name}' does not exist or not authorized.", NOT_FOUND)
        if not self.holds(role, key, *privileges):
            raise AccessDenied(
                f"Insufficient privileges to operate on {kind.lower()} '{name.rsplit('.', 1)[-1]}'",
                INSUFFICIENT_PRIVILEGES,
            )

    def manages_grants(self, role: str) -> bool:
        return self.holds(role, ("ACCOUNT", self.account), "MANAGE GRANTS")

    def rows_to_role(self, role: str) -> list[tuple[str, str, str]]:
        """``SHOW GRANTS TO ROLE``: (privilege, granted_on, name) of the role's own grants and roles."""
        rows = [(p, kind, name) for (kind, name), held in self.grants.items() for p, r in held if r == role]
        rows += [("USAGE", "ROLE", child) for child in sorted(self.roles.get(role, set()))]
        return sorted(rows)
