"""What every registry operator shares: the hook, run context and error policy."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider.exceptions import (
    CONFIGURATION_ERRORS,
    AliasNotFoundError,
    InvalidInputError,
    NotFoundError,
    UnsupportedOperationError,
    VersionNotFoundError,
)
from airflow_registry_provider.hooks.base import RegistryHook, get_registry_hook
from airflow_registry_provider.model_version import parse_ref, parse_structured, version_result

if TYPE_CHECKING:
    import jinja2
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_registry_provider.audit_trail import AuditTrail
    from airflow_registry_provider.model_version import ModelVersion, ModelVersionRef


#: The connection an operator uses when neither it nor a model-version reference names one.
DEFAULT_REGISTRY_CONN_ID = "mlflow_default"


class BaseRegistryOperator(BaseOperator):
    """Base for operators that act on a model registry chosen by ``registry_conn_id``.

    The contract every subclass gets from here, without code of its own:

    * errors in :data:`~airflow_registry_provider.exceptions.CONFIGURATION_ERRORS` fail the
      task at once (``AirflowFailException``, no retry), the message starting with the
      field; every other error is raised as it is, so Airflow retries it;
    * :meth:`check_inputs` runs right after the template fields are rendered (before
      Airflow stores the rendered values) and again before ``execute``, so a bad rendered
      value fails naming its field before anything is read or written;
    * the hook is closed when ``execute`` ends, whatever the outcome.

    :param registry_conn_id: Registry connection (``mlflow_registry`` or ``snowflake``).
        Default: the connection of the model-version reference the operator is given,
        else ``mlflow_default``. Set it to override the reference's.
    :param audit_conn_id: Optional SQL connection (any common-sql database) whose
        append-only audit table receives a record of every registry change, in addition
        to the capped audit log kept in the registry itself.
    """

    template_fields: Sequence[str] = ("registry_conn_id", "audit_conn_id")

    def __init__(self, *, registry_conn_id: str | None = None, audit_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # None means "not set": a model-version reference may then name the connection.
        self.registry_conn_id_explicit = registry_conn_id is not None
        self.registry_conn_id = DEFAULT_REGISTRY_CONN_ID if registry_conn_id is None else registry_conn_id
        self.audit_conn_id = audit_conn_id

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "execute" in cls.__dict__:
            cls.execute = _contract(cls.__dict__["execute"])  # type: ignore[method-assign]

    # -- inputs ----------------------------------------------------------------------
    def check_inputs(self) -> None:
        """Parse and check rendered parameters in place; raise InvalidInputError naming the field.

        Runs after template rendering and before ``execute``, so it must be idempotent.
        Subclasses extend it (calling ``super().check_inputs()``).
        """
        if not isinstance(self.registry_conn_id, str) or not self.registry_conn_id.strip():
            raise InvalidInputError("registry_conn_id", f"give a connection id, not {self.registry_conn_id!r}")

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        super().render_template_fields(context, jinja_env)
        # Airflow serializes the rendered fields next; a NaN metric must fail here, named.
        with self.fail_fast_on_bad_input():
            self.check_inputs()

    # -- the registry ------------------------------------------------------------------
    @cached_property
    def hook(self) -> RegistryHook:
        return get_registry_hook(self.registry_conn_id)

    def close_hook(self) -> None:
        """Close the hook if one was made; the next use of :attr:`hook` makes a new one."""
        hook = self.__dict__.pop("hook", None)
        if hook is not None:
            hook.close()

    def adopt_connection(self, ref: ModelVersionRef) -> None:
        """Use the reference's registry connection unless ``registry_conn_id`` was set explicitly."""
        conn_id = ref.get("registry_conn_id")
        if self.registry_conn_id_explicit or not conn_id or conn_id == self.registry_conn_id:
            return
        self.log.info("Using connection %r of the model version reference.", conn_id)
        self.close_hook()
        self.registry_conn_id = conn_id

    def resolve_version(
        self,
        *,
        model_version: Any = None,
        model_name: str | None = None,
        version: str | None = None,
        alias: str | None = None,
        field: str = "model_version",
    ) -> ModelVersion:
        """The version named by a reference, else by ``model_name`` with ``version`` or ``alias``.

        A reference wins over the other arguments, and its connection is adopted (see
        :meth:`adopt_connection`). Not-found errors are the hook's typed errors, naming the
        field that carried the name.
        """
        if model_version is not None and model_version != "":
            ref = parse_ref(model_version, field)
            self.adopt_connection(ref)
            return self._blame(field, lambda: self.hook.get_version(ref["model_name"], ref["version"]))
        if not model_name:
            raise InvalidInputError("model_name", f"give model_name (with version or alias) or {field}")
        model_name = self.hook.validate_model_name(model_name)
        if version is not None and str(version).strip():
            read = lambda: self.hook.get_version(model_name, str(version).strip())  # noqa: E731
            return self._blame("version", read, VersionNotFoundError)
        if not alias:
            raise InvalidInputError("alias", "give an alias or a version")
        found = self.hook.get_alias_version(model_name, self.hook.validate_alias(alias))
        if found is None:
            raise AliasNotFoundError("alias", f"no version of {model_name!r} holds {alias!r}")
        return found

    @staticmethod
    def _blame(field: str, read: Any, errors: type[NotFoundError] = NotFoundError) -> ModelVersion:
        """A version read whose not-found ``errors`` name ``field`` (where the user wrote the name)."""
        try:
            return read()
        except errors as err:
            raise err.for_field(field) from err

    def version_result(self, version: ModelVersion, **extra: Any) -> dict[str, Any]:
        """The one XCom shape (see ``model_version.version_result``) for ``version``."""
        return version_result(version.ref(self.registry_conn_id), **extra)

    # -- lineage and audit ---------------------------------------------------------------
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
        """Configuration errors will not get better on retry: fail the task without retrying."""
        try:
            yield
        except CONFIGURATION_ERRORS as err:
            raise AirflowFailException(str(err)) from err


def _contract(execute: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a subclass's ``execute``: inputs checked, configuration errors fail at once, hook closed."""
    if getattr(execute, "_registry_contract", False):
        return execute

    @functools.wraps(execute)
    def wrapper(self: BaseRegistryOperator, context: Context, *args: Any, **kwargs: Any) -> Any:
        outermost = not getattr(self, "_executing", False)  # a subclass calling super().execute()
        self._executing = True
        try:
            with self.fail_fast_on_bad_input():
                if outermost:
                    self.check_inputs()
                return execute(self, context, *args, **kwargs)
        finally:
            if outermost:
                self._executing = False
                self.close_hook()

    wrapper._registry_contract = True  # type: ignore[attr-defined]
    return wrapper


@contextmanager
def field_renamed(old: str, new: str) -> Iterator[None]:
    """Blame ``new`` for an InvalidInputError a core raised about ``old`` (or ``old.<key>``)."""
    try:
        yield
    except InvalidInputError as err:
        if err.field != old and not err.field.startswith(f"{old}."):
            raise
        raise err.for_field(new + err.field[len(old) :]) from err


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
    """A flag: a bool, or exactly ``"true"``/``"false"`` as a template renders one (any case).

    Anything else (``"1"``, ``"yes"``, ``""``, ``None``) is refused rather than guessed:
    a typo in a DAG param must not silently turn ``dry_run`` off.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidInputError(field, f"expected true or false, got {value!r}")


def parse_metrics(value: Any, field: str = "metrics") -> dict[str, float]:
    """Metrics given as a mapping, its JSON or a rendered literal; finite numbers only, named."""
    from airflow_registry_provider.gates import coerce_metrics

    if value is None or value == "":
        return {}
    return coerce_metrics(parse_structured(value, field), field)


def parse_mapping(value: Any, field: str) -> dict[str, Any] | None:
    """An optional mapping given as itself, its JSON or a rendered literal (None stays None)."""
    if value is None or value == "":
        return None
    return dict(parse_structured(value, field))


def is_template(value: Any) -> bool:
    """Whether a value passed to ``__init__`` still holds Jinja to render (checked later)."""
    from airflow.sdk import XComArg

    if isinstance(value, XComArg):  # the output of another task
        return True
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(is_template(k) or is_template(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return any(is_template(v) for v in value)
    return False
