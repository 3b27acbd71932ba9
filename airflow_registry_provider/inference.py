"""Streaming batch inference from Parquet to Parquet.

Pure module (no Airflow imports).

* **Input**: one partition: a Parquet file, or a folder (a prefix, a ``date=...``
  partition) whose Parquet files are scored together in name order. Every file's footer
  and schema are checked before the first row is scored.
* **Schema once**: the feature columns' types are checked against the model's signature
  before scoring (the rules MLflow's pyfunc enforces per call), naming the column.
* **Speed**: the rows are scored as numpy matrices by the model's native estimator when a
  probe on the first rows shows it predicts exactly what the DataFrame path does; other
  models are scored with DataFrames (the pyfunc path).
* **Memory** is bounded by one row group plus one batch: ``ParquetFile.iter_batches``
  in, a ``ParquetWriter`` out.
* **Output**: parent folders are created; an output equal to the input, inside an input
  folder, or that is a folder is refused. The writer holds an exclusive ``flock`` on the
  output while it writes a temp file in the same folder and renames it over the output at
  the end: two tasks writing one output never interleave (the second is refused and
  retried), and a killed or failed run leaves no partial file (a dead writer's temp file
  is removed by the next writer).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_registry_provider.exceptions import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

log = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 10.0
#: Rows of the first batch scored both ways to decide whether the numpy path is exact.
PROBE_ROWS = 1_000


class OutputInUseError(RuntimeError):
    """Another task is writing the same output now (transient: the task is retried)."""


def parquet_files(source: str, field: str = "input_path") -> list[str]:
    """The Parquet files of a partition: the file itself, or a folder's ``*.parquet`` files.

    Files and folders whose names start with ``.`` or ``_`` (temp files, ``_SUCCESS``,
    staging folders) are skipped, as Hive and Spark do.
    """
    if os.path.isfile(source):
        return [source]
    if not os.path.isdir(source):
        raise InvalidInputError(field, f"partition {source!r} does not exist")
    files = []
    for path in sorted(glob.glob(os.path.join(glob.escape(source), "**", "*.parquet"), recursive=True)):
        relative = os.path.relpath(path, source).split(os.sep)
        if os.path.isfile(path) and not any(part.startswith((".", "_")) for part in relative):
            files.append(path)
    if not files:
        raise InvalidInputError(field, f"partition {source!r} holds no Parquet file")
    return files


def open_parquet(path: str, field: str = "input_path") -> pq.ParquetFile:
    """Open a Parquet file's footer, or fail naming ``field`` and the file (not retried)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pyarrow's default pre_buffer reads every requested row group's column chunks before
        # the first batch (the whole file); without it memory is one row group plus one batch.
        return pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowException, OSError) as err:
        raise InvalidInputError(field, f"{path!r} is not a readable Parquet file ({err})") from err


def signature_types(predictor: Any) -> dict[str, str] | None:
    """``{column: MLflow type name}`` from the loaded model's own signature (what pyfunc enforces)."""
    metadata = getattr(predictor, "metadata", None)
    schema = metadata.get_input_schema() if metadata is not None else None
    if schema is None or not schema.has_input_names():
        return None
    return {spec.name: getattr(spec.type, "name", str(spec.type)) for spec in schema.inputs}


def type_mismatch(arrow_type: pa.DataType, expected: str) -> str | None:
    """Why a column of ``arrow_type`` cannot feed a signature column of MLflow type ``expected``.

    The safe conversions MLflow's schema enforcement allows: integers to a wider integer
    type, floats to a wider float type, integers of at most 32 bits to ``double``, strings
    to ``string``; anything else (int64 to double, floats to integers, strings to numbers)
    is refused. Returns None when the column fits.
    """
    import pyarrow as pa

    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    widths = {"integer": 32, "long": 64, "float": 32, "double": 64}
    if expected in ("integer", "long"):
        if pa.types.is_integer(t) and t.bit_width <= widths[expected]:
            return None
        if pa.types.is_integer(t):
            return f"{t} does not fit in {expected}"
    elif expected in ("float", "double"):
        if pa.types.is_floating(t) and t.bit_width <= widths[expected]:
            return None
        if pa.types.is_integer(t):
            if expected == "double" and t.bit_width <= 32:
                return None
            return f"{t} cannot safely become {expected}: cast the column to float64"
    elif expected == "boolean":
        if pa.types.is_boolean(t):
            return None
    elif expected == "string":
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return None
    elif expected == "binary":
        if pa.types.is_binary(t) or pa.types.is_large_binary(t):
            return None
    elif expected == "datetime":
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            return None
    else:
        return None  # a type we do not know (tensors, objects): pyfunc enforces it
    return f"{t} is not {expected}"


def check_schema(
    files: Sequence[str], features: Sequence[str], types: dict[str, str] | None, field: str = "input_path"
) -> tuple[pa.Schema, list[str]]:
    """Check every file of a partition once: same schema, the model's columns, their types.

    Returns the schema and the pass-through (non-feature) columns.
    """
    schema = open_parquet(files[0], field).schema_arrow
    for path in files[1:]:
        other = open_parquet(path, field).schema_arrow
        if not other.equals(schema):
            raise InvalidInputError(field, f"{path!r} has another schema than {files[0]!r}: {other} != {schema}")
    names = schema.names
    missing = [c for c in features if c not in names]
    if missing:
        raise InvalidInputError(field, f"missing columns the model needs: {missing}")
    for column, expected in (types or {}).items():
        reason = type_mismatch(schema.field(column).type, expected) if column in features else None
        if reason:
            raise InvalidInputError(
                field, f"column {column!r} does not match the model's signature ({expected}): {reason}"
            )
    return schema, [c for c in names if c not in features]


@dataclass
class Scorer:
    """How batches are scored: ``numpy`` (the native estimator on a matrix) or ``dataframe``."""

    kind: str
    predict: Callable[[pa.RecordBatch], np.ndarray]


def _as_vector(predictions: Any) -> np.ndarray:
    import numpy as np

    result = np.asarray(predictions)
    return result.ravel() if result.ndim > 1 and result.shape[1] == 1 else result


def choose_scorer(predictor: Any, features: Sequence[str], schema: pa.Schema, first: pa.RecordBatch) -> Scorer:
    """The numpy path when the model allows it, else DataFrames.

    The native estimator (``get_raw_model()`` of an MLflow pyfunc model, or the predictor
    itself) scores a float matrix of the features when every feature is numeric and a
    probe on the first rows gives exactly the DataFrame path's predictions (a model that
    selects columns by name, or reorders them, fails the probe and keeps DataFrames).
    """
    import numpy as np
    import pyarrow as pa

    def frame_predict(batch: pa.RecordBatch) -> np.ndarray:
        return _as_vector(predictor.predict(batch.select(list(features)).to_pandas()))

    dataframe = Scorer("dataframe", frame_predict)
    try:
        native = predictor.get_raw_model() if hasattr(predictor, "get_raw_model") else predictor
    except NotImplementedError:  # a custom pyfunc model has no native estimator
        return dataframe
    numeric = all(
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
        for t in (schema.field(c).type for c in features)
    )
    if not numeric or not hasattr(native, "predict"):
        return dataframe
    # The estimator's training order, when it records one (the signature may list columns otherwise).
    trained = [str(c) for c in getattr(native, "feature_names_in_", [])]
    order = trained if sorted(trained) == sorted(features) else list(features)

    def matrix_predict(batch: pa.RecordBatch) -> np.ndarray:
        matrix = np.column_stack([batch.column(c).to_numpy(zero_copy_only=False) for c in order]).astype(
            np.float64, copy=False
        )
        with warnings.catch_warnings():
            # Fitted on a DataFrame, scikit-learn warns that a matrix has no feature names.
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return _as_vector(native.predict(matrix))

    probe = first.slice(0, PROBE_ROWS)
    try:
        exact = np.array_equal(matrix_predict(probe), frame_predict(probe), equal_nan=True)
    except Exception as err:  # whatever the estimator raises on a matrix: it needs DataFrames
        log.info("Scoring with DataFrames: the native model does not take a matrix (%s: %s)", type(err).__name__, err)
        return dataframe
    if not exact:
        log.info("Scoring with DataFrames: the native model's matrix predictions differ on the first rows")
        return dataframe
    return Scorer("numpy", matrix_predict)


def check_destination(
    destination: str, files: Sequence[str], source: str, field: str = "output_path", source_field: str = "input_path"
) -> None:
    """Refuse an output that is a folder, one of the input files, or inside the input folder."""
    target = os.path.realpath(destination)
    if os.path.isdir(target):
        raise InvalidInputError(field, f"{destination!r} is an existing folder; give a file path")
    if any(target == os.path.realpath(f) for f in files):
        raise InvalidInputError(field, f"{destination!r} is the input ({source_field}); write predictions elsewhere")
    if os.path.isdir(source):
        root = os.path.realpath(source)
        if os.path.commonpath([root, target]) == root:
            raise InvalidInputError(field, f"{destination!r} is inside the input folder {source!r}")


@contextlib.contextmanager
def exclusive_output(destination: str, field: str = "output_path") -> Iterator[str]:
    """Hold an exclusive lock on ``destination`` for the block; yield a fresh temp path beside it.

    The lock is ``flock`` on ``.<name>.lock`` in the output's folder (released by the
    kernel when the process dies, so a killed writer never blocks the next). Temp files
    of earlier writers that died are removed once the lock is held.
    """
    folder, name = os.path.split(os.path.abspath(destination))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise InvalidInputError(field, f"cannot create the folder of {destination!r} ({err})") from err
    lock_path = os.path.join(folder, f".{name}.lock")
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputInUseError(
                f"{field}: {destination!r} is being written by another task (pid {holder}); "
                "refused so the two never interleave"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed this lock file after we opened it: take the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        # Exactly this output's temp names (".<name>.<32 hex>.tmp"), not those of "<name>.x".
        pattern = f".{glob.escape(name)}.{'[0-9a-f]' * 32}.tmp"
        for stale in glob.glob(os.path.join(glob.escape(folder), pattern)):
            log.warning("Removing %s, left by a writer that died", stale)
            os.remove(stale)
        tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
        try:
            yield tmp
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    finally:
        os.remove(lock_path)
        os.close(fd)


def _batches(
    parquet: pq.ParquetFile, path: str, batch_size: int, columns: list[str], field: str
) -> Iterator[pa.RecordBatch]:
    """``iter_batches`` with corrupt data (a bad page, a truncated file) named as the input's fault."""
    import pyarrow as pa

    batches = parquet.iter_batches(batch_size=batch_size, columns=columns)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as err:
            raise InvalidInputError(field, f"{path!r} cannot be read ({err})") from err
        yield batch


def stream_predict(
    predictor: Any,
    source: str,
    destination: str,
    *,
    model_name: str,
    model_version: str,
    feature_columns: Sequence[str] | None,
    batch_size: int = 100_000,
    prediction_column: str = "prediction",
    source_field: str = "input_path",
) -> dict[str, Any]:
    """Score the partition ``source`` batch by batch with ``predictor`` and write ``destination``.

    The output holds the input's non-feature columns (ids, keys) as they are, the
    prediction, and ``model_name``/``model_version`` columns. Returns ``{"rows",
    "output", "seconds", "files", "scored_with"}``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidInputError("batch_size", f"must be a positive integer, got {batch_size!r}")
    files = parquet_files(source, source_field)
    types = signature_types(predictor)
    first_schema = open_parquet(files[0], source_field).schema_arrow
    features = list(feature_columns) if feature_columns else list(types or first_schema.names)
    schema, passthrough = check_schema(files, features, types, source_field)
    if prediction_column in schema.names:
        raise InvalidInputError("prediction_column", f"{prediction_column!r} already exists in the input")
    check_destination(destination, files, source, source_field=source_field)

    writer: pq.ParquetWriter | None = None
    scorer: Scorer | None = None
    rows = 0
    started = last_report = time.monotonic()
    name_dictionary = pa.array([model_name])
    version_dictionary = pa.array([str(model_version)])
    with exclusive_output(destination) as tmp:
        try:
            for path in files:
                for batch in _batches(open_parquet(path, source_field), path, batch_size, schema.names, source_field):
                    if batch.num_rows == 0:
                        continue
                    if scorer is None:
                        scorer = choose_scorer(predictor, features, schema, batch)
                        log.info("Scoring %s with %s (%s path)", source, model_name, scorer.kind)
                    predictions = scorer.predict(batch)
                    n = batch.num_rows
                    # Constant columns as dictionaries: one value stored per batch, not n strings.
                    zeros = pa.array(np.zeros(n, dtype=np.int32))
                    columns = [batch.column(c) for c in passthrough] + [
                        pa.array(predictions),
                        pa.DictionaryArray.from_arrays(zeros, name_dictionary),
                        pa.DictionaryArray.from_arrays(zeros, version_dictionary),
                    ]
                    table = pa.Table.from_arrays(
                        columns, names=[*passthrough, prediction_column, "model_name", "model_version"]
                    )
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                    rows += n
                    now = time.monotonic()
                    if now - last_report >= PROGRESS_EVERY_SECONDS:
                        log.info("Scored %d rows (%.0f rows/s)", rows, rows / (now - started))
                        last_report = now
            if writer is None:
                raise InvalidInputError(source_field, f"{source!r} has no rows")
            writer.close()
            writer = None
            os.replace(tmp, destination)
        finally:
            if writer is not None:
                writer.close()
    elapsed = time.monotonic() - started
    log.info("Scored %d rows in %.1f s (%.0f rows/s) into %s", rows, elapsed, rows / max(elapsed, 1e-9), destination)
    return {
        "rows": rows,
        "output": destination,
        "seconds": round(elapsed, 3),
        "files": len(files),
        "scored_with": scorer.kind if scorer else None,
    }
