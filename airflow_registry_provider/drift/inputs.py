"""Tabular inputs of the drift engine: Parquet paths, pyarrow Tables, pandas DataFrames.

Columns are read one at a time, so a check holds only the columns in flight in memory,
and each is turned into exactly what the statistics need: a sorted float64 array for a
numeric column, category counts for a categorical one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airflow_registry_provider.drift.stats import FloatArray, sort_finite
from airflow_registry_provider.exceptions import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

TableLike = Union[str, "os.PathLike[str]", pa.Table, "pd.DataFrame"]
"""Data the engine accepts: a Parquet file path, a pyarrow Table or a DataFrame."""

NUMERIC: Final = "numeric"
CATEGORICAL: Final = "categorical"

#: Numpy sorts release the GIL, so threads over columns use every core. More than four
#: threads would mostly multiply the memory of columns in flight.
MAX_WORKERS = min(4, os.cpu_count() or 1)

T = TypeVar("T")
R = TypeVar("R")


class TableInput:
    """A table whose columns can be read one by one, from any of :data:`TableLike`."""

    def __init__(self, data: TableLike, field: str) -> None:
        self.field = field
        self._path: Path | None = None
        self._table: pa.Table | None = None
        if isinstance(data, pa.Table):
            self._table = data
        elif isinstance(data, (str, os.PathLike)):
            self._path = Path(data)
            try:
                # pq.read_table would import pyarrow.dataset, which imports pandas
                # (about a second); ParquetFile reads the same columns without it.
                meta = pq.ParquetFile(self._path)
            except (OSError, pa.ArrowException) as exc:
                raise InvalidInputError(field, f"cannot read Parquet file {data}: {exc}") from exc
            self.schema: pa.Schema = meta.schema_arrow
            self.num_rows: int = meta.metadata.num_rows
        elif _is_dataframe(data):
            self._table = pa.Table.from_pandas(data, preserve_index=False)
        else:
            raise InvalidInputError(
                field,
                f"expected a Parquet path, a pyarrow.Table or a pandas.DataFrame, got {type(data).__name__}",
            )
        if self._table is not None:
            self.schema = self._table.schema
            self.num_rows = self._table.num_rows

    @property
    def names(self) -> list[str]:
        """Column names in table order."""
        return list(self.schema.names)

    def column(self, name: str) -> pa.ChunkedArray:
        """Read one column. Safe to call from several threads at once."""
        if self._table is not None:
            return self._table.column(name)
        # One ParquetFile per call: a ParquetFile is not meant to be shared across
        # threads.
        return pq.ParquetFile(self._path).read(columns=[name], use_threads=False).column(0)


def _is_dataframe(data: Any) -> bool:
    # A DataFrame can only exist if pandas is already imported; never import it here.
    pd_module = sys.modules.get("pandas")
    return pd_module is not None and isinstance(data, pd_module.DataFrame)


def type_family(arrow_type: pa.DataType) -> str | None:
    """Type family: int, float, bool, string or null; None if unsupported."""
    if pa.types.is_dictionary(arrow_type):
        return type_family(arrow_type.value_type)
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_null(arrow_type):
        return "null"
    return None


def default_kind(family: str) -> str:
    """Numbers are numeric by default; strings, booleans (and all-null) categorical."""
    return NUMERIC if family in ("int", "float") else CATEGORICAL


def families_compatible(kind: str, reference: str, current: str) -> bool:
    """Whether a column of family ``current`` can be compared with ``reference``.

    Integers and floats are interchangeable as numbers (a pandas integer column with
    nulls becomes float), but not as categories, whose labels are the values' text.
    A column typed ``null`` holds no values and fits anything.
    """
    if "null" in (reference, current) or reference == current:
        return True
    return kind == NUMERIC and {reference, current} <= {"int", "float"}


def numeric_values(column: pa.ChunkedArray) -> tuple[FloatArray, int, int]:
    """``(sorted finite values, missing count, infinite count)`` of a numeric column.

    Nulls and NaN both count as missing.
    """
    if pa.types.is_null(column.type):
        return np.empty(0), len(column), 0
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        column = column.cast(pa.float64())  # decimals, dictionary-encoded numbers
    chunks = [_as_numpy(chunk) for chunk in column.chunks]
    return sort_finite(chunks[0] if len(chunks) == 1 else np.concatenate([np.empty(0), *chunks]))


def _as_numpy(chunk: pa.Array) -> np.ndarray:
    """A numeric arrow array as numpy, nulls as NaN.

    Read from the arrow buffers by hand because every pyarrow conversion to numpy
    (``to_numpy``, ``__array__``, ``fill_null`` with a float) imports pandas, which
    costs more than a second, longer than the whole check of a million-row batch.
    """
    arrow_type = chunk.type
    kind = "f" if pa.types.is_floating(arrow_type) else "i" if pa.types.is_signed_integer(arrow_type) else "u"
    dtype = np.dtype(f"{kind}{arrow_type.bit_width // 8}")
    validity, data = chunk.buffers()[:2]
    if data is None:  # an all-null array may have no data buffer
        return np.full(len(chunk), np.nan)
    values = np.frombuffer(data, dtype=dtype, count=len(chunk), offset=chunk.offset * dtype.itemsize)
    if chunk.null_count == 0:
        return values
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    valid = bits[chunk.offset : chunk.offset + len(chunk)].view(bool)
    return np.where(valid, values, np.nan)


def category_counts(column: pa.ChunkedArray) -> tuple[dict[str, int], int]:
    """``({category: count}, missing count)`` of a categorical column.

    Categories are the values' text (``str(value)``); NaN in a float column is missing.
    """
    if pa.types.is_null(column.type):
        return {}, len(column)
    if pa.types.is_dictionary(column.type):
        # Decoded: the chunks may carry different dictionaries.
        column = column.cast(column.type.value_type)
    counts = pc.value_counts(column)
    keys = counts.field("values").to_pylist()
    numbers = counts.field("counts").to_pylist()
    frequencies: dict[str, int] = {}
    missing = 0
    for key, number in zip(keys, numbers, strict=True):
        if key is None or (isinstance(key, float) and np.isnan(key)):
            missing += number
        else:
            text = str(key)
            frequencies[text] = frequencies.get(text, 0) + number
    return frequencies, missing


def parallel_map(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[function(item) for item in items]`` on a thread pool (order kept)."""
    work: Sequence[T] = list(items)
    if len(work) <= 1 or MAX_WORKERS == 1:
        return [function(item) for item in work]
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(work))) as pool:
        return list(pool.map(function, work))
