"""Name rules for models, versions and aliases on each backend.

Pure module (no Airflow imports). Semantic version names are validated with the
grammar from semver.org; Snowflake needs SQL identifiers, so semantic names are
converted deliberately (``1.2.0`` -> ``V1_2_0``) and anything that cannot be
converted without losing meaning (build metadata, spaces) is rejected.
"""

from __future__ import annotations

import re

from airflow_registry_provider.exceptions import InvalidInputError

# The official semver 2.0.0 grammar; packaging.version implements PEP 440, which
# accepts forms ("1.0", "1.0.post1") that are not semantic versions.
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$",
    re.ASCII,  # without it \d accepts non-ASCII digits that int() would silently convert
)
# MLflow accepts almost any registered-model name; we keep to names that are safe
# in URIs (models:/name@alias), file paths and UI links. Every pattern is applied with
# fullmatch: ``$`` alone also matches before a trailing newline ("name\n").
_MLFLOW_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")
_MLFLOW_ALIAS = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")
_MLFLOW_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE | re.ASCII)
# Unquoted Snowflake identifier (stored upper-case).
SNOWFLAKE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")
SNOWFLAKE_RESERVED_ALIASES = frozenset({"DEFAULT", "FIRST", "LAST"})


def parse_semver(version_name: str, field: str = "version_name") -> tuple[int, int, int, str | None, str | None]:
    """Return (major, minor, patch, prerelease, build) or raise naming ``field``."""
    if not isinstance(version_name, str):
        raise InvalidInputError(field, f"must be a string like '1.2.0', got {type(version_name).__name__}")
    match = _SEMVER.fullmatch(version_name)
    if match is None:
        raise InvalidInputError(field, f"{version_name!r} is not a semantic version (MAJOR.MINOR.PATCH, e.g. '1.2.0')")
    major, minor, patch, pre, build = match.groups()
    return int(major), int(minor), int(patch), pre, build


def semver_sort_key(version_name: str) -> tuple[int, int, int, int, str]:
    """Sort key that orders released versions after their pre-releases."""
    major, minor, patch, pre, _ = parse_semver(version_name)
    return major, minor, patch, 0 if pre else 1, pre or ""


def snowflake_version_name(version_name: str, field: str = "version_name") -> str:
    """Convert a semantic version to a Snowflake version identifier: ``1.2.0-rc.1`` -> ``V1_2_0_RC_1``."""
    major, minor, patch, pre, build = parse_semver(version_name, field)
    if build is not None:
        raise InvalidInputError(
            field,
            f"{version_name!r} has build metadata ('+{build}'), which a Snowflake version "
            "identifier cannot carry; drop it or fold it into the pre-release",
        )
    name = f"V{major}_{minor}_{patch}"
    if pre:
        name += "_" + pre.replace(".", "_").replace("-", "_")
    return name.upper()


def validate_mlflow_model_name(name: str, field: str = "model_name") -> str:
    if not isinstance(name, str) or not _MLFLOW_MODEL_NAME.fullmatch(name):
        raise InvalidInputError(
            field,
            f"{name!r} is not a valid model name: use letters, digits, '_', '.', '-' "
            "(starting with a letter or digit, at most 255 characters)",
        )
    return name


def validate_mlflow_alias(alias: str, field: str = "alias") -> str:
    if not isinstance(alias, str) or not _MLFLOW_ALIAS.fullmatch(alias):
        raise InvalidInputError(field, f"{alias!r} is not a valid alias: use letters, digits, '_' and '-'")
    if _MLFLOW_RESERVED_ALIAS.fullmatch(alias):
        raise InvalidInputError(field, f"{alias!r} is reserved by MLflow ('latest' and 'v<number>')")
    return alias


def validate_snowflake_identifier(name: str, field: str) -> str:
    """Validate an unquoted Snowflake identifier and return it upper-cased."""
    if not isinstance(name, str) or not SNOWFLAKE_IDENTIFIER.fullmatch(name):
        raise InvalidInputError(
            field,
            f"{name!r} is not a valid Snowflake identifier: start with a letter or '_', "
            "then letters, digits, '_' or '$' (at most 255 characters)",
        )
    return name.upper()


def validate_snowflake_alias(alias: str, field: str = "alias") -> str:
    upper = validate_snowflake_identifier(alias, field)
    if upper in SNOWFLAKE_RESERVED_ALIASES:
        raise InvalidInputError(field, f"{alias!r} is reserved by Snowflake (DEFAULT, FIRST, LAST)")
    return upper
