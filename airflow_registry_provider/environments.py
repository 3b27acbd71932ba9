"""The environments file: which registry each environment uses, its gates, and the allowed route.

Pure module (no Airflow imports). The file is parsed by pydantic into typed objects; any
error names its key path (``environments.PRD.approval.approvers``) and typo'd keys are
refused, as are cycles and hops the file does not allow::

    environments:
      DEV: {registry_conn_id: mlflow_dev, model_name: churn, next: [SIT]}
      SIT:
        registry_conn_id: mlflow_sit
        model_name: churn
        checks: {thresholds: {accuracy: ">= 0.8"}}
        grants: {DATA_SCIENTIST: READ}
        next: [UAT]
      ...
      PRD:
        ...
        approval: {required: true, approvers: [alice]}
        post_promotion_check: {thresholds: {accuracy: ">= 0.8"}, data: /data/fresh.parquet, label_column: churned}

A version moves from an environment only to one listed in its ``next``; listing a later
environment there (``DEV: {next: [SIT, PRD]}``) is how a file allows skipping.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.gates import parse_thresholds

ROOT = "environments"


class _Strict(BaseModel):
    # A typo'd key must fail, not be ignored: "aproval: {required: true}" would promote unapproved.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Checks(_Strict):
    """A gate a version must pass: metric thresholds, optionally measured on labelled data.

    :param thresholds: ``{metric: rule}`` as ValidateMetricsOperator takes them.
    :param data: Parquet/CSV file scored with the version as registered; its metrics
        replace the logged ones (the inference test). ``${VAR}`` is expanded.
    :param label_column: The label column of ``data`` (required with ``data``).
    :param compare_to: An alias the version must also beat (e.g. ``champion``).
    """

    thresholds: dict[str, str | dict[str, float]] = Field(min_length=1)
    data: str | None = None
    label_column: str | None = None
    compare_to: str | None = None

    @field_validator("thresholds")
    @classmethod
    def _rules_parse(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            parse_thresholds(value)
        except InvalidInputError as err:  # err.field is "thresholds.<metric>": keep the metric in the path
            raise _PathError(err.field.removeprefix("thresholds"), err.message, relative=True) from None
        return value

    @field_validator("data")
    @classmethod
    def _expand(cls, value: str | None) -> str | None:
        # Data paths differ per deployment: "${AIRFLOW_HOME}/holdout.parquet" is allowed.
        return os.path.expandvars(value) if value else value

    @model_validator(mode="after")
    def _label_with_data(self) -> Checks:
        if self.data and not self.label_column:
            raise ValueError("label_column is required with data")
        return self


class Approval(_Strict):
    """Whether a named person must approve promotion into the environment.

    :param required: Ask for approval before promoting.
    :param approvers: Airflow user ids allowed to answer; nobody else counts.
    :param timeout_hours: Give up (promote nothing) when nobody answers in time.
    """

    required: bool = False
    approvers: list[str] = Field(default_factory=list)
    timeout_hours: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _approvers_when_required(self) -> Approval:
        if self.required and not self.approvers:
            raise ValueError("approvers must name at least one user when required is true")
        return self


class Environment(_Strict):
    """One environment: its registry, the gates into it and what may follow it."""

    registry_conn_id: str = Field(min_length=1)
    model_name: str = Field(min_length=1)
    alias: str = "champion"
    previous_alias: str = "previous_champion"
    checks: Checks | None = None
    approval: Approval = Field(default_factory=Approval)
    grants: dict[str, str] = Field(default_factory=dict)
    admin_roles: list[str] = Field(default_factory=list)
    post_promotion_check: Checks | None = None
    next: list[str] = Field(default_factory=list)


class EnvironmentsConfig(_Strict):
    """Every environment, in the file's order, and the promotion graph ``next`` draws."""

    environments: dict[str, Environment] = Field(min_length=1)

    @model_validator(mode="after")
    def _graph(self) -> EnvironmentsConfig:
        known = self.environments
        for name, env in known.items():
            for i, nxt in enumerate(env.next):
                if nxt not in known:
                    raise _PathError(f"{ROOT}.{name}.next[{i}]", f"unknown environment {nxt!r}; {self._known()}")
                if nxt == name:
                    raise _PathError(f"{ROOT}.{name}.next[{i}]", "an environment cannot follow itself")
        cycle = _find_cycle({name: env.next for name, env in known.items()})
        if cycle:
            raise _PathError(f"{ROOT}.{cycle[0]}.next", f"cycle {' -> '.join(cycle)}: promotion must end somewhere")
        for name in self.promoted_into():
            if known[name].checks is None:
                raise _PathError(f"{ROOT}.{name}.checks", "required: versions are promoted into this environment")
        return self

    def _known(self) -> str:
        return f"known: {', '.join(self.environments)}"

    # -- queries -------------------------------------------------------------------
    def environment(self, name: str, field: str = "environment") -> Environment:
        """The environment called ``name``, or InvalidInputError naming ``field``."""
        try:
            return self.environments[name]
        except (KeyError, TypeError):
            raise InvalidInputError(field, f"unknown environment {name!r}; {self._known()}") from None

    def promoted_into(self) -> list[str]:
        """Environments some other environment promotes into, in file order."""
        targets = {nxt for env in self.environments.values() for nxt in env.next}
        return [name for name in self.environments if name in targets]

    def chain(self) -> list[str]:
        """The default route: from the first environment nothing promotes into, always the first ``next``."""
        targets = set(self.promoted_into())
        current = next(name for name in self.environments if name not in targets)
        route = [current]
        while self.environments[current].next:
            current = self.environments[current].next[0]
            route.append(current)
        return route

    def check_hop(self, source: str, target: str, field: str = "route") -> None:
        """Refuse promoting from ``source`` straight into ``target`` unless the file allows it."""
        allowed = self.environment(source, field).next
        self.environment(target, field)
        if target in allowed:
            return
        via = self._shortest_path(source, target)
        if via is None:
            raise InvalidInputError(
                field, f"{target} does not follow {source} ({ROOT}.{source}.next is {allowed}): no route"
            )
        raise InvalidInputError(
            field,
            f"promoting {source} -> {target} skips {', '.join(via[1:-1])}, which the file does not allow "
            f"({ROOT}.{source}.next is {allowed}; add {target} there to allow it)",
        )

    def route(self, names: Sequence[str], field: str = "route") -> list[str]:
        """Check a route (``["DEV", "SIT", "UAT", "PRD"]``) hop by hop; return it as a list."""
        if isinstance(names, str) or not isinstance(names, Sequence) or len(names) < 2:
            raise InvalidInputError(field, f"expected a list of at least two environments, got {names!r}")
        route = [str(n) for n in names]
        for i, name in enumerate(route):
            self.environment(name, f"{field}[{i}]")
        if len(set(route)) != len(route):
            raise InvalidInputError(field, f"names an environment twice: {route}")
        for i in range(1, len(route)):
            self.check_hop(route[i - 1], route[i], f"{field}[{i}]")
        return route

    def _shortest_path(self, source: str, target: str) -> list[str] | None:
        paths = {source: [source]}
        frontier = [source]
        while frontier:
            following = []
            for name in frontier:
                for nxt in self.environments[name].next:
                    if nxt not in paths:
                        paths[nxt] = [*paths[name], nxt]
                        following.append(nxt)
            frontier = following
        return paths.get(target)


class _PathError(ValueError):
    """An error raised inside pydantic's validation that knows its key path (or, ``relative``,
    the rest of it below the field being validated)."""

    def __init__(self, path: str, message: str, *, relative: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.relative = relative


def _find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle as ``[a, b, ..., a]``, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None


_KEYS = sorted({name for model in (Checks, Approval, Environment, EnvironmentsConfig) for name in model.model_fields})


def parse_environments(data: Any, source: str = "environments file") -> EnvironmentsConfig:
    """Validate a parsed environments document; InvalidInputError names the first key at fault."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(source, f"expected a mapping with an {ROOT!r} key, got {type(data).__name__}")
    try:
        return EnvironmentsConfig.model_validate(data)
    except ValidationError as err:
        raise _as_input_error(err) from None


def _as_input_error(err: ValidationError) -> InvalidInputError:
    first = err.errors()[0]
    cause = (first.get("ctx") or {}).get("error")
    parts = [str(p) for p in first["loc"]]
    path = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts).lstrip(".")
    if isinstance(cause, _PathError):
        return InvalidInputError(path + cause.path if cause.relative else cause.path, str(cause))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        close = difflib.get_close_matches(parts[-1], _KEYS, n=1)
        message = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    more = len(err.errors()) - 1
    return InvalidInputError(path or ROOT, message + (f" (and {more} more error(s))" if more else ""))


def load_environments(path: str | Path) -> EnvironmentsConfig:
    """Read and validate an environments YAML (or JSON) file."""
    import yaml

    file = Path(path)
    try:
        text = file.read_text()
    except OSError as err:
        raise InvalidInputError("environments_file", f"cannot read {str(file)!r}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidInputError("environments_file", f"{file} is not valid YAML: {err}") from None
    return parse_environments(data, "environments_file")
