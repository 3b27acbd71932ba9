"""Errors raised by the provider.

Pure module: no Airflow imports, so the cores (gates, drift, naming) can raise them too.
Operators turn :class:`InvalidInputError` and :class:`VersionConflictError` into
``AirflowFailException`` so that bad input fails the task once instead of being retried.
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


class VersionConflictError(RegistryError):
    """A version name already exists in the registry with a different artifact."""


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached after the configured retries."""


class UnsupportedOperationError(RegistryError):
    """The backend has no equivalent of the requested operation (e.g. stages on Snowflake)."""
