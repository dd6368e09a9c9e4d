"""What the reminder rules look at, read in bulk into plain frozen values (a few queries per tick)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from enum import Flag, auto
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    Row,
)
from sqlmodel import Session

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import HolidayPolicy
from bot.calendar.quarters import Quarter, month_key
from bot.core.domain import (
    ActivityKind,
    Duty,
    DutyPeriod,
    MeetingKind,
    MeetingStatus,
    OrgKind,
    PairingForm,
    RoleKind,
    UnitKind,
)
from bot.core.inbound import Channel
from bot.services.obligations.fact_queries import (
    FILING,
    MEETING,
    ORG,
    OVERRIDE,
    PAIRING,
    PARTNER,
    ROLE,
    SETTING,
    Shape,
    accounts_query,
    excused_query,
    groups_query,
    leads_query,
    members_query,
    movements_query,
    org_life_query,
    orgs_query,
    partners_query,
    reachable_query,
    records_query,
)
from storage.reminders import (
    FilingKind,
    MobileReport,
    MovementDirection,
    alliance_scope,
    org_scope,
    pairing_scope,
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


class Part(Flag):
    """Parts of a snapshot that a caller may go without (the reminder scheduler reads all)."""

    NONE = 0
    # The members holding a role (secretaries, deputies, liaisons...) with their roles, and
    # mobile members with the movements that owe a report: everyone a listed obligation names.
    LEADS = auto()
    # Every current member, by organization too: the org-life day is pushed to all of them.
    MEMBERS = auto()
    # Which members have a chat account at all: planning skips pushes nobody could receive.
    # Read only together with the members.
    REACHABLE = auto()
    # The chat accounts themselves, most recently used first (the preview shows the channel a
    # push would take; delivery reads them afresh). Read only together with the members.
    ACCOUNTS = auto()
    # Stored org-life days and who is excused: their reminders are pushed, never listed.
    ORG_LIFE = auto()
    # What planning a tick needs.
    ALL = LEADS | MEMBERS | REACHABLE | ORG_LIFE


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
    # The president units convene in turn by quarter instead of the executive unit (001).
    convener_rotation: bool = False

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
            quarter = Quarter.of(day)
            key, first, last = str(quarter), quarter.first_day, quarter.last_day
            if not self.convener_rotation:
                # 001: the executive president unit convenes, unless the alliance rotates it.
                executive = self.duty(Duty.EXECUTIVE, first)
                if executive is None:
                    return None
                org_id = self.overrides.get((duty, key), executive.org_id)
                return DutyFact(duty, key, first, last, org_id)
            units = presidents
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
    form: PairingForm = PairingForm.ONE_TO_ONE

    @property
    def partners(self) -> tuple[int, ...]:
        """The organizations other than the lead."""
        return tuple(org for org in self.org_ids if org != self.lead_org_id)

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
    # Who holds which role; the plain member's, which every member holds, is left out.
    roles: Mapping[tuple[int, RoleKind], tuple[int, ...]]
    accounts: Mapping[int, tuple[AccountFact, ...]]
    # Members with at least one chat account (with Part.ACCOUNTS, those in `accounts`).
    reachable: frozenset[int]
    orglife: Mapping[tuple[int, str], OrgLifeFact]
    # Who signed in or asked for leave, for the stored org-life days still to start.
    excused: Mapping[int, frozenset[int]]
    alliances: tuple[AllianceFact, ...]
    pairings: tuple[PairingFact, ...]
    # Joint meetings (by quarter) and theme days (by duty period) held, and those set for a
    # day still ahead: only held ones count as done; a planned one stops the nudges to plan it.
    alliance_joint: frozenset[tuple[int, str]]
    alliance_theme: frozenset[tuple[int, str]]
    pairing_joint: frozenset[tuple[int, str]]
    pairing_visits: Mapping[int, frozenset[date]]
    # The organizations that solicited opinions this month (the month is in each pair).
    opinions: frozenset[tuple[int, str]]
    # Reports filed for this quarter and year; scoped, only the ones the rules look up.
    filings: frozenset[tuple[FilingKind, str, str]]
    movements: tuple[MovementFact, ...]
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    alliance_joint_planned: frozenset[tuple[int, str]] = frozenset()
    alliance_theme_planned: frozenset[tuple[int, str]] = frozenset()
    org_alliance: Mapping[int, int] = field(default_factory=dict)
    # The days of each pairing's visits each of its organizations took part in, by pairing.
    partner_visits: Mapping[int, Mapping[int, frozenset[date]]] = field(default_factory=dict)
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


@cache
def quarter_key(day: date) -> str:
    """Names the quarter of a day, e.g. "2026Q4" (asked once per record of a city's year)."""
    return str(Quarter.of(day))


@cache
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
    rows = session.connection().execute(partners_query(), {"org": org_id}).scalars()
    return frozenset({org_id, *rows})


def load_facts(
    session: Session,
    *,
    now: datetime,
    holidays: HolidayCalendar,
    quiet_start: time = time(22, 0),
    quiet_end: time = time(7, 30),
    default_locale: str = "zh_CN",
    org_ids: Collection[int] | None = None,
    around: int | None = None,
    parts: Part = Part.ALL,
) -> Facts:
    """Reads the snapshot the rules need at `now`: one query per kind of fact, never per member."""
    # With `org_ids` only those organizations are read, with the alliances and pairings they
    # are in; `around` stands for `org_ids=scope_of(session, around)`, one query fewer. `parts`
    # leaves out what the caller does not look at (those parts are empty).
    if now.tzinfo is None:
        raise ValueError("load_facts needs an aware datetime")
    if org_ids is not None and around is not None:
        raise ValueError("load_facts reads listed organizations or those around one, not both")
    if session.autoflush:
        # The queries below run on the connection, which does not flush as session queries do.
        session.flush()
    read = _Reader(session.connection(), org_ids, around)
    # First: around one organization, it names the scope the other statements read.
    alliances, pairings = read.groups()
    members: dict[int, MemberFact] = {}
    by_org: dict[int, tuple[int, ...]] = {}
    roles: dict[tuple[int, RoleKind], tuple[int, ...]] = {}
    accounts: dict[int, tuple[AccountFact, ...]] = {}
    reachable: frozenset[int] = frozenset()
    movements: tuple[MovementFact, ...] = ()
    if Part.MEMBERS in parts:
        members, by_org, roles = read.members()
        if Part.ACCOUNTS in parts:
            accounts = read.accounts(members, now)
            reachable = frozenset(accounts)
        elif Part.REACHABLE in parts:
            reachable = read.reachable(members)
        movements = read.movements(members, now)
    elif Part.LEADS in parts:
        members, roles, movements = read.leads(now)
    orglife: dict[tuple[int, str], OrgLifeFact] = {}
    excused: dict[int, frozenset[int]] = {}
    if Part.ORG_LIFE in parts:
        orglife, excused = read.org_life(now)
    return Facts(
        now=now,
        holidays=holidays,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        default_locale=default_locale,
        orgs=read.orgs(),
        members=members,
        members_by_org=by_org,
        roles=roles,
        accounts=accounts,
        reachable=reachable,
        orglife=orglife,
        excused=excused,
        alliances=alliances,
        pairings=pairings,
        movements=movements,
        org_alliance={org: min(ids) for org, ids in _unit_alliances(alliances).items()},
        **_record_fields(read, now.date(), alliances, pairings),
    )


# The tables each part of a snapshot read with `Part.NONE` is read from.
GROUP_TABLES = frozenset({"alliance", "allianceunit", "pairing", "pairingorg", "rotaoverride"})
ORG_TABLES = frozenset({"organization"})
RECORD_TABLES = frozenset({"meeting", "activity", "activitypartner", "filing", "reminder_setting"})


def reload_facts(
    session: Session,
    before: Facts,
    *,
    written: Collection[str],
    now: datetime,
    org_ids: Collection[int],
) -> Facts:
    """Reads again the parts of a `Part.NONE` snapshot of `org_ids` that the `written` tables feed.

    `before` must be such a snapshot of the same organizations on the same day; the groups'
    tables written (or a snapshot with members) read everything again.
    """
    written = frozenset(written)
    if (
        written & GROUP_TABLES
        or before.members
        or before.orglife
        or now.date() != before.today
        or now.tzinfo != before.now.tzinfo
    ):
        return load_facts(
            session,
            now=now,
            holidays=before.holidays,
            quiet_start=before.quiet_start,
            quiet_end=before.quiet_end,
            default_locale=before.default_locale,
            org_ids=org_ids,
            parts=Part.NONE,
        )
    if session.autoflush:
        session.flush()
    read = _Reader(session.connection(), org_ids, None)
    changed: dict[str, Any] = {"now": now, "_configs": {}}
    if written & ORG_TABLES:
        changed["orgs"] = read.orgs()
    if written & RECORD_TABLES:
        changed |= _record_fields(read, now.date(), before.alliances, before.pairings)
    return replace(before, **changed)


def _record_fields(
    read: _Reader,
    today: date,
    alliances: tuple[AllianceFact, ...],
    pairings: tuple[PairingFact, ...],
) -> dict[str, Any]:
    """Reads the year's group records, the filings and the settings, as the snapshot's fields."""
    records, filings, settings = read.records(today, alliances, pairings)
    return {
        "alliance_joint": frozenset(records.alliance_joint),
        "alliance_theme": frozenset(records.alliance_theme),
        "alliance_joint_planned": frozenset(records.joint_planned),
        "alliance_theme_planned": frozenset(records.theme_planned),
        "pairing_joint": frozenset(records.pairing_joint),
        "pairing_visits": {pairing: frozenset(days) for pairing, days in records.visits.items()},
        "partner_visits": {
            pairing: {org: frozenset(days) for org, days in orgs.items()}
            for pairing, orgs in records.partner_visits.items()
        },
        "opinions": frozenset(records.opinions),
        "filings": filings,
        "settings": settings,
    }


def _form(text: str | None) -> PairingForm:
    """Reads a pairing's form, one-to-one when the stored value is unknown."""
    try:
        return PairingForm(text or PairingForm.ONE_TO_ONE)
    except ValueError:
        return PairingForm.ONE_TO_ONE


def _policy(text: str) -> HolidayPolicy:
    """Reads an org's holiday policy, keeping the day when the stored value is unknown."""
    try:
        return HolidayPolicy(text)
    except ValueError:
        return HolidayPolicy.KEEP


@dataclass
class _Records:
    """What the meetings and ledger entries of the year tell the rules."""

    alliance_joint: set[tuple[int, str]] = field(default_factory=set)
    alliance_theme: set[tuple[int, str]] = field(default_factory=set)
    joint_planned: set[tuple[int, str]] = field(default_factory=set)
    theme_planned: set[tuple[int, str]] = field(default_factory=set)
    pairing_joint: set[tuple[int, str]] = field(default_factory=set)
    visits: dict[int, set[date]] = field(default_factory=lambda: defaultdict(set))
    partner_visits: dict[int, dict[int, set[date]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    opinions: set[tuple[int, str]] = field(default_factory=set)


# The kinds that belong to an alliance when a record names both an alliance and a pairing; any
# other kind (a visit, a study session...) belongs to the pairing.
ALLIANCE_KINDS = frozenset({"joint_meeting", "theme_day"})


def home_of(
    kind: str, *, alliance_id: int | None, pairing_id: int | None
) -> tuple[int | None, int | None]:
    """Returns the (alliance, pairing) a meeting or ledger entry counts for: one when it names both."""
    if alliance_id is None or pairing_id is None:
        return alliance_id, pairing_id
    if kind in ALLIANCE_KINDS:
        return alliance_id, None
    return None, pairing_id


def _theme_key(duty_unit: Mapping[int, DutyPeriod], alliance_id: int, day: date) -> str:
    """Returns the theme-day duty period of an alliance containing `day`."""
    if duty_unit.get(alliance_id, DutyPeriod.MONTH) is DutyPeriod.QUARTER:
        return quarter_key(day)
    return month_key(day)


def _unit_alliances(alliances: tuple[AllianceFact, ...]) -> dict[int, set[int]]:
    """Maps each unit organization to the alliances it is in."""
    found: dict[int, set[int]] = defaultdict(set)
    for alliance in alliances:
        for unit in alliance.units:
            found[unit.org_id].add(alliance.id)
    return found


def _group_scopes(
    alliances: tuple[AllianceFact, ...], pairings: tuple[PairingFact, ...] = ()
) -> list[str]:
    """Lists the filing and setting scopes of some alliances and pairings."""
    return [
        *(alliance_scope(alliance.id) for alliance in alliances),
        *(pairing_scope(pairing.id) for pairing in pairings),
    ]


# Scopes of more organizations than this bind their lists as JSON on SQLite: rendering
# thousands of IN (...) values costs more than the statement (a committee over a city).
PACK_OVER = 100
# Rows fetched per round when a city-wide statement streams its result.
STREAM_ROWS = 2_000


class _Reader:
    """Runs the snapshot's queries on one connection, within the scope when there is one."""

    # The statements are built once per process (the `_..._query` functions) and run on the
    # connection: an answer reads a dozen small result sets, where building statements and
    # ORM rows would cost more than the database does.

    def __init__(
        self, connection: Connection, org_ids: Collection[int] | None, around: int | None
    ) -> None:
        self.connection = connection
        self.org_ids = sorted(set(org_ids)) if org_ids is not None else None
        # Around one organization, the scope is named by the groups' statement, which reads
        # the scope's organizations too (`groups` runs first).
        self.around = around
        self.found: dict[int, OrgFact] | None = None
        arrays = connection.dialect.name == "postgresql"
        self.shape = Shape(
            scoped=self.org_ids is not None or around is not None,
            arrays=arrays,
            packed=not arrays and len(self.org_ids or ()) > PACK_OVER,
        )

    def run(self, statement: Executable, **params: Any) -> Iterable[Row[*tuple[Any, ...]]]:
        """Runs a statement, binding the scope as `orgs`; returns its rows to iterate once."""
        if self.org_ids is not None:
            params["orgs"] = self.org_ids
        if self.shape.scoped:
            # Fetched at once: a scoped answer reads a few rows, and a server-side cursor
            # would cost PostgreSQL round trips.
            return self.connection.execute(statement, params).all()
        # City-wide (the scheduler's tick), rows stream in chunks: the facts are built from
        # them without every row of 100,000 members being held at once.
        return self.connection.execute(
            statement, params, execution_options={"yield_per": STREAM_ROWS}
        )

    def org_scopes(self) -> list[str]:
        """Lists the filing and setting scopes of the scoped organizations."""
        return [org_scope(org_id) for org_id in self.org_ids or ()]

    def orgs(self) -> dict[int, OrgFact]:
        """Reads the organizations with their org-life rules."""
        if self.found is not None:
            return self.found
        return self.org_facts(self.run(orgs_query(self.shape)))

    @staticmethod
    def org_facts(rows: Iterable[Any]) -> dict[int, OrgFact]:
        """Builds the organizations' facts from the rows of `orgs_query`."""
        return {
            org_id: OrgFact(
                id=org_id,
                code=code,
                name=name,
                kind=kind,
                orglife_ordinal=ordinal,
                orglife_weekday=weekday,
                orglife_time=_parse_hhmm(clock),
                orglife_venue=venue,
                holiday_policy=_policy(policy),
            )
            for org_id, code, name, kind, ordinal, weekday, clock, venue, policy in rows
        }

    def members(
        self,
    ) -> tuple[
        dict[int, MemberFact],
        dict[int, tuple[int, ...]],
        dict[tuple[int, RoleKind], tuple[int, ...]],
    ]:
        """Reads the current members by id and by organization (in id order), and their roles."""
        members: dict[int, MemberFact] = {}
        by_org: dict[int, list[int]] = defaultdict(list)
        roles: dict[tuple[int, RoleKind], list[int]] = defaultdict(list)
        # One object per distinct value (organization, name, language), not one per row: at
        # city scale that is 100,000 rows, many of them alike.
        shared: dict[object, Any] = {}
        for member_id, name, org_id, locale, muted, role_org, role in self.run(
            members_query(self.shape)
        ):
            if member_id not in members:
                members[member_id] = MemberFact(
                    member_id,
                    shared.setdefault(name, name),
                    shared.setdefault(org_id, org_id),
                    shared.setdefault(locale, locale),
                    bool(muted),
                )
                by_org[members[member_id].org_id].append(member_id)
            if role is not None:
                roles[(role_org, RoleKind(role))].append(member_id)
        return (
            members,
            {org: tuple(ids) for org, ids in by_org.items()},
            {key: tuple(ids) for key, ids in roles.items()},
        )

    def leads(
        self, now: datetime
    ) -> tuple[
        dict[int, MemberFact],
        dict[tuple[int, RoleKind], tuple[int, ...]],
        tuple[MovementFact, ...],
    ]:
        """Reads the members with a role, who holds which, and the movements owing a report."""
        members: dict[int, MemberFact] = {}
        roles: dict[tuple[int, RoleKind], list[int]] = defaultdict(list)
        latest: dict[int, Any] = {}
        for row in self.run(leads_query(self.shape)):
            # By position: a row's attributes cost more to look up, and most rows are roles.
            member_id, *_, name, org_id, locale, muted, source, role_org, role = row
            if source == ROLE:
                if member_id not in members:
                    members[member_id] = MemberFact(member_id, name, org_id, locale, bool(muted))
                roles[(role_org, RoleKind(role))].append(member_id)
            else:
                latest[member_id] = row
        movements = _owed(latest, members, now)
        return members, {key: tuple(ids) for key, ids in roles.items()}, movements

    def accounts(
        self, members: Mapping[int, MemberFact], now: datetime
    ) -> dict[int, tuple[AccountFact, ...]]:
        """Reads the current members' chat accounts, the most recently used first."""
        accounts: dict[int, list[AccountFact]] = defaultdict(list)
        epoch = datetime.min.replace(tzinfo=now.tzinfo)
        for member_id, channel, external_id, seen, _id in sorted(
            self.run(accounts_query(self.shape)),
            key=lambda row: (row[3] or epoch, row[4]),
            reverse=True,
        ):
            if member_id in members:
                accounts[member_id].append(
                    AccountFact(member_id, Channel(channel), external_id, seen)
                )
        return {member: tuple(rows) for member, rows in accounts.items()}

    def reachable(self, members: Mapping[int, MemberFact]) -> frozenset[int]:
        """Reads which current members have at least one chat account."""
        # The members' own id objects, not the rows' copies.
        ids = {member_id: member_id for member_id in members}
        return frozenset(
            ids[member_id]
            for (member_id,) in self.run(reachable_query(self.shape))
            if member_id in ids
        )

    def org_life(
        self, now: datetime
    ) -> tuple[dict[tuple[int, str], OrgLifeFact], dict[int, frozenset[int]]]:
        """Reads the stored org-life days of last, this and next month, and who is excused."""
        today = now.date()
        months = [month_key(shift_month(today, shift)) for shift in (-1, 0, 1)]
        orglife: dict[tuple[int, str], OrgLifeFact] = {}
        for (
            meeting_id,
            org_id,
            period,
            held_on,
            starts_at,
            venue,
            status,
            moved_from,
            move_reason,
            holiday,
        ) in self.run(org_life_query(self.shape), months=months):
            orglife[(org_id, period)] = OrgLifeFact(
                id=meeting_id,
                org_id=org_id,
                period=period,
                held_on=held_on,
                starts_at=starts_at.astimezone(now.tzinfo),
                venue=venue,
                status=status,
                moved_from=moved_from,
                move_reason=move_reason,
                holiday=holiday,
            )
        excused: dict[int, set[int]] = defaultdict(set)
        for meeting_id, member_id in self.run(excused_query(self.shape), months=months, now=now):
            excused[meeting_id].add(member_id)
        return orglife, {meeting: frozenset(ids) for meeting, ids in excused.items()}

    def groups(self) -> tuple[tuple[AllianceFact, ...], tuple[PairingFact, ...]]:
        """Reads the alliances with units and overrides, and the pairings (lead first).

        When scoped, those with a unit or an organization in the scope; around an organization,
        the scope's organizations too.
        """
        alliance_heads: dict[int, tuple[Any, ...]] = {}
        units: dict[int, list[UnitFact]] = defaultdict(list)
        overrides: dict[int, dict[tuple[Duty, str], int]] = defaultdict(dict)
        pairing_heads: dict[int, tuple[Any, ...]] = {}
        members: dict[int, list[int]] = defaultdict(list)
        if self.around is None:
            rows = self.run(groups_query(self.shape))
        else:
            statement = groups_query(self.shape, True)
            rows = self.connection.execute(statement, {"org": self.around}).all()
        found: dict[int, OrgFact] = {}
        for row in rows:
            group_id, code, name, start, duty_period, number, source, org_id = row[:8]
            if source == ORG:
                found[group_id] = OrgFact(
                    id=group_id,
                    code=code,
                    name=name,
                    kind=OrgKind(row.kind),
                    orglife_ordinal=number,
                    orglife_weekday=org_id,
                    orglife_time=_parse_hhmm(row.duty),
                    orglife_venue=row.period,
                    holiday_policy=_policy(duty_period),
                )
                continue
            if source == PAIRING:
                pairing_heads.setdefault(
                    group_id, (code, name, row.lead, start, row.until, number, duty_period)
                )
                if org_id is not None:
                    members[group_id].append(org_id)
                continue
            alliance_heads.setdefault(
                group_id, (code, name, start, DutyPeriod(duty_period), number, bool(row.rotating))
            )
            if source == OVERRIDE:
                overrides[group_id][(Duty(row.duty), row.period)] = org_id
            elif org_id is not None:
                units[group_id].append(UnitFact(org_id, UnitKind(row.kind), row.place))
        alliances = tuple(
            AllianceFact(
                id=alliance_id,
                code=code,
                name=name,
                rota_start=rota_start,
                duty_period=duty_period,
                executive_term_months=term,
                units=tuple(units[alliance_id]),
                overrides=overrides[alliance_id],
                convener_rotation=rotating,
            )
            for alliance_id, (
                code,
                name,
                rota_start,
                duty_period,
                term,
                rotating,
            ) in alliance_heads.items()
        )
        pairings = []
        for pairing_id, (code, name, lead, start, end, target, form) in pairing_heads.items():
            ordered = sorted(members[pairing_id], key=lambda org: (org != lead, org))
            pairings.append(
                PairingFact(
                    id=pairing_id,
                    code=code,
                    name=name,
                    lead_org_id=lead,
                    agreement_start=start,
                    agreement_end=end,
                    visit_target=target,
                    org_ids=tuple(ordered),
                    form=_form(form),
                )
            )
        if self.around is not None:
            self.found = found
            self.org_ids = sorted({self.around, *found})
        return alliances, tuple(pairings)

    def records(
        self,
        today: date,
        alliances: tuple[AllianceFact, ...],
        pairings: tuple[PairingFact, ...],
    ) -> tuple[_Records, frozenset[tuple[FilingKind, str, str]], dict[str, dict[str, Any]]]:
        """Reads this year's group records, the reports filed and the reminder settings."""
        # Records: joint meetings, theme days, visits and opinion solicitations. Filings and
        # settings, scoped, only what the rules and the checks look up: the organizations'
        # ledgers of the quarter, the groups' plans and summaries of the year, the settings of
        # the default, the organizations and the alliances.
        quarter = Quarter.of(today)
        records = _Records()
        duty_unit = {a.id: a.duty_period for a in alliances}
        alliances_by_id = {a.id: a for a in alliances}
        unit_alliances = _unit_alliances(alliances)
        month_first = today.replace(day=1)
        params: dict[str, Any] = {
            "first": date(today.year, 1, 1),
            "horizon": max(quarter.last_day, today + timedelta(days=62)),
            "month": month_first,
            "last": today,
            "alliances": [a.id for a in alliances],
            "pairings": [p.id for p in pairings],
            "quarter": str(quarter),
            "year": str(today.year),
        }
        if self.shape.scoped:
            orgs = self.org_scopes()
            params |= {
                "org_scopes": orgs,
                "groups": _group_scopes(alliances, pairings),
                "scopes": [DEFAULT_SCOPE, *orgs, *_group_scopes(alliances)],
            }
        filings: set[tuple[FilingKind, str, str]] = set()
        settings: dict[str, dict[str, Any]] = defaultdict(dict)
        for (
            source,
            org_id,
            kind,
            held_on,
            named_alliance,
            named_pairing,
            scope_key,
            second,
        ) in self.run(records_query(self.shape), **params):
            # Where the record counts: one group when it names both (see `home_of`).
            alliance_id, pairing_id = home_of(
                kind, alliance_id=named_alliance, pairing_id=named_pairing
            )
            if source == MEETING:
                # A meeting counts once held (its day has come), where it belongs; one still
                # ahead only stops the nudges to plan it.
                if held_on > today:
                    if alliance_id is not None and kind == MeetingKind.JOINT_MEETING:
                        records.joint_planned.add((alliance_id, quarter_key(held_on)))
                    if alliance_id is not None and kind == MeetingKind.THEME_DAY:
                        key = _theme_key(duty_unit, alliance_id, held_on)
                        records.theme_planned.add((alliance_id, key))
                    continue
                if alliance_id is not None and kind == MeetingKind.JOINT_MEETING:
                    records.alliance_joint.add((alliance_id, quarter_key(held_on)))
                if alliance_id is not None and kind == MeetingKind.THEME_DAY:
                    records.alliance_theme.add(
                        (alliance_id, _theme_key(duty_unit, alliance_id, held_on))
                    )
                if pairing_id is not None:
                    records.pairing_joint.add((pairing_id, quarter_key(held_on)))
                    if kind == MeetingKind.VISIT:
                        records.visits[pairing_id].add(held_on)
                        records.partner_visits[pairing_id][org_id].add(held_on)
                continue
            if source == PARTNER:
                if pairing_id is not None:
                    records.partner_visits[pairing_id][org_id].add(held_on)
                continue
            if source == FILING:
                filings.add((FilingKind(kind), scope_key, second))
                continue
            if source == SETTING:
                try:
                    settings[scope_key][kind] = parse_setting(kind, second)
                except ValueError as error:
                    log.warning("ignoring reminder setting %s of %s: %s", kind, scope_key, error)
                continue
            period = quarter_key(held_on)
            if kind == ActivityKind.OPINION and held_on >= month_first:
                records.opinions.add((org_id, month_key(held_on)))
            # An entry of no group counts for the reporter's alliances; one of a pairing does not.
            allied_to = unit_alliances[org_id] if pairing_id is None else set()
            if kind == ActivityKind.JOINT_MEETING:
                for allied in {alliance_id} if alliance_id is not None else allied_to:
                    records.alliance_joint.add((allied, period))
            if kind == ActivityKind.THEME_DAY:
                # A theme day reported through 汇报 counts toward the on-duty unit's duty: the
                # alliance's, or the reporter's own when it is the unit on duty that day.
                for allied in {alliance_id} if alliance_id is not None else allied_to:
                    alliance = alliances_by_id.get(allied)
                    slot = alliance.duty(Duty.THEME_DAY, held_on) if alliance else None
                    if alliance_id is not None or (slot is not None and slot.org_id == org_id):
                        key = _theme_key(duty_unit, allied, held_on)
                        records.alliance_theme.add((allied, key))
            if pairing_id is not None:
                records.pairing_joint.add((pairing_id, period))
                if kind == ActivityKind.VISIT:
                    records.visits[pairing_id].add(held_on)
                    records.partner_visits[pairing_id][org_id].add(held_on)
        return records, frozenset(filings), settings

    def movements(self, members: dict[int, MemberFact], now: datetime) -> tuple[MovementFact, ...]:
        """Reads each current member's latest movement that still owes a report."""
        latest: dict[int, Any] = {}
        for row in self.run(movements_query(self.shape)):
            latest[row.member_id] = row
        return _owed(latest, members, now)


def _owed(
    latest: Mapping[int, Any], members: dict[int, MemberFact], now: datetime
) -> tuple[MovementFact, ...]:
    """Keeps the latest movements that owe a report, adding their members to `members`."""
    facts = []
    for member_id, movement in sorted(latest.items()):
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
        if not owed:
            continue
        if member_id not in members:
            members[member_id] = MemberFact(
                member_id, movement.name, movement.org_id, movement.locale, bool(movement.muted)
            )
        facts.append(
            MovementFact(
                id=movement.movement_id,
                member_id=member_id,
                direction=movement.direction,
                place=movement.place,
                marked_at=movement.marked_at.astimezone(now.tzinfo),
                owed=tuple(owed),
            )
        )
    return tuple(facts)
