"""Build environment promotion DAGs from an environments file (``environments.py``).

A run first plans (:func:`plan_promotion`): it checks the route against the file, finds
the version to promote in the route's first environment and refuses a missing, rejected
or rolled-back one, all before anything is copied. Each later environment is one task
group (:func:`promotion_step`, group id = the environment's name)::

    source -> copy -> validate -> [approval] -> promote -> [grant]
                                                       -> [post_promotion_check -> rollback]

``source`` picks what this step copies: the plan's version for the first hop, else what
the previous environment on the route promoted in this run; a step off the route, or
after a step that promoted nothing, is skipped. Failures stop the route: a later step
never runs after a failed one.

Usage in a DAG file (see ``dags/environment_promotion.py``)::

    config = load_environments("config/environments.yml")
    plan = plan_promotion(environments_file="config/environments.yml", route="{{ params.route }}")
    promotion_steps(config, plan)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import TaskGroup, chain, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.environments import EnvironmentsConfig, load_environments
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.model_version import parse_structured
from airflow_registry_provider.operators.approval import RegistryApprovalOperator
from airflow_registry_provider.operators.base import BaseRegistryOperator
from airflow_registry_provider.operators.copy_version import CopyVersionOperator
from airflow_registry_provider.operators.grant_model import GrantModelOperator
from airflow_registry_provider.operators.promote_version import PromoteVersionOperator
from airflow_registry_provider.operators.rollback import RollbackOperator, rolled_back
from airflow_registry_provider.operators.validate_metrics import ValidateMetricsOperator

if TYPE_CHECKING:
    from airflow_registry_provider.environments import Checks, Environment
    from airflow_registry_provider.model_version import ModelVersion, ModelVersionRef

log = logging.getLogger(__name__)


# -- plan ------------------------------------------------------------------------------------
def resolve_source(
    config: EnvironmentsConfig,
    route: Sequence[str],
    source_version: str | None,
    events: Sequence[Mapping[str, Any]] = (),
    *,
    asset_triggered: bool = False,
) -> ModelVersionRef | None:
    """The version to promote from ``route[0]``, checked; None when an Asset run has nothing to promote.

    ``source_version`` (a version id) wins; else the latest triggering event that moved the
    environment's alias; else, for a manual run, the version holding the alias now.
    """
    from airflow_registry_provider.hooks.base import get_registry_hook

    route = config.route(route)
    env = config.environment(route[0])
    hook = get_registry_hook(env.registry_conn_id)
    if source_version:
        version = _blame(lambda: hook.get_version(env.model_name, str(source_version)), "source_version")
    else:
        moved = [e for e in events if e.get("alias") == env.alias and e.get("model_name") == env.model_name]
        if moved:
            version = _blame(lambda: hook.get_version(env.model_name, str(moved[-1]["version"])), "source_version")
        elif asset_triggered:
            return None
        else:
            found = hook.get_alias_version(env.model_name, env.alias)
            if found is None:
                raise InvalidInputError(
                    "source_version", f"no version of {env.model_name!r} holds {env.alias!r} in {route[0]}: give one"
                )
            version = found
    refuse_unpromotable(version, route[0])
    return version.ref(env.registry_conn_id)


def refuse_unpromotable(version: ModelVersion, environment: str) -> None:
    """A version that failed its gate, or was rolled back anywhere, is not promoted further."""
    where = f"version {version.version} of {version.model_name} in {environment}"
    record = rolled_back(version.tags)
    if record is not None:
        raise InvalidInputError(
            "source_version", f"{where} was rolled back ({record.get('reason')}, run {record.get('run')}): not promoted"
        )
    status = version.tags.get(tag_keys.VALIDATION_STATUS)
    if status != tag_keys.VALIDATION_PASSED:
        raise InvalidInputError(
            "source_version",
            f"{where} was rejected by its gate" if status else f"{where} has not passed its gate (ValidateMetrics)",
        )


def _blame(call: Any, field: str) -> Any:
    try:
        return call()
    except InvalidInputError as err:
        raise err.for_field(field) from err


@task(multiple_outputs=True)
def plan_promotion(
    environments_file: str, route: Sequence[str] | str | None = None, source_version: str | None = None
) -> dict[str, Any]:
    """Check the route and the source version before anything is copied.

    :param environments_file: The environments file (parsed again here: the run uses the file as it is now).
    :param route: Environments in order (``["DEV", "SIT", "UAT", "PRD"]``); default the file's chain.
    :param source_version: The version id in ``route[0]``; default what the triggering Asset
        event promoted there, or (manual runs) the version holding the alias now.
    :return: ``{"route": [...], "source": <ref>}``; skipped (with everything after it) when
        an Asset event did not move the alias (e.g. a new registration).
    """
    context = get_current_context()
    with BaseRegistryOperator.fail_fast_on_bad_input():
        config = load_environments(environments_file)
        names = _as_list(route) or config.chain()
        events = [dict(e.extra or {}) for evs in (context.get("triggering_asset_events") or {}).values() for e in evs]
        run_type = getattr(context.get("dag_run"), "run_type", None)
        asset_triggered = str(getattr(run_type, "value", run_type)) == "asset_triggered"
        source = resolve_source(config, names, source_version, events, asset_triggered=asset_triggered)
    if source is None:
        raise AirflowSkipException(f"No event moved the alias in {names[0]}: nothing to promote.")
    log.info("Promoting version %s of %s along %s", source["version"], source["model_name"], " -> ".join(names))
    return {"route": list(names), "source": source}


def _as_list(value: Sequence[str] | str | None) -> list[str] | None:
    """A route param, also when rendered to a string ("DEV,SIT" or "['DEV', 'SIT']")."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and not value.strip().startswith("["):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(v) for v in parse_structured(value, "route", (list, tuple))]


# -- one environment -----------------------------------------------------------------------
@task(task_id="source", trigger_rule="none_failed")
def step_source(route: list[str] | None, source: dict[str, Any] | None, environment: str) -> dict[str, Any]:
    """What this step copies: the plan's version, or what the previous environment promoted."""
    if not route or environment not in route[1:]:
        raise AirflowSkipException(f"{environment} is not on this run's route {route}.")
    previous = route[route.index(environment) - 1]
    if previous == route[0]:
        if not source:
            raise AirflowSkipException("The plan found nothing to promote.")
        return source
    promoted = get_current_context()["ti"].xcom_pull(task_ids=f"{previous}.promote")
    if not promoted:
        raise AirflowSkipException(f"{previous} promoted nothing in this run.")
    return promoted


def _check(task_id: str, env: Environment, checks: Checks, model_version: Any, **kwargs: Any) -> Any:
    return ValidateMetricsOperator(
        task_id=task_id,
        registry_conn_id=env.registry_conn_id,
        model_version=model_version,
        thresholds=checks.thresholds,
        compare_to=checks.compare_to,
        validation_data=checks.data,
        label_column=checks.label_column,
        on_failure="fail",
        **kwargs,
    )


def promotion_step(
    config: EnvironmentsConfig,
    environment: str,
    plan: Any,
    *,
    audit_conn_id: str | None = None,
) -> TaskGroup:
    """The task group that promotes into ``environment`` (its group id); see the module docstring.

    :param config: The parsed environments file.
    :param environment: An environment something promotes into.
    :param plan: :func:`plan_promotion`'s output.
    :param audit_conn_id: SQL connection of the audit table, for every step.
    """
    env = config.environment(environment, "environment")
    if environment not in config.promoted_into() or env.checks is None:
        raise InvalidInputError("environment", f"no environment promotes into {environment}: it has no step")
    with TaskGroup(group_id=environment, tooltip=f"Promote into {environment}") as group:
        # XComArgs stand for the values they resolve to at run time.
        source: Any = step_source(plan["route"], plan["source"], environment)
        copy = CopyVersionOperator(
            task_id="copy",
            model_version=source,
            target_registry_conn_id=env.registry_conn_id,
            target_model_name=env.model_name,
            audit_conn_id=audit_conn_id,
        )
        copied: Any = copy.output
        gate = _check("validate", env, env.checks, copied, audit_conn_id=audit_conn_id)
        copy >> gate
        approver = None
        if env.approval.required:
            approval = RegistryApprovalOperator(
                task_id="approval",
                model_version=copied,
                approvers=env.approval.approvers,
                subject=f"Promote {env.model_name} into {environment}",
                response_timeout=timedelta(hours=env.approval.timeout_hours) if env.approval.timeout_hours else None,
                audit_conn_id=audit_conn_id,
            )
            gate >> approval
            gate = approval
            approver = "{{ ti.xcom_pull(task_ids='" + f"{environment}.approval" + "')['approver'] }}"
        promote = PromoteVersionOperator(
            task_id="promote",
            registry_conn_id=env.registry_conn_id,
            model_version=copied,
            alias=env.alias,
            previous_alias=env.previous_alias,
            reason=f"promotion into {environment}",
            approver=approver,
            audit_conn_id=audit_conn_id,
        )
        gate >> promote
        promoted: Any = promote.output
        if env.grants:
            # Skipped, with the reason in its log, where the registry has no access control.
            grant = GrantModelOperator(
                task_id="grant",
                registry_conn_id=env.registry_conn_id,
                model_name=env.model_name,
                grants=env.grants,
                admin_roles=env.admin_roles,
                reason=f"grants of {environment}",
                audit_conn_id=audit_conn_id,
            )
            promote >> grant
        if env.post_promotion_check is not None:
            # Beside the grants, not after them: only a failed check (or promotion) may roll back.
            check = _check("post_promotion_check", env, env.post_promotion_check, promoted, audit_conn_id=audit_conn_id)
            rollback = RollbackOperator(
                task_id="rollback",
                promotion=promoted,
                alias=env.alias,
                reason=f"post-promotion check in {environment} failed",
                lineage=[plan["source"]],
                environment=environment,
                trigger_rule="one_failed",
                audit_conn_id=audit_conn_id,
            )
            check >> rollback
    return group


def promotion_steps(config: EnvironmentsConfig, plan: Any, *, audit_conn_id: str | None = None) -> list[TaskGroup]:
    """One :func:`promotion_step` per environment something promotes into, chained in file order."""
    groups = [promotion_step(config, name, plan, audit_conn_id=audit_conn_id) for name in config.promoted_into()]
    chain(*groups)
    return groups
