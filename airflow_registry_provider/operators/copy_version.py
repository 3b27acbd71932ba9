"""Copy a model version into another registry (another MLflow server, another Snowflake schema,
or from MLflow into Snowflake), verified and retry-safe."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import copying, integrity
from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.assets import (
    MODEL_EVENTS_ALIAS,
    MODEL_VERSION_EVENTS_ALIAS,
    model_asset,
    model_version_asset,
)
from airflow_registry_provider.exceptions import CONFIGURATION_ERRORS, IntegrityError, InvalidInputError
from airflow_registry_provider.hooks.base import ModelPackage, RegistryHook, get_registry_hook
from airflow_registry_provider.links import RegistryVersionLink
from airflow_registry_provider.model_version import parse_ref
from airflow_registry_provider.operators.base import BaseRegistryOperator, as_bool

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

    @cached_property
    def hook(self) -> RegistryHook:
        """The target registry (where the copy is written and audited)."""
        return _blamed(lambda: get_registry_hook(self.target_registry_conn_id), "target_registry_conn_id")

    @staticmethod
    @contextmanager
    def _fail_fast() -> Iterator[None]:
        """Bad input and integrity failures will not get better on retry."""
        try:
            yield
        except CONFIGURATION_ERRORS as err:
            raise AirflowFailException(str(err)) from err

    def execute(self, context: Context) -> dict[str, Any]:
        self.registry_conn_id = self.target_registry_conn_id  # rendered: what links and assets name
        with self._fail_fast():
            allow_unverified = as_bool(self.allow_unverified, "allow_unverified")
            ref = parse_ref(self.model_version)
            source_conn_id = self.source_registry_conn_id or ref["registry_conn_id"]
            if not source_conn_id:
                raise InvalidInputError(
                    "source_registry_conn_id", "is required: the model_version reference names no registry_conn_id"
                )
            source_hook = _blamed(lambda: get_registry_hook(source_conn_id), "source_registry_conn_id")
            target = self.hook
            how = copying.route(source_hook.backend, target.backend)
            model_name = target.validate_model_name(self.target_model_name or ref["model_name"], "target_model_name")
            source = _blamed(lambda: source_hook.get_version(ref["model_name"], ref["version"]), "model_version")
            origin = copying.CopySource(source_hook.registry_location(), source.model_name, source.version)
            version = target.find_copy(model_name, origin.digest)
            created = False
            if version is not None:
                self.log.info(
                    "Version %s of %s is already a copy of %s.", version.version, model_name, origin.describe()
                )
            else:
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
        if not source.version_name:
            raise InvalidInputError(
                "model_version",
                f"{origin.describe()} has no semantic version name ({tag_keys.VERSION_NAME}); "
                "copies keep the source's version name",
            )
        target = self.hook
        with tempfile.TemporaryDirectory(prefix="arp-copy-") as workdir:
            local = source_hook.download_model(
                source.model_name, source.version, workdir, allow_unverified=allow_unverified
            )
            manifest = integrity.file_manifest(local)  # verified equal to the source's recorded one
            package = ModelPackage(
                version_name=source.version_name,
                flavor=source.tags.get(tag_keys.FLAVOR, "python_function"),
                artifact_sha256=source.tags.get(tag_keys.ARTIFACT_SHA256) or integrity.manifest_digest(manifest),
                source_uri=local,
                metrics=dict(source.metrics),
                tags={
                    **copying.carried_tags(source.tags),
                    tag_keys.VERSION_NAME: source.version_name,
                    **origin.lineage_tags(),
                },
                description=source.description,
            )
            version, created = target.register_version(model_name, package)
            if created:
                self._verify(version, manifest, workdir)
        if created:
            self.audit_trail(context).record(
                "register",
                model=model_name,
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
        return version, created

    def _verify(self, version: ModelVersion, manifest: dict[str, str], workdir: str) -> None:
        """The target's stored files are the source's, or the new version is deleted."""
        target = self.hook
        what = f"the copy (version {version.version} of {version.model_name!r})"
        try:
            stored = target.download_model(version.model_name, version.version, f"{workdir}/verify")
            integrity.verify_files(stored, manifest, what=what)
        except IntegrityError as err:
            self.log.error("%s differs from its source: deleting it.", what)
            target.delete_version(version.model_name, version.version)
            raise IntegrityError(
                f"{what} in {target.registry_location()} does not store the source's files, so it was deleted: {err}"
            ) from err
        self.log.info("Verified the sha256 of the %d stored files of %s.", len(manifest), what)

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
        return {**ref, "model_version": ref, "source": source_ref, "copied": created}
