"""Errors raised by the provider.

Pure module: no Airflow imports, so the cores (gates, drift, naming) can raise them too.

Two kinds, one policy on every backend:

* **Configuration errors** (:class:`InvalidInputError` and its subclasses, and
  :class:`IntegrityError`): retrying cannot help. Operators fail the task at once
  (``AirflowFailException``) and the message starts with the field at fault.
* **Transient errors** (:class:`RegistryUnavailableError`, network errors, 5xx, locks):
  raised as they are, so Airflow retries the task.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of every error this provider raises on purpose."""


class InvalidInputError(RegistryError, ValueError):
    """A user-supplied value is unusable. ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def for_field(self, field: str) -> InvalidInputError:
        """The same error (same class) blamed on ``field``: the operator parameter that carried the value."""
        if field == self.field:
            return self
        clone = type(self).__new__(type(self))
        InvalidInputError.__init__(clone, field, self.message)
        return clone


class NotFoundError(InvalidInputError):
    """The model, version or alias a value names does not exist in the registry."""


class ModelNotFoundError(NotFoundError):
    """No registered model of that name."""


class VersionNotFoundError(NotFoundError):
    """The model exists but has no such version."""


class AliasNotFoundError(NotFoundError):
    """The model exists but no version holds that alias."""


class VersionConflictError(InvalidInputError):
    """A version name already exists in the registry with a different artifact."""


class UnsupportedOperationError(InvalidInputError):
    """The backend has no equivalent of the requested operation (e.g. stages on Snowflake)."""


class PrivilegeError(InvalidInputError):
    """The connection's role lacks a privilege the operation needs (checked before any change)."""


class IntegrityError(RegistryError):
    """Stored model files differ from the manifest recorded at registration; nothing was loaded."""


class AuditError(RegistryError):
    """A change was made but its audit record could not be written to every sink."""


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached after the configured retries (transient: retried)."""


#: Errors that fail a task at once instead of being retried.
CONFIGURATION_ERRORS: tuple[type[Exception], ...] = (InvalidInputError, IntegrityError)
