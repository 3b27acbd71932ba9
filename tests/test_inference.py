from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.inference import stream_predict
from tests.helpers import FEATURES, make_data


@pytest.fixture
def model() -> LogisticRegression:
    frame = make_data()
    return LogisticRegression().fit(frame[FEATURES], frame["label"])


def _input(tmp_path: Path, n: int = 1_000) -> str:
    frame = make_data(n, seed=3)[FEATURES]
    frame.insert(0, "customer_id", np.arange(n))
    path = tmp_path / "input.parquet"
    frame.to_parquet(path, index=False, row_group_size=250)
    return str(path)


def test_streams_every_row_with_model_columns(tmp_path: Path, model: LogisticRegression) -> None:
    source, out = _input(tmp_path), str(tmp_path / "out.parquet")
    summary = stream_predict(
        model, source, out, model_name="m", model_version="3", feature_columns=FEATURES, batch_size=128
    )
    result = pd.read_parquet(out)
    assert summary["rows"] == len(result) == 1_000
    assert list(result.columns) == ["customer_id", "prediction", "model_name", "model_version"]
    expected = model.predict(pd.read_parquet(source)[FEATURES])
    np.testing.assert_array_equal(result["prediction"].to_numpy(), expected)
    assert set(result["model_name"].astype(str)) == {"m"} and set(result["model_version"].astype(str)) == {"3"}
    assert result["customer_id"].tolist() == list(range(1_000))


def test_missing_columns_fail_before_any_output(tmp_path: Path, model: LogisticRegression) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(InvalidInputError, match=r"missing columns the model needs: \['f4'\]") as err:
        stream_predict(
            model, _input(tmp_path), str(out), model_name="m", model_version="1", feature_columns=[*FEATURES, "f4"]
        )
    assert err.value.field == "input_path"
    assert list(tmp_path.iterdir()) == [tmp_path / "input.parquet"]


def test_failure_midway_leaves_no_partial_file(tmp_path: Path, model: LogisticRegression) -> None:
    calls = {"n": 0}

    class Flaky:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("worker lost")
            return model.predict(frame)

    out = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError):
        stream_predict(
            Flaky(),
            _input(tmp_path),
            str(out),
            model_name="m",
            model_version="1",
            feature_columns=FEATURES,
            batch_size=100,
        )
    assert calls["n"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.parquet"]


def test_output_row_groups_follow_batches(tmp_path: Path, model: LogisticRegression) -> None:
    out = str(tmp_path / "out.parquet")
    stream_predict(
        model, _input(tmp_path), out, model_name="m", model_version="1", feature_columns=FEATURES, batch_size=250
    )
    assert pq.ParquetFile(out).metadata.num_row_groups == 4
