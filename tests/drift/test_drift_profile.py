"""Reference profile: contents, JSON round trip, model check, refused inputs."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from airflow_registry_provider.drift import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from airflow_registry_provider.exceptions import InvalidInputError


@pytest.fixture
def reference() -> pa.Table:
    rng = np.random.default_rng(0)
    n = 5000
    x = rng.normal(10, 2, n)
    x[:50] = np.nan
    return pa.table(
        {
            "x": x,
            "code": rng.integers(0, 4, n),
            "city": pa.array(rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])),
            "flag": pa.array(rng.random(n) < 0.2),
        }
    )


def test_profile_contents(reference):
    profile = build_profile(reference, model_name="churn", model_version="3")
    assert profile.schema == {
        "x": "numeric",
        "code": "numeric",
        "city": "categorical",
        "flag": "categorical",
    }
    assert profile.types == {
        "x": "float",
        "code": "int",
        "city": "string",
        "flag": "bool",
    }
    x = profile.columns["x"]
    assert isinstance(x, NumericProfile)
    assert (x.count, x.missing) == (4950, 50)
    values = np.sort(reference.column("x").to_numpy()[50:])
    assert x.quantiles[0] == values[0] and x.quantiles[-1] == values[-1]
    assert len(x.quantiles) == 1001 and len(x.lower_tail) == 2  # 1000 * 4 <= 4950
    assert sum(x.bin_counts) == 4950 and len(x.bin_counts) == 10
    assert x.mean == pytest.approx(values.mean()) and x.std == pytest.approx(values.std())
    city = profile.columns["city"]
    assert isinstance(city, CategoricalProfile)
    assert list(city.frequencies) == ["a", "b", "c"]  # most frequent first
    assert sum(city.frequencies.values()) == 5000
    assert set(profile.columns["flag"].frequencies) == {"True", "False"}


def test_categorical_override_and_column_selection(reference):
    profile = build_profile(reference, columns=["code", "city"], categorical=["code"])
    assert profile.schema == {"code": "categorical", "city": "categorical"}
    assert set(profile.columns["code"].frequencies) == {"0", "1", "2", "3"}


def test_json_round_trip_is_lossless_and_small(reference):
    profile = build_profile(reference, model_name="churn", model_version="3")
    text = profile.to_json()
    assert ReferenceProfile.from_json(text) == profile
    data = json.loads(text)
    assert data["format_version"] == 1
    assert data["model_name"] == "churn"
    assert len(text) < 60_000  # 4 columns; independent of the row count


def test_profile_from_another_format_version_is_refused(reference):
    data = build_profile(reference).to_dict()
    data["format_version"] = 99
    with pytest.raises(InvalidInputError, match="format version 99"):
        ReferenceProfile.from_dict(data)
    with pytest.raises(InvalidInputError, match="not JSON"):
        ReferenceProfile.from_json("{nope")
    del data["columns"]
    data["format_version"] = 1
    with pytest.raises(InvalidInputError, match="malformed"):
        ReferenceProfile.from_dict(data)


def test_check_model(reference):
    profile = build_profile(reference, model_name="churn", model_version="3")
    profile.check_model("churn")
    profile.check_model("churn", "3")
    with pytest.raises(InvalidInputError, match="expected model 'fraud'") as err:
        profile.check_model("fraud")
    assert err.value.field == "reference"
    with pytest.raises(InvalidInputError, match="version '4'"):
        profile.check_model("churn", "4")


def test_refused_reference_inputs_list_their_columns():
    when = pa.array([1, 2], pa.timestamp("s"))
    table = pa.table({"ok": [1.0, 2.0], "t1": when, "t2": when})
    with pytest.raises(InvalidInputError, match=r"unsupported column types.*t1.*t2") as err:
        build_profile(table)
    assert err.value.field == "reference"
    with pytest.raises(InvalidInputError, match="not in the reference data: nope"):
        build_profile(table, columns=["ok", "nope"])
    bad = pa.table({"a": [1.0, np.inf], "b": [1.0, 2.0], "c": [-np.inf, 0.0]})
    with pytest.raises(InvalidInputError, match=r"infinite values.*: a, c$"):
        build_profile(bad)
    with pytest.raises(InvalidInputError, match="no rows"):
        build_profile(pa.table({"a": pa.array([], pa.float64())}))
    ids = pa.table({"id": [f"u{i}" for i in range(1001)]})
    with pytest.raises(InvalidInputError, match=r"more than 1000 categories.*: id"):
        build_profile(ids)
    with pytest.raises(InvalidInputError, match="expected a Parquet path"):
        build_profile([1, 2, 3])  # type: ignore[arg-type]
