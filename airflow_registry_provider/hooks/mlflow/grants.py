"""Grants through MLflow's basic-auth app.

Grants map onto the auth app's role permissions on ``registered_model`` resources (see
``governance/grants.py`` for the privilege mapping). Roles are matched by name
case-insensitively, as on Snowflake; ``user:<name>`` grants live on the user's hidden
per-user role (``__user_<id>__``), which the server creates on the first grant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.grants import FROM_MLFLOW_PERMISSIONS, MLFLOW_PERMISSIONS, Grant
from airflow_registry_provider.governance.identifiers import is_user, username
from airflow_registry_provider.hooks.mlflow import errors

if TYPE_CHECKING:
    from mlflow.server.auth.client import AuthServiceClient

    from airflow_registry_provider.hooks.mlflow.settings import MlflowSettings

# The auth app's hidden per-user roles (its SqlAlchemyStore._SYNTHETIC_ROLE_NAME_RE).
SYNTHETIC_USER_ROLE = re.compile(r"__user_(\d+)__")
MODEL_RESOURCE = "registered_model"
ALL_MODELS = "*"
_MANAGE = "MANAGE"


@dataclass(frozen=True)
class PermissionState:
    """The auth server's permissions on one registered-model pattern, by grantee."""

    rows: dict[str, tuple[str, int]]  # grantee -> (MLflow permission, role-permission id)
    roles: dict[str, list[int]]  # canonical role name -> role ids (several when names differ by case only)

    def creator_grant(self) -> Grant | None:
        """The MANAGE the auth app gave the model's creator when the model was created.

        The server records no creator; its grant is the pattern's first permission row
        (ids only grow, and deleting a model sweeps its rows), and it is a user's MANAGE.
        """
        if not self.rows:
            return None
        grantee, (permission, _) = min(self.rows.items(), key=lambda item: item[1][1])
        if is_user(grantee) and permission == _MANAGE:
            return Grant(grantee, FROM_MLFLOW_PERMISSIONS[_MANAGE])
        return None


class AuthGrants:
    """Reads and changes grants with an ``AuthServiceClient`` (inside the hook's environment scope)."""

    def __init__(self, auth: AuthServiceClient, settings: MlflowSettings) -> None:
        self._auth = auth
        self._settings = settings

    def state(self, pattern: str) -> PermissionState:
        """Every role's permission on ``pattern``: one list call, plus one for user names if needed."""
        rows: dict[str, tuple[str, int]] = {}
        roles: dict[str, list[int]] = {}
        per_user: dict[int, tuple[str, int]] = {}
        try:
            listed = self._auth.list_roles(self._settings.workspace)
        except Exception as err:
            unsupported = errors.no_auth_app(err, self._settings)
            if unsupported is None:
                raise
            raise unsupported from err
        for role in listed:
            synthetic = SYNTHETIC_USER_ROLE.fullmatch(role.name)
            if not synthetic:
                roles.setdefault(role.name.upper(), []).append(role.id)
            # The server keeps at most one row per (role, resource type, pattern).
            for p in role.permissions:
                if p.resource_type == MODEL_RESOURCE and p.resource_pattern == pattern:
                    if synthetic:
                        per_user[int(synthetic.group(1))] = (p.permission, p.id)
                    else:
                        rows[role.name.upper()] = (p.permission, p.id)
        if per_user:
            from mlflow.server.auth.routes import LIST_USERS

            # AuthServiceClient has no list_users(); the endpoint is the one the MLflow UI uses.
            names = {u["id"]: u["username"] for u in self._auth._request(LIST_USERS, "GET")["users"]}
            rows.update({f"user:{names[uid]}": row for uid, row in per_user.items() if uid in names})
        return PermissionState(rows=rows, roles=roles)

    def current(self, pattern: str) -> list[Grant]:
        state = self.state(pattern)
        return [Grant(grantee, FROM_MLFLOW_PERMISSIONS.get(perm, perm)) for grantee, (perm, _) in state.rows.items()]

    def implicit(self, pattern: str) -> list[Grant]:
        creator = self.state(pattern).creator_grant()
        return [creator] if creator is not None else []

    def apply(self, pattern: str, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        """Check every grantee exists, then revoke and grant (a grantee in both changes in place)."""
        from mlflow.exceptions import MlflowException

        state = self.state(pattern)
        where = self._settings.tracking_uri
        problems = []
        for g in grant:
            if g.grantee in state.rows:
                continue
            if is_user(g.grantee):
                try:
                    self._auth.get_user(username(g.grantee))
                except MlflowException as err:
                    if err.error_code != errors.RESOURCE_DOES_NOT_EXIST:
                        raise
                    problems.append(f"user {username(g.grantee)!r} does not exist on {where}")
            elif g.grantee not in state.roles:
                problems.append(
                    f"role {g.grantee} does not exist in workspace {self._settings.workspace!r} "
                    f"on {where} (create it with AuthServiceClient.create_role)"
                )
            elif len(state.roles[g.grantee]) > 1:
                problems.append(f"role name {g.grantee} matches several roles that differ only by case")
        if problems:
            raise InvalidInputError("grants", "; ".join(problems))
        changed = {g.grantee for g in grant}
        for g in revoke:
            if g.grantee not in changed and g.grantee in state.rows:
                self._auth.remove_role_permission(state.rows[g.grantee][1])
        for g in grant:
            permission = MLFLOW_PERMISSIONS[g.privilege]
            if g.grantee in state.rows:  # one row per grantee and model: change it in place
                self._auth.update_role_permission(state.rows[g.grantee][1], permission)
            elif is_user(g.grantee):
                self._auth.grant_user_permission(username(g.grantee), MODEL_RESOURCE, pattern, permission)
            else:
                self._auth.add_role_permission(state.roles[g.grantee][0], MODEL_RESOURCE, pattern, permission)
