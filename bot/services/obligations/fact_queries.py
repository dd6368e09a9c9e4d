"""The statements behind the reminder facts: built once per shape, bound when they run."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    CompoundSelect,
    Date,
    Executable,
    Integer,
    Select,
    String,
    Text,
    TypeDecorator,
    all_,
    and_,
    any_,
    bindparam,
    cast,
    column,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    RoleKind,
)
from storage.models import (
    Activity,
    ActivityPartner,
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
from storage.queries import among
from storage.reminders import (
    Filing,
    FilingKind,
    MobileMovement,
    MovementDirection,
    ReminderSetting,
)

# The tags of a union's rows, saying which table each comes from.
UNIT, OVERRIDE, PAIRING, ORG = "unit", "override", "pairing", "org"
MOVEMENT, ROLE = "movement", "role"
MEETING, ACTIVITY, FILING, SETTING = "meeting", "activity", "filing", "setting"
# A partner organization of a pairing visit in the ledger (one row per partner).
PARTNER = "partner"


class Shape(NamedTuple):
    """How the snapshot's statements are built."""

    scoped: bool
    # PostgreSQL takes a list as one array (see `storage.queries.among`).
    arrays: bool
    # SQLite takes a long scope's lists as JSON (see `packed_among`), a short one's as IN (...).
    packed: bool = False


def _among(column: Any, name: str, shape: Shape) -> Any:
    """Tests a column against the list bound as `name` when the statement runs."""
    if shape.packed:
        return packed_among(column, name, arrays=shape.arrays)
    return among(column, name, arrays=shape.arrays)


class PackedList(TypeDecorator[list[Any]]):
    """A list bound as one JSON text, which SQLite unpacks with `json_each`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> str | None:
        """Writes the list as JSON."""
        return None if value is None else json.dumps(list(value))


def packed_among(column_: Any, name: str, *, arrays: bool) -> Any:
    """Tests a column against a long list bound as `name`: an array, or JSON on SQLite.

    One statement text whatever the list's length, and no thousands of bound values to render:
    a committee's scope is a city's organizations.
    """
    if arrays:
        return among(column_, name, arrays=True)
    values = func.json_each(bindparam(name, type_=PackedList())).table_valued("value")
    return col(column_).in_(select(column("value")).select_from(values))


def _within(column: Any, shape: Shape) -> Any:
    """Restricts to the scoped organizations (bound as `orgs`), or not at all."""
    return _among(column, "orgs", shape) if shape.scoped else true()


def _one_of(column: Any, *values: Any) -> Any:
    """Tests a column against a few constants (a fixed statement, unlike a bound list)."""
    return or_(*(col(column) == value for value in values))


@cache
def partners_query() -> Executable:
    """The organizations sharing an alliance or a pairing with the one bound as `org`."""
    alliance_ids = select(col(AllianceUnit.alliance_id)).where(
        col(AllianceUnit.organization_id) == bindparam("org")
    )
    pairing_ids = select(col(PairingOrg.pairing_id)).where(
        col(PairingOrg.organization_id) == bindparam("org")
    )
    return union_all(
        select(col(AllianceUnit.organization_id)).where(
            col(AllianceUnit.alliance_id).in_(alliance_ids)
        ),
        select(col(PairingOrg.organization_id)).where(col(PairingOrg.pairing_id).in_(pairing_ids)),
    )


def _org_columns() -> Select[*tuple[Any, ...]]:
    """Selects what an organization's fact holds."""
    return select(
        col(Organization.id),
        col(Organization.code),
        col(Organization.name),
        col(Organization.kind),
        col(Organization.orglife_ordinal),
        col(Organization.orglife_weekday),
        col(Organization.orglife_time),
        col(Organization.orglife_venue),
        col(Organization.holiday_policy),
    )


@cache
def orgs_query(shape: Shape) -> Executable:
    """The organizations and their org-life rules."""
    return _org_columns().where(_within(Organization.id, shape))


@cache
def members_query(shape: Shape) -> Executable:
    """The current members in id order, a row per role they hold (in the scope)."""
    return (
        select(
            col(Member.id),
            col(Member.name),
            col(Member.organization_id),
            col(Member.locale),
            col(Member.muted),
            col(Role.organization_id),
            col(Role.role),
        )
        .outerjoin(Role, _role_of_member(shape))
        .where(col(Member.status) != MemberStatus.DEPARTED, _within(Member.organization_id, shape))
        .order_by(col(Member.id))
    )


def _role_of_member(shape: Shape) -> Any:
    """Joins a member's roles in the scope, but the plain member's that everyone holds."""
    return and_(
        col(Role.member_id) == Member.id,
        col(Role.role) != RoleKind.MEMBER,
        _within(Role.organization_id, shape),
    )


@cache
def leads_query(shape: Shape) -> Executable:
    """The movements `movements_query` reads, then the roles current members hold, tagged."""
    # One statement, not two: a round trip costs more than the few mobile members there are.
    movements = _movements_select(shape).add_columns(
        literal(MOVEMENT).label("source"), null().label("role_org"), null().label("role")
    )
    roles = (
        select(
            col(Member.id),
            *(null() for _ in range(7)),
            col(Member.name),
            col(Member.organization_id),
            col(Member.locale),
            col(Member.muted),
            literal(ROLE),
            col(Role.organization_id),
            cast(col(Role.role), String),
        )
        .join(Role, _role_of_member(shape))
        .where(col(Member.status) != MemberStatus.DEPARTED, _within(Member.organization_id, shape))
    )
    both: CompoundSelect[*tuple[Any, ...]] = union_all(movements, roles)
    columns = both.selected_columns
    return both.order_by(columns.member_id, columns.marked_at, columns.movement_id)


@cache
def accounts_query(shape: Shape) -> Executable:
    """The chat accounts of the members (in the scope)."""
    return (
        select(
            col(ChatAccount.member_id),
            col(ChatAccount.channel),
            col(ChatAccount.external_id),
            col(ChatAccount.last_seen_at),
            col(ChatAccount.id),
        )
        .join(Member, col(Member.id) == ChatAccount.member_id)
        .where(_within(Member.organization_id, shape))
    )


@cache
def reachable_query(shape: Shape) -> Executable:
    """The members (in the scope) with a chat account, once each."""
    return (
        select(col(ChatAccount.member_id))
        .join(Member, col(Member.id) == ChatAccount.member_id)
        .where(_within(Member.organization_id, shape))
        .distinct()
    )


@cache
def org_life_query(shape: Shape) -> Executable:
    """The stored org-life days of the months bound as `months`."""
    return select(
        col(Meeting.id),
        col(Meeting.organization_id),
        col(Meeting.period),
        col(Meeting.held_on),
        col(Meeting.starts_at),
        col(Meeting.venue),
        col(Meeting.status),
        col(Meeting.moved_from),
        col(Meeting.move_reason),
        col(Meeting.holiday),
    ).where(
        col(Meeting.kind) == MeetingKind.ORG_LIFE,
        _among(Meeting.period, "months", shape),
        _within(Meeting.organization_id, shape),
    )


@cache
def excused_query(shape: Shape) -> Executable:
    """Who signed in or asked for leave, for the org-life days of `months` starting after `now`."""
    return (
        select(col(Attendance.meeting_id), col(Attendance.member_id))
        .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
        .where(
            col(Meeting.kind) == MeetingKind.ORG_LIFE,
            _among(Meeting.period, "months", shape),
            _within(Meeting.organization_id, shape),
            # Only a day still to start is reminded of: the sign-ins of past days (every
            # member present, month after month) would be read for nothing.
            col(Meeting.starts_at) > bindparam("now"),
            _one_of(Attendance.status, AttendanceStatus.LEAVE, AttendanceStatus.PRESENT),
        )
    )


@cache
def groups_query(shape: Shape, around: bool = False) -> Executable:
    """The alliances and pairings (with a member in the scope), tagged.

    An alliance comes as its units, then its overrides; a pairing as a row per organization.
    `around`: the scope is the organization bound as `org` and those sharing a group with it,
    whose rows (with their org-life rules) come too.
    """
    # One statement, not four: a round trip costs more than the few rows there are.
    heads: tuple[Any, ...] = (
        col(Alliance.id),
        col(Alliance.code).label("code"),
        col(Alliance.name),
        col(Alliance.rota_start).label("start"),
        cast(col(Alliance.duty_period), String).label("duty_period"),
        col(Alliance.executive_term_months).label("number"),
    )
    # Typed, so that every database reads the same types down each column of the union.
    no_end, no_lead = cast(null(), Date).label("until"), cast(null(), Integer).label("lead")
    units = select(
        *heads,
        literal(UNIT).label("source"),
        col(AllianceUnit.organization_id).label("org_id"),
        cast(col(AllianceUnit.kind), String).label("kind"),
        col(AllianceUnit.rotation_order).label("place"),
        cast(null(), String).label("duty"),
        cast(null(), String).label("period"),
        no_end,
        no_lead,
        col(Alliance.convener_rotation).label("rotating"),
    ).outerjoin(AllianceUnit, col(AllianceUnit.alliance_id) == Alliance.id)
    overrides = select(
        *heads,
        literal(OVERRIDE),
        col(RotaOverride.organization_id),
        null(),
        null(),
        cast(col(RotaOverride.duty), String),
        col(RotaOverride.period),
        null(),
        null(),
        col(Alliance.convener_rotation),
    ).join(RotaOverride, col(RotaOverride.alliance_id) == Alliance.id)
    pairings = select(
        col(Pairing.id),
        col(Pairing.code),
        col(Pairing.name),
        col(Pairing.agreement_start),
        # A pairing's form (一对一/多对一/一对多) where an alliance has its duty period.
        cast(col(Pairing.form), String),
        col(Pairing.visit_target),
        literal(PAIRING),
        col(PairingOrg.organization_id),
        *(null() for _ in range(4)),
        col(Pairing.agreement_end),
        col(Pairing.lead_org_id),
        null(),
    ).outerjoin(PairingOrg, col(PairingOrg.pairing_id) == Pairing.id)
    branches = [units, overrides, pairings]
    if around or shape.scoped:
        # Around one organization, the scope is read once, as a common table expression.
        scope = select(_scope_around().cte("scope").c.org_id) if around else None
        unit, paired = aliased(AllianceUnit), aliased(PairingOrg)
        allied = col(Alliance.id).in_(
            select(col(unit.alliance_id))
            .where(_in_scope(unit.organization_id, shape, scope))
            .correlate(None)
        )
        in_pairing = col(Pairing.id).in_(
            select(col(paired.pairing_id))
            .where(_in_scope(paired.organization_id, shape, scope))
            .correlate(None)
        )
        branches = [units.where(allied), overrides.where(allied), pairings.where(in_pairing)]
        if scope is not None:
            # The scope's organizations, their org-life rules in the columns left over.
            branches.append(
                select(
                    col(Organization.id),
                    col(Organization.code),
                    col(Organization.name),
                    null(),
                    col(Organization.holiday_policy),
                    col(Organization.orglife_ordinal),
                    literal(ORG),
                    col(Organization.orglife_weekday),
                    cast(col(Organization.kind), String),
                    null(),
                    col(Organization.orglife_time),
                    col(Organization.orglife_venue),
                    null(),
                    null(),
                    null(),
                ).where(col(Organization.id).in_(scope))
            )
    both = union_all(*branches)
    return both.order_by(both.selected_columns.code, both.selected_columns.place)


def _in_scope(column: Any, shape: Shape, scope: Any) -> Any:
    """Tests a column against the scope: the subquery when there is one, else the bound list."""
    return col(column).in_(scope) if scope is not None else _within(column, shape)


def _scope_around() -> Any:
    """The organization bound as `org` and those sharing an alliance or a pairing with it."""
    # Each branch joins from the groups of `org`, so that every database walks the indexes; a
    # partner in two of its groups comes twice, which IN does not mind.
    org = bindparam("org", type_=Integer)
    allied, paired = aliased(AllianceUnit), aliased(PairingOrg)
    return union_all(
        select(org.label("org_id")),
        select(col(AllianceUnit.organization_id))
        .join(allied, col(allied.alliance_id) == AllianceUnit.alliance_id)
        .where(col(allied.organization_id) == org)
        .correlate(None),
        select(col(PairingOrg.organization_id))
        .join(paired, col(paired.pairing_id) == PairingOrg.pairing_id)
        .where(col(paired.organization_id) == org)
        .correlate(None),
    )


@cache
def records_query(shape: Shape) -> Executable:
    """The groups' meetings and the ledger entries that count, then filings and settings, tagged."""
    # Meetings of the `alliances` and `pairings` from `first` to `horizon`; ledger entries from
    # `first` to `last` that count for groups, and opinion solicitations from `month`; the
    # reports filed for the `quarter` and `year`; the reminder settings.
    # One statement, not four: a round trip costs more than any one's rows.
    meetings: Select[*tuple[Any, ...]] = select(
        literal(MEETING).label("source"),
        col(Meeting.organization_id).label("org_id"),
        cast(col(Meeting.kind), String).label("kind"),
        col(Meeting.held_on),
        col(Meeting.alliance_id),
        col(Meeting.pairing_id),
        # Typed, so that every database reads the same types down each column of the union.
        cast(null(), String).label("scope"),
        cast(null(), String).label("second"),
    ).where(
        col(Meeting.held_on) >= bindparam("first"),
        col(Meeting.held_on) <= bindparam("horizon"),
        col(Meeting.status) != MeetingStatus.CANCELLED,
    )
    by_group: tuple[Select[*tuple[Any, ...]], ...] = (
        meetings.where(
            or_(
                _among(Meeting.alliance_id, "alliances", shape),
                _among(Meeting.pairing_id, "pairings", shape),
            )
        ),
    )
    if shape.arrays:
        # The alliances' meetings, then the pairings' (but those already read): one branch per
        # (group, day) index. Under an OR, PostgreSQL's generic plan of the prepared statement
        # walks the year's meetings by day instead.
        alliances = bindparam("alliances", type_=ARRAY(Integer))
        by_group = (
            meetings.where(col(Meeting.alliance_id) == any_(alliances)),
            meetings.where(
                _among(Meeting.pairing_id, "pairings", shape),
                or_(
                    col(Meeting.alliance_id).is_(None),
                    col(Meeting.alliance_id) != all_(alliances),
                ),
            ),
        )
    activities = select(
        literal(ACTIVITY),
        col(Activity.organization_id),
        cast(col(Activity.kind), String),
        col(Activity.held_on),
        col(Activity.alliance_id),
        col(Activity.pairing_id),
        null(),
        null(),
    ).where(
        col(Activity.held_on) >= bindparam("first"),
        col(Activity.held_on) <= bindparam("last"),
        or_(
            _one_of(
                Activity.kind,
                ActivityKind.JOINT_MEETING,
                ActivityKind.THEME_DAY,
                ActivityKind.VISIT,
            ),
            col(Activity.pairing_id).is_not(None),
            # The opinion rule asks about this month only, and a year of solicitations is
            # most of the ledger.
            and_(
                col(Activity.kind) == ActivityKind.OPINION,
                col(Activity.held_on) >= bindparam("month"),
            ),
        ),
        _within(Activity.organization_id, shape),
    )
    # The partners of the pairings' visits: a 一对多 pairing counts its visits per partner.
    partners = (
        select(
            literal(PARTNER),
            col(ActivityPartner.organization_id),
            cast(col(Activity.kind), String),
            col(Activity.held_on),
            col(Activity.alliance_id),
            col(Activity.pairing_id),
            null(),
            null(),
        )
        .join(Activity, col(Activity.id) == ActivityPartner.activity_id)
        .where(
            col(Activity.held_on) >= bindparam("first"),
            col(Activity.held_on) <= bindparam("last"),
            col(Activity.kind) == ActivityKind.VISIT,
            col(Activity.pairing_id).is_not(None),
            _within(Activity.organization_id, shape),
        )
    )
    return union_all(*by_group, activities, partners, *_filings_and_settings(shape))


def _filings_and_settings(shape: Shape) -> tuple[Select[*tuple[Any, ...]], ...]:
    """The reports filed for the `quarter` and `year`, then the reminder settings."""
    # Scoped: only the `org_scopes`' ledgers of the quarter, the `groups`' plans and summaries
    # of the year, the settings of the `scopes`.
    filings: Select[*tuple[Any, ...]] = select(
        literal(FILING),
        null(),
        cast(col(Filing.kind), String),
        *(null() for _ in range(3)),
        col(Filing.scope),
        col(Filing.period),
    )
    settings = select(
        literal(SETTING),
        null(),
        col(ReminderSetting.name),
        *(null() for _ in range(3)),
        col(ReminderSetting.scope),
        col(ReminderSetting.value),
    )
    if not shape.scoped:
        period = or_(
            col(Filing.period) == bindparam("quarter"), col(Filing.period) == bindparam("year")
        )
        return filings.where(period), settings
    # A branch per kind of report, each naming its kinds and period, so that the (kind, scope,
    # period) unique index finds the few rows however many scopes there are (under an OR,
    # PostgreSQL's generic plan reads the whole table).
    return (
        filings.where(
            col(Filing.kind) == FilingKind.LEDGER,
            _among(Filing.scope, "org_scopes", shape),
            col(Filing.period) == bindparam("quarter"),
        ),
        filings.where(
            col(Filing.kind).in_([FilingKind.ANNUAL_PLAN, FilingKind.YEAR_SUMMARY]),
            _among(Filing.scope, "groups", shape),
            col(Filing.period) == bindparam("year"),
        ),
        settings.where(_among(ReminderSetting.scope, "scopes", shape)),
    )


@cache
def movements_query(shape: Shape) -> Executable:
    """The movements of current members (in the scope), oldest first."""
    return _movements_select(shape).order_by(col(MobileMovement.marked_at), col(MobileMovement.id))


def _movements_select(shape: Shape) -> Select[*tuple[Any, ...]]:
    """Selects the movements of current members (in the scope), with the member."""
    # Unscoped, only those of members with a movement still owing a report: a member's latest
    # movement owes nothing unless one of theirs does, and the city's history is long.
    query: Select[*tuple[Any, ...]] = (
        select(
            col(MobileMovement.member_id),
            col(MobileMovement.id).label("movement_id"),
            col(MobileMovement.direction),
            col(MobileMovement.place),
            col(MobileMovement.marked_at),
            col(MobileMovement.whereabouts_at),
            col(MobileMovement.arrival_at),
            col(MobileMovement.workplace_at),
            col(Member.name),
            col(Member.organization_id).label("org_id"),
            col(Member.locale),
            col(Member.muted),
        )
        .join(Member, col(Member.id) == MobileMovement.member_id)
        .where(col(Member.status) != MemberStatus.DEPARTED)
    )
    if shape.scoped:
        return query.where(_within(Member.organization_id, shape))
    open_members = select(col(MobileMovement.member_id)).where(
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
    return query.where(col(MobileMovement.member_id).in_(open_members))
