"""What an MLflow registry refuses, checked before the first write.

Names and characters follow MLflow's own validators (``mlflow.utils.validation``, pinned
by the contract test); lengths are the limits of the SQL schema every MLflow store uses,
which sqlite does not enforce but PostgreSQL and MySQL do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_registry_provider.exceptions import InvalidInputError

#: ``registered_model_tags.value`` is VARCHAR(5000); ``model_version_tags.value`` was
#: VARCHAR(5000) until MLflow 3.x made it TEXT, so 5,000 is what every server stores.
MAX_TAG_VALUE_LENGTH = 5000
#: ``*_tags.key`` is VARCHAR(250) (``MAX_MODEL_REGISTRY_TAG_KEY_LENGTH``).
MAX_TAG_KEY_LENGTH = 250
#: ``registered_models.description`` and ``model_versions.description`` are VARCHAR(5000).
MAX_DESCRIPTION_LENGTH = 5000
#: ``runs.name`` is VARCHAR(250).
MAX_RUN_NAME_LENGTH = 250


def _mlflow_check(check: Callable[..., None], field: str, *args: Any) -> None:
    from mlflow.exceptions import MlflowException

    try:
        check(*args)
    except MlflowException as err:
        raise InvalidInputError(field, err.message) from None


def validate_tags(tags: Mapping[str, Any], field: str, *, level: str, max_value_length: int) -> dict[str, str]:
    """Tags as strings under keys MLflow accepts, each value within ``max_value_length``."""
    from mlflow.prompt.registry_utils import has_prompt_tag
    from mlflow.utils.validation import _validate_model_version_tag, _validate_registered_model_tag

    if level not in ("version", "model"):
        raise ValueError(f"level must be 'version' or 'model', not {level!r}")
    if not isinstance(tags, Mapping):
        raise InvalidInputError(field, f"expected a mapping of tag key to value, got {type(tags).__name__}")
    check = _validate_model_version_tag if level == "version" else _validate_registered_model_tag
    checked: dict[str, str] = {}
    for key, value in tags.items():
        where = f"{field}.{key}"
        if not isinstance(key, str) or not key:
            raise InvalidInputError(where, "tag keys are non-empty strings")
        if value is None:
            raise InvalidInputError(where, "tag values cannot be None")
        text = value if isinstance(value, str) else str(value)
        if len(key) > MAX_TAG_KEY_LENGTH:
            raise InvalidInputError(
                where, f"tag keys hold at most {MAX_TAG_KEY_LENGTH} characters, this one {len(key)}"
            )
        if len(text) > max_value_length:
            raise InvalidInputError(
                where, f"is {len(text)} characters; MLflow {level} tag values hold at most {max_value_length}"
            )
        _mlflow_check(check, where, key, text)
        checked[key] = text
    if has_prompt_tag(checked):
        raise InvalidInputError(field, "MLflow reserves the prompt tag for prompts; models cannot carry it")
    return checked


def validate_metric_names(names: list[str], field: str) -> None:
    """Metric names as MLflow accepts them (characters, no path tricks, at most 250 characters)."""
    from mlflow.utils.validation import _validate_metric_name

    for name in names:
        where = f"{field}.{name}"
        if not name:
            raise InvalidInputError(where, "metric names are non-empty")
        if len(name) > MAX_TAG_KEY_LENGTH:
            raise InvalidInputError(where, f"metric names hold at most {MAX_TAG_KEY_LENGTH} characters")
        _mlflow_check(_validate_metric_name, where, name)


def validate_description(description: str | None, field: str = "description") -> str | None:
    if description is None:
        return None
    if not isinstance(description, str):
        raise InvalidInputError(field, f"must be a string, got {type(description).__name__}")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInputError(
            field, f"is {len(description)} characters; MLflow descriptions hold at most {MAX_DESCRIPTION_LENGTH}"
        )
    return description
