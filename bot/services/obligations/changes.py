"""Which organizations and groups two snapshots of the facts differ on, field by field.

A view computed from one snapshot can then be brought up to date by checking again only what
the differences reach. Every field of `Facts` is compared; what cannot be put down to an
organization or a group (the default settings, the holidays) is a change to everything.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.services.obligations.facts import Facts

# The snapshot's own moment: callers compare snapshots of one day, whose rules judge by the date.
_MOMENT = frozenset({"now"})
# Constants of the snapshot: any difference changes everything.
_WHOLE = frozenset({"holidays", "quiet_start", "quiet_end", "default_locale"})
# Read per member (the overview goes without them): any difference changes everything.
_PER_MEMBER = frozenset(
    {
        "members",
        "members_by_org",
        "roles",
        "accounts",
        "reachable",
        "orglife",
        "excused",
        "movements",
    }
)
# Keyed by organization (first of each pair for the sets).
_BY_ORG = frozenset({"orgs", "opinions", "org_alliance"})
# Keyed by alliance, or by pairing.
_BY_ALLIANCE = frozenset(
    {
        "alliances",
        "alliance_joint",
        "alliance_theme",
        "alliance_joint_planned",
        "alliance_theme_planned",
    }
)
_BY_PAIRING = frozenset({"pairings", "pairing_joint", "pairing_visits", "partner_visits"})
# Keyed by a scope string (`org:1`, `alliance:2`, `pairing:3`, `default`).
_BY_SCOPE = frozenset({"filings", "settings"})
# Worked out from the others.
_DERIVED = frozenset({"_configs"})

COMPARED = (
    _MOMENT | _WHOLE | _PER_MEMBER | _BY_ORG | _BY_ALLIANCE | _BY_PAIRING | _BY_SCOPE | _DERIVED
)


@dataclass(frozen=True, slots=True)
class Changes:
    """The organizations, alliances and pairings whose facts differ."""

    orgs: frozenset[int]
    alliances: frozenset[int]
    pairings: frozenset[int]


class _EverythingChangedError(Exception):
    """A difference no organization or group stands for."""


def fact_changes(before: Facts, after: Facts) -> Changes | None:
    """Lists what differs between two snapshots of one day; None when it is everything."""
    if before is after:
        return Changes(frozenset(), frozenset(), frozenset())
    orgs: set[int] = set()
    alliances: set[int] = set()
    pairings: set[int] = set()
    try:
        for name in _WHOLE | _PER_MEMBER:
            if getattr(before, name) != getattr(after, name):
                raise _EverythingChangedError
        orgs |= _changed_keys(before.orgs, after.orgs)
        orgs |= _changed_keys(before.org_alliance, after.org_alliance)
        orgs |= {org for org, _ in before.opinions ^ after.opinions}
        alliances |= _changed_keys(_by_id(before.alliances), _by_id(after.alliances))
        pairings |= _changed_keys(_by_id(before.pairings), _by_id(after.pairings))
        for name in (
            "alliance_joint",
            "alliance_theme",
            "alliance_joint_planned",
            "alliance_theme_planned",
        ):
            alliances |= _first_of(getattr(before, name) ^ getattr(after, name))
        pairings |= _first_of(before.pairing_joint ^ after.pairing_joint)
        pairings |= _changed_keys(before.pairing_visits, after.pairing_visits)
        pairings |= _changed_keys(before.partner_visits, after.partner_visits)
        scopes = {scope for _, scope, _ in before.filings ^ after.filings}
        settings = _changed_keys(before.settings, after.settings)
        for scope in scopes | settings:
            _note_scope(scope, orgs, alliances, pairings)
        # An organization's settings fall back on its alliance's: those of an alliance whose
        # settings changed are read anew by every pairing its units lead.
        for scope in settings:
            kind, _, ident = scope.partition(":")
            if kind == "alliance":
                orgs |= _units_of(int(ident), before, after)
    except _EverythingChangedError:
        return None
    return Changes(frozenset(orgs), frozenset(alliances), frozenset(pairings))


def _changed_keys(before: Mapping[Any, Any], after: Mapping[Any, Any]) -> set[Any]:
    """Lists the keys whose values differ, or are in one mapping only."""
    if before == after:
        return set()
    changed = set(before.keys() ^ after.keys())
    changed.update(key for key, value in before.items() if key in after and after[key] != value)
    return changed


def _by_id(groups: Iterable[Any]) -> dict[int, Any]:
    """Maps alliances or pairings by id."""
    return {group.id: group for group in groups}


def _first_of(pairs: Iterable[tuple[int, Hashable]]) -> set[int]:
    """The first element of each pair."""
    return {first for first, _ in pairs}


def _note_scope(scope: str, orgs: set[int], alliances: set[int], pairings: set[int]) -> None:
    """Puts a scope string down to its organization or group; the default is everything."""
    kind, _, ident = scope.partition(":")
    notes: dict[str, Callable[[int], None]] = {
        "org": orgs.add,
        "alliance": alliances.add,
        "pairing": pairings.add,
    }
    if kind not in notes or not ident.isdigit():
        raise _EverythingChangedError
    notes[kind](int(ident))


def _units_of(alliance_id: int, *snapshots: Facts) -> set[int]:
    """The organizations an alliance has as units in any of the snapshots."""
    return {
        unit.org_id
        for facts in snapshots
        for alliance in facts.alliances
        if alliance.id == alliance_id
        for unit in alliance.units
    }
