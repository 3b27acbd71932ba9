"""Backend-agnostic description of a registered model version and its XCom reference.

Pure module (no Airflow imports). A :class:`ModelVersionRef` is the small JSON that
crosses task boundaries; every operator that takes a model version accepts one as-is,
either as a dict (``XComArg``/native rendering) or as its JSON string.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from airflow_registry_provider.exceptions import InvalidInputError


class ModelVersionRef(TypedDict):
    """What operators push to XCom for a model version."""

    registry_conn_id: str
    model_name: str
    version: str
    version_name: str | None
    uri: str
    aliases: list[str]


@dataclass(frozen=True)
class ModelVersion:
    """A version as a registry hook returns it.

    ``version`` is the backend's own id (MLflow's incrementing number, Snowflake's
    version identifier such as ``V1_2_0``); ``version_name`` is the semantic name the
    user gave (``1.2.0``), when there is one.
    """

    model_name: str
    version: str
    uri: str
    version_name: str | None = None
    aliases: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    description: str | None = None
    created_at: datetime | None = None
    stage: str | None = None
    run_id: str | None = None

    def ref(self, registry_conn_id: str) -> ModelVersionRef:
        return ModelVersionRef(
            registry_conn_id=registry_conn_id,
            model_name=self.model_name,
            version=self.version,
            version_name=self.version_name,
            uri=self.uri,
            aliases=sorted(self.aliases),
        )


def parse_ref(value: Any, field_name: str = "model_version") -> ModelVersionRef:
    """Accept a ref as a mapping, a JSON string or a rendered Python-literal string."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text)
        except ValueError:
            try:
                # Jinja renders an XCom dict with str() when render_template_as_native_obj is off.
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise InvalidInputError(field_name, "is not a model version reference (JSON object)") from None
    if not isinstance(value, Mapping):
        raise InvalidInputError(field_name, f"expected a model version reference, got {type(value).__name__}")
    missing = [k for k in ("model_name", "version") if not value.get(k)]
    if missing:
        raise InvalidInputError(field_name, f"reference lacks {', '.join(missing)}")
    return ModelVersionRef(
        registry_conn_id=str(value.get("registry_conn_id") or ""),
        model_name=str(value["model_name"]),
        version=str(value["version"]),
        version_name=value.get("version_name"),
        uri=str(value.get("uri") or ""),
        aliases=list(value.get("aliases") or []),
    )
