"""``SnowflakeRegistryHook``: the registry contract on the Snowflake Model Registry.

``SnowflakeHook`` (connection type ``snowflake``) -> Snowpark session ->
``snowflake.ml.registry.Registry``. The hook is thin: names (``names.py``), the metadata
layout (``metadata.py``), what is logged (``packaging.py``), alias moves (``aliases.py``),
grants and privileges (``grants.py``), warehouse inference (``inference.py``), files of
versions (``model_files.py``) and of the artifact stage (``stage.py``) each live in their
own module; ``library.py`` is the only one that touches snowflake-ml-python's private
API. Snowflake and snowflake-ml-python are imported inside methods, so importing the
operators costs no Snowflake import.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from airflow_registry_provider.exceptions import InvalidInputError, PrivilegeError
from airflow_registry_provider.hooks.base import ModelPackage, RegistryHook
from airflow_registry_provider.hooks.snowflake import library, metadata, model_files, names, packaging, stage
from airflow_registry_provider.hooks.snowflake.alias_ops import AliasesMixin
from airflow_registry_provider.hooks.snowflake.connection import snowsight_base
from airflow_registry_provider.hooks.snowflake.core import ALREADY_EXISTS, SnowflakeCore
from airflow_registry_provider.hooks.snowflake.grants_ops import GrantsMixin
from airflow_registry_provider.hooks.snowflake.serving import ServingMixin
from airflow_registry_provider.model_version import ModelVersion


class SnowflakeRegistryHook(GrantsMixin, AliasesMixin, ServingMixin, SnowflakeCore):
    """Registry hook for the Snowflake Model Registry.

    Uses a Snowflake connection of ``apache-airflow-providers-snowflake`` (conn type
    ``snowflake``); see ``docs/snowflake.md``. Use it as a context manager, or call
    :meth:`close`, to close its Snowpark session.

    :param registry_conn_id: The Snowflake connection.
    :param database: Registry database (overrides the connection).
    :param schema: Registry schema (overrides the connection).
    :param create_schema: Create the registry schema when it does not exist (extra
        ``create_schema`` does the same).
    :param batch_write_mode: How ``batch_predict`` writes its table: ``overwrite``
        (default), ``append`` or ``errorifexists`` (extra ``batch_write_mode``).
    """

    conn_name_attr = "registry_conn_id"
    default_conn_name = "snowflake_default"
    conn_type = "snowflake"
    hook_name = "Snowflake Model Registry"
    backend: ClassVar[str] = "snowflake"
    has_default_version: ClassVar[bool] = True
    # Model tags are Snowflake object tags; version tags live in the version's metadata.
    max_model_tag_length: ClassVar[int] = metadata.TAG_VALUE_LIMIT
    max_version_tag_length: ClassVar[int] = 100_000
    max_tag_key_length: ClassVar[int] = metadata.TAG_KEY_LIMIT

    def __init__(
        self,
        registry_conn_id: str = default_conn_name,
        *,
        database: str | None = None,
        schema: str | None = None,
        create_schema: bool | None = None,
        batch_write_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            registry_conn_id,
            database=database,
            schema=schema,
            create_schema=create_schema,
            batch_write_mode=batch_write_mode,
            **kwargs,
        )

    # -- writes ----------------------------------------------------------------------------
    def _create_version(self, model_name: str, package: ModelPackage) -> ModelVersion:
        from snowflake.ml.version import VERSION

        version = self.validate_version_name(package.version_name)
        log_plan = packaging.plan(package, library.relaxed_requirement, VERSION)
        metrics = self.validate_metrics(package.metrics)
        tags = self.validate_tags(
            {**package.tags, metadata.WORKER_PACKAGES: packaging.worker_packages_tag(log_plan)}, "tags"
        )
        metadata.merged({}, metrics=metrics, tags=tags)  # checked before anything is sent
        needs = [self._schema_need("CREATE STAGE", "upload the model files")]
        if self._model_row(model_name) is None:
            needs.append(self._schema_need("CREATE MODEL", f"create model {model_name}"))
        else:
            self._require_owner(model_name, f"add version {version}")
        self._roles.require(needs)
        self._check_packages(log_plan)
        self.log.info("Logging %s version %s (%s) to %s", model_name, version, package.version_name, self.location)
        with tempfile.TemporaryDirectory() as saved:
            options = {**log_plan.kwargs["options"], "save_location": saved}
            # A failure may come after CREATE MODEL: the model row is read again next time.
            with self._writing(model_name, model_changed=True, owner=self._roles.role), self._hidden_model(model_name):
                logged = self.registry.log_model(
                    package.model,
                    model_name=model_name,
                    version_name=version,
                    **{**log_plan.kwargs, "options": options},
                )
            self._cache.library_object(model_name, version, lambda: logged)
            tags.update(model_files.manifest_tags(saved))
        # Metrics and tags in one metadata write: the new version has no metadata yet.
        document = metadata.merged({}, metrics=metrics, tags=tags)
        self._write_metadata(model_name, version, document)
        row = {"name": version, "metadata": document, "comment": package.description, "created_on": datetime.now(UTC)}
        return self._to_version(model_name, row)

    @contextmanager
    def _hidden_model(self, model_name: str) -> Iterator[None]:
        """``CREATE MODEL`` of a model that exists, invisible to the role (SHOW MODELS left it out)."""
        from snowflake.snowpark.exceptions import SnowparkSQLException

        try:
            yield
        except SnowparkSQLException as err:
            if err.sql_error_code != ALREADY_EXISTS:
                raise
            raise PrivilegeError(
                "model_name",
                f"model {model_name} already exists in {self.location}, but the connection's role holds no "
                "privilege on it; nothing was registered",
            ) from err

    def _check_packages(self, log_plan: packaging.LogPlan) -> None:
        """The warehouse's dependencies exist in Snowflake's Anaconda channel (one query, shared with the library)."""
        import sys

        if not log_plan.warehouse_requirements:
            return
        wanted = [
            *log_plan.warehouse_requirements,
            f"{packaging.SNOWFLAKE_ML}=={log_plan.worker_packages[packaging.SNOWFLAKE_ML]}",
        ]
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        with self._translated():
            available = library.available_versions(self.session, wanted, python)
        missing = packaging.missing_packages(log_plan.warehouse_requirements, available)
        if missing:
            raise InvalidInputError(
                "backend_options.conda_dependencies",
                f"Snowflake's Anaconda channel (INFORMATION_SCHEMA.PACKAGES) has no version of {', '.join(missing)} "
                f"for Python {python}; relax the pins (relax_version=True), pin versions the channel has, or "
                "target SNOWPARK_CONTAINER_SERVICES",
            )

    def _write_metadata(self, model_name: str, version: str, document: Mapping[str, Any]) -> None:
        with self._writing(model_name, version=version, metadata=document):
            self._client.set_metadata(model_name, version, document)

    def _update_metadata(
        self,
        model_name: str,
        version: str,
        *,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        model_name = self.validate_model_name(model_name)
        version = names.version_id(version)
        metadata.merged({}, metrics=metrics, tags=tags)  # bad input sends nothing
        self._require_owner(model_name, f"change the metadata of version {version}")
        current = self._cache.metadata.get((model_name, version))
        if current is None:
            row = self._version_row(model_name, version)
            if row is None:
                raise self._no_version(model_name, version)
            current = metadata.parse(row.get("metadata"))
        self._write_metadata(model_name, version, metadata.merged(current, metrics=metrics, tags=tags))

    def set_version_tags(self, model_name: str, version: str, tags: Mapping[str, str]) -> None:
        """All tags in one metadata write (read once, merge, write once)."""
        if tags:
            self._update_metadata(model_name, version, tags=self.validate_tags(tags))

    def log_metrics(self, model_name: str, version: str, metrics: Mapping[str, float]) -> None:
        """All metrics in one metadata write; ``show_metrics()`` sees them as the library's own."""
        if metrics:
            self._update_metadata(model_name, version, metrics=self.validate_metrics(metrics))

    def set_description(self, model_name: str, version: str, description: str) -> None:
        """The version's comment (``ALTER MODEL … MODIFY VERSION … SET COMMENT``)."""
        model_name = self.validate_model_name(model_name)
        version = names.version_id(version)
        names.check_dollar_quoting(description, "description")
        if version not in self._listing(model_name):
            raise self._no_version(model_name, version)
        self._require_owner(model_name, f"change the comment of version {version}")
        with self._writing(model_name):
            self._client.set_comment(model_name, version, description)

    def set_model_tags(self, model_name: str, tags: Mapping[str, str]) -> None:
        """``Model.set_tag`` per key; the tag objects are created in the registry schema on first use."""
        model_name = self.validate_model_name(model_name)
        prepared = {k: metadata.fit_tag_value(k, str(v)) for k, v in tags.items()}
        prepared = self.validate_tags(prepared, level="model")
        if not prepared:
            return
        self._require_owner(model_name, "tag it")
        self._roles.require([self._schema_need("CREATE TAG", "create the model's tags")])
        model = self._model(model_name)
        with self._writing(model_name, listed=False):
            for key, value in prepared.items():
                tag = metadata.tag_name(self.location, key)
                self._ensure(f"CREATE TAG IF NOT EXISTS {tag}", tag)
                model.set_tag(tag, value)

    def set_default_version(self, model_name: str, version: str) -> None:
        """``Model.default = version`` (``ALTER MODEL … SET DEFAULT_VERSION``)."""
        model_name = self.validate_model_name(model_name)
        version = names.version_id(version)
        if version not in self._listing(model_name):
            raise self._no_version(model_name, version)
        self._require_owner(model_name, "set its default version")
        with self._writing(model_name):
            self._model(model_name).default = version

    def delete_version(self, model_name: str, version: str) -> None:
        model_name = self.validate_model_name(model_name)
        version = names.version_id(version)
        if version not in self._listing(model_name):
            raise self._no_version(model_name, version)
        self._require_owner(model_name, f"drop version {version}")
        with self._writing(model_name, version=version, dropped=True):
            self._model(model_name).delete_version(version)

    def _ensure(self, create_if_not_exists: str, name: str) -> None:
        """Run a ``CREATE … IF NOT EXISTS`` once per hook."""
        if name not in self._cache.ensured:
            self._sql(create_if_not_exists)
            self._cache.ensured.add(name)

    # -- files stored with a version -------------------------------------------------------
    def upload_artifact(self, model_name: str, version: str, local_path: str, artifact_path: str) -> str:
        """PUT ``local_path`` to ``@<db>.<schema>.MODEL_ARTIFACTS/<MODEL>/<VERSION>/<artifact_path>``."""
        model_name = self.validate_model_name(model_name)
        version = names.version_id(version)
        directory, name = stage.location(self.location, model_name, version, artifact_path)
        if not os.path.isfile(local_path):
            raise InvalidInputError("local_path", f"file {local_path!r} does not exist")
        if f"{self.location}.{stage.STAGE}" not in self._cache.ensured:
            self.registry  # noqa: B018 - the registry schema exists
            self._roles.require([self._schema_need("CREATE STAGE", "store files with versions")])
            self._ensure(stage.create_stage_sql(self.location), f"{self.location}.{stage.STAGE}")
        with self._translated():
            return stage.upload(self.session, local_path, directory, name)

    def download_artifact(self, model_name: str, version: str, artifact_path: str, dst_dir: str) -> str:
        """GET a file stored with ``upload_artifact`` to ``dst_dir/<artifact_path>``."""
        model_name = self.validate_model_name(model_name)
        version = names.version_id(version)
        directory, name = stage.location(self.location, model_name, version, artifact_path)
        with self._translated():
            fetched = stage.download(self.session, directory, name, artifact_path, dst_dir)
        if fetched is None:
            raise InvalidInputError(
                "artifact_path", f"no file {artifact_path!r} is stored with version {version} of {model_name}"
            )
        return fetched

    # -- lineage and UI ----------------------------------------------------------------------
    def lineage_dataset(self, model_name: str, version: str) -> tuple[str, str]:
        """``snowflake-ml://<account>``, ``<DB>.<SCHEMA>.<MODEL>/<VERSION>``.

        Not ``snowflake://``: that scheme's Assets are tables (the Snowflake provider
        normalizes them as ``database/schema/table``).
        """
        account = self.settings.account.lower() or "account"
        return f"snowflake-ml://{account}", f"{self.location}.{self.validate_model_name(model_name)}/{version}"

    def version_url(self, model_name: str, version: str) -> str | None:
        """The Snowsight page of the version, when the account identifier says where it lives."""
        base = snowsight_base(self.settings)
        if base is None:
            return None
        settings = self.settings
        return (
            f"{base}/#/data/databases/{settings.database}/schemas/{settings.schema}/model/"
            f"{self.validate_model_name(model_name)}/version/{names.version_id(version)}"
        )

    # -- copies between registries (see copying.py) ------------------------------------------
    def registry_location(self) -> str:
        """``snowflake-ml://<account>/<DATABASE>.<SCHEMA>``."""
        return f"snowflake-ml://{self.settings.account.lower() or 'account'}/{self.location}"

    def copy_version_from(
        self,
        source_hook: RegistryHook,
        source: ModelVersion,
        model_name: str,
        *,
        tags: Mapping[str, str],
        metrics: Mapping[str, float],
    ) -> ModelVersion:
        from airflow_registry_provider.hooks.snowflake import copying

        return copying.copy_version(self, source_hook, source, model_name, tags=tags, metrics=metrics)

    def discard_copy(self, model_name: str, version: str) -> None:
        from airflow_registry_provider.hooks.snowflake import copying

        copying.discard_copy(self, model_name, version)


__all__ = ["SnowflakeRegistryHook"]
