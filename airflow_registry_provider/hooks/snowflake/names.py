"""What Snowflake accepts as a model name, alias, version, table or column, and in ``$$`` literals.

Pure module (no Airflow, no Snowflake imports). Names are sent as unquoted identifiers
(stored upper-case), so everything that would not parse unquoted is refused here, naming
the field, before any statement is built:

* the identifier grammar (letters, digits, ``_``, ``$``; see :mod:`airflow_registry_provider.naming`);
* Snowflake's reserved keywords (``SELECT``, ``TABLE``, ``ORDER`` …), which are syntax
  errors unquoted. Refusing them everywhere is what keeps one spelling in every
  statement: quoting them in ours and not in the library's statements would not work;
* ``$$`` and a trailing ``$``: snowflake-ml-python embeds names, comments, tag values and
  metadata in ``$$…$$`` literals without escaping, and Snowflake ends such a literal at
  the first ``$$``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.naming import (
    SNOWFLAKE_RESERVED_ALIASES,
    snowflake_version_name,
    validate_snowflake_identifier,
)

#: Snowflake's reserved and limited keywords (SQL reference, "Reserved & limited keywords"),
#: plus ASC and DESC, which the same page names as reserved by other databases.
RESERVED_KEYWORDS = frozenset(
    """
    ACCOUNT ALL ALTER AND ANY AS ASC BETWEEN BY CASE CAST CHECK COLUMN CONNECT CONNECTION
    CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER
    DATABASE DELETE DESC DISTINCT DROP ELSE EXISTS FALSE FOLLOWING FOR FROM FULL GRANT GROUP
    GSCLUSTER HAVING ILIKE IN INCREMENT INNER INSERT INTERSECT INTO IS ISSUE JOIN LATERAL LEFT
    LIKE LOCALTIME LOCALTIMESTAMP MINUS NATURAL NOT NULL OF ON OR ORDER ORGANIZATION QUALIFY
    REGEXP REVOKE RIGHT RLIKE ROW ROWS SAMPLE SCHEMA SELECT SET SOME START TABLE TABLESAMPLE
    THEN TO TRIGGER TRUE TRY_CAST UNION UNIQUE UPDATE USING VALUES VIEW WHEN WHENEVER WHERE
    WINDOW WITH
    """.split()  # noqa: SIM905 - the list as the reference page prints it
)
_PLAIN_VERSION = re.compile(r"V(0|[1-9]\d*)_(0|[1-9]\d*)_(0|[1-9]\d*)")
_QUERY = re.compile(r"\s*(SELECT|WITH)\s", re.IGNORECASE)


def check_dollar_quoting(text: str, field: str) -> str:
    """Refuse text that would end a ``$$…$$`` literal early (``$$`` inside, or a trailing ``$``)."""
    if "$$" in text or text.endswith("$"):
        raise InvalidInputError(
            field, "contains '$$' or ends with '$', which Snowflake's $$-quoted literals cannot hold; remove it"
        )
    return text


def check_json_strings(value: Any, field: str) -> None:
    """:func:`check_dollar_quoting` for every key and string of a JSON document.

    Inside JSON a string is followed by its closing quote, so only ``$$`` itself breaks
    the literal the document is sent in.
    """
    if isinstance(value, str):
        if "$$" in value:
            check_dollar_quoting(value, field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_json_strings(str(key), f"{field}.{key}")
            check_json_strings(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            check_json_strings(item, field)


def identifier(name: str, field: str) -> str:
    """An unquoted identifier as Snowflake stores it (upper-case), or InvalidInputError naming ``field``."""
    upper = validate_snowflake_identifier(name, field)
    if upper in RESERVED_KEYWORDS:
        raise InvalidInputError(field, f"{name!r} is a Snowflake reserved keyword; choose another name")
    check_dollar_quoting(upper, field)
    return upper


def alias(name: str, field: str = "alias") -> str:
    """An alias: an identifier that is not one of Snowflake's system aliases."""
    upper = identifier(name, field)
    if upper in SNOWFLAKE_RESERVED_ALIASES:
        raise InvalidInputError(field, f"{name!r} is reserved by Snowflake (DEFAULT, FIRST, LAST)")
    return upper


def version_id(version: str, field: str = "version") -> str:
    """A version given as Snowflake id (``V1_2_0``) or semantic name (``1.2.0``)."""
    if isinstance(version, str) and "." in version:
        return snowflake_version_name(version, field)
    name = identifier(version, field)
    if name in SNOWFLAKE_RESERVED_ALIASES:
        raise InvalidInputError(field, f"{version!r} is a system alias, not a version")
    return name


def semantic_name(version: str) -> str | None:
    """``V1_2_0`` -> ``1.2.0`` for ids without pre-release; None for anything else."""
    match = _PLAIN_VERSION.fullmatch(version)
    return ".".join(match.groups()) if match else None


def qualified_name(name: str, field: str) -> str:
    """A table name, optionally ``db.schema.``-qualified: each part an identifier."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(field, f"{name!r} is not a table name ([database.][schema.]table)")
    parts = name.strip().split(".")
    if len(parts) > 3:
        raise InvalidInputError(field, f"{name!r} is not a table name ([database.][schema.]table)")
    return ".".join(identifier(part, field) for part in parts)


def is_query(source: str) -> bool:
    """Whether a batch source is a query (``SELECT``/``WITH``) rather than a table name."""
    return _QUERY.match(source) is not None


__all__ = [
    "RESERVED_KEYWORDS",
    "alias",
    "check_dollar_quoting",
    "check_json_strings",
    "identifier",
    "is_query",
    "qualified_name",
    "semantic_name",
    "version_id",
]
