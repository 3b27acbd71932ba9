"""Answer "which version held alias X at time T" and "the history of alias X" from the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_registry_provider.audit_trail import load_records
from airflow_registry_provider.governance.audit import alias_history, utc, version_at
from airflow_registry_provider.operators.base import BaseRegistryOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class AliasHistoryOperator(BaseRegistryOperator):
    """Look up an alias's holders in the audit trail.

    Records come from the SQL audit table when ``audit_conn_id`` is set (complete
    history), else from the model's capped audit log in the registry (recent changes).

    :param model_name: The model.
    :param alias: The alias, e.g. ``champion``.
    :param at: Optional ISO-8601 time (``"{{ data_interval_end }}"``, ``"2026-03-01"``,
        naive means UTC): also answer which version held the alias then.
    :return: (XCom) ``{"model_name", "alias", "at", "version", "history": [{"version",
        "start", "end", "actor", "reason"}, ...]}``; ``version`` is None when the alias was
        unset at ``at`` or ``at`` is before the first recorded move.
    """

    template_fields: Sequence[str] = ("registry_conn_id", "audit_conn_id", "model_name", "alias", "at")
    ui_color = "#ececec"

    def __init__(self, *, model_name: str, alias: str, at: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.alias = alias
        self.at = at

    def execute(self, context: Context) -> dict[str, Any]:
        model_name = self.hook.validate_model_name(self.model_name)
        alias = self.hook.validate_alias(self.alias)
        at = utc(self.at) if self.at else None
        records = load_records(self.hook, model_name, sql_conn_id=self.audit_conn_id or None)
        history = alias_history(records, alias)
        source = "SQL audit table" if self.audit_conn_id else "registry audit log (recent changes only)"
        self.log.info("History of %r on %s from the %s:", alias, model_name, source)
        for span in history:
            self.log.info(
                "  version %s from %s until %s (by %s: %s)",
                span.version,
                span.start.isoformat() if span.start else "before the trail",
                span.end.isoformat() if span.end else "now",
                span.actor,
                span.reason,
            )
        version = version_at(records, alias, at) if at else None
        if at:
            self.log.info("At %s, %r was held by version %s.", at.isoformat(), alias, version)
        return {
            "model_name": model_name,
            "alias": alias,
            "at": at.isoformat() if at else None,
            "version": version,
            "history": [span.to_dict() for span in history],
        }
