"""MLflow's errors in the provider's contract.

Not found and invalid values are configuration errors (the hook names the model,
version, alias or field); refused credentials and permissions too; connection refused,
exhausted retries, 5xx and a locked sqlite database are transient and stay retryable.
"""

from __future__ import annotations

from airflow_registry_provider.exceptions import (
    InvalidInputError,
    PrivilegeError,
    RegistryUnavailableError,
    UnsupportedOperationError,
)
from airflow_registry_provider.hooks.mlflow.settings import MlflowSettings

RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
_UNAUTHENTICATED = "UNAUTHENTICATED"
_PERMISSION_DENIED = "PERMISSION_DENIED"
_ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
_UNREACHABLE = ("Max retries exceeded", "Connection refused", "Failed to establish a new connection", "timed out")
_LOCKED = ("database is locked", "database table is locked")


def error_code(err: BaseException) -> str | None:
    """The MLflow error code of an ``MlflowException`` (None for any other error)."""
    code = getattr(err, "error_code", None)
    return code if isinstance(code, str) else None


def translate(err: Exception, settings: MlflowSettings, field: str | None = None) -> Exception | None:
    """The provider's error for ``err``, or None to raise it as it is (to be retried).

    ``field`` names the argument an ``INVALID_PARAMETER_VALUE`` blames; without it such
    errors are raised as they are.
    """
    code = error_code(err)
    text = str(err)
    where = f"the MLflow registry at {settings.display_uri}"
    if code == _UNAUTHENTICATED:
        return InvalidInputError(
            "registry_conn_id", f"{where} refused the credentials of connection {settings.conn_id!r}"
        )
    if code == _PERMISSION_DENIED:
        who = repr(settings.login) if settings.login else "an anonymous user"
        return PrivilegeError("registry_conn_id", f"{where} does not let {who} do this: {text}")
    if code == INVALID_PARAMETER_VALUE and field is not None:
        return InvalidInputError(field, text)
    if any(marker in text for marker in _LOCKED):
        return RegistryUnavailableError(f"{where} is locked by another writer; retry later ({text})")
    if settings.is_server and any(marker in text for marker in _UNREACHABLE):
        return RegistryUnavailableError(
            f"MLflow tracking server {settings.display_uri} is unreachable after "
            f"{settings.max_retries} retries ({type(err).__name__})"
        )
    return None


def no_auth_app(err: Exception, settings: MlflowSettings) -> UnsupportedOperationError | None:
    """The error for a grant call to a server without the auth app (its endpoints answer 404)."""
    text = str(err)
    if error_code(err) == _ENDPOINT_NOT_FOUND or " 404 " in f" {text} " or "404 Client Error" in text:
        return UnsupportedOperationError(
            "registry_conn_id",
            f"the MLflow server at {settings.display_uri} (connection {settings.conn_id!r}) has no access "
            "control: grants need a server started with --app-name basic-auth",
        )
    return None
