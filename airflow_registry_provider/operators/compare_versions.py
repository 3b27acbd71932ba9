"""Diff two versions of a model: metrics, params, tags and lineage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.compare import compare_versions, render_text
from airflow_registry_provider.operators.base import BaseRegistryOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_registry_provider.model_version import ModelVersion


class CompareVersionsOperator(BaseRegistryOperator):
    """Compare a candidate version with a base version of the same model.

    ``base`` and ``candidate`` each name a version as a version id (``"7"``,
    ``"V1_2_0"``), an alias prefixed with ``@`` (``"@champion"``), or a model version
    reference (``log_model.output``).

    :param model_name: The model (optional when both sides are references).
    :param base: The version compared against, e.g. ``"@champion"``.
    :param candidate: The new version, e.g. ``log_model.output``.
    :return: (XCom) the candidate's reference keys and ``model_version`` (the one XCom
        shape), plus the diff: ``base``, ``candidate``, ``metrics`` ({name: base, candidate, delta, pct}),
        ``params`` and ``tags`` (added/removed/changed), ``lineage`` (training data hash
        and code version: changed or not). The log shows the same as text.
    """

    template_fields: Sequence[str] = ("registry_conn_id", "model_name", "base", "candidate")
    template_fields_renderers = {"base": "json", "candidate": "json"}
    ui_color = "#e0f0f0"

    def __init__(
        self,
        *,
        base: str | Mapping[str, Any],
        candidate: str | Mapping[str, Any],
        model_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.base = base
        self.candidate = candidate

    def execute(self, context: Context) -> dict[str, Any]:
        base = self._resolve(self.base, "base")
        candidate = self._resolve(self.candidate, "candidate")
        if base.model_name != candidate.model_name:
            raise InvalidInputError("candidate", f"is a version of {candidate.model_name!r}, not {base.model_name!r}")
        hook = self.hook
        diff = compare_versions(
            base,
            candidate,
            base_params=hook.get_version_params(base.model_name, base.version),
            candidate_params=hook.get_version_params(candidate.model_name, candidate.version),
        )
        self.log.info("%s", render_text(diff))
        self.report_lineage(
            inputs=[
                *self.version_dataset(base.model_name, base.version),
                *self.version_dataset(candidate.model_name, candidate.version),
            ]
        )
        diff.pop("model_name")  # the reference keys carry it
        return self.version_result(candidate, **diff)

    def _resolve(self, value: str | Mapping[str, Any], field: str) -> ModelVersion:
        if isinstance(value, Mapping) or (isinstance(value, str) and value.lstrip().startswith("{")):
            return self.resolve_version(model_version=value, field=field)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(field, "give a version id, '@alias' or a model version reference")
        if not self.model_name:
            raise InvalidInputError("model_name", f"is required when {field} is a version id or alias")
        alias, version = (value[1:], None) if value.startswith("@") else (None, value.strip())
        try:
            return self.resolve_version(model_name=self.model_name, version=version, alias=alias)
        except InvalidInputError as err:
            # The version or alias was written in ``base`` / ``candidate``: blame that.
            raise (err.for_field(field) if err.field in ("alias", "version") else err) from err
