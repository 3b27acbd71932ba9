"""Warehouse inference: score a table or a query with ``ModelVersion.run`` and save the result.

No row passes through the worker: the scored DataFrame is written with Snowpark's
``save_as_table``. Overwriting keeps the table's grants (``COPY GRANTS``), so the roles
that read the predictions keep reading them after every run; ``rows`` is what this run
wrote, in every write mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.snowflake import names

if TYPE_CHECKING:
    from snowflake.ml.model import ModelVersion as LibraryModelVersion
    from snowflake.snowpark import DataFrame, Session

PREDICT = "predict"
NOT_FOUND = 2003  # Snowflake: object does not exist or not authorized
#: Errors describing the input that no retry can fix: missing, a syntax error, an unknown column.
UNREADABLE = frozenset({NOT_FOUND, 1003, 904})
WRITE_MODES = frozenset({"overwrite", "append", "errorifexists"})


@dataclass(frozen=True)
class BatchRequest:
    """A checked batch-inference request (every name validated, nothing sent yet)."""

    source_table: str | None
    source_query: str | None
    destination: str
    prediction_column: str
    partition_column: str | None
    mode: str

    @classmethod
    def build(
        cls,
        source: str,
        destination: str,
        *,
        prediction_column: str,
        partition_column: str | None,
        mode: str,
        session_location: Callable[[], str],
    ) -> BatchRequest:
        """Check every name; ``session_location()`` (``DB.SCHEMA``) is where unqualified tables resolve."""
        if not isinstance(source, str) or not source.strip():
            raise InvalidInputError("input_path", "give a table name or a SELECT query")
        if mode not in WRITE_MODES:
            raise InvalidInputError("batch_write_mode", f"must be one of {sorted(WRITE_MODES)}, not {mode!r}")
        table = query = None
        if names.is_query(source):
            query = source.strip().rstrip(";")
            if ";" in query:
                raise InvalidInputError("input_path", "give one SELECT statement")
        else:
            table = names.qualified_name(source, "input_path")
        output = names.qualified_name(destination, "output_path")
        if table is not None and _qualified(table, session_location()) == _qualified(output, session_location()):
            raise InvalidInputError("output_path", f"{destination!r} is the input table; write predictions elsewhere")
        return cls(
            source_table=table,
            source_query=query,
            destination=output,
            prediction_column=names.identifier(prediction_column, "prediction_column"),
            partition_column=(
                names.identifier(partition_column, "partition_column") if partition_column is not None else None
            ),
            mode=mode,
        )


def _qualified(table: str, session_location: str) -> str:
    parts = table.split(".")
    defaults = session_location.split(".")
    return ".".join([*defaults[: 3 - len(parts)], *parts])


def _count(session: Session, table: str) -> int:
    return int(session.table(table).count())


def _count_if_exists(session: Session, table: str) -> int:
    from snowflake.snowpark.exceptions import SnowparkSQLException

    try:
        return _count(session, table)
    except SnowparkSQLException as err:
        if err.sql_error_code == NOT_FOUND:
            return 0
        raise


def run_batch(
    session: Session, mv: LibraryModelVersion, request: BatchRequest, *, model_name: str, version: str
) -> dict[str, Any]:
    """Score ``request``'s source with ``mv`` in the warehouse and write the destination table."""
    from snowflake.snowpark.exceptions import SnowparkSQLException
    from snowflake.snowpark.functions import col, lit

    started = time.monotonic()
    try:
        frame: DataFrame = (
            session.table(request.source_table) if request.source_table else session.sql(str(request.source_query))
        )
        inputs = list(frame.columns)
    except SnowparkSQLException as err:
        if err.sql_error_code not in UNREADABLE:
            raise
        raise InvalidInputError("input_path", f"cannot read it: {err.message}") from err
    scored = mv.run(frame, function_name=PREDICT, partition_column=request.partition_column)
    signature = next(f for f in mv.show_functions() if f["target_method"] == PREDICT)["signature"]
    # Column names as Snowpark spells them: TENURE, or "tenure" when case-sensitive.
    features = {spec.name.upper() for spec in signature.inputs}
    outputs = [c for c in scored.columns if c not in inputs]
    keep = [c for c in inputs if c.strip('"').upper() not in features and c != request.partition_column]
    if request.partition_column is not None:
        keep.append(request.partition_column)
    renamed = [col(outputs[0]).alias(request.prediction_column)] if len(outputs) == 1 else [col(c) for c in outputs]
    result = scored.select(
        *[col(c) for c in keep],
        *renamed,
        lit(model_name).alias("MODEL_NAME"),
        lit(version).alias("MODEL_VERSION"),
    )
    # Appending: the rows this run wrote are the table's growth (a missing table starts at 0).
    before = _count_if_exists(session, request.destination) if request.mode == "append" else 0
    result.write.save_as_table(request.destination, mode=request.mode, copy_grants=request.mode == "overwrite")
    rows = _count(session, request.destination) - before
    return {
        "rows": rows,
        "output": request.destination,
        "seconds": round(time.monotonic() - started, 3),
        "mode": request.mode,
    }
