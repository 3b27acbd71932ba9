"""The connector-level fakes Snowpark talks to: a cursor and a connection that forward to the double."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest import mock

import pandas as pd

if TYPE_CHECKING:
    from tests.snowflake.session_double import SnowflakeDouble


@dataclass
class Result:
    columns: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]


class DoubleSQLError(Exception):
    """Raised inside the fake cursor; converted to the connector's ProgrammingError."""

    def __init__(self, message: str, errno: int = 2003) -> None:
        super().__init__(message)
        self.errno = errno


class FakeCursor:
    """The part of ``SnowflakeCursor`` that Snowpark uses."""

    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.sfqid: str | None = None
        self.query: str | None = None
        self._request_id = uuid.uuid4()
        self.description: list[Any] = []
        self._rows: list[tuple[Any, ...]] = []
        self._query_result_format = "json"
        self.rowcount = 0

    @property
    def request_id(self) -> uuid.UUID:
        return self._request_id

    def execute(self, command: str, params: Any = None, _statement_params: Any = None, **kwargs: Any) -> FakeCursor:
        command = _bind(command, params)
        self.query = command
        self.sfqid = str(uuid.uuid4())
        result = self.connection.run(command, describe=False)
        self.description = _describe(result)
        self._rows = list(result.rows)
        self.rowcount = len(self._rows)
        return self

    def describe(self, command: str, *args: Any, **kwargs: Any) -> list[Any]:
        self.query = command
        self.sfqid = str(uuid.uuid4())
        return _describe(self.connection.run(command, describe=True))

    def _upload(self, local_file_name: str, stage_location: str, options: Any = None) -> None:
        """The connector's PUT, used by ``write_pandas``."""
        self.connection.double.upload(local_file_name.strip("'").removeprefix("file://"), stage_location)

    def _log_telemetry_job_data(self, *args: Any) -> None:
        pass

    _describe_internal = describe

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def fetch_pandas_all(self, **kwargs: Any) -> pd.DataFrame:
        return pd.DataFrame(self._rows, columns=[d.name for d in self.description])

    def fetch_pandas_batches(self, **kwargs: Any) -> Iterator[pd.DataFrame]:
        return iter([self.fetch_pandas_all()])

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)

    def close(self) -> None:
        pass


def _bind(command: str, params: Any) -> str:
    """Inline qmark parameters the way the server would see them."""
    if not params:
        return command
    values = iter(params)
    return re.sub(r"\?", lambda _: "'" + str(next(values)).replace("'", "''") + "'", command)


_TYPE_CODES = {
    **dict.fromkeys(("NUMBER", "FIXED", "DECIMAL", "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT"), "FIXED"),
    **dict.fromkeys(("FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "REAL"), "REAL"),
    "BOOLEAN": "BOOLEAN",
    "OBJECT": "OBJECT",
    "VARIANT": "VARIANT",
    "ARRAY": "ARRAY",
}


def _describe(result: Result) -> list[Any]:
    """Column metadata as the connector reports it (only the fields Snowpark reads)."""
    from snowflake.connector.constants import FIELD_NAME_TO_ID
    from snowflake.connector.cursor import ResultMetadata

    metadata = []
    for name, sql_type in result.columns:
        base = sql_type.split("(")[0].upper()
        code = "TIMESTAMP_LTZ" if base.startswith("TIMESTAMP") else _TYPE_CODES.get(base, "TEXT")
        precision, scale, size = (38, 0, None) if code == "FIXED" else (None, None, 16777216)
        if base in ("NUMBER", "DECIMAL") and "," in sql_type:
            scale = int(sql_type.split(",")[1].rstrip(")"))
        metadata.append(ResultMetadata(name, FIELD_NAME_TO_ID[code], None, size, precision, scale, True))
    return metadata


class FakeConnection:
    """The part of ``SnowflakeConnection`` that Snowpark uses."""

    def __init__(self, double: SnowflakeDouble) -> None:
        self.double = double
        self._session_parameters: dict[str, Any] = {}
        self.session_id = next(double._seq)
        self._telemetry = mock.MagicMock()
        self.host = f"{double.account}.snowflakecomputing.com"
        self.account = double.account
        self.warehouse = "COMPUTE_WH"
        self.user = "AIRFLOW"
        self.closed = False

    @property
    def role(self) -> str:
        return self.double.current_role

    @property
    def database(self) -> str:
        return self.double.current_database

    @property
    def schema(self) -> str:
        return self.double.current_schema

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def run(self, command: str, *, describe: bool) -> Result:
        from snowflake.connector.errors import ProgrammingError

        try:
            return self.double.execute(command, describe=describe)
        except DoubleSQLError as err:
            raise ProgrammingError(msg=str(err), errno=err.errno, sqlstate="02000", query=command) from None

    def is_closed(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True
