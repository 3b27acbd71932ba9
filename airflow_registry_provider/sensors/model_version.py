"""Wait for a new version of a model, or for one of its aliases to move."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.base import get_registry_hook
from airflow_registry_provider.operators.base import BaseRegistryOperator
from airflow_registry_provider.triggers.model_version import ModelVersionTrigger, observe, poll

if TYPE_CHECKING:
    from airflow.sdk import Context


class ModelVersionSensor(BaseSensorOperator):
    """Succeed when ``model_name`` gets a new version, or when ``alias`` points at another version.

    The baseline is ``after_version`` or, by default, whatever the registry shows when the
    sensor starts. Deferrable: the wait runs in the triggerer (no worker slot), polling
    through the registry hook without process-global state. An Asset schedule on
    ``airflow_registry_provider.assets.model_asset`` is the alternative when the version
    is registered or promoted by a DAG of the same Airflow (see ``docs/promotion.md``).

    :param registry_conn_id: The registry connection.
    :param model_name: The model.
    :param alias: Watch this alias (e.g. ``champion``); None watches for a new version.
    :param after_version: The version id to wait past; default what the registry shows at
        start. Required with ``mode="reschedule"`` (a rescheduled poke has no memory).
    :param deferrable: Wait in the triggerer.
    :return: (XCom) the new version's reference with ``previous_version``.
    """

    template_fields: Sequence[str] = ("registry_conn_id", "model_name", "alias", "after_version")
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        model_name: str,
        registry_conn_id: str = "mlflow_default",
        alias: str | None = None,
        after_version: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.registry_conn_id = registry_conn_id
        self.model_name = model_name
        self.alias = alias
        self.after_version = after_version
        self.deferrable = deferrable
        self._baseline: str | None = None

    def _start(self) -> None:
        if self.mode == "reschedule" and self.after_version is None:
            raise InvalidInputError("after_version", "is required with mode='reschedule'")
        hook = get_registry_hook(self.registry_conn_id)
        try:
            hook.validate_model_name(self.model_name)
            if self.alias:
                hook.validate_alias(self.alias)
            if self.after_version is None:
                current = observe(hook, self.model_name, self.alias)
                self._baseline = current.version if current else None
            else:
                self._baseline = str(self.after_version) or None
        finally:
            hook.close()
        watched = f"alias {self.alias!r} of" if self.alias else "a new version of"
        self.log.info("Waiting for %s %s (now: version %s)", watched, self.model_name, self._baseline)

    def execute(self, context: Context) -> Any:
        with BaseRegistryOperator.fail_fast_on_bad_input():
            self._start()
        if not self.deferrable:
            return super().execute(context)
        event = poll(self.registry_conn_id, self.model_name, self.alias, self._baseline)
        if event is not None:
            return self.execute_complete(context, event)
        self.defer(
            trigger=ModelVersionTrigger(
                registry_conn_id=self.registry_conn_id,
                model_name=self.model_name,
                alias=self.alias,
                baseline=self._baseline,
                poke_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def poke(self, context: Context) -> PokeReturnValue:
        event = poll(self.registry_conn_id, self.model_name, self.alias, self._baseline)
        return PokeReturnValue(is_done=event is not None, xcom_value=self._result(event) if event else None)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") == "error":
            raise AirflowFailException(event.get("message", "the registry refused the sensor's request"))
        result = self._result(event)
        self.log.info("Version %s of %s (was %s).", result["version"], self.model_name, result["previous_version"])
        return result

    @staticmethod
    def _result(event: dict[str, Any]) -> dict[str, Any]:
        ref = event["model_version"]
        return {**ref, "model_version": ref, "previous_version": event.get("previous_version")}
