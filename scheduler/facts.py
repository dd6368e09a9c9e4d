"""What the reminder rules look at, read in bulk into plain frozen values (a few queries per tick)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, true
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    Duty,
    DutyPeriod,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    OrgKind,
    RoleKind,
    UnitKind,
)
from bot.core.inbound import Channel
from scheduler.holidays import HolidayCalendar
from scheduler.orglife import HolidayPolicy
from scheduler.quarters import Quarter, month_key
from storage.models import (
    Activity,
    Alliance,
    AllianceUnit,
    Attendance,
    ChatAccount,
    Meeting,
    Member,
    Organization,
    Pairing,
    PairingOrg,
    Role,
    RotaOverride,
)
from storage.reminders import (
    Filing,
    FilingKind,
    MobileMovement,
    MobileReport,
    MovementDirection,
    ReminderSetting,
)

log = logging.getLogger(__name__)

DEFAULT_SCOPE = "default"


# -- reminder settings ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReminderConfig:
    """Times and lead days of the reminders; defaults here, overridden per alliance or org."""

    orglife_eve_time: time = time(19, 0)
    orglife_morning_time: time = time(7, 30)
    notice_time: time = time(9, 0)
    theme_lead_days: tuple[int, ...] = (14, 3)
    joint_meeting_every_days: int = 7
    ledger_window_days: int = 10
    ledger_every_days: int = 3
    opinion_day: int = 20
    plan_start_day: int = 5
    summary_start_day: int = 1
    lead_every_days: int = 7
    mobile_every_days: int = 7
    visit_target: int = 3


SETTING_NAMES = tuple(f.name for f in fields(ReminderConfig))

# Bounds keep a typo from scheduling nudges every day of the year or never at all.
_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "joint_meeting_every_days": (1, 31),
    "ledger_window_days": (1, 31),
    "ledger_every_days": (1, 31),
    "opinion_day": (1, 28),
    "plan_start_day": (1, 31),
    "summary_start_day": (1, 31),
    "lead_every_days": (1, 31),
    "mobile_every_days": (1, 31),
    "visit_target": (1, 52),
}


def parse_setting(name: str, text: str) -> Any:
    """Parses one setting's text (`19:00`, `7`, `14,3`); raises ValueError naming the problem."""
    text = text.strip()
    if name not in SETTING_NAMES:
        raise ValueError(f"unknown setting {name!r} (one of: {', '.join(SETTING_NAMES)})")
    if name.endswith("_time"):
        hours, _, minutes = text.replace("：", ":").partition(":")
        if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError(f"{name}: expected a time like 19:00, got {text!r}")
        return time(int(hours), int(minutes))
    if name == "theme_lead_days":
        parts = [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]
        if not parts or not all(part.isdigit() and 1 <= int(part) <= 60 for part in parts):
            raise ValueError(f"{name}: expected days like 14,3 (each 1..60), got {text!r}")
        return tuple(sorted({int(part) for part in parts}, reverse=True))
    low, high = _INT_BOUNDS[name]
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{name}: expected a whole number {low}..{high}, got {text!r}")
    return int(text)


# -- the snapshot --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrgFact:
    """An organization and its org-life rule."""

    id: int
    code: str
    name: str
    kind: OrgKind
    orglife_ordinal: int
    orglife_weekday: int
    orglife_time: time
    orglife_venue: str
    holiday_policy: HolidayPolicy


@dataclass(frozen=True, slots=True)
class MemberFact:
    """A current member: who they are, where, in which language, and whether muted."""

    id: int
    name: str
    org_id: int
    locale: str | None
    muted: bool


@dataclass(frozen=True, slots=True)
class AccountFact:
    """One chat account of a member."""

    member_id: int
    channel: Channel
    external_id: str
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrgLifeFact:
    """A stored org-life meeting (it wins over the rule: a secretary may have moved it)."""

    id: int
    org_id: int
    period: str
    held_on: date
    starts_at: datetime
    venue: str
    status: MeetingStatus
    moved_from: date | None
    move_reason: str | None
    holiday: str | None


@dataclass(frozen=True, slots=True)
class UnitFact:
    """An alliance unit in rotation order."""

    org_id: int
    kind: UnitKind
    order: int


@dataclass(frozen=True, slots=True)
class DutyFact:
    """Who holds one duty in one period."""

    duty: Duty
    period: str
    first_day: date
    last_day: date
    org_id: int


@dataclass(frozen=True, slots=True)
class AllianceFact:
    """An alliance with its units and rota overrides."""

    id: int
    code: str
    name: str
    rota_start: date
    duty_period: DutyPeriod
    executive_term_months: int
    units: tuple[UnitFact, ...]
    overrides: Mapping[tuple[Duty, str], int]

    def duty(self, duty: Duty, day: date) -> DutyFact | None:
        """Returns who holds `duty` in the period containing `day` (None without units)."""
        start = self.rota_start
        presidents = tuple(u for u in self.units if u.kind is UnitKind.PRESIDENT)
        if duty is Duty.THEME_DAY:
            units = self.units
            if self.duty_period is DutyPeriod.QUARTER:
                quarter = Quarter.of(day)
                key, first, last = str(quarter), quarter.first_day, quarter.last_day
                index = _quarters_between(start, day)
            else:
                key, first, last = _month_span(day)
                index = _months_between(start, day)
        elif duty is Duty.CONVENER:
            units = presidents
            quarter = Quarter.of(day)
            key, first, last = str(quarter), quarter.first_day, quarter.last_day
            index = _quarters_between(start, day)
        else:
            units = presidents
            term = max(self.executive_term_months, 1)
            index = _months_between(start, day) // term
            first_month = (start.year * 12 + start.month - 1) + index * term
            first = date(first_month // 12, first_month % 12 + 1, 1)
            after = first_month + term
            last = date(after // 12, after % 12 + 1, 1) - timedelta(days=1)
            key = month_key(first)
        if not units:
            return None
        org_id = self.overrides.get((duty, key), units[index % len(units)].org_id)
        return DutyFact(duty, key, first, last, org_id)


@dataclass(frozen=True, slots=True)
class PairingFact:
    """A pairing with its organizations (lead first)."""

    id: int
    code: str
    name: str
    lead_org_id: int
    agreement_start: date
    agreement_end: date | None
    visit_target: int
    org_ids: tuple[int, ...]

    def active_on(self, day: date) -> bool:
        """Tells whether the agreement runs on `day`."""
        return self.agreement_start <= day and (
            self.agreement_end is None or day <= self.agreement_end
        )


@dataclass(frozen=True, slots=True)
class MovementFact:
    """A mobile member's latest movement and the reports still owed on it."""

    id: int
    member_id: int
    direction: MovementDirection
    place: str
    marked_at: datetime
    owed: tuple[MobileReport, ...]


@dataclass(frozen=True)
class Facts:
    """Everything the rules read, as of one moment, in the local time zone."""

    now: datetime
    holidays: HolidayCalendar
    quiet_start: time
    quiet_end: time
    default_locale: str
    orgs: Mapping[int, OrgFact]
    members: Mapping[int, MemberFact]
    members_by_org: Mapping[int, tuple[int, ...]]
    roles: Mapping[tuple[int, RoleKind], tuple[int, ...]]
    accounts: Mapping[int, tuple[AccountFact, ...]]
    orglife: Mapping[tuple[int, str], OrgLifeFact]
    excused: Mapping[int, frozenset[int]]
    alliances: tuple[AllianceFact, ...]
    pairings: tuple[PairingFact, ...]
    alliance_joint: frozenset[tuple[int, str]]
    alliance_theme: frozenset[tuple[int, str]]
    pairing_joint: frozenset[tuple[int, str]]
    pairing_visits: Mapping[int, frozenset[date]]
    opinions: frozenset[tuple[int, str]]
    filings: frozenset[tuple[FilingKind, str, str]]
    movements: tuple[MovementFact, ...]
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    org_alliance: Mapping[int, int] = field(default_factory=dict)
    _configs: dict[tuple[int | None, int | None], ReminderConfig] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def today(self) -> date:
        """Returns the local date of the snapshot."""
        return self.now.date()

    def config(
        self, *, org_id: int | None = None, alliance_id: int | None = None
    ) -> ReminderConfig:
        """Returns the reminder settings for an org or alliance: org over alliance over default."""
        if alliance_id is None and org_id is not None:
            alliance_id = self.org_alliance.get(org_id)
        key = (org_id, alliance_id)
        found = self._configs.get(key)
        if found is None:
            merged: dict[str, Any] = dict(self.settings.get(DEFAULT_SCOPE, {}))
            if alliance_id is not None:
                merged.update(self.settings.get(f"alliance:{alliance_id}", {}))
            if org_id is not None:
                merged.update(self.settings.get(f"org:{org_id}", {}))
            found = ReminderConfig(**merged)
            self._configs[key] = found
        return found

    def holders(self, org_id: int, role: RoleKind) -> tuple[int, ...]:
        """Lists the members holding `role` in an organization."""
        return self.roles.get((org_id, role), ())

    def secretaries(self, org_id: int) -> tuple[int, ...]:
        """Lists an organization's secretaries, or its deputies when it has no secretary."""
        return self.holders(org_id, RoleKind.SECRETARY) or self.holders(org_id, RoleKind.DEPUTY)

    def liaisons(self, org_id: int) -> tuple[int, ...]:
        """Lists an organization's liaison officers, or its secretaries when it names none."""
        return self.holders(org_id, RoleKind.LIAISON) or self.secretaries(org_id)

    def leads(self, org_id: int) -> tuple[int, ...]:
        """Lists an organization's secretaries and liaison officers, once each."""
        return tuple(dict.fromkeys((*self.secretaries(org_id), *self.liaisons(org_id))))

    def locale_of(self, member_id: int) -> str:
        """Returns the language a member reads."""
        member = self.members.get(member_id)
        return (member.locale if member else None) or self.default_locale

    def preferred_account(self, member_id: int) -> AccountFact | None:
        """Returns the account a push would try first: the one the member used last."""
        accounts = self.accounts.get(member_id, ())
        return accounts[0] if accounts else None

    def org_name(self, org_id: int) -> str:
        """Returns an organization's name (or its id when it is out of the snapshot)."""
        org = self.orgs.get(org_id)
        return org.name if org else f"#{org_id}"


def _month_span(day: date) -> tuple[str, date, date]:
    """Returns the key, first and last day of the month containing `day`."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return month_key(first), first, following - timedelta(days=1)


def _months_between(start: date, day: date) -> int:
    """Counts calendar months from `start`'s month to `day`'s (may be negative)."""
    return (day.year - start.year) * 12 + (day.month - start.month)


def _quarters_between(start: date, day: date) -> int:
    """Counts quarters from `start`'s quarter to `day`'s (may be negative)."""
    a, b = Quarter.of(start), Quarter.of(day)
    return (b.year - a.year) * 4 + (b.number - a.number)


def shift_month(day: date, months: int) -> date:
    """Returns the first day of the month `months` after `day`'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _parse_hhmm(text: str) -> time:
    """Parses an org's `HH:MM` meeting time, falling back to 09:00 on a bad value."""
    try:
        value = parse_setting("notice_time", text)
    except ValueError:
        return time(9, 0)
    assert isinstance(value, time)
    return value


def scope_of(session: Session, org_id: int) -> frozenset[int]:
    """Returns an organization with every organization it shares an alliance or pairing with."""
    alliance_ids = select(AllianceUnit.alliance_id).where(AllianceUnit.organization_id == org_id)
    pairing_ids = select(PairingOrg.pairing_id).where(PairingOrg.organization_id == org_id)
    allied = session.exec(
        select(AllianceUnit.organization_id).where(col(AllianceUnit.alliance_id).in_(alliance_ids))
    ).all()
    paired = session.exec(
        select(PairingOrg.organization_id).where(col(PairingOrg.pairing_id).in_(pairing_ids))
    ).all()
    return frozenset({org_id, *allied, *paired})


def load_facts(
    session: Session,
    *,
    now: datetime,
    holidays: HolidayCalendar,
    quiet_start: time = time(22, 0),
    quiet_end: time = time(7, 30),
    default_locale: str = "zh_CN",
    org_ids: Collection[int] | None = None,
) -> Facts:
    """Reads the snapshot the rules need at `now`: one query per kind of fact, never per member."""
    if now.tzinfo is None:
        raise ValueError("load_facts needs an aware datetime")
    today = now.date()
    quarter = Quarter.of(today)
    year_first = date(today.year, 1, 1)
    scope = frozenset(org_ids) if org_ids is not None else None

    def within(column: Any) -> Any:
        """Restricts a query to the scoped organizations (no restriction without a scope)."""
        return col(column).in_(scope) if scope is not None else true()

    orgs = {
        row.id: OrgFact(
            id=row.id,
            code=row.code,
            name=row.name,
            kind=row.kind,
            orglife_ordinal=row.orglife_ordinal,
            orglife_weekday=row.orglife_weekday,
            orglife_time=_parse_hhmm(row.orglife_time),
            orglife_venue=row.orglife_venue,
            holiday_policy=_policy(row.holiday_policy),
        )
        for row in session.exec(select(Organization).where(within(Organization.id)))
        if row.id is not None
    }

    members: dict[int, MemberFact] = {}
    by_org: dict[int, list[int]] = defaultdict(list)
    for member_id, name, org_id, locale, muted in session.execute(
        select_columns(
            col(Member.id),
            col(Member.name),
            col(Member.organization_id),
            col(Member.locale),
            col(Member.muted),
        )
        .where(col(Member.status) != MemberStatus.DEPARTED, within(Member.organization_id))
        .order_by(col(Member.id))
    ):
        members[member_id] = MemberFact(member_id, name, org_id, locale, bool(muted))
        by_org[org_id].append(member_id)

    roles: dict[tuple[int, RoleKind], list[int]] = defaultdict(list)
    for org_id, member_id, role in session.execute(
        select(Role.organization_id, Role.member_id, Role.role)
        .where(within(Role.organization_id))
        .order_by(col(Role.member_id))
    ):
        if member_id in members:
            roles[(org_id, RoleKind(role))].append(member_id)

    accounts: dict[int, list[AccountFact]] = defaultdict(list)
    account_rows = session.execute(
        select_columns(
            col(ChatAccount.member_id),
            col(ChatAccount.channel),
            col(ChatAccount.external_id),
            col(ChatAccount.last_seen_at),
            col(ChatAccount.id),
        )
        .join(Member, col(Member.id) == ChatAccount.member_id)
        .where(within(Member.organization_id))
    ).all()
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    for member_id, channel, external_id, seen, _id in sorted(
        account_rows, key=lambda row: (row[3] or epoch, row[4]), reverse=True
    ):
        if member_id in members:
            accounts[member_id].append(AccountFact(member_id, Channel(channel), external_id, seen))

    months = [month_key(shift_month(today, shift)) for shift in (-1, 0, 1)]
    orglife: dict[tuple[int, str], OrgLifeFact] = {}
    for meeting in session.exec(
        select(Meeting).where(
            Meeting.kind == MeetingKind.ORG_LIFE,
            col(Meeting.period).in_(months),
            within(Meeting.organization_id),
        )
    ):
        assert meeting.id is not None
        orglife[(meeting.organization_id, meeting.period)] = OrgLifeFact(
            id=meeting.id,
            org_id=meeting.organization_id,
            period=meeting.period,
            held_on=meeting.held_on,
            starts_at=meeting.starts_at.astimezone(now.tzinfo),
            venue=meeting.venue,
            status=meeting.status,
            moved_from=meeting.moved_from,
            move_reason=meeting.move_reason,
            holiday=meeting.holiday,
        )
    excused: dict[int, set[int]] = defaultdict(set)
    for meeting_id, member_id in session.execute(
        select(Attendance.meeting_id, Attendance.member_id)
        .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
        .where(
            Meeting.kind == MeetingKind.ORG_LIFE,
            col(Meeting.period).in_(months),
            within(Meeting.organization_id),
            col(Attendance.status).in_([AttendanceStatus.LEAVE, AttendanceStatus.PRESENT]),
        )
    ):
        excused[meeting_id].add(member_id)

    alliances = _load_alliances(session, scope)
    pairings = _load_pairings(session, scope)
    alliance_ids = [a.id for a in alliances]
    pairing_ids = [p.id for p in pairings]
    unit_alliances: dict[int, set[int]] = defaultdict(set)
    for alliance in alliances:
        for unit in alliance.units:
            unit_alliances[unit.org_id].add(alliance.id)

    alliance_joint: set[tuple[int, str]] = set()
    alliance_theme: set[tuple[int, str]] = set()
    pairing_joint: set[tuple[int, str]] = set()
    visits: dict[int, set[date]] = defaultdict(set)
    duty_unit = {a.id: a.duty_period for a in alliances}
    horizon = max(quarter.last_day, today + timedelta(days=62))
    for kind, held_on, alliance_id, pairing_id in session.execute(
        select(
            col(Meeting.kind),
            col(Meeting.held_on),
            col(Meeting.alliance_id),
            col(Meeting.pairing_id),
        ).where(
            Meeting.held_on >= year_first,
            Meeting.held_on <= horizon,
            Meeting.status != MeetingStatus.CANCELLED,
            or_(
                col(Meeting.alliance_id).in_(alliance_ids),
                col(Meeting.pairing_id).in_(pairing_ids),
            ),
        )
    ):
        if alliance_id is not None and kind == MeetingKind.JOINT_MEETING:
            alliance_joint.add((alliance_id, str(Quarter.of(held_on))))
        if alliance_id is not None and kind == MeetingKind.THEME_DAY:
            span = duty_unit.get(alliance_id, DutyPeriod.MONTH)
            key = str(Quarter.of(held_on)) if span is DutyPeriod.QUARTER else month_key(held_on)
            alliance_theme.add((alliance_id, key))
        if pairing_id is not None and held_on <= today:
            pairing_joint.add((pairing_id, str(Quarter.of(held_on))))
            if kind == MeetingKind.VISIT:
                visits[pairing_id].add(held_on)

    opinions: set[tuple[int, str]] = set()
    for org_id, kind, held_on, alliance_id, pairing_id in session.execute(
        select_columns(
            col(Activity.organization_id),
            col(Activity.kind),
            col(Activity.held_on),
            col(Activity.alliance_id),
            col(Activity.pairing_id),
        ).where(
            col(Activity.held_on) >= year_first,
            col(Activity.held_on) <= today,
            or_(
                col(Activity.kind).in_(
                    [ActivityKind.OPINION, ActivityKind.JOINT_MEETING, ActivityKind.VISIT]
                ),
                col(Activity.pairing_id).is_not(None),
            ),
            within(Activity.organization_id),
        )
    ):
        period = str(Quarter.of(held_on))
        if kind == ActivityKind.OPINION:
            opinions.add((org_id, month_key(held_on)))
        if kind == ActivityKind.JOINT_MEETING:
            for allied in {alliance_id} if alliance_id is not None else unit_alliances[org_id]:
                alliance_joint.add((allied, period))
        if pairing_id is not None:
            pairing_joint.add((pairing_id, period))
            if kind == ActivityKind.VISIT:
                visits[pairing_id].add(held_on)

    filings = frozenset(
        (FilingKind(kind), scope_key, period)
        for kind, scope_key, period in session.execute(
            select(Filing.kind, Filing.scope, Filing.period).where(
                col(Filing.period).in_([str(quarter), str(today.year)])
            )
        )
    )

    settings: dict[str, dict[str, Any]] = defaultdict(dict)
    for scope_key, name, value in session.execute(
        select(ReminderSetting.scope, ReminderSetting.name, ReminderSetting.value)
    ):
        try:
            settings[scope_key][name] = parse_setting(name, value)
        except ValueError as error:
            log.warning("ignoring reminder setting %s of %s: %s", name, scope_key, error)

    return Facts(
        now=now,
        holidays=holidays,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        default_locale=default_locale,
        orgs=orgs,
        members=members,
        members_by_org={org: tuple(ids) for org, ids in by_org.items()},
        roles={key: tuple(ids) for key, ids in roles.items()},
        accounts={member: tuple(rows) for member, rows in accounts.items()},
        orglife=orglife,
        excused={meeting: frozenset(ids) for meeting, ids in excused.items()},
        alliances=alliances,
        pairings=pairings,
        alliance_joint=frozenset(alliance_joint),
        alliance_theme=frozenset(alliance_theme),
        pairing_joint=frozenset(pairing_joint),
        pairing_visits={pairing: frozenset(days) for pairing, days in visits.items()},
        opinions=frozenset(opinions),
        filings=filings,
        movements=_load_movements(session, members, now),
        settings=settings,
        org_alliance={org: min(ids) for org, ids in unit_alliances.items()},
    )


def _policy(text: str) -> HolidayPolicy:
    """Reads an org's holiday policy, keeping the day when the stored value is unknown."""
    try:
        return HolidayPolicy(text)
    except ValueError:
        return HolidayPolicy.KEEP


def _load_alliances(session: Session, scope: frozenset[int] | None) -> tuple[AllianceFact, ...]:
    """Reads the alliances (those with a scoped unit, when scoped) with units and overrides."""
    query = select(Alliance).order_by(col(Alliance.code))
    if scope is not None:
        query = query.where(
            col(Alliance.id).in_(
                select(AllianceUnit.alliance_id).where(col(AllianceUnit.organization_id).in_(scope))
            )
        )
    rows = session.exec(query).all()
    ids = [row.id for row in rows]
    units: dict[int, list[UnitFact]] = defaultdict(list)
    for unit in session.exec(
        select(AllianceUnit)
        .where(col(AllianceUnit.alliance_id).in_(ids))
        .order_by(col(AllianceUnit.rotation_order))
    ):
        units[unit.alliance_id].append(
            UnitFact(unit.organization_id, unit.kind, unit.rotation_order)
        )
    overrides: dict[int, dict[tuple[Duty, str], int]] = defaultdict(dict)
    for override in session.exec(
        select(RotaOverride).where(col(RotaOverride.alliance_id).in_(ids))
    ):
        overrides[override.alliance_id][(override.duty, override.period)] = override.organization_id
    facts = []
    for row in rows:
        assert row.id is not None
        facts.append(
            AllianceFact(
                id=row.id,
                code=row.code,
                name=row.name,
                rota_start=row.rota_start,
                duty_period=row.duty_period,
                executive_term_months=row.executive_term_months,
                units=tuple(units[row.id]),
                overrides=overrides[row.id],
            )
        )
    return tuple(facts)


def _load_pairings(session: Session, scope: frozenset[int] | None) -> tuple[PairingFact, ...]:
    """Reads the pairings (those with a scoped organization, when scoped), lead first."""
    query = select(Pairing).order_by(col(Pairing.code))
    if scope is not None:
        query = query.where(
            col(Pairing.id).in_(
                select(PairingOrg.pairing_id).where(col(PairingOrg.organization_id).in_(scope))
            )
        )
    rows = session.exec(query).all()
    members: dict[int, list[int]] = defaultdict(list)
    for pairing_id, org_id in session.execute(
        select(PairingOrg.pairing_id, PairingOrg.organization_id)
        .where(col(PairingOrg.pairing_id).in_([row.id for row in rows]))
        .order_by(col(PairingOrg.id))
    ):
        members[pairing_id].append(org_id)
    facts = []
    for row in rows:
        assert row.id is not None
        ordered = sorted(members[row.id], key=lambda org: (org != row.lead_org_id, org))
        facts.append(
            PairingFact(
                id=row.id,
                code=row.code,
                name=row.name,
                lead_org_id=row.lead_org_id,
                agreement_start=row.agreement_start,
                agreement_end=row.agreement_end,
                visit_target=row.visit_target,
                org_ids=tuple(ordered),
            )
        )
    return tuple(facts)


def _load_movements(
    session: Session, members: Mapping[int, MemberFact], now: datetime
) -> tuple[MovementFact, ...]:
    """Reads each mobile member's latest movement that still owes a report."""
    open_members = select(MobileMovement.member_id).where(
        or_(
            (col(MobileMovement.direction) == MovementDirection.LEAVING)
            & col(MobileMovement.whereabouts_at).is_(None),
            (col(MobileMovement.direction) == MovementDirection.ARRIVING)
            & (
                col(MobileMovement.arrival_at).is_(None)
                | col(MobileMovement.workplace_at).is_(None)
            ),
        )
    )
    latest: dict[int, MobileMovement] = {}
    for movement in session.exec(
        select(MobileMovement)
        .where(col(MobileMovement.member_id).in_(open_members))
        .order_by(col(MobileMovement.marked_at), col(MobileMovement.id))
    ):
        latest[movement.member_id] = movement
    facts = []
    for member_id, movement in sorted(latest.items()):
        if member_id not in members or movement.id is None:
            continue
        if movement.direction is MovementDirection.LEAVING:
            owed = [MobileReport.WHEREABOUTS] if movement.whereabouts_at is None else []
        else:
            owed = [
                report
                for report, done in (
                    (MobileReport.ARRIVAL, movement.arrival_at),
                    (MobileReport.WORKPLACE, movement.workplace_at),
                )
                if done is None
            ]
        if owed:
            facts.append(
                MovementFact(
                    id=movement.id,
                    member_id=member_id,
                    direction=movement.direction,
                    place=movement.place,
                    marked_at=movement.marked_at.astimezone(now.tzinfo),
                    owed=tuple(owed),
                )
            )
    return tuple(facts)
