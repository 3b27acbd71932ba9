"""An ``mlflow_registry`` connection's settings, read once per hook.

No Airflow or mlflow imports: :meth:`MlflowSettings.from_connection`
takes anything with Airflow's ``Connection`` attributes.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.mlflow import environment

DEFAULT_EXPERIMENT = "airflow_registry_provider"
DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT = 30
#: Seconds of urllib3 back-off between retries (doubled each time).
BACKOFF_FACTOR = 1


def _whole_number(conn_id: str, extra: dict[str, Any], key: str, default: int, minimum: int) -> int:
    value = extra.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if isinstance(value, bool) or number < minimum or (isinstance(value, float) and not value.is_integer()):
        raise InvalidInputError(
            "registry_conn_id",
            f"connection {conn_id!r}: extra {key!r} must be a whole number >= {minimum}, got {value!r}",
        )
    return number


@dataclass(frozen=True)
class MlflowSettings:
    """Where the registry is and how to talk to it."""

    conn_id: str
    tracking_uri: str
    registry_uri: str
    artifact_location: str | None = None
    experiment_name: str = DEFAULT_EXPERIMENT
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout: int = DEFAULT_TIMEOUT
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    workspace: str = "default"

    @classmethod
    def from_connection(cls, conn_id: str, conn: Any) -> MlflowSettings:
        extra = conn.extra_dejson
        tracking_uri = extra.get("tracking_uri")
        if not tracking_uri:
            if not conn.host:
                raise InvalidInputError(
                    "registry_conn_id", f"connection {conn_id!r} sets neither extra 'tracking_uri' nor a host"
                )
            scheme = conn.schema or "http"
            tracking_uri = f"{scheme}://{conn.host}" + (f":{conn.port}" if conn.port else "")
        return cls(
            conn_id=conn_id,
            tracking_uri=tracking_uri,
            registry_uri=extra.get("registry_uri") or tracking_uri,
            artifact_location=extra.get("artifact_location"),
            experiment_name=extra.get("experiment_name") or DEFAULT_EXPERIMENT,
            max_retries=_whole_number(conn_id, extra, "max_retries", DEFAULT_MAX_RETRIES, 0),
            timeout=_whole_number(conn_id, extra, "timeout", DEFAULT_TIMEOUT, 1),
            login=conn.login or None,
            password=conn.password or None,
            workspace=extra.get("workspace") or "default",
        )

    @property
    def is_server(self) -> bool:
        """A tracking server over REST (else a database store MLflow opens in-process)."""
        return urlparse(self.tracking_uri).scheme in ("http", "https")

    @property
    def display_uri(self) -> str:
        """The tracking URI without any ``user:password@`` part, for messages and logs."""
        parsed = urlparse(self.tracking_uri)
        if parsed.password is None and parsed.username is None:
            return self.tracking_uri
        return parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()

    @property
    def rest_reads(self) -> bool:
        """Whether registry reads can go to the server directly (both URIs are servers)."""
        return all(urlparse(uri).scheme in ("http", "https") for uri in (self.tracking_uri, self.registry_uri))

    @property
    def sqlite_path(self) -> str | None:
        """The database file of a ``sqlite:///`` tracking URI."""
        if not self.tracking_uri.startswith("sqlite:///"):
            return None
        return unquote(self.tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])

    def missing_database(self) -> str | None:
        """Why a sqlite registry cannot be opened without creating it (None when it can, or is no sqlite)."""
        path = self.sqlite_path
        if path is None:
            return None
        if not os.path.isfile(path):
            folder = os.path.dirname(os.path.abspath(path))
            state = "exists" if os.path.isdir(folder) else "does not exist either"
            return (
                f"the sqlite database {path} of connection {self.conn_id!r} does not exist (its folder "
                f"{folder} {state}); MLflow would create an empty registry there. Fix extra 'tracking_uri', "
                "or register a first model to create it"
            )
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone()
        except sqlite3.Error as err:
            return f"{path} cannot be opened as a sqlite database: {err}"
        if found is None:
            return f"{path} is a sqlite database without MLflow's tables: not an MLflow registry"
        return None

    def environment(self) -> dict[str, str]:
        """The variables MLflow's REST client must see for this connection (none for local stores)."""
        if not self.is_server:
            return {}
        values = {
            environment.ENV_MAX_RETRIES: str(self.max_retries),
            environment.ENV_TIMEOUT: str(self.timeout),
            environment.ENV_BACKOFF: str(BACKOFF_FACTOR),
        }
        if self.login:
            values[environment.ENV_USER] = self.login
            values[environment.ENV_PASSWORD] = self.password or ""
        return values

    def default_artifact_location(self) -> str | None:
        """Where this hook's experiment keeps files when the connection does not say.

        For a sqlite store, ``mlartifacts`` beside the database: MLflow would default to
        ``./mlruns`` under whatever the worker's working directory happens to be.
        """
        if self.artifact_location or self.sqlite_path is None:
            return self.artifact_location
        return (Path(self.sqlite_path).parent / "mlartifacts").resolve().as_uri()
