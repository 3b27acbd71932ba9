"""What ``Registry.log_model`` is given: target platforms, dependencies and options, all checked first.

Pure module (no Airflow, no Snowflake imports). Dependencies follow snowflake-ml-python's
own default: ``relax_version=True``, so the worker's exact pins (``scikit-learn==1.9.1``)
become ranges Snowflake's Anaconda channel can satisfy (``>=1.9,<2``). The worker's exact
versions are recorded with the version (:data:`~.metadata.WORKER_PACKAGES`); exact pins
stay available with ``backend_options={"relax_version": False}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.snowflake.names import check_dollar_quoting

if TYPE_CHECKING:
    from airflow_registry_provider.hooks.base import ModelPackage

WAREHOUSE = "WAREHOUSE"
SNOWPARK_CONTAINER_SERVICES = "SNOWPARK_CONTAINER_SERVICES"
#: Flavors snowflake-ml-python can run in a warehouse (a Python UDF holding the estimator).
WAREHOUSE_FLAVORS = frozenset({"sklearn", "xgboost", "lightgbm"})
#: Top-level modules whose estimators a warehouse-served pipeline may contain.
_WAREHOUSE_MODULES = frozenset({"sklearn", "xgboost", "lightgbm"})
#: ``ModelPackage.options`` (``LogModelOperator(backend_options=…)``) understood here.
OPTIONS = frozenset({"target_platforms", "conda_dependencies", "pip_requirements", "relax_version"})
SNOWFLAKE_ML = "snowflake-ml-python"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)==([^,;\s]+)$")
_NOT_DEPLOYED = re.compile(r"^mlflow\b")


@dataclass(frozen=True)
class LogPlan:
    """Arguments of ``Registry.log_model`` and what to check before calling it."""

    kwargs: dict[str, Any]
    #: Exact versions of the worker's libraries the model was logged from.
    worker_packages: dict[str, str]
    #: Requirements the warehouse must find in INFORMATION_SCHEMA.PACKAGES (as it will resolve them).
    warehouse_requirements: list[str] = field(default_factory=list)


def _flag(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in ("true", "True"):
        return True
    if value in ("false", "False"):
        return False
    raise InvalidInputError(field, f"expected true or false, got {value!r}")


def _requirements(value: Any, field: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInputError(field, "expected a list of requirement strings, e.g. ['scikit-learn==1.5.2']")
    from packaging.requirements import InvalidRequirement, Requirement

    for spec in value:
        try:
            Requirement(spec.split("::", 1)[-1])
        except InvalidRequirement as err:
            raise InvalidInputError(field, f"{spec!r} is not a requirement ({err})") from None
    return list(value)


def target_platforms(package: ModelPackage) -> list[str]:
    field = "backend_options.target_platforms"
    requested = package.options.get("target_platforms") or [WAREHOUSE]
    if isinstance(requested, str):
        requested = [requested]
    platforms = [str(p).upper() for p in requested]
    unknown = set(platforms) - {WAREHOUSE, SNOWPARK_CONTAINER_SERVICES}
    if unknown:
        raise InvalidInputError(
            field, f"unknown platforms {sorted(unknown)}; use WAREHOUSE and/or {SNOWPARK_CONTAINER_SERVICES}"
        )
    if WAREHOUSE in platforms:
        offending = warehouse_unservable(package)
        if offending:
            raise InvalidInputError(
                "model",
                f"a WAREHOUSE cannot serve {offending}; warehouses run scikit-learn, XGBoost and LightGBM "
                f"models: set backend_options={{'target_platforms': ['{SNOWPARK_CONTAINER_SERVICES}']}}",
            )
    return platforms


def warehouse_unservable(package: ModelPackage) -> str | None:
    """What in the package a warehouse cannot run, or None."""
    if package.flavor not in WAREHOUSE_FLAVORS:
        return f"{package.flavor} models"
    estimator = package.model
    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else {}
    for part in [estimator, *params.values()]:
        module = type(part).__module__.split(".")[0]
        if hasattr(part, "fit") and module not in _WAREHOUSE_MODULES:
            return f"{type(part).__module__}.{type(part).__name__} (custom estimator or transformer)"
    return None


def plan(package: ModelPackage, relax: Callable[[str], str], library_version: str) -> LogPlan:
    """Every check on what will be logged, before anything is sent; ``relax`` is the library's rule."""
    if package.source_uri is not None or package.model is None:
        raise InvalidInputError(
            "model", "Snowflake registers model files (an estimator); MLflow model URIs are not supported"
        )
    if package.sample_input is None or package.sample_input.empty:
        raise InvalidInputError("sample_input", "is required on Snowflake: it defines the model's SQL signature")
    if package.description is not None:
        check_dollar_quoting(package.description, "description")
    unknown = set(package.options) - OPTIONS
    if unknown:
        raise InvalidInputError(
            "backend_options", f"unknown options {sorted(unknown)}; Snowflake accepts {sorted(OPTIONS)}"
        )
    options = package.options
    platforms = target_platforms(package)
    relax_version = _flag(options.get("relax_version"), "backend_options.relax_version", True)
    worker_pins = [r for r in package.pip_requirements if not _NOT_DEPLOYED.match(r)]
    worker = {m.group(1): m.group(2) for m in (_PIN.match(r) for r in worker_pins) if m}
    worker[SNOWFLAKE_ML] = library_version
    kwargs: dict[str, Any] = {
        "comment": package.description,
        "sample_input_data": package.sample_input,
        "target_platforms": platforms,
        "options": {"relax_version": relax_version},
    }
    checked: list[str] = []
    if WAREHOUSE in platforms:
        conda = _requirements(options.get("conda_dependencies"), "backend_options.conda_dependencies")
        kwargs["conda_dependencies"] = conda if conda is not None else worker_pins
        plain = [r for r in kwargs["conda_dependencies"] if "::" not in r]  # other channels are not checked
        checked = [relax(r) if relax_version else r for r in plain]
    else:
        pip = _requirements(options.get("pip_requirements"), "backend_options.pip_requirements")
        kwargs["pip_requirements"] = pip if pip is not None else worker_pins
    return LogPlan(kwargs=kwargs, worker_packages=worker, warehouse_requirements=checked)


def missing_packages(requirements: list[str], available: Mapping[str, list[str]]) -> list[str]:
    """The requirements no version in the Anaconda channel satisfies."""
    from packaging.requirements import Requirement

    return [r for r in requirements if not available.get(Requirement(r).name)]


def worker_packages_tag(plan: LogPlan) -> str:
    return json.dumps(plan.worker_packages, sort_keys=True)
