"""Reading versions with the provider's typed not-found errors.

Works over anything with ``MlflowClient``'s read methods (the client itself, or
``rest.RestReads``). MLflow reports a missing model, version and alias with the same
codes (``RESOURCE_DOES_NOT_EXIST``; a missing alias is ``INVALID_PARAMETER_VALUE``), so
a miss is followed by one search that tells the three apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import (
    AliasNotFoundError,
    ModelNotFoundError,
    NotFoundError,
    VersionNotFoundError,
)
from airflow_registry_provider.hooks.mlflow import errors
from airflow_registry_provider.model_version import ModelVersion

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion as MlflowModelVersion

_NOT_FOUND = (errors.RESOURCE_DOES_NOT_EXIST, errors.INVALID_PARAMETER_VALUE)
#: What a write reports for a missing model or version.
WRITE_NOT_FOUND = (errors.RESOURCE_DOES_NOT_EXIST,)


def registry_client(client: Any) -> Any:
    """The registry client behind an ``MlflowClient``, for calls on models with many versions.

    MlflowClient's registry writes (and its download-URI lookup) first fetch the whole
    registered model, all its versions, to rule out prompts: on a model with 10,000
    versions that costs ~50x the call itself. The hook only manages registered models.
    """
    return client._get_registry_client()


def to_version(
    mv: MlflowModelVersion,
    metrics: Mapping[str, float] | None = None,
    aliases: Mapping[str, list[str]] | None = None,
) -> ModelVersion:
    """The provider's view of an MLflow model version."""
    return ModelVersion(
        model_name=mv.name,
        version=str(mv.version),
        uri=f"models:/{mv.name}/{mv.version}",
        version_name=mv.tags.get(tag_keys.VERSION_NAME),
        aliases=tuple(mv.aliases or (aliases or {}).get(str(mv.version), ())),
        tags=dict(mv.tags),
        metrics=dict(metrics or {}),
        description=mv.description or None,
        created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC) if mv.creation_timestamp else None,
        stage=mv.current_stage if mv.current_stage and mv.current_stage != "None" else None,
        run_id=mv.run_id or None,
    )


class Lookup:
    """Typed reads through ``reads``; ``where`` names the registry in messages.

    Model names must be validated by the caller (they go into search filters).
    """

    def __init__(self, reads: Any, where: str) -> None:
        self.reads = reads
        self.where = where

    def model(self, model_name: str) -> Any:
        """The registered model (from a search: get_registered_model loads every version), or None."""
        found = self.reads.search_registered_models(f"name = '{model_name}'", max_results=1)
        return found[0] if found else None

    def model_not_found(self, model_name: str) -> ModelNotFoundError:
        return ModelNotFoundError("model_name", f"model {model_name!r} does not exist in {self.where}")

    def missing(self, model_name: str, *, version: str | None = None, alias: str | None = None) -> NotFoundError:
        """The error for a version or alias that was not found: is the model there at all?"""
        if self.model(model_name) is None:
            return self.model_not_found(model_name)
        if alias is not None:
            return AliasNotFoundError("alias", f"no version of model {model_name!r} holds alias {alias!r}")
        return VersionNotFoundError("version", f"version {version!r} of model {model_name!r} does not exist")

    @contextmanager
    def not_found(
        self,
        model_name: str,
        *,
        version: str | None = None,
        alias: str | None = None,
        codes: tuple[str, ...] = _NOT_FOUND,
    ) -> Iterator[None]:
        """Raise the typed error when MLflow reports the model, version or alias missing.

        Writes pass ``codes=(RESOURCE_DOES_NOT_EXIST,)``: their INVALID_PARAMETER_VALUE
        blames a value (a stage, a tag), which the hook reports under its field. A version
        id that is not a number is reported as a missing version before anything is asked.
        """
        from mlflow.exceptions import MlflowException

        if version is not None and not (version.isascii() and version.isdigit()):  # ids are positive integers
            raise self.missing(model_name, version=version)
        try:
            yield
        except MlflowException as err:
            if errors.error_code(err) not in codes:
                raise
            raise self.missing(model_name, version=version, alias=alias) from err

    def version(self, model_name: str, version: str) -> MlflowModelVersion:
        version = str(version)
        with self.not_found(model_name, version=version):
            return self.reads.get_model_version(model_name, version)

    def by_alias(self, model_name: str, alias: str) -> MlflowModelVersion:
        with self.not_found(model_name, alias=alias):
            return self.reads.get_model_version_by_alias(model_name, alias)

    def run_metrics(self, run_id: str | None) -> dict[str, float]:
        from mlflow.exceptions import MlflowException

        if not run_id:
            return {}
        try:
            return dict(self.reads.get_run(run_id).data.metrics)
        except MlflowException as err:
            if errors.error_code(err) != errors.RESOURCE_DOES_NOT_EXIST:
                raise
            return {}  # the version's run was deleted
