from __future__ import annotations

import pytest

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.identifiers import (
    normalize_grantee,
    quote_identifier,
    quote_qualified,
    validate_username,
)
from airflow_registry_provider.naming import parse_semver, validate_mlflow_alias, validate_mlflow_model_name

from .payloads import INJECTIONS


@pytest.mark.parametrize("payload", INJECTIONS)
def test_quote_identifier_refuses_injections(payload: str) -> None:
    with pytest.raises(InvalidInputError):
        quote_identifier(payload, "role")


@pytest.mark.parametrize("payload", INJECTIONS)
def test_role_grantee_refuses_injections(payload: str) -> None:
    with pytest.raises(InvalidInputError):
        normalize_grantee(payload)


# "1ROLE" and "db.schema" are acceptable user names.
@pytest.mark.parametrize("payload", [p for p in INJECTIONS if p not in ("1ROLE", "db.schema")])
def test_user_grantee_refuses_injections(payload: str) -> None:
    with pytest.raises(InvalidInputError):
        normalize_grantee("user:" + payload)


def test_quote_identifier_upper_cases_and_quotes() -> None:
    assert quote_identifier("ml_admin", "role") == '"ML_ADMIN"'
    assert quote_qualified(("ml", "registry", "churn"), "model") == '"ML"."REGISTRY"."CHURN"'


def test_grantee_forms() -> None:
    assert normalize_grantee("data_scientist") == "DATA_SCIENTIST"
    assert normalize_grantee("role:data_scientist") == "DATA_SCIENTIST"
    assert normalize_grantee("user:alice@example.com") == "user:alice@example.com"
    assert normalize_grantee("USER:Alice") == "user:Alice"
    assert validate_username("bob.smith", "user") == "bob.smith"


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (validate_mlflow_model_name, "churn\n"),
        (validate_mlflow_alias, "champion\n"),
        (parse_semver, "1.0.0\n"),
        (parse_semver, "\u0661.0.0"),  # Arabic-Indic digit one
    ],
)
def test_naming_rules_refuse_trailing_newline_and_non_ascii_digits(check, value) -> None:
    with pytest.raises(InvalidInputError):
        check(value)
