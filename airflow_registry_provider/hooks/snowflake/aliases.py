"""Moving aliases on Snowflake, where a version holds at most one alias.

Pure module: :func:`plan_move` turns the current aliases of a model into the ordered
``SET``/``UNSET ALIAS`` steps of a move; the hook runs them and, when one fails, runs the
inverses of the completed ones in reverse order, so the model is left as it was.

The order keeps the old holder of the alias (the champion) in place for as long as
possible and makes every intermediate state one a retry converges from:

1. the target version gives up what it holds (refused unless allowed: Snowflake would
   silently drop it);
2. the previous alias (``PREVIOUS_CHAMPION``) leaves the version that held it;
3. the old holder gives up the alias, takes the previous alias,
4. and the target takes the alias.

Between 3 and 4 no version holds the alias: two statements, undone on failure. Should
the undo fail too (the connection is gone), the old holder keeps the previous alias and a
retry, seeing no holder, just sets the alias on the target: the intended end state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from airflow_registry_provider.exceptions import InvalidInputError

SET, UNSET = "set", "unset"


@dataclass(frozen=True)
class Step:
    """``ALTER MODEL … VERSION <version> SET ALIAS = <alias>`` / ``… UNSET ALIAS``."""

    action: str
    version: str
    alias: str

    def inverse(self) -> Step:
        return Step(UNSET if self.action == SET else SET, self.version, self.alias)


@dataclass(frozen=True)
class AliasMove:
    """What moving ``alias`` onto ``version`` changes (``steps`` empty: it is there already)."""

    alias: str
    version: str
    #: The version that held ``alias`` before (None: no version did).
    previous_version: str | None
    previous_alias: str | None = None
    #: Aliases removed as a side effect, alias -> the version that lost it: the target's own
    #: alias, and ``previous_alias`` leaving its former holder.
    displaced: dict[str, str] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.steps)


def plan_move(
    aliases: Mapping[str, Sequence[str]],
    alias: str,
    version: str,
    *,
    previous_alias: str | None = None,
    allow_displace: bool = False,
    field_name: str = "alias",
) -> AliasMove:
    """The steps that point ``alias`` at ``version``; ``aliases`` maps each version to its user aliases.

    With ``previous_alias`` the old holder of ``alias`` takes it (promotions keep the
    previous champion reachable). An alias the target holds other than those two is
    displaced: refused with InvalidInputError naming ``field_name`` unless ``allow_displace``.
    """
    if previous_alias == alias:
        raise InvalidInputError("previous_alias", "must differ from alias")
    holders = {a: v for v, held in aliases.items() for a in held}
    current = holders.get(alias)
    if current == version:
        return AliasMove(alias, version, previous_version=version, previous_alias=previous_alias)
    own = list(aliases.get(version, ()))
    foreign = [a for a in own if a not in (alias, previous_alias)]
    if foreign and not allow_displace:
        raise InvalidInputError(
            field_name,
            f"version {version} holds alias {', '.join(foreign)}; Snowflake keeps one alias per version, so "
            f"moving {alias} onto it would remove it. Move {', '.join(foreign)} first, or allow the displacement",
        )
    displaced = {a: version for a in foreign}
    steps = [Step(UNSET, version, a) for a in own]
    takes_previous = previous_alias is not None and current is not None
    if takes_previous and previous_alias is not None:
        former = holders.get(previous_alias)
        if former is not None and former not in (version, current):
            steps.append(Step(UNSET, former, previous_alias))
            displaced[previous_alias] = former
    if current is not None:
        steps.append(Step(UNSET, current, alias))
        if takes_previous and previous_alias is not None:
            steps.append(Step(SET, current, previous_alias))
    steps.append(Step(SET, version, alias))
    return AliasMove(alias, version, current, previous_alias, displaced, tuple(steps))
