"""Snowflake's side of a copy between registries.

* Snowflake → Snowflake: ``Registry.log_model(<source ModelVersion>, model_name=…, version_name=…)``
  (``CREATE MODEL … WITH VERSION … FROM MODEL … VERSION …``, or ``ALTER MODEL … ADD VERSION … FROM
  MODEL …``) copies the version's files inside the account, one statement, nothing
  downloaded. The copied version starts without metadata or comment: the provider's tags
  (with the source's manifest, the files being the same), metrics and the comment are
  written after it, as for a new version.
* MLflow → Snowflake needs nothing here: the estimator is logged as a new version
  (``register_version``) from a sample with the MLflow signature's columns and types.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from airflow_registry_provider.exceptions import UnsupportedOperationError, VersionConflictError
from airflow_registry_provider.hooks.snowflake import metadata, names

if TYPE_CHECKING:
    from airflow_registry_provider.hooks.base import RegistryHook
    from airflow_registry_provider.hooks.snowflake.hook import SnowflakeRegistryHook
    from airflow_registry_provider.model_version import ModelVersion


def copy_version(
    hook: SnowflakeRegistryHook,
    source_hook: RegistryHook,
    source: ModelVersion,
    model_name: str,
    *,
    tags: Mapping[str, str],
    metrics: Mapping[str, float],
) -> ModelVersion:
    """Copy ``source`` (a version in ``source_hook``'s registry, same account) into ``model_name``.

    Everything Snowflake would refuse is checked before the copy statement; the caller
    has checked that no copy of ``source`` exists in the target yet.
    """
    from airflow_registry_provider.hooks.snowflake.core import SnowflakeCore

    if not isinstance(source_hook, SnowflakeCore) or source_hook.settings.account != hook.settings.account:
        raise UnsupportedOperationError(
            "target_registry_conn_id",
            "Snowflake copies a version only from a registry in the same account "
            f"({hook.settings.account}); copy across accounts through a share or an MLflow registry",
        )
    model_name = hook.validate_model_name(model_name, "target_model_name")
    version_name = source.version_name or source.version
    version = hook.validate_version_name(version_name)
    if hook.find_version(model_name, version_name) is not None:
        raise VersionConflictError(
            "target_model_name",
            f"{model_name} in {hook.location} already has version {version} ({version_name}), not copied from "
            f"version {source.version} of {source.model_name} in {source_hook.registry_location()}; "
            "versions are never overwritten, copy into another model",
        )
    checked_tags, checked_metrics = hook.validate_tags(tags, "tags"), hook.validate_metrics(metrics)
    metadata.merged({}, metrics=checked_metrics, tags=checked_tags)  # checked before anything is sent
    if source.description:
        names.check_dollar_quoting(source.description, "description")
    if hook._model_row(model_name) is None:
        hook._roles.require([hook._schema_need("CREATE MODEL", f"create model {model_name}")])
    else:
        hook._require_owner(model_name, f"add version {version}")
    with source_hook._translated(source.model_name):
        source_mv = source_hook._model_version(source.model_name, source.version)
    hook.log.info("Copying %s into %s version %s in %s", source.uri, model_name, version, hook.location)
    with hook._writing(model_name, model_changed=True, owner=hook._roles.role), hook._hidden_model(model_name):
        hook.registry.log_model(source_mv, model_name=model_name, version_name=version)
    document = metadata.merged({}, metrics=checked_metrics, tags=checked_tags)
    hook._write_metadata(model_name, version, document)
    if source.description:
        hook.set_description(model_name, version, source.description)
    row = {"name": version, "metadata": document, "comment": source.description, "created_on": datetime.now(UTC)}
    return hook._to_version(model_name, row)


def discard_copy(hook: SnowflakeRegistryHook, model_name: str, version: str) -> None:
    """Drop a copy; the model too when the copy is its only version (a default version cannot be dropped)."""
    model_name = hook.validate_model_name(model_name)
    version = names.version_id(version)
    if set(hook._listing(model_name)) != {version}:
        hook.delete_version(model_name, version)
        return
    hook._require_owner(model_name, f"drop model {model_name}, created by the copy")
    with hook._writing(model_name, version=version, model_changed=True, dropped=True):
        hook.registry.delete_model(model_name)
