"""What one inbound message finds, read in one statement: the member, the conversation, today's meetings.

Every message needs the member behind the chat account and the conversation's state; a check-in
also needs the meetings of the member's organization today and the member's wrong codes for
them, and a text-only channel the options it offered last. Four lookups, each a statement (on
PostgreSQL a round trip), become one: the account's row joined with the rest, one row per
meeting today (or one row with no meeting).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, and_, any_, bindparam, func, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import HolidayPolicy, org_life_day_for
from bot.core.domain import MeetingKind, MeetingStatus, MemberStatus, OrgKind
from bot.core.inbound import Channel
from bot.core.records import MeetingView, MemberView, OrgView
from bot.services.conversations import State
from bot.services.members import LAST_SEEN_RESOLUTION, SEEN_UPDATE, role_set
from storage.models import (
    AllianceUnit,
    ChatAccount,
    CheckinFailure,
    Conversation,
    Meeting,
    Member,
    OfferedOption,
    Organization,
    PairingOrg,
    Role,
)
from storage.prepared import execute_many, fetch


@dataclass(frozen=True, slots=True)
class WrongCodes:
    """How many wrong check-in codes a member sent for a meeting, and when the last came."""

    count: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class DayMeeting:
    """A meeting held today as check-in needs it: its view, code and the member's wrong codes."""

    view: MeetingView
    organization_id: int
    code: str
    # None when there are none; `failures_read` is False when they were not read with it.
    wrong: WrongCodes | None = None
    failures_read: bool = False

    @property
    def id(self) -> int:
        """The meeting's id."""
        return self.view.id

    @property
    def starts_at(self) -> datetime:
        """When the meeting starts."""
        return self.view.starts_at

    @property
    def checkin_open(self) -> bool:
        """Whether the secretary opened check-in early."""
        return self.view.checkin_open


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a message from one chat account finds.

    `meetings` is None when today's meetings are not known from the read (no member, or an
    org-life day the rule says is today but that is not stored yet: the slow path makes it).
    `options` is None when none were ever offered, [] once they expired.
    """

    member: MemberView | None
    state: State | None
    options: list[str] | None
    meetings: tuple[DayMeeting, ...] | None


class RoleNames(FunctionElement[str]):
    """A member's role names joined by commas, the separator written into the statement.

    `func.aggregate_strings` binds its separator as a value rendered anew on every execution
    (a text substitution over the whole statement); this renders it once, when compiled.
    """

    type = String()
    inherit_cache = True
    name = "role_names"


@compiles(RoleNames, "sqlite")
def _role_names_sqlite(element: RoleNames, compiler: SQLCompiler, **kw: Any) -> str:
    """Renders the roles as SQLite's group_concat."""
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(RoleNames, "postgresql")
def _role_names_postgresql(element: RoleNames, compiler: SQLCompiler, **kw: Any) -> str:
    """Renders the roles as PostgreSQL's string_agg."""
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


_host = aliased(Organization, name="host")
_mine = aliased(Organization, name="mine")
_held = aliased(Meeting, name="held")


def _held_today(org_id: Any, *, arrays: bool) -> Any:
    """Matches the meetings held on the bound `day` that an organization takes part in.

    Its own, its alliances' and its pairings': three index searches whose ids the join looks up
    (an OR of the three in the join would test every meeting of the day against each).
    """
    day: Any = bindparam("day")
    own = select(col(_held.id)).where(
        col(_held.organization_id) == org_id, col(_held.held_on) == day
    )
    allied = select(col(_held.id)).where(
        col(_held.alliance_id).in_(
            select(AllianceUnit.alliance_id)
            .where(col(AllianceUnit.organization_id) == org_id)
            .correlate(Member)
        ),
        col(_held.held_on) == day,
    )
    paired = select(col(_held.id)).where(
        col(_held.pairing_id).in_(
            select(PairingOrg.pairing_id)
            .where(col(PairingOrg.organization_id) == org_id)
            .correlate(Member)
        ),
        col(_held.held_on) == day,
    )
    ids = union_all(own, allied, paired)
    if arrays:
        # PostgreSQL does not drive a join from a correlated IN: it would test every meeting.
        # An array of the ids is an index condition on the meeting's key.
        return col(Meeting.id) == any_(func.array(ids.scalar_subquery()))
    return col(Meeting.id).in_(ids)


def _arrival(*, arrays: bool) -> Select[Any]:
    """Builds the arrival's statement (`arrays`: PostgreSQL's form of the meetings' match)."""
    return (
        sa_select(
            col(ChatAccount.id).label("account_id"),
            col(ChatAccount.last_seen_at).label("last_seen_at"),
            col(Member.id).label("member_id"),
            col(Member.name).label("name"),
            col(Member.status).label("status"),
            col(Member.locale).label("locale"),
            col(Member.muted).label("muted"),
            sa_select(RoleNames(col(Role.role)))
            .where(
                col(Role.member_id) == col(Member.id),
                col(Role.organization_id) == col(Member.organization_id),
            )
            .scalar_subquery()
            .label("roles"),
            col(_mine.id).label("org_id"),
            col(_mine.code).label("org_code"),
            col(_mine.name).label("org_name"),
            col(_mine.kind).label("org_kind"),
            col(_mine.orglife_ordinal).label("orglife_ordinal"),
            col(_mine.orglife_weekday).label("orglife_weekday"),
            col(_mine.holiday_policy).label("holiday_policy"),
            col(Conversation.flow).label("flow"),
            col(Conversation.step).label("step"),
            col(Conversation.data).label("state_data"),
            col(Conversation.updated_at).label("state_at"),
            col(OfferedOption.options).label("options"),
            col(OfferedOption.expires_at).label("options_expire"),
            col(Meeting.id).label("meeting_id"),
            col(Meeting.organization_id).label("meeting_org"),
            col(Meeting.kind).label("kind"),
            col(Meeting.held_on).label("held_on"),
            col(Meeting.starts_at).label("starts_at"),
            col(Meeting.venue).label("venue"),
            col(Meeting.title).label("title"),
            col(Meeting.status).label("meeting_status"),
            col(Meeting.code_required).label("code_required"),
            col(Meeting.checkin_open).label("checkin_open"),
            col(Meeting.checkin_code).label("checkin_code"),
            col(Meeting.moved_from).label("moved_from"),
            col(Meeting.move_reason).label("move_reason"),
            col(Meeting.holiday).label("holiday"),
            col(_host.code).label("host_code"),
            col(_host.name).label("host_name"),
            col(_host.kind).label("host_kind"),
            col(CheckinFailure.count).label("wrong_count"),
            col(CheckinFailure.last_at).label("wrong_at"),
        )
        .select_from(ChatAccount)
        .join(Member, col(Member.id) == col(ChatAccount.member_id))
        .join(_mine, col(_mine.id) == col(Member.organization_id))
        .outerjoin(
            Conversation,
            and_(
                col(Conversation.channel) == bindparam("channel"),
                col(Conversation.chat_id) == bindparam("chat_id"),
                col(Conversation.user_id) == bindparam("external_id"),
            ),
        )
        .outerjoin(
            OfferedOption,
            and_(
                col(OfferedOption.channel) == bindparam("channel"),
                col(OfferedOption.user_id) == bindparam("external_id"),
            ),
        )
        .outerjoin(
            Meeting,
            and_(
                _held_today(col(Member.organization_id), arrays=arrays),
                col(Meeting.status) != MeetingStatus.CANCELLED,
            ),
        )
        .outerjoin(_host, col(_host.id) == col(Meeting.organization_id))
        .outerjoin(
            CheckinFailure,
            and_(
                col(CheckinFailure.meeting_id) == col(Meeting.id),
                col(CheckinFailure.member_id) == col(Member.id),
            ),
        )
        .where(
            col(ChatAccount.channel) == bindparam("channel"),
            col(ChatAccount.external_id) == bindparam("external_id"),
        )
        .order_by(col(Meeting.starts_at), col(Meeting.id))
    )


# Built once each: every inbound message runs one.
ARRIVAL = _arrival(arrays=False)
ARRIVAL_POSTGRESQL = _arrival(arrays=True)


# A chat account's last-seen stamp to write: its id and when it wrote.
SeenMark = dict[str, Any]


def mark_seen(session: Session, marks: Sequence[SeenMark]) -> None:
    """Writes the last-seen stamps `arrive` left for later, in one driver call."""
    execute_many(session, SEEN_UPDATE, marks)


def state_of(
    flow: str | None, step: str | None, data: str | None, at: datetime | None
) -> State | None:
    """Builds a conversation's state from its stored columns (None when there is none)."""
    if flow is None or step is None:
        return None
    return State(flow, step, json.loads(data or "{}"), at)


def options_of(stored: str | None, expires_at: datetime | None, now: datetime) -> list[str] | None:
    """Reads offered options: None if never stored, [] once expired or unreadable."""
    if stored is None or expires_at is None:
        return None
    if expires_at <= now:
        return []
    try:
        options = json.loads(stored)
    except ValueError:
        return []
    if not isinstance(options, list):
        return []
    return [str(option) for option in options]


def arrive(
    session: Session,
    *,
    channel: Channel,
    chat_id: str,
    external_id: str,
    now: datetime,
    tz: ZoneInfo,
    holidays: HolidayCalendar,
    seen: bool = True,
    seen_later: list[SeenMark] | None = None,
) -> Arrival | None:
    """Reads what a message from a bound chat account finds; None when the account is not bound.

    With `seen`, notes that the account wrote (at most every LAST_SEEN_RESOLUTION): at once, or
    in `seen_later` for the caller to write with others (`mark_seen`).
    """
    today = now.astimezone(tz).date()
    params = {
        "channel": channel.value,
        "chat_id": chat_id,
        "external_id": external_id,
        "day": today,
    }
    postgresql = session.get_bind().dialect.name == "postgresql"
    rows = fetch(session, ARRIVAL_POSTGRESQL if postgresql else ARRIVAL, params)
    if not rows:
        return None
    first = rows[0]
    state = state_of(first.flow, first.step, first.state_data, first.state_at)
    options = options_of(first.options, first.options_expire, now)
    if first.status is MemberStatus.DEPARTED:
        return Arrival(None, state, options, None)
    last = first.last_seen_at
    if seen and (last is None or now - last > LAST_SEEN_RESOLUTION):
        mark = {"account_id": first.account_id, "seen": now}
        if seen_later is None:
            fetch(session, SEEN_UPDATE, mark)
        else:
            seen_later.append(mark)
    org = OrgView(first.org_id, first.org_code, first.org_name, OrgKind(first.org_kind))
    member = MemberView(
        id=first.member_id,
        name=first.name,
        org=org,
        status=first.status,
        locale=first.locale,
        roles=role_set(first.roles or ""),
        muted=first.muted,
    )
    meetings = tuple(_day_meeting(row, org, tz) for row in rows if row.meeting_id is not None)
    if _org_life_missing(first, meetings, today, holidays):
        return Arrival(member, state, options, None)
    return Arrival(member, state, options, meetings)


def _day_meeting(row: Any, mine: OrgView, tz: ZoneInfo) -> DayMeeting:
    """Builds a meeting of today from its columns in the arrival's row."""
    host = (
        mine
        if row.meeting_org == mine.id
        else OrgView(row.meeting_org, row.host_code, row.host_name, OrgKind(row.host_kind))
    )
    view = MeetingView(
        id=row.meeting_id,
        org=host,
        kind=MeetingKind(row.kind),
        held_on=row.held_on,
        starts_at=row.starts_at.astimezone(tz),
        venue=row.venue,
        title=row.title,
        status=MeetingStatus(row.meeting_status),
        code_required=row.code_required,
        checkin_open=row.checkin_open,
        moved_from=row.moved_from,
        move_reason=row.move_reason,
        holiday=row.holiday,
    )
    wrong = WrongCodes(row.wrong_count, row.wrong_at) if row.wrong_count is not None else None
    return DayMeeting(view, row.meeting_org, row.checkin_code, wrong, failures_read=True)


def _org_life_missing(
    row: Any, meetings: tuple[DayMeeting, ...], today: date, holidays: HolidayCalendar
) -> bool:
    """Tells whether the rule puts the organization's org-life day today but none is stored."""
    if any(
        m.view.kind is MeetingKind.ORG_LIFE and m.organization_id == row.org_id for m in meetings
    ):
        return False
    try:
        policy = HolidayPolicy(row.holiday_policy)
    except ValueError:
        return True
    due = org_life_day_for(
        today,
        holidays=holidays,
        ordinal=row.orglife_ordinal,
        weekday=row.orglife_weekday,
        policy=policy,
    )
    return due is not None


def day_meeting(meeting: Meeting, view: MeetingView) -> DayMeeting:
    """Wraps a stored meeting for check-in; its wrong codes are read when needed."""
    assert meeting.id is not None
    return DayMeeting(view, meeting.organization_id, meeting.checkin_code)
