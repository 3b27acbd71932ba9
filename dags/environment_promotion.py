"""Promote the customer churn model DEV -> SIT -> UAT -> PRD, each environment its own registry.

Runs when ``churn_model_lifecycle`` (or anything else) moves the DEV champion: the DEV
model's Asset gets an event and this DAG promotes the version that event names. Each
environment of ``config/environments.yml`` (or the file in ``ARP_ENVIRONMENTS_FILE``) is
one task group: copy the version into the environment's registry, pass its checks,
(PRD) wait for an allowed approver, promote it to champion, apply the environment's
grants (skipped with the reason logged where the registry has no access control) and
(PRD) check it again on fresh data, rolling back to the previous champion if that fails.

Manual runs: ``route`` (e.g. ``["SIT", "UAT"]``; hops the file does not allow are refused)
and ``source_version`` (a version id in the route's first environment; default its champion).
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import Param, dag

from airflow_registry_provider.assets import model_asset
from airflow_registry_provider.environments import load_environments
from airflow_registry_provider.promotion import plan_promotion, promotion_steps

ENVIRONMENTS_FILE = os.environ.get("ARP_ENVIRONMENTS_FILE") or str(
    Path(__file__).resolve().parent.parent / "config" / "environments.yml"
)
CONFIG = load_environments(ENVIRONMENTS_FILE)
ROUTE = CONFIG.chain()
FIRST = CONFIG.environment(ROUTE[0])


@dag(
    dag_id="environment_promotion",
    # The first environment's model: PromoteVersion emits an event (with the alias) on each promotion.
    schedule=[model_asset(FIRST.registry_conn_id, FIRST.model_name)],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # two runs must not move the same aliases at once
    render_template_as_native_obj=True,
    tags=["model-registry", "example", "promotion"],
    params={
        "route": Param(ROUTE, type="array", items={"type": "string"}, description="Environments, in order"),
        "source_version": Param("", type="string", description="Version id in the route's first environment"),
        "audit_conn_id": Param("", type="string", description="Optional SQL connection of the audit table"),
    },
    doc_md=__doc__,
)
def environment_promotion() -> None:
    plan = plan_promotion(
        environments_file=ENVIRONMENTS_FILE, route="{{ params.route }}", source_version="{{ params.source_version }}"
    )
    promotion_steps(CONFIG, plan, audit_conn_id="{{ params.audit_conn_id }}")


environment_promotion()
