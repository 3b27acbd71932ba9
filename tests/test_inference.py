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


def _frame(n: int, start: int = 0) -> pd.DataFrame:
    frame = make_data(n, seed=start)[FEATURES]
    frame.insert(0, "customer_id", np.arange(start, start + n))
    return frame


def test_a_folder_partition_is_scored_in_file_order_and_hidden_files_skipped(
    tmp_path: Path, model: LogisticRegression
) -> None:
    folder = tmp_path / "date=2026-01-02"
    (folder / "region=eu").mkdir(parents=True)
    _frame(300, 0).to_parquet(folder / "region=eu" / "part-0.parquet", index=False)
    _frame(200, 300).to_parquet(folder / "part-1.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-2.parquet.tmp").write_bytes(b"partial")
    (folder / "_staging").mkdir()
    _frame(5, 900).to_parquet(folder / "_staging" / "part-9.parquet", index=False)
    out = tmp_path / "out" / "nested" / "2026-01-02.parquet"
    summary = stream_predict(
        model, str(folder), str(out), model_name="m", model_version="1", feature_columns=FEATURES, batch_size=128
    )
    result = pd.read_parquet(out)
    assert summary["rows"] == len(result) == 500 and summary["files"] == 2
    assert result["customer_id"].tolist() == list(range(300, 500)) + list(range(300))
    assert summary["scored_with"] == "numpy"


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("input.parquet", r"^output_path: .* is the input \(input_path\)"),
        ("existing", r"^output_path: .* is an existing folder"),
    ],
)
def test_refused_outputs(tmp_path: Path, model: LogisticRegression, output: str, message: str) -> None:
    source = _input(tmp_path)
    (tmp_path / "existing").mkdir()
    before = (tmp_path / "input.parquet").read_bytes()
    with pytest.raises(InvalidInputError, match=message):
        stream_predict(
            model, source, str(tmp_path / output), model_name="m", model_version="1", feature_columns=FEATURES
        )
    assert (tmp_path / "input.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "input.parquet"]


def test_an_output_inside_the_input_folder_is_refused(tmp_path: Path, model: LogisticRegression) -> None:
    (tmp_path / "in").mkdir()
    _frame(10).to_parquet(tmp_path / "in" / "a.parquet", index=False)
    with pytest.raises(InvalidInputError, match=r"^output_path: .* is inside the input folder"):
        stream_predict(
            model,
            str(tmp_path / "in"),
            str(tmp_path / "in" / "sub" / "out.parquet"),
            model_name="m",
            model_version="1",
            feature_columns=FEATURES,
        )
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.parquet"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PAR1 not parquet at all", r"^input_path: .*broken.parquet' is not a readable Parquet file"),
        (b"", r"^input_path: .*broken.parquet' is not a readable Parquet file"),
        ("csv", r"^input_path: .*broken.parquet' is not a readable Parquet file"),
        ("truncated", r"^input_path: .*broken.parquet' is not a readable Parquet file"),
    ],
)
def test_unreadable_input_names_the_file(
    tmp_path: Path, model: LogisticRegression, content: bytes | str, message: str
) -> None:
    broken = tmp_path / "broken.parquet"
    if content == "csv":
        _frame(10).to_csv(broken, index=False)
    elif content == "truncated":
        _frame(1000).to_parquet(broken, index=False)
        broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    else:
        broken.write_bytes(content)
    with pytest.raises(InvalidInputError, match=message):
        stream_predict(
            model,
            str(broken),
            str(tmp_path / "out.parquet"),
            model_name="m",
            model_version="1",
            feature_columns=FEATURES,
        )
    assert not (tmp_path / "out.parquet").exists()


def test_corrupt_data_pages_name_the_file(tmp_path: Path, model: LogisticRegression) -> None:
    """A file whose footer reads but whose data does not fails as the input's fault, not retried."""
    import pyarrow.parquet as pq

    path = tmp_path / "pages.parquet"
    _frame(4_000).to_parquet(path, index=False, row_group_size=1_000, compression="snappy")
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(2).column(1)
    data = bytearray(path.read_bytes())
    start = column.data_page_offset
    data[start : start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match=r"^input_path: .*pages.parquet' cannot be read"):
        stream_predict(
            model,
            str(path),
            str(tmp_path / "out.parquet"),
            model_name="m",
            model_version="1",
            feature_columns=FEATURES,
            batch_size=500,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages.parquet"]


def test_a_missing_partition_names_it(tmp_path: Path, model: LogisticRegression) -> None:
    with pytest.raises(InvalidInputError, match=r"^input_path: partition .*part-0007.parquet' does not exist"):
        stream_predict(
            model,
            str(tmp_path / "part-0007.parquet"),
            str(tmp_path / "out.parquet"),
            model_name="m",
            model_version="1",
            feature_columns=FEATURES,
        )


def test_a_second_writer_of_the_same_output_is_refused_and_nothing_interleaves(
    tmp_path: Path, model: LogisticRegression
) -> None:
    from airflow_registry_provider.inference import OutputInUseError, exclusive_output

    source, out = _input(tmp_path), tmp_path / "out" / "pred.parquet"
    busy = r"^output_path: .*pred.parquet' is being written by another task"
    with exclusive_output(str(out)), pytest.raises(OutputInUseError, match=busy):
        stream_predict(model, source, str(out), model_name="m", model_version="1", feature_columns=FEATURES)
    assert sorted(p.name for p in out.parent.iterdir()) == []
    stream_predict(model, source, str(out), model_name="m", model_version="1", feature_columns=FEATURES)
    assert sorted(p.name for p in out.parent.iterdir()) == ["pred.parquet"]


KILLED_WRITER = """
import sys, time
import numpy as np
from airflow_registry_provider.inference import stream_predict

class Slow:
    def predict(self, frame):
        print("batch", flush=True)
        time.sleep(0.2)
        return np.zeros(len(frame))

stream_predict(Slow(), sys.argv[1], sys.argv[2], model_name="m", model_version="1", feature_columns=None, batch_size=50)
"""


def test_a_killed_writer_leaves_no_partial_output_and_the_next_run_cleans_up(
    tmp_path: Path, model: LogisticRegression
) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO

    source = tmp_path / "in.parquet"
    make_data(1_000)[FEATURES].to_parquet(source, index=False, row_group_size=100)
    out = tmp_path / "out" / "pred.parquet"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(source), str(out)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    for _ in range(6):  # the probe (2 calls), then batches written into the temp file
        assert child.stdout.readline().strip() == "batch"
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = sorted(p.name for p in out.parent.iterdir())
    assert "pred.parquet" not in left and any(name.endswith(".tmp") for name in left), left
    stream_predict(model, str(source), str(out), model_name="m", model_version="1", feature_columns=FEATURES)
    assert sorted(p.name for p in out.parent.iterdir()) == ["pred.parquet"]
    assert pq.ParquetFile(out).metadata.num_rows == 1_000


@pytest.fixture
def pyfunc_model(tmp_path: Path, model: LogisticRegression) -> object:
    """The model as MLflow serves it: a pyfunc model with a signature (f1..f3 double)."""
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature

    sample = make_data(20)[FEATURES]
    path = tmp_path / "mlflow-model"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(sample, model.predict(sample)))
    return mlflow.pyfunc.load_model(str(path))


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("f2", np.arange(10, dtype=np.int64), r"column 'f2' does not match the model's signature \(double\): int64"),
        ("f1", [str(i) for i in range(10)], r"column 'f1' does not match the model's signature \(double\): string"),
        ("f3", np.arange(10) % 2 == 0, r"column 'f3' does not match the model's signature \(double\): bool"),
    ],
)
def test_dtypes_are_checked_against_the_signature_before_scoring(
    tmp_path: Path, pyfunc_model: object, column: str, values: object, message: str
) -> None:
    frame = make_data(10)[FEATURES]
    frame[column] = values
    source = tmp_path / "typed.parquet"
    frame.to_parquet(source, index=False)
    with pytest.raises(InvalidInputError, match=rf"^input_path: {message}"):
        stream_predict(
            pyfunc_model,
            str(source),
            str(tmp_path / "out.parquet"),
            model_name="m",
            model_version="1",
            feature_columns=FEATURES,
        )
    assert not (tmp_path / "out.parquet").exists()


def test_safe_int_columns_score_and_a_pyfunc_model_takes_the_numpy_path(
    tmp_path: Path, pyfunc_model: object, model: LogisticRegression
) -> None:
    frame = make_data(500, seed=4)[FEATURES]
    frame["f2"] = (frame["f2"] * 10).round().astype(np.int32)  # int32 -> double is exact, as in MLflow
    source = tmp_path / "ints.parquet"
    frame.to_parquet(source, index=False)
    out = tmp_path / "out.parquet"
    summary = stream_predict(
        pyfunc_model, str(source), str(out), model_name="m", model_version="1", feature_columns=FEATURES
    )
    assert summary["scored_with"] == "numpy"
    np.testing.assert_array_equal(pd.read_parquet(out)["prediction"], pyfunc_model.predict(frame))


def test_models_that_need_column_names_keep_the_dataframe_path(tmp_path: Path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = make_data()
    by_name = make_pipeline(ColumnTransformer([("s", StandardScaler(), ["f3", "f1"])]), LogisticRegression())
    by_name.fit(data[FEATURES], data["label"])
    source, out = _input(tmp_path), tmp_path / "out.parquet"
    summary = stream_predict(by_name, source, str(out), model_name="m", model_version="1", feature_columns=FEATURES)
    assert summary["scored_with"] == "dataframe"
    expected = by_name.predict(pd.read_parquet(source)[FEATURES])
    np.testing.assert_array_equal(pd.read_parquet(out)["prediction"], expected)


# -- the operator on a sqlite MLflow registry -------------------------------------------------
@pytest.fixture
def champion(mlflow_registry: str, tmp_path: Path) -> dict:
    from airflow_registry_provider.operators import LogModelOperator
    from tests.helpers import make_model_files, task_context

    paths = make_model_files(tmp_path)
    ref = LogModelOperator(
        task_id="log_model",
        model_name="churn",
        model=paths["model"],
        version_name="1.0.0",
        sample_input=paths["sample"],
    ).execute(task_context())
    from mlflow import MlflowClient

    MlflowClient(mlflow_registry).set_registered_model_alias("churn", "champion", ref["version"])
    return ref


def _score(**kwargs: object) -> dict:
    from airflow_registry_provider.operators import BatchInferenceOperator
    from tests.helpers import task_context

    return BatchInferenceOperator(task_id="score", **kwargs).execute(task_context())  # type: ignore[arg-type]


def test_operator_returns_the_one_xcom_shape_and_scores_with_numpy(champion: dict, tmp_path: Path) -> None:
    from airflow_registry_provider.model_version import parse_ref

    out = tmp_path / "new" / "folder" / "pred.parquet"
    result = _score(model_version=champion, input_path=_input(tmp_path), output_path=str(out), batch_size="300")
    assert parse_ref(result) == parse_ref(result["model_version"]) == {**parse_ref(champion), "aliases": ["champion"]}
    assert {k: result[k] for k in ("model_name", "version", "registry_conn_id")} == {
        "model_name": "churn",
        "version": champion["version"],
        "registry_conn_id": "mlflow_default",
    }
    assert (result["rows"], result["output"], result["files"], result["scored_with"]) == (
        1_000,
        str(out),
        1,
        "numpy",
    )
    assert pq.ParquetFile(out).metadata.num_row_groups == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": "abc"}, r"^batch_size: must be a positive integer, got 'abc'"),
        ({"batch_size": 0}, r"^batch_size: must be a positive integer"),
        ({"input_path": "missing.parquet"}, r"^input_path: partition .*missing.parquet' does not exist"),
        ({"input_path": "corrupt.parquet"}, r"^input_path: .*corrupt.parquet' is not a readable Parquet file"),
        ({"output_path": "."}, r"^output_path: .* is an existing folder"),
        ({"output_path": ""}, r"^output_path: give a non-empty string"),
        ({"prediction_column": None}, r"^prediction_column: give a non-empty string"),
    ],
)
def test_operator_bad_input_fails_at_once_and_writes_nothing(
    champion: dict, tmp_path: Path, kwargs: dict, message: str
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1 garbage")
    params = {"model_name": "churn", "input_path": _input(tmp_path), "output_path": "pred.parquet", **kwargs}
    params = {k: str(tmp_path / v) if k.endswith("_path") and v else v for k, v in params.items()}
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(AirflowFailException, match=message):
        _score(**params)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_operator_a_busy_output_is_retried_not_failed(champion: dict, tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_registry_provider.inference import OutputInUseError, exclusive_output

    out = str(tmp_path / "pred.parquet")
    with exclusive_output(out), pytest.raises(OutputInUseError) as err:
        _score(model_name="churn", input_path=_input(tmp_path), output_path=out)
    assert not isinstance(err.value, AirflowFailException)
