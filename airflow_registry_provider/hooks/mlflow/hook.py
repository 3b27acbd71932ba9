"""MLflow model registry hook.

Works against a local store (``sqlite:///…``) or a tracking server (``http(s)://…``,
optionally with basic auth). mlflow is imported inside methods so that DAG files that
import operators do not pay its ~2.7 s import.

Every call uses an explicit ``MlflowClient(tracking_uri, registry_uri)``; nothing uses
MLflow's fluent API or its process-global tracking URI. Registry reads from a server
(what a deferrable sensor polls) go through ``rest.RestReads`` and touch no process-global
state; writes and file transfers to a server need MLflow's credential variables, which
``environment.scoped_environment`` sets safely for concurrent connections.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlparse

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.artifacts import sha256_tree
from airflow_registry_provider.exceptions import (
    AliasNotFoundError,
    InvalidInputError,
    RegistryError,
    UnsupportedOperationError,
)
from airflow_registry_provider.governance.grants import PRIVILEGES, Grant, GrantCapabilities
from airflow_registry_provider.hooks.base import ModelPackage, Predictor, RegistryHook, SourceInfo
from airflow_registry_provider.hooks.mlflow import environment, errors, model_files, registration, validation
from airflow_registry_provider.hooks.mlflow.grants import ALL_MODELS, AuthGrants
from airflow_registry_provider.hooks.mlflow.lookup import WRITE_NOT_FOUND, Lookup, registry_client, to_version
from airflow_registry_provider.hooks.mlflow.settings import BACKOFF_FACTOR, MlflowSettings
from airflow_registry_provider.model_version import ModelVersion
from airflow_registry_provider.naming import parse_semver, validate_mlflow_alias, validate_mlflow_model_name

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion as MlflowModelVersion

    from airflow_registry_provider.copying import NativeSource
    from airflow_registry_provider.hooks.mlflow.rest import RestReads


class MlflowRegistryHook(RegistryHook):
    """Registry hook for MLflow.

    Connection (type ``mlflow_registry``) extras: ``tracking_uri`` (``http(s)://`` server
    or ``sqlite:///…``), optional ``registry_uri``, ``artifact_location`` (for the
    experiment this hook logs into), ``experiment_name``, ``max_retries`` (default 3),
    ``timeout`` seconds (default 30) and ``workspace`` (auth-app workspace whose roles
    grants use, default ``default``). Login/password authenticate to a basic-auth server.
    Without ``tracking_uri`` the host/port/schema fields form ``http(s)://host:port``.
    """

    conn_name_attr = "registry_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "mlflow_registry"
    hook_name = "MLflow Model Registry"
    backend: ClassVar[str] = "mlflow"
    max_model_tag_length: ClassVar[int] = validation.MAX_TAG_VALUE_LENGTH
    max_version_tag_length: ClassVar[int] = validation.MAX_TAG_VALUE_LENGTH
    max_tag_key_length: ClassVar[int] = validation.MAX_TAG_KEY_LENGTH
    grant_capabilities: ClassVar[GrantCapabilities | None] = GrantCapabilities(
        privileges=frozenset(PRIVILEGES), users=True, single_owner=False, exclusive=True
    )

    def __init__(self, registry_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(registry_conn_id=registry_conn_id, **kwargs)

    # -- connection ------------------------------------------------------------------
    @cached_property
    def settings(self) -> MlflowSettings:
        """The connection's URIs, credentials and retry bounds (read once)."""
        return MlflowSettings.from_connection(self.registry_conn_id, self.get_connection(self.registry_conn_id))

    @property
    def tracking_uri(self) -> str:
        return self.settings.tracking_uri

    @property
    def is_server(self) -> bool:
        return self.settings.is_server

    @cached_property
    def _mlflow_client(self) -> MlflowClient:
        from mlflow import MlflowClient

        return MlflowClient(self.settings.tracking_uri, self.settings.registry_uri)

    @cached_property
    def _rest_reads(self) -> RestReads | None:
        from airflow_registry_provider.hooks.mlflow.rest import RestReads

        return RestReads(self.settings, backoff_factor=BACKOFF_FACTOR) if self.settings.rest_reads else None

    @contextmanager
    def _errors(self, field: str | None = None) -> Iterator[None]:
        """MLflow's errors as the provider's (see ``errors.translate``)."""
        try:
            yield
        except RegistryError:
            raise
        except Exception as err:
            mapped = errors.translate(err, self.settings, field)
            if mapped is None:
                raise
            raise mapped from err

    @contextmanager
    def _client(self, field: str | None = None) -> Iterator[MlflowClient]:
        """The explicit client, with this connection's MLflow variables in force for a server."""
        with self._errors(field), environment.scoped_environment(self.settings.environment()):
            yield self._mlflow_client

    @contextmanager
    def _reading(self, field: str | None = None) -> Iterator[Any]:
        """Something with ``MlflowClient``'s read methods.

        For a server (both URIs) or a local store it writes no process-global state; only a
        local tracking store with a remote registry (or the reverse) reads inside a scope.
        """
        if self._rest_reads is None:
            with self._client(field) as client:
                yield client
        else:
            with self._errors(field):
                yield self._rest_reads

    def test_connection(self) -> tuple[bool, str]:
        """Check that the registry answers; never creates a sqlite database."""
        try:
            problem = self.settings.missing_database()
            if problem is not None:
                return False, problem
            with self._reading() as reads:
                reads.search_registered_models(max_results=1)
        except Exception as err:
            return False, str(err)
        return True, f"Connected to the MLflow registry at {self.settings.display_uri}"

    # -- names and values ------------------------------------------------------------
    def validate_model_name(self, model_name: str, field: str = "model_name") -> str:
        return validate_mlflow_model_name(model_name, field)

    def validate_alias(self, alias: str, field: str = "alias") -> str:
        return validate_mlflow_alias(alias, field)

    def validate_version_name(self, version_name: str, field: str = "version_name") -> str:
        parse_semver(version_name, field)
        return version_name

    def validate_tags(self, tags: Mapping[str, Any], field: str = "tags", *, level: str = "version") -> dict[str, str]:
        limit = self.max_model_tag_length if level == "model" else self.max_version_tag_length
        return validation.validate_tags(tags, field, level=level, max_value_length=limit)

    def validate_metrics(self, metrics: Mapping[str, Any], field: str = "metrics") -> dict[str, float]:
        from airflow_registry_provider.gates import coerce_metrics

        values = coerce_metrics(metrics, field)
        validation.validate_metric_names(list(values), field)
        return values

    # -- reads -----------------------------------------------------------------------
    def _lookup(self, reads: Any) -> Lookup:
        return Lookup(reads, f"the MLflow registry at {self.settings.display_uri}")

    @contextmanager
    def _writing(
        self, field: str | None, model_name: str, *, version: str | None = None, alias: str | None = None
    ) -> Iterator[MlflowClient]:
        """The client for a write on ``model_name`` (and ``version``/``alias``), with typed not-found errors."""
        with self._client(field) as client:
            lookup = self._lookup(client)
            with lookup.not_found(model_name, version=version, alias=alias, codes=WRITE_NOT_FOUND):
                yield client

    def _version_entity(self, reads: Any, model_name: str, version: str) -> MlflowModelVersion:
        return self._lookup(reads).version(self.validate_model_name(model_name), version)

    def get_version(self, model_name: str, version: str | None = None, *, alias: str | None = None) -> ModelVersion:
        """A version by id or alias; reads only (no process-global state), safe to poll from a trigger."""
        if (version is None) == (alias is None):
            raise InvalidInputError("version", "give exactly one of version and alias")
        model_name = self.validate_model_name(model_name)
        with self._reading() as reads:
            lookup = self._lookup(reads)
            if alias is not None:
                mv = lookup.by_alias(model_name, self.validate_alias(alias))
            else:
                mv = lookup.version(model_name, str(version))
            return to_version(mv, lookup.run_metrics(mv.run_id))

    def get_alias_version(self, model_name: str, alias: str) -> ModelVersion | None:
        """The version holding ``alias`` or None; ModelNotFoundError when there is no such model."""
        try:
            return self.get_version(model_name, alias=alias)
        except AliasNotFoundError:
            return None

    def find_version(self, model_name: str, version_name: str) -> ModelVersion | None:
        model_name = self.validate_model_name(model_name)
        version_name = self.validate_version_name(version_name)  # both go into a search filter
        query = f"name = '{model_name}' and tags.`{tag_keys.VERSION_NAME}` = '{version_name}'"
        with self._reading() as reads:
            found = reads.search_model_versions(query, max_results=10)
        return to_version(found[0]) if found else None

    def iter_versions(self, model_name: str, *, page_size: int = 1000) -> Iterator[ModelVersion]:
        """Newest first, page by page; nothing (no error) for a model that does not exist.

        Each page is one read without process-global state, and no scope is held between
        pages, so a trigger may take the first page and stop.
        """
        model_name = self.validate_model_name(model_name)  # it goes into search filters
        with self._reading() as reads:
            # search_model_versions leaves ``aliases`` empty; the model has them all.
            model = self._lookup(reads).model(model_name)
        if model is None:
            return
        aliases: dict[str, list[str]] = {}
        for alias, version in model.aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        page_token: str | None = None
        while True:
            with self._reading() as reads:
                page = reads.search_model_versions(
                    f"name = '{model_name}'",
                    max_results=page_size,
                    order_by=["version_number DESC"],
                    page_token=page_token,
                )
            for mv in page:
                yield to_version(mv, aliases=aliases)
            page_token = page.token
            if not page_token:
                return

    def get_model_tags(self, model_name: str) -> dict[str, str]:
        model_name = self.validate_model_name(model_name)  # it goes into a search filter
        with self._reading() as reads:
            lookup = self._lookup(reads)
            model = lookup.model(model_name)
            if model is None:
                raise lookup.model_not_found(model_name)
            return dict(model.tags)

    def get_version_params(self, model_name: str, version: str) -> dict[str, str]:
        with self._reading() as reads:
            run_id = self._version_entity(reads, model_name, version).run_id
            return dict(reads.get_run(run_id).data.params) if run_id else {}

    def get_version_tags(self, model_name: str, version: str) -> dict[str, str]:
        with self._reading() as reads:
            return dict(self._version_entity(reads, model_name, version).tags)

    def describe_source(self, source_uri: str) -> SourceInfo:
        from mlflow.models import Model

        with self._client("model") as client, tempfile.TemporaryDirectory(prefix="arp-source-") as tmp:
            local = source_uri
            if not os.path.isdir(source_uri):
                with model_files.source_errors(source_uri):
                    local = model_files.download(client, source_uri, tmp, self.settings)
            try:
                mlmodel = Model.load(local)
            except Exception as err:
                raise InvalidInputError("model", f"{source_uri!r} is not an MLflow model: {err}") from err
            flavor = next((f for f in mlmodel.flavors if f != "python_function"), "python_function")
            return SourceInfo(sha256=sha256_tree(local), flavor=flavor, has_signature=mlmodel.signature is not None)

    # -- writes ----------------------------------------------------------------------
    def _create_version(self, model_name: str, package: ModelPackage) -> ModelVersion:
        with self._client() as client, tempfile.TemporaryDirectory(prefix="arp-register-") as workdir:
            prepared = registration.prepare(self, client, model_name, package, workdir)
            mv = registration.write(self, client, model_name, prepared, self.log)
            return to_version(mv, prepared.metrics)

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        model_name, alias = self.validate_model_name(model_name), self.validate_alias(alias)
        with self._writing("alias", model_name, version=str(version)) as client:
            registry_client(client).set_registered_model_alias(model_name, alias, str(version))

    def delete_alias(self, model_name: str, alias: str) -> None:
        model_name, alias = self.validate_model_name(model_name), self.validate_alias(alias)
        with self._writing("alias", model_name, alias=alias) as client:
            registry_client(client).delete_registered_model_alias(model_name, alias)

    def set_version_tags(self, model_name: str, version: str, tags: Mapping[str, str]) -> None:
        checked = self.validate_tags(tags, "tags")
        model_name = self.validate_model_name(model_name)
        with self._writing("tags", model_name, version=str(version)) as client:
            for key, value in checked.items():
                registry_client(client).set_model_version_tag(model_name, str(version), key, value)

    def set_model_tags(self, model_name: str, tags: Mapping[str, str]) -> None:
        checked = self.validate_tags(tags, "tags", level="model")
        model_name = self.validate_model_name(model_name)
        with self._writing("tags", model_name) as client:
            for key, value in checked.items():
                registry_client(client).set_registered_model_tag(model_name, key, value)

    def log_metrics(self, model_name: str, version: str, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        values = self.validate_metrics(metrics)
        with self._client("metrics") as client:
            mv = self._version_entity(client, model_name, version)
            if mv.run_id:
                now = int(datetime.now(UTC).timestamp() * 1000)
                model_id = getattr(mv, "model_id", None)
                client.log_batch(
                    mv.run_id, metrics=[Metric(k, v, now, 0, model_id=model_id) for k, v in values.items()]
                )
            else:  # a version registered without a run: keep the values on the version itself
                for key, value in values.items():
                    registry_client(client).set_model_version_tag(
                        mv.name, str(mv.version), f"metric.{key}", repr(value)
                    )

    def set_description(self, model_name: str, version: str, description: str) -> None:
        description = validation.validate_description(description) or ""
        model_name = self.validate_model_name(model_name)
        with self._writing("description", model_name, version=str(version)) as client:
            registry_client(client).update_model_version(model_name, str(version), description=description)

    def transition_stage(self, model_name: str, version: str, stage: str, *, archive_existing: bool) -> None:
        model_name = self.validate_model_name(model_name)
        with self._writing("stage", model_name, version=str(version)) as client:
            registry_client(client).transition_model_version_stage(
                model_name, str(version), stage, archive_existing_versions=archive_existing
            )

    def delete_version(self, model_name: str, version: str) -> None:
        model_name = self.validate_model_name(model_name)
        with self._writing(None, model_name, version=str(version)) as client:
            registry_client(client).delete_model_version(model_name, str(version))

    # -- inference -------------------------------------------------------------------
    def download_model(self, model_name: str, version: str, dst_dir: str, *, allow_unverified: bool = False) -> str:
        """The version's stored files in a new directory under ``dst_dir``, verified; nothing is loaded."""
        with self._client() as client:
            mv = self._version_entity(client, model_name, version)
            return model_files.download_verified(
                client, mv, dst_dir, self.settings, allow_unverified=allow_unverified, log=self.log
            )

    def load_model(self, model_name: str, version: str, *, allow_unverified: bool = False) -> Predictor:
        tmp = tempfile.mkdtemp(prefix="arp-model-")
        try:
            model = model_files.load_pyfunc(
                self.download_model(model_name, version, tmp, allow_unverified=allow_unverified)
            )
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        # Some flavors read their files after loading; the copy lives as long as the model.
        weakref.finalize(model, shutil.rmtree, tmp, True)
        return model

    def load_native_model(self, model_name: str, version: str, *, allow_unverified: bool = False) -> tuple[Any, str]:
        with tempfile.TemporaryDirectory(prefix="arp-native-") as tmp:
            model_dir = self.download_model(model_name, version, tmp, allow_unverified=allow_unverified)
            return model_files.load_native(model_dir, f"version {version} of {model_name!r}")

    def input_schema(self, model_name: str, version: str) -> list[tuple[str, str]] | None:
        with self._client() as client:
            mv = self._version_entity(client, model_name, version)
            return model_files.signature_columns(client, mv, self.settings, log=self.log)

    # -- artifacts -------------------------------------------------------------------
    def _run_id(self, reads: Any, model_name: str, version: str) -> str:
        run_id = self._version_entity(reads, model_name, version).run_id
        if not run_id:
            raise InvalidInputError("version", f"version {version} of {model_name!r} has no run to store files in")
        return run_id

    @staticmethod
    def _artifact_path(artifact_path: str) -> str:
        parts = artifact_path.split("/")
        if not artifact_path or artifact_path.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise InvalidInputError(
                "artifact_path", f"{artifact_path!r} is not a relative path inside the version's files"
            )
        return artifact_path

    def upload_artifact(self, model_name: str, version: str, local_path: str, artifact_path: str) -> str:
        artifact_path = self._artifact_path(artifact_path)
        with self._client() as client, tempfile.TemporaryDirectory() as tmp:
            run_id = self._run_id(client, model_name, version)
            parent, _, name = artifact_path.rpartition("/")
            staged = os.path.join(tmp, name)
            shutil.copyfile(local_path, staged)
            client.log_artifact(run_id, staged, artifact_path=parent or None)
            return f"runs:/{run_id}/{artifact_path}"

    def download_artifact(self, model_name: str, version: str, artifact_path: str, dst_dir: str) -> str:
        artifact_path = self._artifact_path(artifact_path)
        with self._client() as client:
            return client.download_artifacts(self._run_id(client, model_name, version), artifact_path, dst_dir)

    # -- lineage ---------------------------------------------------------------------
    def lineage_dataset(self, model_name: str, version: str) -> tuple[str, str]:
        """``mlflow://<host:port>`` (``mlflow://localhost`` for a local store), ``<model>/<version>``."""
        netloc = urlparse(self.settings.display_uri).netloc if self.is_server else "localhost"
        return f"mlflow://{netloc}", f"{model_name}/{version}"

    # -- UI --------------------------------------------------------------------------
    def version_url(self, model_name: str, version: str) -> str | None:
        if not self.is_server:
            return None
        return f"{self.settings.display_uri.rstrip('/')}/#/models/{quote(model_name, safe='')}/versions/{version}"

    def artifact_url(self, model_name: str, version: str, artifact_path: str) -> str | None:
        if not self.is_server:
            return None
        with self._reading() as reads:
            run_id = self._run_id(reads, model_name, version)
        # The tracking server serves run artifacts as they are (an HTML report renders).
        query = f"path={quote(artifact_path)}&run_uuid={run_id}"
        return f"{self.settings.display_uri.rstrip('/')}/get-artifact?{query}"

    # -- grants (MLflow auth app, see grants.py) ------------------------------------------
    @contextmanager
    def _grants(self) -> Iterator[AuthGrants]:
        if not self.is_server:
            raise UnsupportedOperationError(
                "registry_conn_id",
                f"grants need an MLflow tracking server started with --app-name basic-auth; "
                f"{self.registry_conn_id!r} points at a local store",
            )
        from mlflow.server.auth.client import AuthServiceClient

        with self._client("grants"):
            yield AuthGrants(AuthServiceClient(self.settings.tracking_uri), self.settings)

    def _existing_model(self, model_name: str) -> str:
        model_name = self.validate_model_name(model_name)
        with self._reading() as reads:
            lookup = self._lookup(reads)
            if lookup.model(model_name) is None:  # a permission on a missing model would dangle
                raise lookup.model_not_found(model_name)
        return model_name

    def list_grants(self, model_name: str) -> list[Grant]:
        with self._grants() as grants:
            return grants.current(self.validate_model_name(model_name))

    def implicit_grants(self, model_name: str) -> list[Grant]:
        """The MANAGE the auth app gave the model's creator (see ``PermissionState.creator_grant``)."""
        with self._grants() as grants:
            return grants.implicit(self.validate_model_name(model_name))

    def apply_grants(self, model_name: str, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        with self._grants() as grants:
            grants.apply(self._existing_model(model_name), grant, revoke)

    def list_future_grants(self) -> list[Grant]:
        """Grants on the ``*`` pattern: every registered model, existing and future."""
        with self._grants() as grants:
            return grants.current(ALL_MODELS)

    def apply_future_grants(self, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        with self._grants() as grants:
            grants.apply(ALL_MODELS, grant, revoke)

    # -- copies between registries (see hooks/mlflow/copying.py) -------------------------
    def registry_location(self) -> str:
        """The tracking URI without credentials."""
        return self.settings.display_uri

    def find_copy(self, model_name: str, source_digest: str) -> ModelVersion | None:
        from airflow_registry_provider.hooks.mlflow import copying

        model_name = self.validate_model_name(model_name)  # it goes into a search filter
        with self._reading() as reads:
            found = copying.find_copy(reads, model_name, source_digest)
            # search results leave aliases and metrics out: read the version itself
            return None if found is None else self.get_version(model_name, str(found.version))

    def native_copy_source(
        self, model_name: str, version: str, workdir: str, *, allow_unverified: bool = False
    ) -> NativeSource:
        from airflow_registry_provider.hooks.mlflow import copying

        model_dir = self.download_model(model_name, version, workdir, allow_unverified=allow_unverified)
        return copying.native_source(model_dir, f"version {version} of {model_name!r}")
