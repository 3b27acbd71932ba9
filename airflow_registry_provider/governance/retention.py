"""Retention planning: which versions to keep, archive or delete.

Pure module. :func:`plan_retention` takes the versions as one stream (the hook's paged
listing) and decides in a single pass plus one sort; applying the plan touches only the
versions that change.

Rules, in order:

1. A version that holds an alias, is the default version or is in the Production stage
   is never touched (and does not use up one of the ``keep_latest`` places).
2. A version already archived (our ``ARCHIVED`` tag, or the Archived stage) stays
   archived; with ``delete_after`` it is deleted once it has been archived that long
   (only versions archived by this provider carry the time it happened).
3. Of the other versions, the ``keep_latest`` newest are kept (per stage with
   ``per_stage``) and the rest archived.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.audit import utc
from airflow_registry_provider.model_version import ModelVersion

PROTECTED_STAGE = "Production"
ARCHIVED_STAGE = "Archived"


@dataclass(frozen=True)
class RetentionPolicy:
    """How many versions to keep and when archived ones may be deleted."""

    keep_latest: int
    per_stage: bool = False
    delete_after: timedelta | None = None

    def __post_init__(self) -> None:
        if isinstance(self.keep_latest, bool) or not isinstance(self.keep_latest, int) or self.keep_latest < 1:
            raise InvalidInputError("keep_latest", f"must be a whole number >= 1, got {self.keep_latest!r}")
        if self.delete_after is not None and self.delete_after < timedelta(0):
            raise InvalidInputError("delete_after_days", "must not be negative")


@dataclass(frozen=True)
class RetentionPlan:
    """The outcome for every version of one model."""

    model_name: str
    archive: tuple[ModelVersion, ...] = ()
    delete: tuple[ModelVersion, ...] = ()
    #: Why each untouched version stays, counted: {"holds an alias": 2, "latest 5": 5, ...}.
    kept: dict[str, int] = field(default_factory=dict)
    total: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.archive or self.delete)

    def describe(self, limit: int = 20) -> str:
        """Readable plan for the task log (the first ``limit`` versions of each list)."""

        def listing(versions: tuple[ModelVersion, ...]) -> str:
            names = [f"{v.version}{f' ({v.stage})' if v.stage else ''}" for v in versions[:limit]]
            more = f" and {len(versions) - limit} more" if len(versions) > limit else ""
            return ", ".join(names) + more

        lines = [f"Retention plan for {self.model_name} ({self.total} versions):"]
        lines += [f"  keep {count:>6}: {why}" for why, count in sorted(self.kept.items())]
        lines.append(f"  archive {len(self.archive):>3}: {listing(self.archive) or '-'}")
        lines.append(f"  delete  {len(self.delete):>3}: {listing(self.delete) or '-'}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "total": self.total,
            "kept": dict(self.kept),
            "archive": [v.version for v in self.archive],
            "delete": [v.version for v in self.delete],
        }


def _newest_first(version: ModelVersion) -> tuple[float, int, str]:
    created = version.created_at.timestamp() if version.created_at else 0.0
    number = int(version.version) if version.version.isdigit() else 0
    return -created, -number, version.version


def _protection(version: ModelVersion, default_version: str | None) -> str | None:
    if version.aliases:
        return "holds an alias"
    if default_version is not None and version.version == default_version:
        return "default version"
    if version.stage == PROTECTED_STAGE:
        return "Production stage"
    return None


def archived_at(version: ModelVersion) -> datetime | None:
    """When this provider archived the version (None if it did not, or the tag is unreadable)."""
    value = version.tags.get(tag_keys.ARCHIVED)
    try:
        return utc(value) if value else None
    except InvalidInputError:
        return None


def is_archived(version: ModelVersion) -> bool:
    return tag_keys.ARCHIVED in version.tags or version.stage == ARCHIVED_STAGE


def plan_retention(
    model_name: str,
    versions: Iterable[ModelVersion],
    policy: RetentionPolicy,
    *,
    now: datetime,
    default_version: str | None = None,
) -> RetentionPlan:
    """Apply the rules in the module docstring to every version of ``model_name``."""
    now = utc(now)
    kept: Counter[str] = Counter()
    live: list[ModelVersion] = []
    delete: list[ModelVersion] = []
    total = 0
    for version in versions:
        total += 1
        protection = _protection(version, default_version)
        if protection:
            kept[protection] += 1
        elif not is_archived(version):
            live.append(version)
        elif policy.delete_after is None:
            kept["already archived"] += 1
        else:
            since = archived_at(version)
            if since is not None and now - since >= policy.delete_after:
                delete.append(version)
            else:
                kept["archived, within the retention period"] += 1
    live.sort(key=_newest_first)
    seen: Counter[str] = Counter()
    archive: list[ModelVersion] = []
    for version in live:
        group = (version.stage or "no stage") if policy.per_stage else "all"
        seen[group] += 1
        if seen[group] <= policy.keep_latest:
            kept[f"latest {policy.keep_latest}" + (f" in {group}" if policy.per_stage else "")] += 1
        else:
            archive.append(version)
    return RetentionPlan(model_name, tuple(archive), tuple(delete), dict(kept), total)
