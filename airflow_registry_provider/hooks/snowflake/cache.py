"""What one hook (one operator run) has read and written, so each fact costs one round trip.

snowflake-ml-python resolves models, versions and aliases with repeated ``SHOW``
statements; the hook asks this cache first. Every write goes through
:meth:`ReadCache.changed` (the hook's ``_writing`` block calls it, also when the write
fails), which is the one place that decides what a write makes stale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Row = Mapping[str, Any]


@dataclass
class ReadCache:
    #: ``SHOW MODELS`` row per model (owner, …); None: the model does not exist or is not visible.
    models: dict[str, Row | None] = field(default_factory=dict)
    #: ``SHOW VERSIONS`` rows per model, by version.
    listings: dict[str, dict[str, Row]] = field(default_factory=dict)
    #: Library ``Model`` / ``ModelVersion`` objects (no state of their own worth invalidating).
    objects: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    #: Metadata documents this hook wrote: the next read-modify-write of the version skips its read.
    metadata: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: Objects (the artifact stage, tag objects) this hook made sure exist, by qualified name.
    ensured: set[str] = field(default_factory=set)

    def model_row(self, model: str, load: Callable[[], Row | None]) -> Row | None:
        if model not in self.models:
            self.models[model] = load()
        return self.models[model]

    def listing(self, model: str, load: Callable[[], dict[str, Row]]) -> dict[str, Row]:
        if model not in self.listings:
            self.listings[model] = load()
        return self.listings[model]

    def library_object(self, model: str, version: str | None, build: Callable[[], Any]) -> Any:
        key = (model, version)
        if key not in self.objects:
            self.objects[key] = build()
        return self.objects[key]

    def changed(
        self,
        model: str,
        *,
        version: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        model_changed: bool = False,
        owner: str | None = None,
        dropped: bool = False,
        listed: bool = True,
    ) -> None:
        """Forget what a write to ``model`` made stale.

        A write stales the versions listing (aliases, default, metadata, comment), except
        one that ``SHOW VERSIONS`` does not show (``listed=False``: model tags) and a
        metadata write that succeeded, whose document replaces its row's in place.
        ``metadata`` is the document just written to ``version`` (kept for the next
        read-modify-write; a failed write passes none and the version's is forgotten).
        ``model_changed``: the model row changed too (ownership moved); ``owner``: the
        model now exists, owned by that role (this hook created it).
        ``dropped``: ``version`` no longer exists.
        """
        rows = self.listings.get(model)
        if metadata is not None and version is not None and rows is not None and version in rows:
            if not (model_changed or dropped):
                rows[version] = {**rows[version], "metadata": dict(metadata)}
            else:
                self.listings.pop(model, None)
        elif listed:
            self.listings.pop(model, None)
        if model_changed:
            self.models.pop(model, None)
        if owner is not None:
            self.models[model] = {"name": model, "owner": owner}
        if version is not None:
            if metadata is None:
                self.metadata.pop((model, version), None)
            else:
                self.metadata[(model, version)] = dict(metadata)
            if dropped:
                self.objects.pop((model, version), None)

    def clear(self) -> None:
        self.models.clear()
        self.listings.clear()
        self.objects.clear()
        self.metadata.clear()
        self.ensured.clear()
