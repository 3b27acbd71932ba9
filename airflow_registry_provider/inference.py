"""Streaming batch inference from Parquet to Parquet.

Pure module (no Airflow imports). Memory is bounded by one row group plus one batch:
the input is read with ``ParquetFile.iter_batches`` and predictions are appended with
a ``ParquetWriter``. The output is written to a temp file in the destination folder and
renamed at the end, so a failed run leaves no partial file.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

from airflow_registry_provider.exceptions import InvalidInputError

log = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 10.0


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
    """Score ``source`` batch by batch with ``predictor`` and write ``destination``.

    The output holds the input's non-feature columns (ids, keys) as they are, the
    prediction, and ``model_name``/``model_version`` columns.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if batch_size <= 0:
        raise InvalidInputError("batch_size", f"must be positive, got {batch_size}")
    if not os.path.isfile(source):
        raise InvalidInputError(source_field, f"file {source!r} does not exist")
    # pyarrow's default pre_buffer reads every requested row group's column chunks before
    # the first batch (the whole file); without it memory is one row group plus one batch.
    parquet = pq.ParquetFile(source, pre_buffer=False)
    names = parquet.schema_arrow.names
    features = list(feature_columns) if feature_columns else names
    missing = [c for c in features if c not in names]
    if missing:
        raise InvalidInputError(source_field, f"missing columns the model needs: {missing}")
    passthrough = [c for c in names if c not in features]
    if prediction_column in names:
        raise InvalidInputError("prediction_column", f"{prediction_column!r} already exists in the input")

    tmp = os.path.join(
        os.path.dirname(os.path.abspath(destination)), f".{os.path.basename(destination)}.{uuid.uuid4().hex}.tmp"
    )
    writer: pq.ParquetWriter | None = None
    rows = 0
    started = last_report = time.monotonic()
    name_dictionary = pa.array([model_name])
    version_dictionary = pa.array([str(model_version)])
    try:
        for batch in parquet.iter_batches(batch_size=batch_size, columns=features + passthrough):
            frame = batch.select(features).to_pandas()
            predictions = np.asarray(predictor.predict(frame))
            if predictions.ndim > 1 and predictions.shape[1] == 1:
                predictions = predictions.ravel()
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
        if os.path.exists(tmp):
            os.remove(tmp)
    elapsed = time.monotonic() - started
    log.info("Scored %d rows in %.1f s (%.0f rows/s) into %s", rows, elapsed, rows / max(elapsed, 1e-9), destination)
    return {"rows": rows, "output": destination, "seconds": round(elapsed, 3)}
