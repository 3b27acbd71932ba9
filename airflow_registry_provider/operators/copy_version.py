"""Copy a model version into another registry (another MLflow server, another Snowflake schema,
or from MLflow into Snowflake), verified and retry-safe."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow_registry_provider import copying, integrity
from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.assets import (
    MODEL_EVENTS_ALIAS,
    MODEL_VERSION_EVENTS_ALIAS,
    model_asset,
    model_version_asset,
)
from airflow_registry_provider.exceptions import (
    IntegrityError,
    InvalidInputError,
    VersionConflictError,
)
from airflow_registry_provider.hooks.base import ModelPackage, RegistryHook, get_registry_hook
from airflow_registry_provider.links import RegistryVersionLink
from airflow_registry_provider.model_version import parse_ref, version_result
from airflow_registry_provider.operators.base import BaseRegistryOperator, as_bool, field_renamed, is_template

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.model_version import ModelVersion, ModelVersionRef

T = TypeVar("T")


def _blamed(call: Callable[[], T], field: str) -> T:
    """Run ``call``; a bad value it reports is blamed on the operator parameter ``field``."""
    try:
        return call()
    except InvalidInputError as err:
        raise err.for_field(field) from err


def _task_key(context: Context) -> str:
    """The task run that makes a copy, as its lineage tag records it."""
    ti = context["ti"]
    return f"{ti.dag_id}/{ti.run_id}/{ti.task_id}"


class CopyVersionOperator(BaseRegistryOperator):
    """Copy a model version into another registry, with its metrics, tags, description and signature.

    Supported: MLflow → MLflow (the files are downloaded, verified against the source's
    manifest and uploaded into the target's own artifact store), Snowflake → Snowflake
    (the library copies the version) and MLflow → Snowflake (scikit-learn, XGBoost and
    LightGBM models, logged with a Snowflake signature derived from the MLflow one).
    The copy carries lineage tags naming the source registry, model and version; after
    the copy the target's stored files are checked against the source's manifest, and a
    difference fails the task leaving no version in the target. A retry (or a second
    copy of the same source) returns the copy already made.

    Validation, promotion and audit tags of the source are not carried: the copy passes
    the target environment's gate and promotion afresh.

    :param model_version: The source version: any operator's ``.output`` or its JSON.
    :param target_registry_conn_id: The registry to copy into. Its audit trail records the copy.
    :param target_model_name: The model in the target registry. Default: the source's model name.
    :param source_registry_conn_id: The source registry. Default: the reference's ``registry_conn_id``.
    :param allow_unverified: Copy a source version registered without a manifest of its
        files (their sha256 cannot be checked against what was registered).
    :return: (XCom) the target version's reference, with ``model_version`` (the same
        reference), ``source`` (the source's reference) and ``copied`` (False when the
        copy already existed).
    """

    template_fields: Sequence[str] = (
        "target_registry_conn_id",
        "audit_conn_id",
        "model_version",
        "target_model_name",
        "source_registry_conn_id",
    )
    template_fields_renderers = {"model_version": "json"}
    operator_extra_links = (RegistryVersionLink(),)
    ui_color = "#e3dcf5"

    def __init__(
        self,
        *,
        model_version: ModelVersionRef | str,
        target_registry_conn_id: str,
        target_model_name: str | None = None,
        source_registry_conn_id: str | None = None,
        allow_unverified: bool = False,
        **kwargs: Any,
    ) -> None:
        if "registry_conn_id" in kwargs:
            raise TypeError("CopyVersionOperator takes target_registry_conn_id and source_registry_conn_id")
        outlets = list(kwargs.pop("outlets", None) or [])
        super().__init__(
            registry_conn_id=target_registry_conn_id,
            outlets=[*outlets, MODEL_EVENTS_ALIAS, MODEL_VERSION_EVENTS_ALIAS],
            **kwargs,
        )
        self.model_version = model_version
        self.target_registry_conn_id = target_registry_conn_id
        self.target_model_name = target_model_name
        self.source_registry_conn_id = source_registry_conn_id
        self.allow_unverified = allow_unverified
        self.registry_version_url: str | None = None
        if not is_template(model_version):
            parse_ref(model_version)  # fail at parse time, named

    @cached_property
    def hook(self) -> RegistryHook:
        """The target registry (where the copy is written and audited)."""
        return _blamed(lambda: get_registry_hook(self.target_registry_conn_id), "target_registry_conn_id")

    def check_inputs(self) -> None:
        for field in ("target_registry_conn_id", "target_model_name", "source_registry_conn_id"):
            value = getattr(self, field)
            required = field == "target_registry_conn_id"
            if (value is not None or required) and (not isinstance(value, str) or not value.strip()):
                raise InvalidInputError(
                    field, f"give a {'connection id' if 'conn' in field else 'name'}, not {value!r}"
                )
        self.registry_conn_id = self.target_registry_conn_id  # rendered: what the result, links and assets name
        super().check_inputs()
        self.allow_unverified = as_bool(self.allow_unverified, "allow_unverified")
        self.source_ref = parse_ref(self.model_version)
        if not (self.source_registry_conn_id or self.source_ref["registry_conn_id"]):
            raise InvalidInputError(
                "source_registry_conn_id", "is required: the model_version reference names no registry_conn_id"
            )

    def execute(self, context: Context) -> dict[str, Any]:
        ref = self.source_ref
        source_conn_id = self.source_registry_conn_id or ref["registry_conn_id"]
        source_hook = _blamed(lambda: get_registry_hook(source_conn_id), "source_registry_conn_id")
        try:
            return self._copy_or_find(context, ref, source_conn_id, source_hook, bool(self.allow_unverified))
        finally:
            source_hook.close()

    def _copy_or_find(
        self,
        context: Context,
        ref: ModelVersionRef,
        source_conn_id: str,
        source_hook: RegistryHook,
        allow_unverified: bool,
    ) -> dict[str, Any]:
        target = self.hook
        how = copying.route(source_hook.backend, target.backend)
        model_name = target.validate_model_name(self.target_model_name or ref["model_name"], "target_model_name")
        source = _blamed(lambda: source_hook.get_version(ref["model_name"], ref["version"]), "model_version")
        origin = copying.CopySource(source_hook.registry_location(), source.model_name, source.version)
        version = target.find_copy(model_name, origin.digest)
        created = False
        if version is not None:
            self.log.info("Version %s of %s is already a copy of %s.", version.version, model_name, origin.describe())
            self._check_found(version)
            if version.tags.get(copying.COPIED_BY) == _task_key(context):
                self._record(context, version, origin, retry=True)  # this task made it: its record may be lost
        else:
            # The target hook's connection is this operator's target_registry_conn_id.
            with field_renamed("registry_conn_id", "target_registry_conn_id"):
                version, created = self._copy(how, context, source_hook, source, origin, model_name, allow_unverified)
        return self._result(context, version, source.ref(source_conn_id), created, source_hook, source)

    def _copy(
        self,
        how: str,
        context: Context,
        source_hook: RegistryHook,
        source: ModelVersion,
        origin: copying.CopySource,
        model_name: str,
        allow_unverified: bool,
    ) -> tuple[ModelVersion, bool]:
        """Make the copy the route says, verify it, and record it in the target's audit trail."""
        if not source.version_name:
            raise InvalidInputError(
                "model_version",
                f"{origin.describe()} has no semantic version name ({tag_keys.VERSION_NAME}); "
                "copies keep the source's version name",
            )
        tags = {
            **copying.carried_tags(source.tags),
            tag_keys.VERSION_NAME: source.version_name,
            **origin.lineage_tags(),
            copying.COPIED_BY: _task_key(context),
        }
        with tempfile.TemporaryDirectory(prefix="arp-copy-") as workdir:
            try:
                version, created, expected = self._write(
                    how, source_hook, source, model_name, tags, workdir, allow_unverified
                )
            except VersionConflictError as err:  # the target holds that version name already
                raise err.for_field("target_model_name") from err
            if created:
                self._verify(version, expected, f"{workdir}/verify")
            else:  # the target registered this version name and artifact before, not as this copy
                self.log.info("Version %s of %s already holds this artifact.", version.version, model_name)
                self._check_found(version)
        if created:
            self._record(context, version, origin)
        return version, created

    def _record(
        self, context: Context, version: ModelVersion, origin: copying.CopySource, *, retry: bool = False
    ) -> None:
        """The copy's record in the target's audit trail; ``retry`` completes one a lost try may have written."""
        trail = self.audit_trail(context)
        with trail.batch(skip_recorded=retry):
            trail.record(
                "register",
                model=version.model_name,
                version=version.version,
                after={
                    "source": {"registry": origin.registry, "model": origin.model_name, "version": origin.version},
                    "version_name": version.version_name,
                    "uri": version.uri,
                    "model_sha256": version.tags.get(tag_keys.MODEL_SHA256),
                },
                reason=f"copy of {origin.describe()}",
                version_tags=version.tags,
            )

    def _write(
        self,
        how: str,
        source_hook: RegistryHook,
        source: ModelVersion,
        model_name: str,
        tags: dict[str, str],
        workdir: str,
        allow_unverified: bool,
    ) -> tuple[ModelVersion, bool, str | None]:
        """Write the copy; also the manifest digest its stored files must have, when they are the source's."""
        if how == copying.NATIVE:
            return (*self._log_again(source_hook, source, model_name, tags, workdir, allow_unverified), None)
        # The source's files, verified against its manifest before anything is written.
        local = source_hook.download_model(
            source.model_name, source.version, f"{workdir}/source", allow_unverified=allow_unverified
        )
        recorded = source.tags.get(tag_keys.MODEL_SHA256)
        if how == copying.FILES:
            # download_model verified the files against the manifest this digest pins (a
            # manifest changed since fails the copy's check): hashing them again adds nothing.
            expected = recorded or integrity.manifest_digest(integrity.file_manifest(local))
            package = self._package(source, tags=tags, files_sha256=expected, source_uri=local)
            return (*self.hook.register_version(model_name, package), expected)
        # The backend copies the files itself: they are the ones just verified.
        manifest = integrity.file_manifest(local)
        expected = integrity.manifest_digest(manifest)
        tags.update(integrity.manifest_tags(manifest))
        version = self.hook.copy_version_from(source_hook, source, model_name, tags=tags, metrics=dict(source.metrics))
        return version, True, expected

    @staticmethod
    def _package(source: ModelVersion, *, tags: dict[str, str], files_sha256: str, **what: Any) -> ModelPackage:
        """The source's metadata as a package for ``register_version``; ``what`` is the model or its files."""
        return ModelPackage(
            version_name=str(source.version_name),
            flavor=tags.get(tag_keys.FLAVOR, "python_function"),
            artifact_sha256=source.tags.get(tag_keys.ARTIFACT_SHA256) or files_sha256,
            metrics=dict(source.metrics),
            tags=tags,
            description=source.description,
            **what,
        )

    def _log_again(
        self,
        source_hook: RegistryHook,
        source: ModelVersion,
        model_name: str,
        tags: dict[str, str],
        workdir: str,
        allow_unverified: bool,
    ) -> tuple[ModelVersion, bool]:
        """Another backend: the source's estimator (loaded after verification) logged as a new version."""
        from airflow_registry_provider.artifacts import pinned_requirements

        native = source_hook.native_copy_source(
            source.model_name, source.version, workdir, allow_unverified=allow_unverified
        )
        tags[tag_keys.FLAVOR] = native.flavor
        package = self._package(
            source,
            tags=tags,
            files_sha256=native.files_sha256,
            model=native.estimator,
            sample_input=native.sample,
            pip_requirements=pinned_requirements(native.flavor),
        )
        return self.hook.register_version(model_name, package)

    def _check_found(self, version: ModelVersion) -> None:
        """A copy made earlier (maybe by a try that stopped before verifying it) stores what it records.

        A difference fails the task and leaves the version alone: it may have been promoted since.
        """
        with tempfile.TemporaryDirectory(prefix="arp-copy-") as workdir:
            try:
                self.hook.download_model(version.model_name, version.version, f"{workdir}/verify")
            except IntegrityError as err:
                raise IntegrityError(
                    f"the existing copy (version {version.version} of {version.model_name!r}) in "
                    f"{self.hook.registry_location()} does not store the files it records; it was left as it is: {err}"
                ) from err

    def _verify(self, version: ModelVersion, expected: str | None, workdir: str) -> None:
        """The copy's stored files are what it records (and the source's, ``expected``), or it is deleted."""
        target = self.hook
        what = f"the copy (version {version.version} of {version.model_name!r})"
        try:
            recorded = version.tags.get(tag_keys.MODEL_SHA256)
            if expected is not None and recorded != expected:
                raise IntegrityError(f"{what} records manifest digest {recorded}, the source's files have {expected}")
            target.download_model(version.model_name, version.version, workdir)  # checks every stored file
        except IntegrityError as err:
            self.log.error("%s differs from its source: deleting it.", what)
            target.discard_copy(version.model_name, version.version)
            raise IntegrityError(
                f"{what} in {target.registry_location()} does not store the source's files, so it was deleted: {err}"
            ) from err
        self.log.info("Verified the sha256 of every stored file of %s.", what)

    def _result(
        self,
        context: Context,
        version: ModelVersion,
        source_ref: ModelVersionRef,
        created: bool,
        source_hook: RegistryHook,
        source: ModelVersion,
    ) -> dict[str, Any]:
        ref = version.ref(self.target_registry_conn_id)
        self.registry_version_url = self.hook.version_url(version.model_name, version.version)
        extra = cast("dict[str, Any]", ref)
        context["outlet_events"][MODEL_EVENTS_ALIAS].add(
            model_asset(self.target_registry_conn_id, version.model_name), extra=extra
        )
        produced = self.version_dataset(version.model_name, version.version)
        for namespace, name in produced:
            context["outlet_events"][MODEL_VERSION_EVENTS_ALIAS].add(model_version_asset(namespace, name), extra=extra)
        try:
            read = [source_hook.lineage_dataset(source.model_name, source.version)]
        except InvalidInputError:
            read = []
        self.report_lineage(inputs=read, outputs=produced)
        self.log.info(
            "%s version %s (%s) of %s from %s.",
            "Copied" if created else "Found",
            version.version,
            version.version_name,
            version.model_name,
            source_ref["model_name"],
        )
        return version_result(ref, source=dict(source_ref), copied=created)
