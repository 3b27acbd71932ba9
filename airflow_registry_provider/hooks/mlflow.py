"""MLflow model registry hook.

Works against a local store (``sqlite:///…``) or a tracking server (``http(s)://…``,
optionally with basic auth). mlflow is imported inside methods so that DAG files that
import operators do not pay its ~2.7 s import.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlparse

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.artifacts import sha256_tree
from airflow_registry_provider.exceptions import InvalidInputError, RegistryUnavailableError, UnsupportedOperationError
from airflow_registry_provider.governance.grants import (
    FROM_MLFLOW_PERMISSIONS,
    MLFLOW_PERMISSIONS,
    PRIVILEGES,
    Grant,
    GrantCapabilities,
)
from airflow_registry_provider.governance.identifiers import is_user, username
from airflow_registry_provider.hooks.base import ModelPackage, Predictor, RegistryHook, SourceInfo
from airflow_registry_provider.model_version import ModelVersion
from airflow_registry_provider.naming import parse_semver, validate_mlflow_alias, validate_mlflow_model_name

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion as MlflowModelVersion
    from mlflow.server.auth.client import AuthServiceClient

DEFAULT_EXPERIMENT = "airflow_registry_provider"
_ENV_USER = "MLFLOW_TRACKING_USERNAME"
_ENV_PASSWORD = "MLFLOW_TRACKING_PASSWORD"  # noqa: S105 - an environment variable name
_ENV_RETRIES = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
_ENV_TIMEOUT = "MLFLOW_HTTP_REQUEST_TIMEOUT"
_ENV_BACKOFF = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"
# The auth app keeps per-user grants on a hidden role per user and workspace.
_SYNTHETIC_USER_ROLE = re.compile(r"__user_(\d+)__")
_MODEL_RESOURCE = "registered_model"
_ALL_MODELS = "*"


@dataclass(frozen=True)
class _PermissionState:
    """The auth server's permissions on one registered-model pattern, by grantee."""

    rows: dict[str, tuple[str, int]]  # grantee -> (MLflow permission, role-permission id)
    roles: dict[str, list[int]]  # canonical role name -> role ids (several when names differ by case only)


@contextmanager
def _scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a call and restore them after.

    MLflow's REST client reads credentials and retry settings only from the environment;
    scoping them keeps the password out of ``os.environ`` once the call returns.
    """
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


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
    # mlflow.utils.validation.MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH
    max_model_tag_length: ClassVar[int] = 100_000
    max_version_tag_length: ClassVar[int] = 100_000
    grant_capabilities: ClassVar[GrantCapabilities | None] = GrantCapabilities(
        privileges=frozenset(PRIVILEGES), users=True, single_owner=False, exclusive=True
    )

    def __init__(self, registry_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(registry_conn_id=registry_conn_id, **kwargs)

    # -- connection ------------------------------------------------------------------
    @cached_property
    def _settings(self) -> dict[str, Any]:
        conn = self.get_connection(self.registry_conn_id)
        extra = conn.extra_dejson
        tracking_uri = extra.get("tracking_uri")
        if not tracking_uri:
            if not conn.host:
                raise InvalidInputError(
                    "registry_conn_id",
                    f"connection {self.registry_conn_id!r} sets neither extra 'tracking_uri' nor a host",
                )
            scheme = conn.schema or "http"
            tracking_uri = f"{scheme}://{conn.host}" + (f":{conn.port}" if conn.port else "")
        return {
            "tracking_uri": tracking_uri,
            "registry_uri": extra.get("registry_uri") or tracking_uri,
            "artifact_location": extra.get("artifact_location"),
            "experiment_name": extra.get("experiment_name") or DEFAULT_EXPERIMENT,
            "max_retries": int(extra.get("max_retries", 3)),
            "timeout": int(extra.get("timeout", 30)),
            "login": conn.login,
            "password": conn.password,
            "workspace": extra.get("workspace") or "default",
        }

    @property
    def tracking_uri(self) -> str:
        return self._settings["tracking_uri"]

    @property
    def is_server(self) -> bool:
        return urlparse(self.tracking_uri).scheme in ("http", "https")

    @contextmanager
    def _client(self) -> Iterator[MlflowClient]:
        """An MlflowClient with this connection's URIs, credentials and retry bounds in force."""
        import mlflow
        from mlflow import MlflowClient

        settings = self._settings
        env = {
            _ENV_RETRIES: str(settings["max_retries"]),
            _ENV_TIMEOUT: str(settings["timeout"]),
            _ENV_BACKOFF: "1",
        }
        if settings["login"]:
            env[_ENV_USER] = settings["login"]
            env[_ENV_PASSWORD] = settings["password"] or ""
        # Fluent calls (log_model, pyfunc.load_model) read process-global URIs. Setting them
        # also writes MLFLOW_TRACKING_URI/MLFLOW_REGISTRY_URI, so both the module globals
        # (read raw: the public getters return resolved defaults, which would then stick)
        # and the variables are restored afterwards.
        from mlflow.tracking import fluent
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        env["MLFLOW_TRACKING_URI"] = settings["tracking_uri"]
        env["MLFLOW_REGISTRY_URI"] = settings["registry_uri"]
        previous = (tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id)
        # An experiment set by user code in the same process (all tasks share one under
        # `airflow dags test`) would make start_run(run_id=...) refuse our experiment's run.
        fluent._active_experiment_id = None
        with _scoped_environ(env):
            mlflow.set_tracking_uri(settings["tracking_uri"])
            mlflow.set_registry_uri(settings["registry_uri"])
            try:
                yield MlflowClient(settings["tracking_uri"], settings["registry_uri"])
            except Exception as err:
                unavailable = self._unavailable(err)
                if unavailable is None:
                    raise
                raise unavailable from err
            finally:
                tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id = previous

    def _unavailable(self, err: Exception) -> RegistryUnavailableError | None:
        text = str(err)
        markers = ("Max retries exceeded", "Connection refused", "Failed to establish a new connection")
        if self.is_server and any(marker in text for marker in markers):
            return RegistryUnavailableError(
                f"MLflow tracking server {self.tracking_uri} is unreachable after "
                f"{self._settings['max_retries']} retries ({type(err).__name__})"
            )
        return None

    def test_connection(self) -> tuple[bool, str]:
        try:
            with self._client() as client:
                client.search_registered_models(max_results=1)
        except Exception as err:
            return False, str(err)
        return True, f"Connected to the MLflow registry at {self.tracking_uri}"

    # -- names -----------------------------------------------------------------------
    def validate_model_name(self, model_name: str, field: str = "model_name") -> str:
        return validate_mlflow_model_name(model_name, field)

    def validate_alias(self, alias: str, field: str = "alias") -> str:
        return validate_mlflow_alias(alias, field)

    def validate_version_name(self, version_name: str, field: str = "version_name") -> str:
        parse_semver(version_name, field)
        return version_name

    def validate_tags(self, tags: Mapping[str, Any], field: str = "tags", *, level: str = "version") -> dict[str, str]:
        limit = self.max_model_tag_length if level == "model" else self.max_version_tag_length
        checked = {}
        for key, value in tags.items():
            if not isinstance(key, str) or not key or len(key) > self.max_tag_key_length:
                raise InvalidInputError(f"{field}.{key}", f"tag keys are 1-{self.max_tag_key_length} characters")
            text = str(value)
            if len(text) > limit:
                raise InvalidInputError(
                    f"{field}.{key}", f"is {len(text)} characters; MLflow tag values hold at most {limit}"
                )
            checked[key] = text
        return checked

    def validate_metrics(self, metrics: Mapping[str, Any], field: str = "metrics") -> dict[str, float]:
        from airflow_registry_provider.gates import coerce_metrics

        return coerce_metrics(metrics, field)

    # -- reads -----------------------------------------------------------------------
    def _to_version(
        self,
        mv: MlflowModelVersion,
        metrics: Mapping[str, float] | None = None,
        aliases: Mapping[str, list[str]] | None = None,
    ) -> ModelVersion:
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

    def get_version(self, model_name: str, version: str | None = None, *, alias: str | None = None) -> ModelVersion:
        if (version is None) == (alias is None):
            raise InvalidInputError("version", "give exactly one of version and alias")
        with self._client() as client:
            if alias is not None:
                mv = client.get_model_version_by_alias(model_name, alias)
            else:
                mv = client.get_model_version(model_name, str(version))
            metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
            return self._to_version(mv, metrics)

    def get_alias_version(self, model_name: str, alias: str) -> ModelVersion | None:
        from mlflow.exceptions import MlflowException

        try:
            return self.get_version(model_name, alias=alias)
        except MlflowException as err:
            if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    def find_version(self, model_name: str, version_name: str) -> ModelVersion | None:
        query = f"name = '{model_name}' and tags.`{tag_keys.VERSION_NAME}` = '{version_name}'"
        with self._client() as client:
            found = client.search_model_versions(query, max_results=10)
        return self._to_version(found[0]) if found else None

    def iter_versions(self, model_name: str, *, page_size: int = 1000) -> Iterator[ModelVersion]:
        model_name = self.validate_model_name(model_name)  # it goes into search filters
        page_token: str | None = None
        with self._client() as client:
            # search_model_versions leaves ``aliases`` empty; the model has them all. Searching
            # for it is several times cheaper than get_registered_model, which loads every version.
            found = client.search_registered_models(f"name = '{model_name}'", max_results=1)
            if not found:
                return
            aliases: dict[str, list[str]] = {}
            for alias, version in found[0].aliases.items():
                aliases.setdefault(str(version), []).append(alias)
            while True:
                page = client.search_model_versions(
                    f"name = '{model_name}'",
                    max_results=page_size,
                    order_by=["version_number DESC"],
                    page_token=page_token,
                )
                for mv in page:
                    yield self._to_version(mv, aliases=aliases)
                page_token = page.token
                if not page_token:
                    return

    def get_model_tags(self, model_name: str) -> dict[str, str]:
        model_name = self.validate_model_name(model_name)  # it goes into a search filter
        with self._client() as client:
            # Cheaper than get_registered_model, which loads every version (see iter_versions).
            found = client.search_registered_models(f"name = '{model_name}'", max_results=1)
            model = found[0] if found else client.get_registered_model(model_name)  # raises "not found"
            return dict(model.tags)

    def get_version_params(self, model_name: str, version: str) -> dict[str, str]:
        with self._client() as client:
            run_id = client.get_model_version(model_name, str(version)).run_id
            return dict(client.get_run(run_id).data.params) if run_id else {}

    def get_version_tags(self, model_name: str, version: str) -> dict[str, str]:
        with self._client() as client:
            return dict(client.get_model_version(model_name, str(version)).tags)

    # -- writes ----------------------------------------------------------------------
    def _experiment_id(self, client: MlflowClient) -> str:
        settings = self._settings
        experiment = client.get_experiment_by_name(settings["experiment_name"])
        if experiment is not None:
            return experiment.experiment_id
        location = settings["artifact_location"]
        if location is None and settings["tracking_uri"].startswith("sqlite:///"):
            # MLflow would default to ./mlruns under whatever the worker's cwd is.
            db_path = Path(settings["tracking_uri"].removeprefix("sqlite:///"))
            location = (db_path.parent / "mlartifacts").resolve().as_uri()
        return client.create_experiment(settings["experiment_name"], artifact_location=location)

    def _ensure_registered_model(self, client: MlflowClient, model_name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            client.create_registered_model(model_name)
        except MlflowException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def describe_source(self, source_uri: str) -> SourceInfo:
        from mlflow.models import Model

        with self._client(), tempfile.TemporaryDirectory() as tmp:
            if os.path.isdir(source_uri):
                local = source_uri
            else:
                import mlflow.artifacts

                try:
                    local = mlflow.artifacts.download_artifacts(artifact_uri=source_uri, dst_path=tmp)
                except Exception as err:
                    raise InvalidInputError("model", f"cannot fetch MLflow model {source_uri!r}: {err}") from err
            try:
                mlmodel = Model.load(local)
            except Exception as err:
                raise InvalidInputError("model", f"{source_uri!r} is not an MLflow model: {err}") from err
            flavor = next((f for f in mlmodel.flavors if f != "python_function"), "python_function")
            return SourceInfo(sha256=sha256_tree(local), flavor=flavor, has_signature=mlmodel.signature is not None)

    def _create_version(self, model_name: str, package: ModelPackage) -> ModelVersion:
        import mlflow

        with self._client() as client:
            experiment_id = self._experiment_id(client)
            self._ensure_registered_model(client, model_name)
            model_id: str | None = None
            run_id: str | None = None
            source = package.source_uri
            if source is not None and source.startswith("models:/m-"):
                model_id = source.removeprefix("models:/")
            elif source is not None and source.startswith("runs:/"):
                run_id = source.removeprefix("runs:/").split("/", 1)[0]
            elif source is not None and source.startswith("models:/"):
                ref = client.get_model_version(*source.removeprefix("models:/").split("/", 1))
                run_id, source = ref.run_id, str(ref.source)
                # MLflow 3 versions point at a logged model (source models:/m-…); a server accepts
                # that source only with the same model_id, which REST responses may leave out.
                model_id = getattr(ref, "model_id", None) or (
                    source.removeprefix("models:/") if source.startswith("models:/m-") else None
                )
            else:
                run = client.create_run(
                    experiment_id,
                    run_name=f"{model_name}-{package.version_name}",
                    tags={k: v for k, v in package.tags.items() if k != tag_keys.VERSION_NAME},
                )
                run_id = run.info.run_id
                with mlflow.start_run(run_id=run_id):
                    if package.model is not None:
                        info = self._log_estimator(package)
                        source, model_id = info.model_uri, info.model_id
                    else:
                        mlflow.log_artifacts(str(package.source_uri), "model")
                        source = f"{run.info.artifact_uri}/model"
                    self._log_run_metrics(client, run_id, package.metrics, model_id)
            mv = client.create_model_version(
                name=model_name,
                source=str(source),
                run_id=run_id,
                tags=package.tags,
                description=package.description,
                model_id=model_id,
            )
            return self._to_version(mv, package.metrics)

    def _log_estimator(self, package: ModelPackage) -> Any:
        import importlib

        from mlflow.models import infer_signature

        flavor = importlib.import_module(f"mlflow.{package.flavor}")
        signature = None
        example = None
        if package.sample_input is not None:
            try:
                predictions = package.model.predict(package.sample_input)
            except Exception as err:
                raise InvalidInputError("sample_input", f"the model cannot score it: {err}") from err
            signature = infer_signature(package.sample_input, predictions)
            example = package.sample_input.head(5)
        options = dict(package.options)
        if package.flavor == "sklearn":
            # The estimator arrived as a pickle this pipeline wrote and trusts; keep that format
            # rather than MLflow's skops default, which rejects common estimators (e.g.
            # HistGradientBoosting) unless every internal type is listed as trusted.
            options.setdefault("serialization_format", "cloudpickle")
        return flavor.log_model(
            package.model,
            name="model",
            signature=signature,
            input_example=example,
            pip_requirements=package.pip_requirements or None,
            **options,
        )

    @staticmethod
    def _log_run_metrics(client: MlflowClient, run_id: str, metrics: Mapping[str, float], model_id: str | None) -> None:
        from mlflow.entities import Metric

        if not metrics:
            return
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(key, float(value), now, 0, model_id=model_id) for key, value in metrics.items()],
        )

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        with self._client() as client:
            client.set_registered_model_alias(model_name, self.validate_alias(alias), str(version))

    def delete_alias(self, model_name: str, alias: str) -> None:
        with self._client() as client:
            client.delete_registered_model_alias(model_name, alias)

    @staticmethod
    def _registry(client: MlflowClient) -> Any:
        """The registry client behind ``client``, for writes on models with many versions.

        Every MlflowClient registry write first fetches the whole registered model (all
        its versions) to rule out prompts: on a model with 10,000 versions that costs ~50x
        the write itself. This hook only manages registered models, so the check is skipped.
        """
        return client._get_registry_client()

    def set_version_tags(self, model_name: str, version: str, tags: Mapping[str, str]) -> None:
        with self._client() as client:
            for key, value in tags.items():
                self._registry(client).set_model_version_tag(model_name, str(version), key, value)

    def set_model_tags(self, model_name: str, tags: Mapping[str, str]) -> None:
        with self._client() as client:
            for key, value in tags.items():
                self._registry(client).set_registered_model_tag(model_name, key, value)

    def log_metrics(self, model_name: str, version: str, metrics: Mapping[str, float]) -> None:
        with self._client() as client:
            mv = client.get_model_version(model_name, str(version))
            if mv.run_id:
                self._log_run_metrics(client, mv.run_id, metrics, getattr(mv, "model_id", None))
            else:  # a version registered without a run: keep the values on the version itself
                for key, value in metrics.items():
                    client.set_model_version_tag(model_name, str(version), f"metric.{key}", repr(float(value)))

    def set_description(self, model_name: str, version: str, description: str) -> None:
        with self._client() as client:
            client.update_model_version(model_name, str(version), description=description)

    def transition_stage(self, model_name: str, version: str, stage: str, *, archive_existing: bool) -> None:
        with self._client() as client:
            self._registry(client).transition_model_version_stage(
                model_name, str(version), stage, archive_existing_versions=archive_existing
            )

    def delete_version(self, model_name: str, version: str) -> None:
        with self._client() as client:
            self._registry(client).delete_model_version(model_name, str(version))

    # -- inference -------------------------------------------------------------------
    def load_model(self, model_name: str, version: str, *, allow_unverified: bool = False) -> Predictor:
        import mlflow.pyfunc

        with self._client():
            return mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")

    def input_schema(self, model_name: str, version: str) -> list[tuple[str, str]] | None:
        from mlflow.models import get_model_info

        with self._client():
            signature = get_model_info(f"models:/{model_name}/{version}").signature
        if signature is None or not signature.inputs.has_input_names():
            return None
        return [(spec.name, getattr(spec.type, "name", str(spec.type))) for spec in signature.inputs.inputs]

    # -- artifacts -------------------------------------------------------------------
    def _run_id(self, client: MlflowClient, model_name: str, version: str) -> str:
        run_id = client.get_model_version(model_name, str(version)).run_id
        if not run_id:
            raise InvalidInputError("version", f"version {version} of {model_name!r} has no run to store files in")
        return run_id

    def upload_artifact(self, model_name: str, version: str, local_path: str, artifact_path: str) -> str:
        with self._client() as client, tempfile.TemporaryDirectory() as tmp:
            run_id = self._run_id(client, model_name, version)
            parent, _, name = artifact_path.rpartition("/")
            staged = os.path.join(tmp, name)
            shutil.copyfile(local_path, staged)
            client.log_artifact(run_id, staged, artifact_path=parent or None)
            return f"runs:/{run_id}/{artifact_path}"

    def download_artifact(self, model_name: str, version: str, artifact_path: str, dst_dir: str) -> str:
        with self._client() as client:
            run_id = self._run_id(client, model_name, version)
            return client.download_artifacts(run_id, artifact_path, dst_dir)

    # -- lineage ---------------------------------------------------------------------
    def lineage_dataset(self, model_name: str, version: str) -> tuple[str, str]:
        """``mlflow://<host:port>`` (``mlflow://localhost`` for a local store), ``<model>/<version>``."""
        netloc = urlparse(self.tracking_uri).netloc if self.is_server else "localhost"
        return f"mlflow://{netloc}", f"{model_name}/{version}"

    # -- UI --------------------------------------------------------------------------
    def version_url(self, model_name: str, version: str) -> str | None:
        if not self.is_server:
            return None
        return f"{self.tracking_uri.rstrip('/')}/#/models/{quote(model_name, safe='')}/versions/{version}"

    def artifact_url(self, model_name: str, version: str, artifact_path: str) -> str | None:
        if not self.is_server:
            return None
        with self._client() as client:
            run_id = self._run_id(client, model_name, version)
        # The tracking server serves run artifacts as they are (an HTML report renders).
        query = f"path={quote(artifact_path)}&run_uuid={run_id}"
        return f"{self.tracking_uri.rstrip('/')}/get-artifact?{query}"

    # -- grants (MLflow auth app) --------------------------------------------------
    # Grants map onto the basic-auth app's role permissions on ``registered_model``
    # resources (see ``governance/grants.py`` for the privilege mapping). Roles are matched by name
    # case-insensitively, as on Snowflake; ``user:<name>`` grants live on the user's
    # hidden per-user role, which the server creates on the first grant.

    @contextmanager
    def _auth_client(self) -> Iterator[AuthServiceClient]:
        if not self.is_server:
            raise UnsupportedOperationError(
                "registry_conn_id",
                f"grants need an MLflow tracking server started with --app-name basic-auth; "
                f"{self.registry_conn_id!r} points at a local store",
            )
        from mlflow.server.auth.client import AuthServiceClient

        with self._client():
            yield AuthServiceClient(self.tracking_uri)

    def _permission_state(self, auth: AuthServiceClient, pattern: str) -> _PermissionState:
        """Every role's permission on ``pattern``: one list call, plus one for user names if needed."""
        rows: dict[str, tuple[str, int]] = {}
        roles: dict[str, list[int]] = {}
        per_user: dict[int, tuple[str, int]] = {}
        for role in auth.list_roles(self._settings["workspace"]):
            synthetic = _SYNTHETIC_USER_ROLE.fullmatch(role.name)
            if not synthetic:
                roles.setdefault(role.name.upper(), []).append(role.id)
            # The server keeps at most one row per (role, resource type, pattern).
            for p in role.permissions:
                if p.resource_type == _MODEL_RESOURCE and p.resource_pattern == pattern:
                    if synthetic:
                        per_user[int(synthetic.group(1))] = (p.permission, p.id)
                    else:
                        rows[role.name.upper()] = (p.permission, p.id)
        if per_user:
            from mlflow.server.auth.routes import LIST_USERS

            # AuthServiceClient has no list_users(); the endpoint is the one the MLflow UI uses.
            names = {u["id"]: u["username"] for u in auth._request(LIST_USERS, "GET")["users"]}
            rows.update({f"user:{names[uid]}": row for uid, row in per_user.items() if uid in names})
        return _PermissionState(rows=rows, roles=roles)

    def _list_pattern_grants(self, pattern: str) -> list[Grant]:
        with self._auth_client() as auth:
            state = self._permission_state(auth, pattern)
        return [Grant(grantee, FROM_MLFLOW_PERMISSIONS.get(perm, perm)) for grantee, (perm, _) in state.rows.items()]

    def _apply_pattern_grants(self, pattern: str, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        from mlflow.exceptions import MlflowException

        with self._auth_client() as auth:
            state = self._permission_state(auth, pattern)
            problems = []
            for g in grant:
                if g.grantee in state.rows:
                    continue
                if is_user(g.grantee):
                    try:
                        auth.get_user(username(g.grantee))
                    except MlflowException as err:
                        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
                            raise
                        problems.append(f"user {username(g.grantee)!r} does not exist on {self.tracking_uri}")
                elif g.grantee not in state.roles:
                    problems.append(
                        f"role {g.grantee} does not exist in workspace {self._settings['workspace']!r} "
                        f"on {self.tracking_uri} (create it with AuthServiceClient.create_role)"
                    )
                elif len(state.roles[g.grantee]) > 1:
                    problems.append(f"role name {g.grantee} matches several roles that differ only by case")
            if problems:
                raise InvalidInputError("grants", "; ".join(problems))
            changed = {g.grantee for g in grant}
            for g in revoke:
                if g.grantee not in changed and g.grantee in state.rows:
                    auth.remove_role_permission(state.rows[g.grantee][1])
            for g in grant:
                permission = MLFLOW_PERMISSIONS[g.privilege]
                if g.grantee in state.rows:  # one row per grantee and model: change it in place
                    auth.update_role_permission(state.rows[g.grantee][1], permission)
                elif is_user(g.grantee):
                    auth.grant_user_permission(username(g.grantee), _MODEL_RESOURCE, pattern, permission)
                else:
                    auth.add_role_permission(state.roles[g.grantee][0], _MODEL_RESOURCE, pattern, permission)

    def list_grants(self, model_name: str) -> list[Grant]:
        return self._list_pattern_grants(self.validate_model_name(model_name))

    def apply_grants(self, model_name: str, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        model_name = self.validate_model_name(model_name)
        with self._client() as client:
            client.get_registered_model(model_name)  # a permission on a missing model would dangle
        self._apply_pattern_grants(model_name, grant, revoke)

    def list_future_grants(self) -> list[Grant]:
        """Grants on the ``*`` pattern: every registered model, existing and future."""
        return self._list_pattern_grants(_ALL_MODELS)

    def apply_future_grants(self, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        self._apply_pattern_grants(_ALL_MODELS, grant, revoke)
