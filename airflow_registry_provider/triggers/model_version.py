"""Poll a registry for a new version of a model or a move of one of its aliases.

The triggerer runs many triggers in one process, so a poll touches no process-global
state: each builds its own hook from the connection, and the hooks read through explicit
clients (MLflow: ``hooks/mlflow/rest.py``'s REST reads for a server, an explicit client
for a local store; Snowflake: the connection's own session). Blocking calls run in a
thread (``sync_to_async``), never on the triggerer's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_registry_provider.exceptions import CONFIGURATION_ERRORS, ModelNotFoundError

if TYPE_CHECKING:
    from airflow_registry_provider.hooks.base import RegistryHook
    from airflow_registry_provider.model_version import ModelVersion


def observe(hook: RegistryHook, model_name: str, alias: str | None) -> ModelVersion | None:
    """What the sensor watches: the version holding ``alias``, else the newest version.

    None while there is none (also while the model does not exist yet).
    """
    if alias:
        try:
            return hook.get_alias_version(model_name, alias)
        except ModelNotFoundError:
            return None
    # Both backends list versions newest first; the first page is enough.
    return next(iter(hook.iter_versions(model_name, page_size=1)), None)


def poll(registry_conn_id: str, model_name: str, alias: str | None, baseline: str | None) -> dict[str, Any] | None:
    """One look at the registry: the event payload when the watched version is not ``baseline``."""
    from airflow_registry_provider.hooks.base import get_registry_hook

    hook = get_registry_hook(registry_conn_id)
    try:
        found = observe(hook, model_name, alias)
    finally:
        hook.close()
    if found is None or found.version == baseline:
        return None
    return {"status": "changed", "model_version": found.ref(registry_conn_id), "previous_version": baseline}


class ModelVersionTrigger(BaseTrigger):
    """Fire when ``alias`` of ``model_name`` (or, without an alias, its newest version) is
    no longer ``baseline``.

    :param registry_conn_id: The registry connection.
    :param model_name: The model.
    :param alias: Watch this alias; None watches for a new version.
    :param baseline: The version id seen when the sensor started (None: there was none).
    :param poke_interval: Seconds between polls.
    """

    def __init__(
        self,
        registry_conn_id: str,
        model_name: str,
        alias: str | None = None,
        baseline: str | None = None,
        poke_interval: float = 30.0,
    ) -> None:
        super().__init__()
        self.registry_conn_id = registry_conn_id
        self.model_name = model_name
        self.alias = alias
        self.baseline = baseline
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "registry_conn_id": self.registry_conn_id,
                "model_name": self.model_name,
                "alias": self.alias,
                "baseline": self.baseline,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        check = sync_to_async(poll, thread_sensitive=False)
        while True:
            try:
                event = await check(self.registry_conn_id, self.model_name, self.alias, self.baseline)
            except CONFIGURATION_ERRORS as err:
                yield TriggerEvent({"status": "error", "message": str(err)})
                return
            except Exception as err:  # transient (network, 5xx): the next poll retries
                self.log.warning("Polling %s in %s failed, retrying: %s", self.model_name, self.registry_conn_id, err)
            else:
                if event is not None:
                    yield TriggerEvent(event)
                    return
            await asyncio.sleep(self.poke_interval)
