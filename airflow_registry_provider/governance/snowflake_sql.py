"""Snowflake grant statements, built from validated and quoted identifiers only.

Pure module. ``SnowflakeRegistryHook.list_grants``/``apply_grants`` run what these
functions return; nothing here talks to Snowflake, so the statements are tested as strings.
Every statement is built before the first one is sent: one bad identifier means no SQL at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.grants import OWNERSHIP, PRIVILEGES, READ, USAGE, Grant, GrantCapabilities
from airflow_registry_provider.governance.identifiers import (
    is_user,
    quote_identifier,
    quote_qualified,
    validate_identifier,
)

CAPABILITIES = GrantCapabilities(privileges=frozenset({READ, USAGE, OWNERSHIP}), users=False, single_owner=True)


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
        lowered = {str(k).lower(): v for k, v in row.items()}
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
    and that transfer runs last, after every grant the current owner still has to make.
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
