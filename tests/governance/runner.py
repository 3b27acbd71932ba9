"""Run an operator's ``execute`` with a minimal task context (no scheduler, no metadata DB)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any
from unittest import mock

RUN_ID = "manual__2026-01-01T00:00:00+00:00"


def context_for(task_id: str, user: str | None = "alice", dag_id: str = "governance_test") -> dict[str, Any]:
    dag_run = SimpleNamespace(
        dag_id=dag_id, run_id=RUN_ID, run_type="manual", triggering_user_name=user, bundle_version=None
    )
    ti = SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id=RUN_ID, try_number=1)
    return {"dag_run": dag_run, "ti": ti, "run_id": RUN_ID, "outlet_events": defaultdict(mock.MagicMock)}


def run(operator: Any, user: str | None = "alice") -> Any:
    return operator.execute(context_for(operator.task_id, user))
