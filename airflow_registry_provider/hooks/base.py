"""The backend-agnostic registry hook.

Operators talk only to :class:`RegistryHook`; :func:`get_registry_hook` picks the
implementation from the connection type, the way common-sql's ``Connection.get_hook()``
picks a ``DbApiHook``. A new backend is one subclass registered in ``_HOOKS_BY_CONN_TYPE``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from airflow.sdk import BaseHook

from airflow_registry_provider.exceptions import (
    InvalidInputError,
    UnsupportedOperationError,
    VersionConflictError,
)
from airflow_registry_provider.model_version import ModelVersion

if TYPE_CHECKING:
    import pandas as pd

    from airflow_registry_provider.copying import NativeSource
    from airflow_registry_provider.governance.grants import Grant, GrantCapabilities
    from airflow_registry_provider.hooks.snowflake.aliases import AliasMove

_HOOKS_BY_CONN_TYPE: dict[str, str] = {
    "mlflow_registry": "airflow_registry_provider.hooks.mlflow.MlflowRegistryHook",
    "snowflake": "airflow_registry_provider.hooks.snowflake.SnowflakeRegistryHook",
}


class Predictor(Protocol):
    """What ``RegistryHook.load_model`` returns: anything with a DataFrame ``predict``."""

    def predict(self, data: pd.DataFrame) -> Any: ...


@dataclass
class ModelPackage:
    """Everything ``register_version`` needs, prepared by ``LogModelOperator``.

    Exactly one of ``model`` (an in-memory estimator loaded from a file) and
    ``source_uri`` (an MLflow model URI or directory) is set.
    """

    version_name: str
    flavor: str
    artifact_sha256: str
    model: Any = None
    source_uri: str | None = None
    sample_input: pd.DataFrame | None = None
    pip_requirements: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceInfo:
    """What ``describe_source`` learns about a model given by URI or directory."""

    sha256: str
    flavor: str
    has_signature: bool


class RegistryHook(BaseHook, abc.ABC):
    """A model registry: versions, aliases, tags, metrics, inference, artifacts and grants.

    ``version`` arguments are the backend's own version ids as found in
    :attr:`ModelVersion.version` (and in the XCom reference).

    Error contract (the same on every backend): a model, version or alias that does not
    exist raises :class:`~airflow_registry_provider.exceptions.ModelNotFoundError`,
    :class:`~airflow_registry_provider.exceptions.VersionNotFoundError` or
    :class:`~airflow_registry_provider.exceptions.AliasNotFoundError`; a value the
    backend would refuse raises ``InvalidInputError`` naming the field *before* anything
    is written; an operation the backend cannot do raises ``UnsupportedOperationError``;
    stored model files that differ from their manifest raise ``IntegrityError``. Only
    transient failures (network, 5xx, locks) surface as other exceptions, to be retried.
    """

    conn_name_attr = "registry_conn_id"
    backend: ClassVar[str]
    #: Whether the registry has a per-model default version (Snowflake does, MLflow not).
    has_default_version: ClassVar[bool] = False
    #: What the registry's access control can express; None when the hook manages no grants.
    grant_capabilities: ClassVar[GrantCapabilities | None] = None
    #: Longest tag value the registry stores on a model / a version: facts of the backend
    #: (MLflow: 5,000 characters on every SQL store; Snowflake object tags: 256). Capped
    #: logs such as the audit log are trimmed to fit; other values that do not fit are
    #: refused by :meth:`validate_tags` before anything is written.
    max_model_tag_length: ClassVar[int] = 5000
    max_version_tag_length: ClassVar[int] = 5000
    #: Longest tag key the registry stores.
    max_tag_key_length: ClassVar[int] = 250

    def __init__(self, registry_conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registry_conn_id = registry_conn_id

    # -- names ---------------------------------------------------------------------
    @abc.abstractmethod
    def validate_model_name(self, model_name: str, field: str = "model_name") -> str:
        """Return the model name as the registry stores it, or raise InvalidInputError."""

    @abc.abstractmethod
    def validate_alias(self, alias: str, field: str = "alias") -> str:
        """Return the alias as the registry stores it, or raise InvalidInputError."""

    @abc.abstractmethod
    def validate_version_name(self, version_name: str, field: str = "version_name") -> str:
        """Check a semantic version name; return the form the registry will show."""

    @abc.abstractmethod
    def validate_tags(self, tags: Mapping[str, Any], field: str = "tags", *, level: str = "version") -> dict[str, str]:
        """Tags as the registry will store them (``level`` ``version`` or ``model``).

        Raises InvalidInputError naming ``<field>.<key>`` for a key or value the backend
        would refuse (characters, key length, value length within the backend's limits).
        """

    @abc.abstractmethod
    def validate_metrics(self, metrics: Mapping[str, Any], field: str = "metrics") -> dict[str, float]:
        """Metrics as finite floats under names the backend accepts, or InvalidInputError naming the metric."""

    # -- reads -----------------------------------------------------------------------
    @abc.abstractmethod
    def get_version(self, model_name: str, version: str | None = None, *, alias: str | None = None) -> ModelVersion:
        """A version by its id or by alias (exactly one of them).

        Raises ModelNotFoundError, VersionNotFoundError or AliasNotFoundError.
        """

    @abc.abstractmethod
    def get_alias_version(self, model_name: str, alias: str) -> ModelVersion | None:
        """The version holding ``alias``, or None when no version holds it.

        Raises ModelNotFoundError when the model itself does not exist.
        """

    @abc.abstractmethod
    def find_version(self, model_name: str, version_name: str) -> ModelVersion | None:
        """The version registered under a semantic ``version_name``, if any."""

    @abc.abstractmethod
    def iter_versions(self, model_name: str, *, page_size: int = 1000) -> Iterator[ModelVersion]:
        """Every version of a model, fetched page by page."""

    def next_version_name(self, model_name: str, part: str = "patch") -> str:
        """The semantic version after the highest one registered (``1.0.0`` for a new model)."""
        from airflow_registry_provider.naming import parse_semver, semver_sort_key

        names = [v.version_name for v in self.iter_versions(model_name) if v.version_name]
        if not names:
            return "1.0.0"
        major, minor, patch, _, _ = parse_semver(max(names, key=semver_sort_key))
        bumped = {
            "major": (major + 1, 0, 0),
            "minor": (major, minor + 1, 0),
            "patch": (major, minor, patch + 1),
        }
        if part not in bumped:
            raise InvalidInputError("part", f"must be major, minor or patch, not {part!r}")
        return "{}.{}.{}".format(*bumped[part])

    @abc.abstractmethod
    def get_model_tags(self, model_name: str) -> dict[str, str]:
        """Tags (or the backend's equivalent) on the model itself."""

    def get_version_params(self, model_name: str, version: str) -> dict[str, str]:
        """Training parameters recorded with a version (MLflow: its run's params); {} if none."""
        return {}

    def get_version_tags(self, model_name: str, version: str) -> dict[str, str]:
        """Tags of one version; backends override this when it is cheaper than :meth:`get_version`."""
        return dict(self.get_version(model_name, version).tags)

    def describe_source(self, source_uri: str) -> SourceInfo:
        """Fingerprint a model given as a registry URI or model directory (MLflow only)."""
        raise UnsupportedOperationError(
            "model", f"{self.backend} registries cannot register MLflow model URIs ({source_uri!r})"
        )

    # -- writes ----------------------------------------------------------------------
    def register_version(self, model_name: str, package: ModelPackage) -> tuple[ModelVersion, bool]:
        """Register ``package`` as a new version; never overwrite.

        Returns ``(version, created)``. A retry that finds the same version name with the
        same artifact sha256 gets the existing version back (``created`` False); the same
        name with another artifact raises :class:`VersionConflictError`.
        """
        model_name = self.validate_model_name(model_name)
        self.validate_version_name(package.version_name)
        existing = self.find_version(model_name, package.version_name)
        if existing is not None:
            from airflow_registry_provider import tags

            found_sha = existing.tags.get(tags.ARTIFACT_SHA256)
            if found_sha == package.artifact_sha256:
                self.log.info(
                    "Version %s (%s) of %s already holds this artifact (sha256 %s): reusing it.",
                    existing.version,
                    package.version_name,
                    model_name,
                    found_sha,
                )
                return existing, False
            raise VersionConflictError(
                "version_name",
                f"{package.version_name!r} already exists for model {model_name!r} "
                f"(version {existing.version}) with a different artifact (sha256 {found_sha} != "
                f"{package.artifact_sha256}); versions are never overwritten, choose a new version_name",
            )
        return self._create_version(model_name, package), True

    @abc.abstractmethod
    def _create_version(self, model_name: str, package: ModelPackage) -> ModelVersion:
        """Create the version; called only once no version of that name exists."""

    @abc.abstractmethod
    def set_alias(self, model_name: str, alias: str, version: str) -> None: ...

    @abc.abstractmethod
    def delete_alias(self, model_name: str, alias: str) -> None: ...

    def move_alias(
        self,
        model_name: str,
        alias: str,
        version: str,
        *,
        previous_alias: str | None = None,
        allow_displace: bool = False,
    ) -> AliasMove:
        """Point ``alias`` at ``version``; with ``previous_alias`` the former holder takes it.

        The former holder takes ``previous_alias`` before ``alias`` moves, so a failure
        leaves the alias where it was or moved completely, and a retry converges from
        either. Here versions hold any number of aliases (MLflow), so nothing is displaced
        but ``previous_alias`` leaving its former holder and ``allow_displace`` has no
        effect; backends where a version holds one alias (Snowflake) override this to
        refuse displacements and undo completed steps on failure.
        """
        from airflow_registry_provider.hooks.snowflake.aliases import SET, AliasMove, Step

        version = str(version)
        current = self.get_alias_version(model_name, alias)
        origin = current.version if current is not None else None
        if origin == version:
            return AliasMove(alias, version, previous_version=version, previous_alias=previous_alias)
        steps, displaced = [], {}
        if previous_alias is not None and origin is not None:
            former = self.get_alias_version(model_name, previous_alias)
            if former is not None and former.version not in (origin, version):
                displaced[previous_alias] = former.version
            self.set_alias(model_name, previous_alias, origin)
            steps.append(Step(SET, origin, previous_alias))
        self.set_alias(model_name, alias, version)
        steps.append(Step(SET, version, alias))
        return AliasMove(alias, version, origin, previous_alias, displaced, tuple(steps))

    @abc.abstractmethod
    def set_version_tags(self, model_name: str, version: str, tags: Mapping[str, str]) -> None:
        """Set several version tags at once (one metadata write where the backend allows)."""

    @abc.abstractmethod
    def set_model_tags(self, model_name: str, tags: Mapping[str, str]) -> None: ...

    @abc.abstractmethod
    def log_metrics(self, model_name: str, version: str, metrics: Mapping[str, float]) -> None:
        """Record metrics on a version, all in one write."""

    @abc.abstractmethod
    def set_description(self, model_name: str, version: str, description: str) -> None: ...

    def get_default_version(self, model_name: str) -> str | None:
        """The model's default version where ``has_default_version``; None elsewhere."""
        return None

    def set_default_version(self, model_name: str, version: str) -> None:
        """Make ``version`` the model's default; only where ``has_default_version``."""
        raise UnsupportedOperationError("set_default", f"{self.backend} registries have no default version")

    def transition_stage(self, model_name: str, version: str, stage: str, *, archive_existing: bool) -> None:
        """Move a version to a legacy stage (MLflow only)."""
        raise UnsupportedOperationError("stage", f"{self.backend} registries have no stages; use aliases")

    def delete_version(self, model_name: str, version: str) -> None:
        raise UnsupportedOperationError("delete_after_days", f"{self.backend} registry hook cannot delete versions")

    # -- inference -----------------------------------------------------------------
    @abc.abstractmethod
    def load_model(self, model_name: str, version: str, *, allow_unverified: bool = False) -> Predictor:
        """Load a version for local inference, after verifying its files.

        The downloaded files are checked against the manifest recorded at registration
        before anything is unpickled (IntegrityError on a difference). A version
        registered without a manifest is refused unless ``allow_unverified``.
        """

    def download_model(self, model_name: str, version: str, dst_dir: str, *, allow_unverified: bool = False) -> str:
        """Download a version's stored model files into ``dst_dir``, verified; return the model directory.

        Same checks as :meth:`load_model`; nothing in the files is executed.
        """
        raise UnsupportedOperationError("registry_conn_id", f"{self.backend} registry hook cannot download model files")

    def load_native_model(self, model_name: str, version: str, *, allow_unverified: bool = False) -> tuple[Any, str]:
        """The library's own estimator (scikit-learn, XGBoost, LightGBM) and its flavor, after verification.

        For scoring with numpy without the registry's wrapper, and for copying a version
        to another backend. UnsupportedOperationError for flavors without a native estimator.
        """
        raise UnsupportedOperationError("registry_conn_id", f"{self.backend} registry hook cannot load native models")

    def predict(self, model_name: str, version: str, data: pd.DataFrame, *, allow_unverified: bool = False) -> Any:
        """Score ``data`` with a registered version (locally unless the backend serves it)."""
        return self.load_model(model_name, version, allow_unverified=allow_unverified).predict(data)

    def batch_predict(
        self,
        version: ModelVersion,
        source: str,
        destination: str,
        *,
        batch_size: int = 100_000,
        partition_column: str | None = None,
        prediction_column: str = "prediction",
        allow_unverified: bool = False,
    ) -> dict[str, Any]:
        """Score a whole dataset with ``version`` and write the predictions.

        The default streams a local Parquet file through the model loaded in the worker;
        backends that serve models themselves (Snowflake) override it.
        """
        from airflow_registry_provider.inference import stream_predict

        if partition_column is not None:
            raise UnsupportedOperationError("partition_column", f"is not supported by {self.backend} batch inference")
        schema = self.input_schema(version.model_name, version.version)
        return stream_predict(
            self.load_model(version.model_name, version.version, allow_unverified=allow_unverified),
            source,
            destination,
            model_name=version.model_name,
            model_version=version.version,
            feature_columns=[name for name, _ in schema] if schema else None,
            batch_size=batch_size,
            prediction_column=prediction_column,
        )

    @abc.abstractmethod
    def input_schema(self, model_name: str, version: str) -> list[tuple[str, str]] | None:
        """The version's input columns and types from its signature (None if it has none)."""

    # -- artifacts -------------------------------------------------------------------
    @abc.abstractmethod
    def upload_artifact(self, model_name: str, version: str, local_path: str, artifact_path: str) -> str:
        """Store a file with the version (model card, drift profile, report); return its URI."""

    @abc.abstractmethod
    def download_artifact(self, model_name: str, version: str, artifact_path: str, dst_dir: str) -> str:
        """Fetch a file stored with ``upload_artifact``; return the local path."""

    # -- lineage ---------------------------------------------------------------------
    def lineage_dataset(self, model_name: str, version: str) -> tuple[str, str]:
        """The version's OpenLineage ``(namespace, name)``; its Asset URI is ``namespace/name``."""
        raise UnsupportedOperationError(
            "registry_conn_id", f"{self.backend} registry hook does not name lineage datasets"
        )

    # -- UI --------------------------------------------------------------------------
    def version_url(self, model_name: str, version: str) -> str | None:
        """Link to the version in the registry's UI, when it has one."""
        return None

    def artifact_url(self, model_name: str, version: str, artifact_path: str) -> str | None:
        """Link to a file stored with ``upload_artifact``, when the registry serves files."""
        return None

    # -- grants ----------------------------------------------------------------------
    def list_grants(self, model_name: str) -> list[Grant]:
        """Current grants on a model, in the provider's vocabulary (see ``governance/grants.py``).

        Privileges the provider does not manage keep the backend's name (e.g. ``DENY``).
        """
        raise UnsupportedOperationError("registry_conn_id", f"{self.backend} registries do not manage grants")

    def apply_grants(self, model_name: str, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        """Grant and revoke; a grantee in both has its privilege changed in place.

        Every grantee is checked to exist before the first change is made.
        """
        raise UnsupportedOperationError("registry_conn_id", f"{self.backend} registries do not manage grants")

    def implicit_grants(self, model_name: str) -> list[Grant]:
        """Grants the registry made on its own (MLflow's auth app: MANAGE for the model's creator).

        They show up in :meth:`list_grants`; GrantModel reports them and, by default, never
        revokes them, so converging cannot lock the registry's own admin out.
        """
        return []

    def list_future_grants(self) -> list[Grant]:
        """Grants that every model created later in this connection's scope receives."""
        raise UnsupportedOperationError("future_grants", f"{self.backend} registries do not manage future grants")

    def apply_future_grants(self, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        """Like :meth:`apply_grants`, for :meth:`list_future_grants`."""
        raise UnsupportedOperationError("future_grants", f"{self.backend} registries do not manage future grants")

    # -- connection test and lifetime --------------------------------------------------
    @abc.abstractmethod
    def test_connection(self) -> tuple[bool, str]: ...

    def close(self) -> None:
        """Release what the hook opened (sessions, clients); operators call it when they finish."""

    # -- copies between registries (see copying.py, operators/copy_version.py) -----------
    def registry_location(self) -> str:
        """This registry as a copy's lineage records it: a URI or location, never credentials."""
        raise UnsupportedOperationError("registry_conn_id", f"{self.backend} registry hook cannot take part in copies")

    def find_copy(self, model_name: str, source_digest: str) -> ModelVersion | None:
        """The version of ``model_name`` copied from the source whose ``CopySource.digest`` is given.

        Nothing (no error) when the model does not exist; backends with a tag search override this scan.
        """
        from airflow_registry_provider.copying import COPY_SOURCE

        return next((v for v in self.iter_versions(model_name) if v.tags.get(COPY_SOURCE) == source_digest), None)

    def copy_version_from(
        self,
        source_hook: RegistryHook,
        source: ModelVersion,
        model_name: str,
        *,
        tags: Mapping[str, str],
        metrics: Mapping[str, float],
    ) -> ModelVersion:
        """Copy ``source``, a version of ``source_hook``'s registry, into ``model_name`` inside the backend.

        For backends that copy versions themselves (Snowflake: ``Registry.log_model(<ModelVersion>)``);
        ``tags`` replace the source's. The caller has checked that no copy exists yet.
        """
        raise UnsupportedOperationError(
            "target_registry_conn_id", f"{self.backend} registries do not copy versions between registries"
        )

    def discard_copy(self, model_name: str, version: str) -> None:
        """Remove a copy that failed its verification, so that the target holds no version of it."""
        self.delete_version(model_name, version)

    def native_copy_source(
        self, model_name: str, version: str, workdir: str, *, allow_unverified: bool = False
    ) -> NativeSource:
        """A version's estimator, column signature and sample (files verified, under ``workdir``).

        What another backend logs again (MLflow → Snowflake); InvalidInputError naming
        ``model_version`` for a flavor a warehouse cannot serve or a model without columns.
        """
        raise UnsupportedOperationError("model_version", f"{self.backend} versions cannot be copied to another backend")


def get_registry_hook(registry_conn_id: str, **kwargs: Any) -> RegistryHook:
    """The registry hook for a connection, chosen by its connection type."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk.module_loading import import_string

    try:
        conn_type = BaseHook.get_connection(registry_conn_id).conn_type or ""
    except AirflowNotFoundException:
        raise InvalidInputError("registry_conn_id", f"connection {registry_conn_id!r} is not defined") from None
    try:
        hook_path = _HOOKS_BY_CONN_TYPE[conn_type]
    except KeyError:
        raise InvalidInputError(
            "registry_conn_id",
            f"connection {registry_conn_id!r} has type {conn_type!r}; expected one of "
            f"{', '.join(sorted(_HOOKS_BY_CONN_TYPE))}",
        ) from None
    hook_cls = import_string(hook_path)
    return hook_cls(registry_conn_id=registry_conn_id, **kwargs)
