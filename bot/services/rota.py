"""The duty roster: theme-day duty, joint-meeting convener and executive president unit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, or_, union_all, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.calendar.quarters import Quarter
from bot.core.domain import Duty, DutyPeriod, MeetingKind, UnitKind
from bot.core.names import clean_line
from bot.core.records import DutySlot, OrgView
from bot.services.audit_trail import record_change
from bot.services.errors import ServiceError
from bot.services.organizations import org_view
from storage.models import (
    Alliance,
    AllianceUnit,
    Meeting,
    Organization,
    Pairing,
    PairingOrg,
    RotaOverride,
)
from storage.queries import insert_ignore


@dataclass(frozen=True, slots=True)
class Period:
    """A span of days one duty slot covers, with its storage key."""

    key: str
    first_day: date
    last_day: date


def month_period(day: date) -> Period:
    """Returns the calendar month containing `day`."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(f"{first.year:04d}-{first.month:02d}", first, following - timedelta(days=1))


def quarter_period(quarter: Quarter) -> Period:
    """Returns a quarter as a period."""
    return Period(str(quarter), quarter.first_day, quarter.last_day)


def months_between(start: date, day: date) -> int:
    """Counts whole calendar months from `start`'s month to `day`'s month (may be negative)."""
    return (day.year - start.year) * 12 + (day.month - start.month)


def parse_period(duty: Duty, text: str, period_unit: DutyPeriod) -> Period:
    """Parses a period key such as `2026-11` or `2026Q4` for a duty; raises ValueError."""
    text = text.strip().upper()
    if "Q" in text:
        if duty is Duty.THEME_DAY and period_unit is DutyPeriod.MONTH:
            raise ValueError(text)
        return quarter_period(Quarter.parse(text))
    year, _, month = text.partition("-")
    if not (year.isdigit() and month.isdigit()):
        raise ValueError(text)
    day = date(int(year), int(month), 1)
    if duty is Duty.CONVENER or (duty is Duty.THEME_DAY and period_unit is DutyPeriod.QUARTER):
        return quarter_period(Quarter.of(day))
    return month_period(day)


# Built once: a roster runs several of them, and building a statement costs about as much as
# running it.
_ALLIANCES_OF = (
    select(Alliance)
    .join(AllianceUnit, col(AllianceUnit.alliance_id) == Alliance.id)
    .where(col(AllianceUnit.organization_id) == bindparam("org"))
    .order_by(col(Alliance.code))
)
_PAIRINGS_OF = (
    select(Pairing)
    .join(PairingOrg, col(PairingOrg.pairing_id) == Pairing.id)
    .where(col(PairingOrg.organization_id) == bindparam("org"))
    .order_by(col(Pairing.code))
)
_UNITS = (
    select(Organization, col(AllianceUnit.kind))
    .join(AllianceUnit, col(AllianceUnit.organization_id) == Organization.id)
    .where(col(AllianceUnit.alliance_id) == bindparam("alliance"))
    .order_by(col(AllianceUnit.rotation_order))
)
_OVERRIDES = select(RotaOverride).where(col(RotaOverride.alliance_id) == bindparam("alliance"))
_PAIRING_ORGS = (
    select(Organization)
    .join(PairingOrg, col(PairingOrg.organization_id) == Organization.id)
    .where(col(PairingOrg.pairing_id) == bindparam("pairing"))
)
_GROUP_MEETINGS = select(Meeting).where(
    col(Meeting.held_on) >= bindparam("first"),
    col(Meeting.held_on) <= bindparam("last"),
    or_(
        col(Meeting.kind) == MeetingKind.THEME_DAY,
        col(Meeting.kind) == MeetingKind.JOINT_MEETING,
        col(Meeting.kind) == MeetingKind.VISIT,
    ),
)

# A roster's groups in one statement each, with what their slots read: an alliance with its
# units' organizations, a pairing with its organizations (the organization bound as `org`'s).
_MY_UNITS = aliased(AllianceUnit)
_MY_PAIRINGS = aliased(PairingOrg)
# The alliances and pairings of the organization bound as `org`.
_ALLIANCES_OF_ORG = select(_MY_UNITS.alliance_id).where(
    _MY_UNITS.organization_id == bindparam("org")
)
_PAIRINGS_OF_ORG = select(_MY_PAIRINGS.pairing_id).where(
    _MY_PAIRINGS.organization_id == bindparam("org")
)
_ROSTER_ALLIANCES = (
    select(Alliance, Organization, col(AllianceUnit.kind))
    .join(AllianceUnit, col(AllianceUnit.alliance_id) == Alliance.id)
    .join(Organization, col(Organization.id) == AllianceUnit.organization_id)
    .where(col(Alliance.id).in_(_ALLIANCES_OF_ORG))
    .order_by(col(Alliance.code), col(AllianceUnit.rotation_order))
)
_ROSTER_PAIRINGS = (
    select(Pairing, Organization)
    .join(PairingOrg, col(PairingOrg.pairing_id) == Pairing.id)
    .join(Organization, col(Organization.id) == PairingOrg.organization_id)
    .where(col(Pairing.id).in_(_PAIRINGS_OF_ORG))
    .order_by(col(Pairing.code))
)
_ROSTER_OVERRIDES = select(RotaOverride).where(
    col(RotaOverride.alliance_id).in_(bindparam("alliances", expanding=True))
)


# The joint meetings, theme days and visits in a span of the alliances, then of the pairings,
# of the organization bound as `org` (a pairing's but those already read as an alliance's).
# One branch per (group, day) index, where a plan for an OR would walk the span by day.
_ROSTER_MEETINGS = select(Meeting).from_statement(
    union_all(
        _GROUP_MEETINGS.where(col(Meeting.alliance_id).in_(_ALLIANCES_OF_ORG)),
        _GROUP_MEETINGS.where(
            col(Meeting.pairing_id).in_(_PAIRINGS_OF_ORG),
            or_(
                col(Meeting.alliance_id).is_(None),
                col(Meeting.alliance_id).not_in(_ALLIANCES_OF_ORG),
            ),
        ),
    )
)


class Rota:
    """Computes who is on duty in any period, with secretaries' overrides applied."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        # An alliance's units and overrides and a pairing's organizations are read once per
        # Rota (one unit of work): a roster asks for many slots of the same alliance.
        self._units: dict[int, list[tuple[UnitKind, OrgView]]] = {}
        self._override_rows: dict[int, dict[tuple[Duty, str], RotaOverride]] = {}
        self._pairing_orgs: dict[int, list[Organization]] = {}
        # The groups' organizations read by `groups_of`, held here because the session's
        # identity map holds its objects weakly: a meeting's view finds its host among them.
        self._orgs: dict[int, Organization] = {}

    def alliances_of(self, org_id: int) -> list[Alliance]:
        """Lists the alliances an organization belongs to."""
        return list(self.session.exec(_ALLIANCES_OF, params={"org": org_id}).all())

    def pairings_of(self, org_id: int) -> list[Pairing]:
        """Lists the pairings an organization belongs to."""
        return list(self.session.exec(_PAIRINGS_OF, params={"org": org_id}).all())

    def groups_of(self, org_id: int) -> tuple[list[Alliance], list[Pairing]]:
        """Lists an organization's alliances and pairings, reading what their slots need too.

        Three statements whatever the number of groups: the alliances with their units, their
        overrides, the pairings with their organizations.
        """
        alliances: dict[int, Alliance] = {}
        units: dict[int, list[tuple[UnitKind, OrgView]]] = defaultdict(list)
        for alliance, org, kind in self.session.exec(_ROSTER_ALLIANCES, params={"org": org_id}):
            assert alliance.id is not None
            alliances.setdefault(alliance.id, alliance)
            units[alliance.id].append((kind, org_view(org)))
            self._orgs[org.id or 0] = org
        self._units.update(units)
        if alliances:
            found: dict[int, dict[tuple[Duty, str], RotaOverride]] = {key: {} for key in alliances}
            rows = self.session.exec(_ROSTER_OVERRIDES, params={"alliances": [*alliances]})
            for row in rows:
                found[row.alliance_id][(row.duty, row.period)] = row
            self._override_rows.update(found)
        pairings: dict[int, Pairing] = {}
        orgs: dict[int, list[Organization]] = defaultdict(list)
        for pairing, org in self.session.exec(_ROSTER_PAIRINGS, params={"org": org_id}):
            assert pairing.id is not None
            pairings.setdefault(pairing.id, pairing)
            orgs[pairing.id].append(org)
            self._orgs[org.id or 0] = org
        self._pairing_orgs.update(orgs)
        return list(alliances.values()), list(pairings.values())

    def group_org(self, org_id: int) -> Organization | None:
        """Returns an organization `groups_of` read, if it did."""
        return self._orgs.get(org_id)

    def group_meetings(self, org_id: int, *, first: date, last: date) -> list[Meeting]:
        """Lists the joint meetings, theme days and visits of an organization's groups, by day."""
        params = {"org": org_id, "first": first, "last": last}
        rows = self.session.execute(_ROSTER_MEETINGS, params).scalars()
        return sorted(rows, key=lambda meeting: (meeting.held_on, meeting.id or 0))

    def alliance_by_code(self, code: str) -> Alliance | None:
        """Finds an alliance by code."""
        return self.session.exec(
            select(Alliance).where(Alliance.code == code.strip().upper())
        ).first()

    def pairing_by_code(self, code: str) -> Pairing | None:
        """Finds a pairing by code."""
        return self.session.exec(
            select(Pairing).where(Pairing.code == code.strip().upper())
        ).first()

    def units(self, alliance: Alliance, kind: UnitKind | None = None) -> list[OrgView]:
        """Lists an alliance's units in rotation order, optionally only one kind."""
        assert alliance.id is not None
        units = self._units.get(alliance.id)
        if units is None:
            rows = self.session.exec(_UNITS, params={"alliance": alliance.id}).all()
            units = self._units[alliance.id] = [(unit, org_view(org)) for org, unit in rows]
        return [org for unit, org in units if kind is None or unit is kind]

    def _overrides(self, alliance: Alliance) -> dict[tuple[Duty, str], RotaOverride]:
        """Returns an alliance's overrides by (duty, period key)."""
        assert alliance.id is not None
        found = self._override_rows.get(alliance.id)
        if found is None:
            rows = self.session.exec(_OVERRIDES, params={"alliance": alliance.id}).all()
            found = self._override_rows[alliance.id] = {(row.duty, row.period): row for row in rows}
        return found

    def theme_period(self, alliance: Alliance, day: date) -> Period:
        """Returns the theme-day duty period containing `day`."""
        if alliance.duty_period is DutyPeriod.QUARTER:
            return quarter_period(Quarter.of(day))
        return month_period(day)

    def executive_period(self, alliance: Alliance, day: date) -> Period:
        """Returns the executive-president term containing `day`."""
        term = alliance.executive_term_months
        index = months_between(alliance.rota_start, day) // term
        first_month = months_between(date(1, 1, 1), alliance.rota_start) + index * term
        first = date(1 + first_month // 12, 1 + first_month % 12, 1)
        last_month = first_month + term
        after = date(1 + last_month // 12, 1 + last_month % 12, 1)
        return Period(f"{first.year:04d}-{first.month:02d}", first, after - timedelta(days=1))

    def slot(self, alliance: Alliance, duty: Duty, day: date) -> DutySlot:
        """Returns who holds `duty` in the period containing `day`."""
        return self._slot(alliance, duty, day, self._overrides(alliance))

    def _slot(
        self,
        alliance: Alliance,
        duty: Duty,
        day: date,
        overrides: dict[tuple[Duty, str], RotaOverride],
    ) -> DutySlot:
        """Computes one slot from the rotation, then applies an override for its period."""
        start = alliance.rota_start
        if duty is Duty.THEME_DAY:
            period = self.theme_period(alliance, day)
            units = self.units(alliance)
            if alliance.duty_period is DutyPeriod.QUARTER:
                index = _quarters_between(start, day)
            else:
                index = months_between(start, day)
        elif duty is Duty.CONVENER:
            period = quarter_period(Quarter.of(day))
            units = self.units(alliance, UnitKind.PRESIDENT)
            index = _quarters_between(start, day)
            if not alliance.convener_rotation:
                # 001: the convener is the executive president unit's leader (the unit holding
                # the executive term on the quarter's first day), unless the alliance rotates it.
                executive = self._slot(alliance, Duty.EXECUTIVE, period.first_day, overrides)
                units, index = [executive.org], 0
        else:
            period = self.executive_period(alliance, day)
            units = self.units(alliance, UnitKind.PRESIDENT)
            index = months_between(start, day) // alliance.executive_term_months
        if not units:
            raise ServiceError("alliance_empty")
        scheduled = units[index % len(units)]
        override = overrides.get((duty, period.key))
        if override is None:
            return DutySlot(duty, period.key, period.first_day, period.last_day, scheduled)
        replacement = org_view(self.session.get_one(Organization, override.organization_id))
        return DutySlot(
            duty,
            period.key,
            period.first_day,
            period.last_day,
            replacement,
            overridden=True,
            reason=override.reason,
            scheduled_org=scheduled,
        )

    def plan(self, alliance: Alliance, year: int) -> list[DutySlot]:
        """Lists a year's slots: theme-day duty, conveners by quarter, executive terms."""
        overrides = self._overrides(alliance)
        slots: list[DutySlot] = []
        step_months = 3 if alliance.duty_period is DutyPeriod.QUARTER else 1
        for month in range(1, 13, step_months):
            slots.append(self._slot(alliance, Duty.THEME_DAY, date(year, month, 1), overrides))
        for quarter in range(1, 5):
            day = Quarter(year, quarter).first_day
            slots.append(self._slot(alliance, Duty.CONVENER, day, overrides))
        seen: set[str] = set()
        for month in range(1, 13):
            slot = self._slot(alliance, Duty.EXECUTIVE, date(year, month, 1), overrides)
            if slot.period not in seen:
                seen.add(slot.period)
                slots.append(slot)
        return slots

    def override(
        self,
        *,
        alliance: Alliance,
        duty: Duty,
        period: Period,
        org_id: int,
        reason: str,
        actor_id: int | None,
    ) -> None:
        """Puts `org_id` on duty for a period instead of the rotation's choice, with a reason."""
        assert alliance.id is not None
        if org_id not in {unit.id for unit in self.units(alliance)}:
            raise ServiceError("not_in_alliance")
        if duty is not Duty.THEME_DAY and org_id not in {
            unit.id for unit in self.units(alliance, UnitKind.PRESIDENT)
        }:
            raise ServiceError("not_president_unit")
        reason = clean_line(reason, limit=500)
        self._override_rows.pop(alliance.id, None)
        values = {
            "alliance_id": alliance.id,
            "duty": duty.value,
            "period": period.key,
            "organization_id": org_id,
            "reason": reason,
            "created_by": actor_id,
            "created_at": self.now,
        }
        if (
            insert_ignore(
                self.session,
                RotaOverride,
                values=values,
                conflict=("alliance_id", "duty", "period"),
            )
            is None
        ):
            self.session.execute(
                update(RotaOverride)
                .where(
                    col(RotaOverride.alliance_id) == alliance.id,
                    col(RotaOverride.duty) == duty,
                    col(RotaOverride.period) == period.key,
                )
                .values(
                    organization_id=org_id, reason=reason, created_by=actor_id, created_at=self.now
                )
            )
        record_change(
            self.session,
            now=self.now,
            actor_id=actor_id,
            action="rota.override",
            subject=f"alliance:{alliance.code}:{duty.value}:{period.key}",
            organization_id=org_id,
            reason=reason,
        )

    def swap(
        self,
        *,
        alliance: Alliance,
        duty: Duty,
        first: Period,
        second: Period,
        reason: str,
        actor_id: int | None,
    ) -> None:
        """Swaps the units on duty in two periods, with a reason."""
        one = self.slot(alliance, duty, first.first_day)
        two = self.slot(alliance, duty, second.first_day)
        self.override(
            alliance=alliance,
            duty=duty,
            period=first,
            org_id=two.org.id,
            reason=reason,
            actor_id=actor_id,
        )
        self.override(
            alliance=alliance,
            duty=duty,
            period=second,
            org_id=one.org.id,
            reason=reason,
            actor_id=actor_id,
        )

    def pairing_host(self, pairing: Pairing, quarter: Quarter) -> OrgView:
        """Returns the pairing unit hosting a quarter's joint activity (lead first, in turn)."""
        ordered = self.pairing_orgs(pairing)
        start = Quarter.of(pairing.agreement_start)
        index = (quarter.year - start.year) * 4 + (quarter.number - start.number)
        return ordered[index % len(ordered)]

    def pairing_orgs(self, pairing: Pairing) -> list[OrgView]:
        """Lists a pairing's organizations, lead first."""
        assert pairing.id is not None
        orgs = self._pairing_orgs.get(pairing.id)
        if orgs is None:
            orgs = self._pairing_orgs[pairing.id] = list(
                self.session.exec(_PAIRING_ORGS, params={"pairing": pairing.id}).all()
            )
        ordered = sorted(orgs, key=lambda org: (org.id != pairing.lead_org_id, org.id or 0))
        return [org_view(org) for org in ordered]


def _quarters_between(start: date, day: date) -> int:
    """Counts quarters from `start`'s quarter to `day`'s quarter (may be negative)."""
    a, b = Quarter.of(start), Quarter.of(day)
    return (b.year - a.year) * 4 + (b.number - a.number)
