"""Alias methods of the Snowflake hook: moves planned by ``aliases.py``, undone on failure."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_registry_provider.hooks.snowflake import aliases, metadata, names
from airflow_registry_provider.hooks.snowflake.core import SnowflakeCore


class AliasesMixin(SnowflakeCore):
    """``set_alias``, ``move_alias`` and ``delete_alias`` on Snowflake (one alias per version)."""

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``; an alias ``version`` holds is given up (logged).

        Snowflake keeps one alias per version. Promotions use :meth:`move_alias`, which
        refuses to displace an alias unless allowed and keeps the old holder in place on failure.
        """
        self.move_alias(model_name, alias, version, allow_displace=True)

    def move_alias(
        self,
        model_name: str,
        alias: str,
        version: str,
        *,
        previous_alias: str | None = None,
        allow_displace: bool = False,
    ) -> aliases.AliasMove:
        """Move ``alias`` onto ``version`` in the order of ``aliases.py``; undo completed steps on failure.

        With ``previous_alias`` the former holder takes it. Returns what moved, including
        the aliases displaced (for the audit record); an alias the target holds is
        displaced only with ``allow_displace`` (else InvalidInputError naming ``alias``).
        """
        model_name = self.validate_model_name(model_name)
        alias = self.validate_alias(alias)
        previous = self.validate_alias(previous_alias, "previous_alias") if previous_alias is not None else None
        version = names.version_id(version)
        listing = self._listing(model_name)
        if version not in listing:
            raise self._no_version(model_name, version)
        held = {name: metadata.user_aliases(row) for name, row in listing.items()}
        move = aliases.plan_move(held, alias, version, previous_alias=previous, allow_displace=allow_displace)
        if not move.changed:
            return move
        self._require_owner(model_name, f"move alias {alias}")
        for lost, holder in move.displaced.items():
            self.log.warning("Alias %s leaves version %s of %s (one alias per version)", lost, holder, model_name)
        with self._writing(model_name):
            self._run_steps(model_name, move.steps)
        return move

    def _run_steps(self, model_name: str, steps: Sequence[aliases.Step]) -> None:
        done: list[aliases.Step] = []
        try:
            for step in steps:
                self._alias_step(model_name, step)
                done.append(step)
        except Exception:
            for step in reversed(done):
                try:
                    self._alias_step(model_name, step.inverse())
                except Exception as undo_error:  # the original error is what the caller must see
                    self.log.error("Could not undo %s on %s: %s", step, model_name, undo_error)
                    break
            raise

    def _alias_step(self, model_name: str, step: aliases.Step) -> None:
        if step.action == aliases.SET:
            self._client.set_alias(model_name, step.version, step.alias)
        else:
            self._client.unset_alias(model_name, step.version)

    def delete_alias(self, model_name: str, alias: str) -> None:
        model_name = self.validate_model_name(model_name)
        alias = self.validate_alias(alias)
        holder = metadata.alias_holder(self._listing(model_name), alias)
        if holder is None:
            return
        self._require_owner(model_name, f"remove alias {alias}")
        with self._writing(model_name):
            self._alias_step(model_name, aliases.Step(aliases.UNSET, holder, alias))
