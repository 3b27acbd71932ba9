"""Backend-agnostic description of a registered model version and its XCom reference.

Pure module (no Airflow imports). A :class:`ModelVersionRef` is the small JSON that
crosses task boundaries; every operator that takes a model version accepts one as-is,
either as a dict (``XComArg``/native rendering) or as its JSON string.
"""

from __future__ import annotations

import ast
import json
import math
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


#: How to pass a structured value through a template, for refusal messages.
STRUCTURED_HINT = (
    "pass a dict/list, its JSON string, or a Jinja expression that renders one "
    "(DAG(render_template_as_native_obj=True) keeps it native)"
)
_NON_FINITE = {"nan": math.nan, "NaN": math.nan, "inf": math.inf, "Infinity": math.inf}


def _literal(text: str) -> Any:
    """A Python literal as ``str()`` of a dict renders it; ``nan``/``inf`` read as floats.

    ``ast.literal_eval`` alone refuses ``{'rmse': nan}``, and then the error could not
    name the metric that is not finite.
    """
    tree = ast.parse(text, mode="eval")
    for node in ast.walk(tree):
        for name, child in ast.iter_fields(node):
            if isinstance(child, ast.Name) and child.id in _NON_FINITE:
                setattr(node, name, ast.Constant(_NON_FINITE[child.id]))
            elif isinstance(child, list):
                child[:] = [
                    ast.Constant(_NON_FINITE[c.id]) if isinstance(c, ast.Name) and c.id in _NON_FINITE else c
                    for c in child
                ]
    return ast.literal_eval(tree)


def parse_structured(value: Any, field_name: str, kind: type | tuple[type, ...] = Mapping) -> Any:
    """A mapping (or ``kind``) given as itself, as JSON, or as a rendered Python literal.

    Without ``render_template_as_native_obj`` Jinja renders a dict with ``str()``; that
    text is read back here, the way model-version references are. Anything else is
    refused naming ``field_name`` and saying how to pass the value.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = _literal(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                raise InvalidInputError(field_name, f"cannot read {_clip(text)!r}; {STRUCTURED_HINT}") from None
    if not isinstance(value, kind):
        wanted = "a mapping" if kind is Mapping else "a list"
        raise InvalidInputError(field_name, f"expected {wanted}, got {type(value).__name__}; {STRUCTURED_HINT}")
    return value


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def parse_ref(value: Any, field_name: str = "model_version") -> ModelVersionRef:
    """Accept a ref as a mapping, a JSON string or a rendered Python-literal string.

    Any operator's XCom (which holds the reference keys at top level) is a reference.
    """
    value = parse_structured(value, field_name)
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


def version_result(ref: ModelVersionRef, **extra: Any) -> dict[str, Any]:
    """The one XCom shape: the reference keys at top level, ``model_version``, then ``extra``."""
    clash = sorted(set(extra) & {*ModelVersionRef.__annotations__, "model_version"})
    if clash:
        raise ValueError(f"extra keys {clash} would shadow the reference")
    return {**ref, "model_version": dict(ref), **extra}
