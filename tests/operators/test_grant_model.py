"""GrantModelOperator: policy and injection refusals (no calls made), and the full
READ -> EDIT -> revoke cycle against a real MLflow basic-auth server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import tags
from airflow_registry_provider.governance.audit import parse_log
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from airflow_registry_provider.hooks.mlflow.environment import scoped_environment as _scoped_environ
from airflow_registry_provider.operators import GrantModelOperator
from tests.governance import fixtures
from tests.governance.payloads import INJECTIONS
from tests.helpers import task_context

ALICE = ("alice", "Alice-pass-1234")


def run(operator: GrantModelOperator) -> dict:
    return operator.execute(task_context(operator.task_id))


ADMIN = fixtures.ADMIN


def grant_op(**kwargs) -> GrantModelOperator:
    kwargs.setdefault("model_name", "churn")
    kwargs.setdefault("registry_conn_id", "mlflow_default")
    return GrantModelOperator(task_id="grant", **kwargs)


@pytest.fixture
def no_registry_calls(mlflow_registry: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail the test if the hook is asked to read or change any grant."""
    calls: list[str] = []
    for name in ("list_grants", "apply_grants", "list_future_grants", "apply_future_grants"):
        monkeypatch.setattr(MlflowRegistryHook, name, lambda self, *a, _n=name, **k: calls.append(_n))
    return calls


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("where", ["role", "user", "model", "admin_roles", "future_grants"])
def test_injection_is_refused_before_any_call(no_registry_calls: list[str], payload: str, where: str) -> None:
    if where == "user" and payload in ("1ROLE", "db.schema"):
        pytest.skip("a legal user name")
    kwargs: dict = {"grants": {"DATA_SCIENTIST": "READ"}}
    if where == "role":
        kwargs["grants"] = {payload: "READ"}
    elif where == "user":
        kwargs["grants"] = {f"user:{payload}": "READ"}
    elif where == "model":
        if payload in ("1ROLE", "db.schema"):
            pytest.skip("a legal MLflow model name")
        kwargs["model_name"] = payload
    elif where == "admin_roles":
        kwargs["admin_roles"] = [payload]
    else:
        kwargs["future_grants"] = {payload: "USAGE"}
    with pytest.raises(AirflowFailException):
        run(grant_op(**kwargs))
    assert no_registry_calls == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grants": {"PUBLIC": "OWNERSHIP"}, "admin_roles": ["PUBLIC"], "allow_public": True}, "OWNERSHIP to PUBLIC"),
        ({"grants": {"PUBLIC": "READ"}}, "allow_public"),
        ({"grants": {"DATA_SCIENTIST": "OWNERSHIP"}, "admin_roles": ["ML_ADMIN"]}, "admin roles"),
        ({"grants": {"DATA_SCIENTIST": "ALL PRIVILEGES"}}, "unknown privilege"),
        ({"grants": "not json"}, "JSON"),
        ({"grants": {"A": "READ"}, "dry_run": "maybe"}, "true or false"),
    ],
)
def test_policy_refusals_make_no_call(no_registry_calls: list[str], kwargs: dict, message: str) -> None:
    with pytest.raises(AirflowFailException, match=message):
        run(grant_op(**kwargs))
    assert no_registry_calls == []


def test_a_local_store_cannot_manage_grants(mlflow_registry: str) -> None:
    with pytest.raises(Exception, match="basic-auth"):
        run(grant_op(grants={"DATA_SCIENTIST": "READ"}))


# -- against a real auth server --------------------------------------------------------------
@contextmanager
def as_user(server: str, user: tuple[str, str]) -> Iterator[None]:
    """Fluent MLflow calls go to ``server`` as ``user`` inside the block.

    Like the hook's ``_client()``: the raw URI globals are restored, not re-set, so
    that no URI stays pinned for the tests that follow.
    """
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    env = {"MLFLOW_TRACKING_USERNAME": user[0], "MLFLOW_TRACKING_PASSWORD": user[1]}
    env |= {"MLFLOW_TRACKING_URI": server, "MLFLOW_REGISTRY_URI": server}
    previous = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    with _scoped_environ(env):
        tracking_utils._tracking_uri = registry_utils._registry_uri = server
        try:
            yield
        finally:
            tracking_utils._tracking_uri, registry_utils._registry_uri = previous


@pytest.fixture(scope="module")
def auth_model(mlflow_auth_server: str) -> dict:
    """Model ``churn`` (one sklearn version) registered by admin; user alice in role DATA_SCIENTIST."""
    import mlflow
    import numpy as np
    from mlflow.server.auth.client import AuthServiceClient
    from sklearn.linear_model import LogisticRegression

    with as_user(mlflow_auth_server, ADMIN):
        experiment = mlflow.set_experiment("governance")
        with mlflow.start_run():
            estimator = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
            mlflow.sklearn.log_model(
                estimator, name="model", registered_model_name="churn", pip_requirements=["scikit-learn"]
            )
        auth = AuthServiceClient(mlflow_auth_server)
        auth.create_user(*ALICE)
        for name in ("DATA_SCIENTIST", "ML_ADMIN"):
            role = auth.create_role("default", name)
            # Loading a version reads its run's files, which need READ on the experiment.
            auth.add_role_permission(role.id, "experiment", experiment.experiment_id, "READ")
            if name == "DATA_SCIENTIST":
                auth.assign_role(ALICE[0], role.id)
                data_scientist = role.id
    return {"server": mlflow_auth_server, "auth": auth, "data_scientist": data_scientist}


@pytest.fixture
def admin_conn(auth_model: dict, monkeypatch: pytest.MonkeyPatch) -> str:
    conn = {"conn_type": "mlflow_registry", "login": ADMIN[0], "password": ADMIN[1]}
    conn["extra"] = {"tracking_uri": auth_model["server"]}
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_ADMIN", json.dumps(conn))
    return "mlflow_admin"


def alice_can(server: str, action: str) -> bool:
    """Whether alice may ``load`` the model or ``alias`` it (403 -> False)."""
    import mlflow
    from mlflow import MlflowClient

    try:
        with as_user(server, ALICE):
            if action == "load":
                mlflow.pyfunc.load_model("models:/churn/1")
            else:
                MlflowClient(server).set_registered_model_alias("churn", "champion", "1")
    except Exception as err:  # MlflowException, or requests' HTTPError from artifact downloads
        if "403" in str(err) or getattr(err, "error_code", None) == "PERMISSION_DENIED":
            return False
        raise
    return True


@pytest.mark.integration
def test_read_edit_revoke_cycle(auth_model: dict, admin_conn: str) -> None:
    server, auth = auth_model["server"], auth_model["auth"]
    assert not alice_can(server, "load")

    run(grant_op(registry_conn_id=admin_conn, grants={"data_scientist": "READ"}))
    assert alice_can(server, "load")
    assert not alice_can(server, "alias")

    dry = run(grant_op(registry_conn_id=admin_conn, grants={"DATA_SCIENTIST": "EDIT"}, dry_run=True))
    assert dry["plans"][0]["grant"] == [{"grantee": "DATA_SCIENTIST", "privilege": "EDIT"}]
    assert not alice_can(server, "alias")

    run(grant_op(registry_conn_id=admin_conn, grants={"DATA_SCIENTIST": "EDIT"}, reason="alice ships v1"))
    with as_user(server, ADMIN):
        rows = [p for p in auth.list_role_permissions(auth_model["data_scientist"]) if p.resource_pattern == "churn"]
    assert [(p.resource_type, p.permission) for p in rows] == [("registered_model", "EDIT")]  # updated, not added
    assert alice_can(server, "alias")

    result = run(
        grant_op(
            registry_conn_id=admin_conn,
            grants={"ML_ADMIN": "OWNERSHIP"},
            admin_roles=["ML_ADMIN"],
            revoke_missing=True,
            reason="lock down",
        )
    )
    revoked = {r["grantee"] for r in result["plans"][0]["revoke"]}
    # admin got MANAGE by creating the model: reported and kept unless revoke_implicit
    assert revoked == {"DATA_SCIENTIST"}
    assert result["implicit_kept"] == [{"grantee": "user:admin", "privilege": "OWNERSHIP"}]
    assert not alice_can(server, "alias")
    assert not alice_can(server, "load")

    hook = MlflowRegistryHook(admin_conn)
    held = {("ML_ADMIN", "OWNERSHIP"), ("user:admin", "OWNERSHIP")}
    assert {(g.grantee, g.privilege) for g in hook.list_grants("churn")} == held

    result = run(
        grant_op(
            registry_conn_id=admin_conn,
            grants={"ML_ADMIN": "OWNERSHIP"},
            admin_roles=["ML_ADMIN"],
            revoke_missing=True,
            revoke_implicit=True,
            reason="lock down",
        )
    )
    assert [r["grantee"] for r in result["plans"][0]["revoke"]] == ["user:admin"]
    assert {(g.grantee, g.privilege) for g in hook.list_grants("churn")} == {("ML_ADMIN", "OWNERSHIP")}
    log = parse_log(hook.get_model_tags("churn")[tags.AUDIT_LOG])
    changes = [(r.action, r.after["grantee"], r.before["privilege"], r.after["privilege"]) for r in log]
    assert changes == [
        ("grant", "DATA_SCIENTIST", None, "READ"),
        ("grant", "DATA_SCIENTIST", "READ", "EDIT"),
        ("grant", "ML_ADMIN", None, "OWNERSHIP"),
        ("revoke", "DATA_SCIENTIST", "EDIT", None),
        ("revoke", "user:admin", "OWNERSHIP", None),
    ]
    assert {r.actor for r in log} == {"alice"}
    assert log[-1].reason == "lock down"


@pytest.mark.integration
def test_user_grants_and_missing_grantees(auth_model: dict, admin_conn: str) -> None:
    run(grant_op(registry_conn_id=admin_conn, grants={"user:alice": "EDIT"}))
    assert alice_can(auth_model["server"], "alias")
    run(grant_op(registry_conn_id=admin_conn, grants={"user:alice": "READ"}))
    assert not alice_can(auth_model["server"], "alias")
    hook = MlflowRegistryHook(admin_conn)
    assert ("user:alice", "READ") in {(g.grantee, g.privilege) for g in hook.list_grants("churn")}

    before = set(hook.list_grants("churn"))
    with pytest.raises(AirflowFailException, match="user 'nobody' does not exist"):
        run(grant_op(registry_conn_id=admin_conn, grants={"user:nobody": "READ"}))
    with pytest.raises(AirflowFailException, match="role GHOSTS does not exist"):
        run(grant_op(registry_conn_id=admin_conn, grants={"GHOSTS": "READ", "DATA_SCIENTIST": "USAGE"}))
    # Nothing was applied for the valid grantee either: grantees are checked first.
    assert set(hook.list_grants("churn")) == before


@pytest.mark.integration
def test_future_grants_use_the_all_models_pattern(auth_model: dict, admin_conn: str) -> None:
    result = run(
        grant_op(registry_conn_id=admin_conn, grants={}, future_grants={"DATA_SCIENTIST": "READ"}, dry_run=True)
    )
    assert result["plans"][1]["target"] == "future models"
    run(grant_op(registry_conn_id=admin_conn, grants={}, future_grants={"DATA_SCIENTIST": "READ"}))
    hook = MlflowRegistryHook(admin_conn)
    assert [(g.grantee, g.privilege) for g in hook.list_future_grants()] == [("DATA_SCIENTIST", "READ")]
    run(grant_op(registry_conn_id=admin_conn, grants={}, future_grants={"ML_ADMIN": "READ"}, revoke_missing=True))
    assert [(g.grantee, g.privilege) for g in hook.list_future_grants()] == [("ML_ADMIN", "READ")]
