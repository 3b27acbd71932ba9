"""Copying a model version from one registry to another: lineage, carried metadata, routes.

Pure module (no Airflow, MLflow or Snowflake imports). MLflow's ``copy_model_version``
does not cross registries and Snowflake's copy (``Registry.log_model(<ModelVersion>)``)
does not leave Snowflake, so a copy is planned here and carried out by the hooks:

* **files** (MLflow → MLflow): the source's stored files are downloaded (verified against
  their manifest), uploaded into the target's own artifact store and registered;
* **snowflake** (Snowflake → Snowflake): the library copies the version server-side;
* **native** (MLflow → Snowflake): the estimator is loaded (after verification) and
  logged again, with a Snowflake signature derived from the MLflow one.

Every copy carries lineage tags naming the source registry, model and version, and one
digest of the three (:data:`COPY_SOURCE`), which is how a retry finds the copy it made.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_registry_provider import tags
from airflow_registry_provider.exceptions import InvalidInputError, UnsupportedOperationError
from airflow_registry_provider.hooks.snowflake.packaging import WAREHOUSE_FLAVORS

if TYPE_CHECKING:
    import pandas as pd

COPIED_FROM_REGISTRY = tags.PREFIX + "copied_from_registry"
COPIED_FROM_MODEL = tags.PREFIX + "copied_from_model"
COPIED_FROM_VERSION = tags.PREFIX + "copied_from_version"
#: sha256 of the three above: one searchable value (no quoting issues in filters).
COPY_SOURCE = tags.PREFIX + "copy_source"
#: ``<dag_id>/<run_id>/<task_id>`` of the task that made the copy (a retry of it completes its record).
COPIED_BY = tags.PREFIX + "copied_by"

#: Tags that describe the version's life in its source registry, not the model: a copy
#: starts without them (it passes the target environment's gate and promotion afresh), and
#: the manifest is recomputed by the target for the files it stores.
NOT_CARRIED = frozenset(
    {
        tags.MODEL_MANIFEST,
        tags.MODEL_SHA256,
        tags.VALIDATION_STATUS,
        tags.VALIDATION_RESULT,
        tags.VALIDATION_AT,
        tags.PROMOTED_BY,
        tags.PROMOTED_AT,
        tags.PROMOTION_REASON,
        tags.PROMOTION_RUN,
        tags.ARCHIVED,
        tags.AUDIT_LOG,
        tags.DRIFT_SUMMARY,
        tags.MODEL_CARD,
        tags.REFERENCE_PROFILE,
    }
)
#: Prefixes of keys never carried: MLflow's ``mlflow.*`` system tags, and the lineage of
#: an earlier copy (a copy of a copy names its own source).
NOT_CARRIED_PREFIXES = ("mlflow.", tags.PREFIX + "copied_from", COPY_SOURCE, COPIED_BY)

FILES = "files"
SNOWFLAKE = "snowflake"
NATIVE = "native"
#: (source backend, target backend) -> how the copy is made.
ROUTES: Mapping[tuple[str, str], str] = {
    ("mlflow", "mlflow"): FILES,
    ("snowflake", "snowflake"): SNOWFLAKE,
    ("mlflow", "snowflake"): NATIVE,
}

#: MLflow column types (``mlflow.types.DataType`` names) -> snowflake-ml ``DataType`` members.
MLFLOW_TO_SNOWFLAKE_TYPES: Mapping[str, str] = {
    "boolean": "BOOL",
    "integer": "INT32",
    "long": "INT64",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "STRING",
    "binary": "BYTES",
    "datetime": "TIMESTAMP_NTZ",
}


@dataclass(frozen=True)
class CopySource:
    """Where a copy comes from: a registry (URI or location, without credentials), model and version."""

    registry: str
    model_name: str
    version: str

    @property
    def digest(self) -> str:
        text = json.dumps([self.registry, self.model_name, self.version], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def lineage_tags(self) -> dict[str, str]:
        return {
            COPIED_FROM_REGISTRY: self.registry,
            COPIED_FROM_MODEL: self.model_name,
            COPIED_FROM_VERSION: self.version,
            COPY_SOURCE: self.digest,
        }

    def describe(self) -> str:
        return f"version {self.version} of {self.model_name!r} in {self.registry}"


@dataclass(frozen=True)
class NativeSource:
    """A source version as another backend logs it again: the library's estimator and its inputs.

    ``inputs`` are the MLflow signature's ``(column, type)``; ``sample`` has those columns
    with those types (the stored input example, else one synthesized row), which is what
    Snowflake derives the version's SQL signature from.
    """

    estimator: Any
    flavor: str
    inputs: list[tuple[str, str]]
    sample: pd.DataFrame
    #: ``integrity.manifest_digest`` of the source's files as downloaded (and verified).
    files_sha256: str


def route(source_backend: str, target_backend: str) -> str:
    """How a version moves from one backend to another; UnsupportedOperationError when it cannot."""
    try:
        return ROUTES[(source_backend, target_backend)]
    except KeyError:
        supported = ", ".join(f"{s} -> {t}" for s, t in ROUTES)
        raise UnsupportedOperationError(
            "target_registry_conn_id",
            f"cannot copy a {source_backend} version into a {target_backend} registry; supported: {supported}",
        ) from None


def check_warehouse_flavor(flavors: Sequence[str], what: str) -> str:
    """The flavor a warehouse serves among an MLflow model's flavors, or InvalidInputError naming them."""
    for flavor in flavors:
        if flavor in WAREHOUSE_FLAVORS:
            return flavor
    shown = ", ".join(sorted(flavors)) or "none"
    raise InvalidInputError(
        "model_version",
        f"{what} has MLflow flavor(s) {shown}; a Snowflake warehouse serves only "
        f"{', '.join(sorted(WAREHOUSE_FLAVORS))} models, so it cannot be copied to Snowflake",
    )


def carried_tags(source_tags: Mapping[str, str]) -> dict[str, str]:
    """The source version's tags that describe the model and travel with a copy."""
    return {
        key: value
        for key, value in source_tags.items()
        if key not in NOT_CARRIED and not key.startswith(NOT_CARRIED_PREFIXES)
    }


def snowflake_feature_types(columns: Sequence[tuple[str, str]], field: str = "model_version") -> list[tuple[str, str]]:
    """An MLflow signature's ``(column, type)`` list as ``(column, snowflake DataType member)``.

    Raises InvalidInputError naming the column whose type Snowflake has no equivalent for.
    """
    mapped = []
    for name, mlflow_type in columns:
        member = MLFLOW_TO_SNOWFLAKE_TYPES.get(mlflow_type)
        if member is None:
            raise InvalidInputError(
                field,
                f"input column {name!r} has MLflow type {mlflow_type!r}, which has no Snowflake equivalent "
                f"(supported: {', '.join(sorted(MLFLOW_TO_SNOWFLAKE_TYPES))})",
            )
        mapped.append((name, member))
    return mapped
