from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.naming import (
    parse_semver,
    semver_sort_key,
    snowflake_version_name,
    validate_mlflow_alias,
    validate_mlflow_model_name,
    validate_snowflake_alias,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("1.2.0", "V1_2_0"), ("0.0.1", "V0_0_1"), ("1.0.0-rc.1", "V1_0_0_RC_1"), ("2.10.3-beta-2", "V2_10_3_BETA_2")],
)
def test_snowflake_version_names(name: str, expected: str) -> None:
    assert snowflake_version_name(name) == expected


@pytest.mark.parametrize("bad", ["1.0-beta+x", "1.0", "v1.2.0", "1.2.0 final", "01.2.0", "", "1.2.0+build.5"])
def test_unconvertible_version_names_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        snowflake_version_name(bad)
    assert err.value.field == "version_name"


@given(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999))
def test_semver_roundtrip(major: int, minor: int, patch: int) -> None:
    assert parse_semver(f"{major}.{minor}.{patch}")[:3] == (major, minor, patch)
    assert snowflake_version_name(f"{major}.{minor}.{patch}") == f"V{major}_{minor}_{patch}"


def test_semver_ordering_puts_prereleases_first() -> None:
    names = ["1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.9"]
    assert sorted(names, key=semver_sort_key) == ["0.9.9", "1.2.0-rc.1", "1.2.0", "1.10.0"]


@pytest.mark.parametrize("alias", ["latest", "LATEST", "v1", "V12"])
def test_mlflow_reserved_aliases(alias: str) -> None:
    with pytest.raises(InvalidInputError, match="reserved"):
        validate_mlflow_alias(alias)


@pytest.mark.parametrize("alias", ["DEFAULT", "first", "Last"])
def test_snowflake_reserved_aliases(alias: str) -> None:
    with pytest.raises(InvalidInputError, match="reserved"):
        validate_snowflake_alias(alias)


@pytest.mark.parametrize("name", ["", "has space", "a/b", "-lead", "x" * 300, "semi;colon"])
def test_invalid_mlflow_model_names(name: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        validate_mlflow_model_name(name)
    assert err.value.field == "model_name"
