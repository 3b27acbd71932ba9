"""What every registry operator shares: the hook, run context and error policy."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider.exceptions import InvalidInputError, UnsupportedOperationError, VersionConflictError
from airflow_registry_provider.hooks.base import RegistryHook, get_registry_hook

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_registry_provider.audit_trail import AuditTrail


class BaseRegistryOperator(BaseOperator):
    """Base for operators that act on a model registry chosen by ``registry_conn_id``.

    :param audit_conn_id: Optional SQL connection (any common-sql database) whose
        append-only audit table receives a record of every registry change, in addition
        to the capped audit log kept in the registry itself.
    """

    template_fields: Sequence[str] = ("registry_conn_id", "audit_conn_id")

    def __init__(
        self, *, registry_conn_id: str = "mlflow_default", audit_conn_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.registry_conn_id = registry_conn_id
        self.audit_conn_id = audit_conn_id

    @cached_property
    def hook(self) -> RegistryHook:
        return get_registry_hook(self.registry_conn_id)

    def report_lineage(self, inputs: Sequence[tuple[str, str]] = (), outputs: Sequence[tuple[str, str]] = ()) -> None:
        """Datasets (``(namespace, name)``) this run read and wrote, for OpenLineage."""
        self.lineage_datasets = (list(inputs), list(outputs))

    def version_dataset(self, model_name: str, version: str) -> list[tuple[str, str]]:
        """A version's lineage dataset, or none when the backend does not name one."""
        try:
            return [self.hook.lineage_dataset(model_name, version)]
        except UnsupportedOperationError:
            return []

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """OpenLineage inputs/outputs of the finished run (called by the OpenLineage provider)."""
        datasets = getattr(self, "lineage_datasets", None)
        if datasets is None:
            return None
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        inputs, outputs = datasets
        return OperatorLineage(
            inputs=[Dataset(namespace=ns, name=name) for ns, name in inputs],
            outputs=[Dataset(namespace=ns, name=name) for ns, name in outputs],
        )

    def audit_trail(self, context: Context) -> AuditTrail:
        """Where this task records its registry changes (see ``audit_trail.py``)."""
        from airflow_registry_provider.audit_trail import AuditTrail

        return AuditTrail.from_context(context, self.hook, sql_conn_id=self.audit_conn_id or None)

    @staticmethod
    @contextmanager
    def fail_fast_on_bad_input() -> Iterator[None]:
        """Bad input will not get better on retry: fail the task without retrying."""
        try:
            yield
        except (InvalidInputError, VersionConflictError) as err:
            raise AirflowFailException(str(err)) from err


def run_tags(context: Context) -> dict[str, str]:
    """Where a change came from: DAG, run, task, try and DAG bundle version when known."""
    from airflow_registry_provider import tags

    ti = context["ti"]
    result = {
        tags.DAG_ID: ti.dag_id,
        tags.RUN_ID: ti.run_id,
        tags.TASK_ID: ti.task_id,
        tags.TRY_NUMBER: str(ti.try_number),
    }
    bundle = getattr(ti, "bundle_instance", None)
    if bundle is not None:
        result[tags.BUNDLE_NAME] = str(getattr(bundle, "name", ""))
        version = getattr(bundle, "version", None) or getattr(context.get("dag_run"), "bundle_version", None)
        if version:
            result[tags.BUNDLE_VERSION] = str(version)
    return result


def actor(context: Context) -> str:
    """The user who triggered a manual run, else the run itself."""
    from airflow_registry_provider.audit_trail import context_actor

    return context_actor(context)


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def as_bool(value: Any, field: str) -> bool:
    """A flag that may arrive rendered from a template ("true", "False", "1")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", "none", ""):
        return False
    raise InvalidInputError(field, f"expected true or false, got {value!r}")
