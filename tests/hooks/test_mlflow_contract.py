"""The MLflow internals ``airflow_registry_provider.hooks.mlflow`` relies on, one test each.

Everything here is private or undocumented in MLflow (underscore names, internal modules,
behaviour the hook works around). An MLflow upgrade that changes one of them fails the
test that names it, instead of failing somewhere in a DAG.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from airflow_registry_provider.hooks.mlflow import environment, grants, rest, validation


def test_environment_variable_names() -> None:
    import mlflow.environment_variables as env

    assert env.MLFLOW_TRACKING_USERNAME.name == environment.ENV_USER
    assert env.MLFLOW_TRACKING_PASSWORD.name == environment.ENV_PASSWORD
    assert env.MLFLOW_HTTP_REQUEST_MAX_RETRIES.name == environment.ENV_MAX_RETRIES
    assert env.MLFLOW_HTTP_REQUEST_TIMEOUT.name == environment.ENV_TIMEOUT
    assert env.MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.name == environment.ENV_BACKOFF


def test_rest_credentials_come_from_the_environment_at_request_time() -> None:
    """Why writes need scoped_environment: the REST store asks for credentials per request."""
    from mlflow.store.model_registry.rest_store import RestStore
    from mlflow.utils.credentials import get_default_host_creds

    with environment.scoped_environment({environment.ENV_USER: "scoped-user", environment.ENV_PASSWORD: "pw"}):
        creds = get_default_host_creds("http://127.0.0.1:1")
    assert (creds.username, creds.password) == ("scoped-user", "pw")
    store = MlflowClient("http://127.0.0.1:1", "http://127.0.0.1:1")._get_registry_client().store
    assert isinstance(store, RestStore)
    with environment.scoped_environment({environment.ENV_USER: "later-user", environment.ENV_PASSWORD: "pw2"}):
        assert store.get_host_creds().username == "later-user"


def test_explicit_request_functions() -> None:
    """RestReads passes credentials, retries and timeout to http_request itself."""
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.proto_json_utils import message_to_json, parse_dict
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request, verify_rest_response

    params = inspect.signature(http_request).parameters
    assert {"host_creds", "endpoint", "method", "max_retries", "backoff_factor", "timeout"} <= set(params)
    assert list(inspect.signature(verify_rest_response).parameters)[:2] == ["response", "endpoint"]
    assert callable(message_to_json) and callable(parse_dict)
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel
    from mlflow.protos import model_registry_pb2 as registry
    from mlflow.protos.service_pb2 import GetRun
    from mlflow.store.entities.paged_list import PagedList

    for message in (
        registry.GetModelVersion,
        registry.GetModelVersionByAlias,
        registry.SearchModelVersions,
        registry.SearchRegisteredModels,
        GetRun,
    ):
        assert message.Response  # the response message RestReads parses into
    for entity in (ModelVersion, RegisteredModel, Run):
        assert callable(entity.from_proto)
    assert PagedList([1], "token").token == "token"
    assert "next_page_token" in registry.SearchModelVersions.Response.DESCRIPTOR.fields_by_name
    creds = get_default_host_creds("http://127.0.0.1:1")
    assert isinstance(creds, MlflowHostCreds)
    creds.username, creds.password = "u", "p"  # plain attributes the request reads
    assert (creds.username, creds.password) == ("u", "p")


def test_rest_endpoints_are_the_ones_mlflow_uses() -> None:
    from mlflow.protos import model_registry_pb2 as registry
    from mlflow.protos.service_pb2 import GetRun, MlflowService
    from mlflow.utils.rest_utils import _REST_API_PATH_PREFIX, extract_api_info_for_service

    endpoints = extract_api_info_for_service(registry.ModelRegistryService, _REST_API_PATH_PREFIX)
    assert endpoints[registry.GetModelVersion] == (rest.GET_MODEL_VERSION, "GET")
    assert endpoints[registry.GetModelVersionByAlias] == (rest.GET_MODEL_VERSION_BY_ALIAS, "GET")
    assert endpoints[registry.SearchModelVersions] == (rest.SEARCH_MODEL_VERSIONS, "GET")
    assert endpoints[registry.SearchRegisteredModels] == (rest.SEARCH_REGISTERED_MODELS, "GET")
    assert extract_api_info_for_service(MlflowService, _REST_API_PATH_PREFIX)[GetRun] == (rest.GET_RUN, "GET")


def test_registry_client_behind_mlflow_client(tmp_path: Path) -> None:
    """``MlflowClient._get_registry_client()``: the hook writes through it to skip the prompt check."""
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    registry = MlflowClient(uri, uri)._get_registry_client()
    for name in (
        "set_registered_model_alias",
        "delete_registered_model_alias",
        "set_model_version_tag",
        "set_registered_model_tag",
        "update_model_version",
        "transition_model_version_stage",
        "delete_model_version",
        "get_model_version_download_uri",
    ):
        assert callable(getattr(registry, name)), name
    # The reason: MlflowClient's own writes first load the whole registered model.
    assert "_raise_if_prompt" in inspect.getsource(MlflowClient.set_model_version_tag)


def test_auth_client_request_and_users_route() -> None:
    from mlflow.server.auth.client import AuthServiceClient
    from mlflow.server.auth.routes import LIST_USERS

    params = list(inspect.signature(AuthServiceClient._request).parameters)
    assert params[:3] == ["self", "endpoint", "method"]
    assert isinstance(LIST_USERS, str) and LIST_USERS.endswith("/users/list")
    for name in ("list_roles", "get_user", "grant_user_permission", "add_role_permission"):
        assert callable(getattr(AuthServiceClient, name)), name
    assert callable(AuthServiceClient.update_role_permission) and callable(AuthServiceClient.remove_role_permission)


def test_synthetic_user_roles_and_the_creators_manage() -> None:
    from mlflow.server import auth
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    theirs = SqlAlchemyStore._SYNTHETIC_ROLE_NAME_RE
    for name in ("__user_7__", "__user_123__", "__user___", "__user_7", "user_7__", "__user_x__"):
        assert bool(theirs.fullmatch(name)) == bool(grants.SYNTHETIC_USER_ROLE.fullmatch(name)), name
    # implicit_grants: creating a registered model grants its creator MANAGE.
    source = inspect.getsource(auth.set_can_manage_registered_model_permission)
    assert "grant_user_permission" in source and "MANAGE" in source


def test_local_registry_resolves_logged_model_sources_through_the_global_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why registration passes a logged model's artifact location, not ``models:/m-…``, to a local store.

    mlflow's sqlalchemy registry store looks the logged model up with ``MlflowClient()``,
    i.e. the process-global tracking URI (a TODO in its create_model_version).
    """
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
    logged = client.create_logged_model(experiment, name="model")
    client.create_registered_model("m")
    with pytest.raises(MlflowException, match="Unable to fetch model"):
        client.create_model_version("m", source=f"models:/{logged.model_id}", model_id=logged.model_id)
    mv = client.create_model_version("m", source=logged.artifact_location)
    assert client.get_model_version_download_uri("m", mv.version) == logged.artifact_location
    assert hasattr(mv, "model_id")  # REST responses carry it for logged-model versions


def test_validation_functions_and_limits() -> None:
    from mlflow.store.model_registry.dbmodels import models as registry_tables
    from mlflow.store.tracking.dbmodels import models as tracking_tables
    from mlflow.utils import validation as mlflow_validation

    for check in (
        mlflow_validation._validate_model_version_tag,
        mlflow_validation._validate_registered_model_tag,
    ):
        check("airflow_registry.version_name", "1.0.0")
        with pytest.raises(MlflowException) as err:
            check("bad key!", "x")
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    mlflow_validation._validate_metric_name("val/accuracy")
    with pytest.raises(MlflowException):
        mlflow_validation._validate_metric_name("../up")
    assert mlflow_validation.MAX_MODEL_REGISTRY_TAG_KEY_LENGTH == validation.MAX_TAG_KEY_LENGTH
    assert mlflow_validation.MAX_ENTITY_KEY_LENGTH == validation.MAX_TAG_KEY_LENGTH
    # The schema every SQL store shares (sqlite ignores the lengths, PostgreSQL enforces them).
    assert registry_tables.SqlRegisteredModelTag.__table__.c.value.type.length == validation.MAX_TAG_VALUE_LENGTH
    version_tag = registry_tables.SqlModelVersionTag.__table__.c.value.type
    assert getattr(version_tag, "length", None) in (None, validation.MAX_TAG_VALUE_LENGTH)  # TEXT since 3.x
    assert registry_tables.SqlModelVersion.__table__.c.description.type.length == validation.MAX_DESCRIPTION_LENGTH
    assert registry_tables.SqlRegisteredModel.__table__.c.description.type.length == validation.MAX_DESCRIPTION_LENGTH
    assert tracking_tables.SqlRun.__table__.c.name.type.length == validation.MAX_RUN_NAME_LENGTH


def test_prompt_tag_check() -> None:
    from mlflow.prompt.constants import IS_PROMPT_TAG_KEY
    from mlflow.prompt.registry_utils import has_prompt_tag

    assert has_prompt_tag({IS_PROMPT_TAG_KEY: "true"}) and not has_prompt_tag({"a": "b"})


def test_missing_alias_and_bad_version_codes(tmp_path: Path) -> None:
    """Lookup treats INVALID_PARAMETER_VALUE as "not found" for aliases and version ids."""
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(uri, uri)
    client.create_registered_model("m")
    with pytest.raises(MlflowException) as alias:
        client.get_model_version_by_alias("m", "champion")
    assert alias.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as version:
        client.get_model_version("m", "7")
    assert version.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as model:
        client.get_model_version_by_alias("nope", "champion")
    assert model.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_opening_a_missing_sqlite_store_creates_it(tmp_path: Path) -> None:
    """Why test_connection checks the file before it asks MLflow anything."""
    path = tmp_path / "fresh.db"
    MlflowClient(f"sqlite:///{path}").search_registered_models(max_results=1)
    assert path.is_file()


def test_download_artifacts_takes_explicit_uris() -> None:
    import mlflow.artifacts

    params = inspect.signature(mlflow.artifacts.download_artifacts).parameters
    assert {"artifact_uri", "dst_path", "tracking_uri", "registry_uri"} <= set(params)


def test_models_uris_are_resolved_through_the_global_registry_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why model_files.artifact_location resolves ``models:/…`` itself before downloading.

    ``ModelsArtifactRepository`` looks the version up with ``mlflow.get_registry_uri()``,
    ignoring the URIs ``download_artifacts`` is given.
    """
    import mlflow.artifacts

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(uri, uri)
    client.create_registered_model("m")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "MLmodel").write_text("flavors: {}\n")
    client.create_model_version("m", source=(tmp_path / "files").as_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    with pytest.raises(MlflowException, match="not found"):
        mlflow.artifacts.download_artifacts(artifact_uri="models:/m/1", tracking_uri=uri, registry_uri=uri)


def test_version_creation_collisions_and_post_retries() -> None:
    """Why registration retries one error message and removes a duplicate version.

    The SQL registry numbers versions MAX+1 and gives up with this message after its own
    retries (mlflow/mlflow#22635); MLflow's HTTP session retries every method, POST included.
    """
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils import request_utils

    from airflow_registry_provider.hooks.mlflow import registration

    assert registration._CREATE_COLLISION in inspect.getsource(SqlAlchemyStore.create_model_version)
    source = inspect.getsource(request_utils)
    assert 'retry_kwargs["allowed_methods"] = None' in source
