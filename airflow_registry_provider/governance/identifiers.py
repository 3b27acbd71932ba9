"""Identifier validation and quoting for grantees, schemas and audit tables.

Pure module. Every name that ends up in a SQL statement or an access-control API call
passes through here first: it is checked against a strict ASCII pattern with
``fullmatch`` (so ``"ROLE\\n"``, ``"r; DROP MODEL m"``, quotes, comments and unicode
look-alikes such as a Cyrillic capital A are refused), and only then double-quoted.
"""

from __future__ import annotations

import re

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.naming import validate_snowflake_identifier

# MLflow usernames are free text on the server; we accept the common login shapes
# (names, e-mail addresses) and nothing that could be mistaken for syntax.
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+\-]{0,254}")

USER_PREFIX = "user:"
ROLE_PREFIX = "role:"
PUBLIC_ROLE = "PUBLIC"


def validate_identifier(name: str, field: str) -> str:
    """Return ``name`` upper-cased (how unquoted identifiers are stored) or raise.

    Role, schema and table names follow Snowflake's unquoted-identifier rule on every
    backend, so that the same declared grants are valid everywhere.
    """
    return validate_snowflake_identifier(name, field)


def quote_identifier(name: str, field: str) -> str:
    """Validate ``name`` and return it double-quoted, ready for a SQL statement.

    Validation already excludes ``"``; doubling it anyway keeps the quoting correct on
    its own should the pattern ever be widened.
    """
    upper = validate_identifier(name, field)
    return '"' + upper.replace('"', '""') + '"'


def quote_qualified(parts: tuple[str, ...], field: str) -> str:
    """``("db", "sch", "m")`` -> ``"DB"."SCH"."M"``, each part validated."""
    if not parts:
        raise InvalidInputError(field, "is empty")
    return ".".join(quote_identifier(part, field) for part in parts)


def validate_username(name: object, field: str) -> str:
    """Validate an MLflow username (case kept: MLflow usernames are case-sensitive)."""
    if not isinstance(name, str) or not _USERNAME.fullmatch(name):
        raise InvalidInputError(
            field,
            f"{name!r} is not a valid user name: ASCII letters, digits, '_', '.', '@', '+', '-'",
        )
    return name


def normalize_grantee(grantee: object, field: str = "grants") -> str:
    """Canonical grantee: ``ROLE_NAME`` (upper-cased) or ``user:<name>``.

    ``role:<name>`` is accepted as an explicit spelling of a role.
    """
    if not isinstance(grantee, str):
        raise InvalidInputError(field, f"grantee {grantee!r} is not a string")
    lowered = grantee[: len(USER_PREFIX)].lower()
    if lowered == USER_PREFIX:
        return USER_PREFIX + validate_username(grantee[len(USER_PREFIX) :], f"{field} (user {grantee!r})")
    if lowered == ROLE_PREFIX:
        grantee = grantee[len(ROLE_PREFIX) :]
    return validate_identifier(grantee, f"{field} (role {grantee!r})")


def is_user(grantee: str) -> bool:
    """Whether a canonical grantee names a single user rather than a role."""
    return grantee.startswith(USER_PREFIX)


def username(grantee: str) -> str:
    """The user name of a canonical ``user:<name>`` grantee."""
    return grantee.removeprefix(USER_PREFIX)
