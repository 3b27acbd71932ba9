"""The grant vocabulary shared by every backend, the least-privilege policy and the plan.

Pure module (no Airflow imports). Privileges are named as Snowflake names them
(OWNERSHIP, USAGE, READ), plus EDIT for backends that can let a grantee change a model
without owning it (MLflow); each backend maps them to its own permission model:

=========  ==================  ===================
Ours       Snowflake           MLflow (auth app)
=========  ==================  ===================
READ       READ                READ
USAGE      USAGE               USE
EDIT       (refused)           EDIT
OWNERSHIP  OWNERSHIP           MANAGE
=========  ==================  ===================

A declared grant set is checked here (identifiers, vocabulary, policy) before any
backend is asked anything; :func:`plan_grants` then diffs it against the current state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.identifiers import PUBLIC_ROLE, is_user, normalize_grantee
from airflow_registry_provider.model_version import parse_structured

READ = "READ"
USAGE = "USAGE"
EDIT = "EDIT"
OWNERSHIP = "OWNERSHIP"
#: Every privilege this provider manages, weakest first.
PRIVILEGES: tuple[str, ...] = (READ, USAGE, EDIT, OWNERSHIP)

#: Our privileges -> MLflow registered-model permissions, and back.
MLFLOW_PERMISSIONS: dict[str, str] = {READ: "READ", USAGE: "USE", EDIT: "EDIT", OWNERSHIP: "MANAGE"}
FROM_MLFLOW_PERMISSIONS: dict[str, str] = {v: k for k, v in MLFLOW_PERMISSIONS.items()}


@dataclass(frozen=True, order=True)
class Grant:
    """One privilege held by one grantee on one model.

    ``grantee`` is a role name, or ``user:<name>`` for a single user where the backend
    has per-user permissions (MLflow).
    """

    grantee: str
    privilege: str


@dataclass(frozen=True)
class GrantCapabilities:
    """What a backend's access control can express; hooks declare theirs."""

    #: The privileges the backend has an equivalent for.
    privileges: frozenset[str]
    #: Whether single users can be grantees (``user:<name>``), not only roles.
    users: bool
    #: Whether a model has exactly one owner, so that granting OWNERSHIP transfers it.
    single_owner: bool
    #: Whether a grantee holds at most one privilege per model, so that granting another
    #: replaces it (MLflow keeps one permission per role and model).
    exclusive: bool = False


@dataclass(frozen=True)
class GrantPolicy:
    """Least-privilege rules a declared grant set must satisfy.

    ``admin_roles`` are the only grantees that may hold OWNERSHIP. PUBLIC gets nothing
    unless ``allow_public``, and never OWNERSHIP.
    """

    admin_roles: frozenset[str] = frozenset()
    allow_public: bool = False

    @classmethod
    def build(cls, admin_roles: Iterable[str] = (), *, allow_public: bool = False) -> GrantPolicy:
        """A policy with ``admin_roles`` validated and normalized like grantees."""
        return cls(frozenset(normalize_grantee(r, "admin_roles") for r in admin_roles), allow_public)


def padded(privilege: Any) -> bool:
    """Case is forgiven, padding is not: ``"read\\n"`` is a templating slip to fix, not to guess."""
    return isinstance(privilege, str) and privilege != privilege.strip()


def refuse_padded(declared: Any, field_name: str = "grants") -> None:
    """Refuse whitespace-padded privileges in a literal declaration.

    Called when the DAG is parsed: Jinja drops one trailing newline when it renders a
    template field, so ``"read\\n"`` would be silently trimmed before :func:`parse_grants`.
    """
    if isinstance(declared, Mapping):
        bad = {str(k): v for k, v in declared.items() if padded(v)}
        if bad:
            raise InvalidInputError(field_name, f"privileges with surrounding whitespace: {bad}")


def parse_grants(
    declared: Mapping[str, str] | str,
    policy: GrantPolicy,
    capabilities: GrantCapabilities,
    *,
    field_name: str = "grants",
) -> frozenset[Grant]:
    """Validate a declared ``{grantee: privilege}`` mapping (or its JSON) into grants.

    ``capabilities`` describe the backend. Every problem is reported at once, so that a
    user fixes the declaration in one go; nothing is returned unless all of it is valid.
    """
    mapping: Mapping[str, Any] = parse_structured(declared, field_name)
    errors: list[str] = []
    grants: dict[str, Grant] = {}
    for raw_grantee, raw_privilege in mapping.items():
        try:
            grantee = normalize_grantee(raw_grantee, field_name)
        except InvalidInputError as err:
            errors.append(err.message)
            continue
        privilege = raw_privilege.upper() if isinstance(raw_privilege, str) else raw_privilege
        if padded(privilege):
            errors.append(f"privilege {raw_privilege!r} for {grantee} has surrounding whitespace")
            continue
        if privilege not in PRIVILEGES:
            errors.append(f"unknown privilege {raw_privilege!r} for {grantee}; use one of {', '.join(PRIVILEGES)}")
            continue
        if privilege not in capabilities.privileges:
            available = ", ".join(p for p in PRIVILEGES if p in capabilities.privileges)
            errors.append(f"privilege {privilege} is not available on this registry (it has {available})")
            continue
        if is_user(grantee) and not capabilities.users:
            errors.append(f"{grantee}: this registry grants to roles only")
            continue
        if grantee == PUBLIC_ROLE and privilege == OWNERSHIP:
            errors.append("OWNERSHIP to PUBLIC is never allowed")
            continue
        if grantee == PUBLIC_ROLE and not policy.allow_public:
            errors.append("grants to PUBLIC are refused unless allow_public=True")
            continue
        if privilege == OWNERSHIP and grantee not in policy.admin_roles:
            errors.append(f"OWNERSHIP may only go to admin roles ({', '.join(sorted(policy.admin_roles)) or 'none'})")
            continue
        if grantee in grants:
            errors.append(f"{grantee} is declared twice (names are case-insensitive)")
            continue
        grants[grantee] = Grant(grantee, privilege)
    owners = sorted(g.grantee for g in grants.values() if g.privilege == OWNERSHIP)
    if capabilities.single_owner and len(owners) > 1:
        errors.append(f"this registry allows one owner per model; OWNERSHIP is declared for {', '.join(owners)}")
    if errors:
        raise InvalidInputError(field_name, "; ".join(errors))
    return frozenset(grants.values())


@dataclass(frozen=True)
class GrantPlan:
    """What converging a model's grants to a declared set would change.

    ``unmanaged`` are current grants left as they are: privileges outside our vocabulary
    (e.g. an MLflow DENY) and, without ``revoke_missing``, undeclared grants.
    """

    target: str
    to_grant: tuple[Grant, ...] = ()
    to_revoke: tuple[Grant, ...] = ()
    unchanged: tuple[Grant, ...] = ()
    unmanaged: tuple[Grant, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.to_grant or self.to_revoke)

    def describe(self) -> str:
        """A readable plan, one line per grant, for the task log."""
        lines = [f"Grant plan for {self.target}:"]
        lines += [f"  + GRANT  {g.privilege:<9} TO {g.grantee}" for g in self.to_grant]
        lines += [f"  - REVOKE {g.privilege:<9} FROM {g.grantee}" for g in self.to_revoke]
        lines += [f"  = keep   {g.privilege:<9} ({g.grantee})" for g in self.unchanged]
        lines += [f"  ? leave  {g.privilege:<9} ({g.grantee}, not managed)" for g in self.unmanaged]
        if not self.changed:
            lines.append("  (no changes)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        def rows(grants: tuple[Grant, ...]) -> list[dict[str, str]]:
            return [{"grantee": g.grantee, "privilege": g.privilege} for g in grants]

        return {
            "target": self.target,
            "grant": rows(self.to_grant),
            "revoke": rows(self.to_revoke),
            "unchanged": rows(self.unchanged),
            "unmanaged": rows(self.unmanaged),
        }


def plan_grants(
    target: str, declared: Iterable[Grant], current: Iterable[Grant], *, revoke_missing: bool, exclusive: bool = False
) -> GrantPlan:
    """Diff declared grants against current ones.

    Declared grants not yet held are granted. With ``revoke_missing`` every current grant
    in our vocabulary that is not declared is revoked, so the result is exactly the
    declared set; current grants in other vocabularies are never touched. With
    ``exclusive`` (see :class:`GrantCapabilities`) a grantee's other privilege is shown
    as revoked when a new one replaces it, whatever ``revoke_missing`` says.
    """
    wanted = set(declared)
    held = set(current)
    unmanaged = {g for g in held if g.privilege not in PRIVILEGES}
    managed = held - unmanaged
    undeclared = managed - wanted
    if not revoke_missing:
        regranted = {g.grantee for g in wanted - managed} if exclusive else set()
        unmanaged |= {g for g in undeclared if g.grantee not in regranted}
        undeclared = {g for g in undeclared if g.grantee in regranted}
    return GrantPlan(
        target=target,
        to_grant=tuple(sorted(wanted - managed)),
        to_revoke=tuple(sorted(undeclared)),
        unchanged=tuple(sorted(wanted & managed)),
        unmanaged=tuple(sorted(unmanaged)),
    )
