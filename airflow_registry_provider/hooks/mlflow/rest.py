"""Registry reads from a tracking server that touch no process-global state.

``MlflowClient`` takes a server's credentials and retry bounds only from environment
variables (see ``environment.py``), which a process running many hooks at once (the
triggerer polling sensors) must not write for every poll. These reads call MLflow's
documented REST API with MLflow's own request and parsing functions, passing the
connection's credentials, retries and timeout explicitly. The methods mirror
``MlflowClient``'s, so the hook uses either interchangeably.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_registry_provider.hooks.mlflow import environment

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel
    from mlflow.store.entities.paged_list import PagedList

    from airflow_registry_provider.hooks.mlflow.settings import MlflowSettings

# MLflow REST API 2.0 (https://mlflow.org/docs/latest/api_reference/rest-api.html); the
# contract test checks them against the endpoints MLflow's own RestStore uses.
GET_MODEL_VERSION = "/api/2.0/mlflow/model-versions/get"
GET_MODEL_VERSION_BY_ALIAS = "/api/2.0/mlflow/registered-models/alias"
SEARCH_MODEL_VERSIONS = "/api/2.0/mlflow/model-versions/search"
SEARCH_REGISTERED_MODELS = "/api/2.0/mlflow/registered-models/search"
GET_RUN = "/api/2.0/mlflow/runs/get"


class RestReads:
    """Read-only registry calls to a tracking server with explicit credentials and retry bounds."""

    def __init__(self, settings: MlflowSettings, *, backoff_factor: float) -> None:
        from mlflow.utils.credentials import get_default_host_creds

        def creds(host: str) -> Any:
            # TLS and token settings come from variables no scope ever writes; the user
            # name and password are this connection's (or the user's own, never a scope's).
            found = get_default_host_creds(host)
            if settings.login:
                found.username, found.password = settings.login, settings.password or ""
            else:
                found.username = environment.ambient(environment.ENV_USER)
                found.password = environment.ambient(environment.ENV_PASSWORD)
            return found

        self._registry = creds(settings.registry_uri)
        self._tracking = creds(settings.tracking_uri)
        self._retry = {"max_retries": settings.max_retries, "backoff_factor": backoff_factor}
        self._timeout = settings.timeout

    def _get(self, creds: Any, endpoint: str, request: Any) -> Any:
        """GET ``endpoint`` with ``request`` (a proto message); the parsed response proto."""
        from mlflow.utils.proto_json_utils import message_to_json, parse_dict
        from mlflow.utils.rest_utils import http_request, verify_rest_response

        response = http_request(
            creds, endpoint, "GET", params=json.loads(message_to_json(request)), timeout=self._timeout, **self._retry
        )
        verify_rest_response(response, endpoint)
        parsed = type(request).Response()
        parse_dict(response.json(), parsed)
        return parsed

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        from mlflow.entities.model_registry import ModelVersion
        from mlflow.protos.model_registry_pb2 import GetModelVersion

        found = self._get(self._registry, GET_MODEL_VERSION, GetModelVersion(name=name, version=str(version)))
        return ModelVersion.from_proto(found.model_version)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        from mlflow.entities.model_registry import ModelVersion
        from mlflow.protos.model_registry_pb2 import GetModelVersionByAlias

        found = self._get(self._registry, GET_MODEL_VERSION_BY_ALIAS, GetModelVersionByAlias(name=name, alias=alias))
        return ModelVersion.from_proto(found.model_version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        from mlflow.entities.model_registry import ModelVersion
        from mlflow.protos.model_registry_pb2 import SearchModelVersions
        from mlflow.store.entities.paged_list import PagedList

        request = SearchModelVersions(
            filter=filter_string, max_results=max_results, order_by=order_by, page_token=page_token
        )
        found = self._get(self._registry, SEARCH_MODEL_VERSIONS, request)
        return PagedList([ModelVersion.from_proto(mv) for mv in found.model_versions], found.next_page_token or None)

    def search_registered_models(
        self, filter_string: str | None = None, max_results: int = 100
    ) -> PagedList[RegisteredModel]:
        from mlflow.entities.model_registry import RegisteredModel
        from mlflow.protos.model_registry_pb2 import SearchRegisteredModels
        from mlflow.store.entities.paged_list import PagedList

        request = SearchRegisteredModels(filter=filter_string, max_results=max_results)
        found = self._get(self._registry, SEARCH_REGISTERED_MODELS, request)
        return PagedList(
            [RegisteredModel.from_proto(rm) for rm in found.registered_models], found.next_page_token or None
        )

    def get_run(self, run_id: str) -> Run:
        from mlflow.entities import Run
        from mlflow.protos.service_pb2 import GetRun

        return Run.from_proto(self._get(self._tracking, GET_RUN, GetRun(run_id=run_id, run_uuid=run_id)).run)
