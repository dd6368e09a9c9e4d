"""The use cases a handler may call, over one unit of work (one session, one `now`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property, partial
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.config import Settings
from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    Duty,
    MeetingKind,
    MeetingStatus,
    RoleKind,
)
from bot.core.i18n import Translator
from bot.core.inbound import Channel, InboundImage
from bot.core.names import clean_line
from bot.core.records import (
    ActivityView,
    CheckInResult,
    DutySlot,
    MeetingView,
    MemberView,
    OrgView,
    RollCall,
)
from bot.core.reply import Document
from bot.services.arrival import Arrival, DayMeeting, SeenMark, arrive, day_meeting
from bot.services.attendance import AttendanceBook, CheckinWindow, Correction, RollSheet
from bot.services.audit_trail import record_change
from bot.services.calendar_feed import CalendarFeeds, CalendarLink, LinkState, feed_url
from bot.services.compliance import ComplianceReport, Subject, compliance_report
from bot.services.console_access import ConsoleAccess
from bot.services.conversations import Conversations
from bot.services.district import DistrictReport, Workbook, import_district
from bot.services.documents import minutes_document, year_summary_document
from bot.services.downloads import LEDGER as LEDGER_DOWNLOAD
from bot.services.downloads import MINUTES as MINUTES_DOWNLOAD
from bot.services.downloads import SUMMARY as SUMMARY_DOWNLOAD
from bot.services.downloads import DownloadConfig, create_link
from bot.services.errors import ServiceError
from bot.services.holiday_data import missing_holiday_years
from bot.services.importer import ImportReport, Progress, Table, import_members
from bot.services.ledger import Ledger
from bot.services.ledger_book import (
    XLSX_MIME,
    LedgerData,
    LedgerExport,
    build_workbook,
    export_ledger,
    ledger_data,
    ledger_filename,
)
from bot.services.meetings import MeetingCalendar, Meetings, OrgLifeYear, parse_hhmm
from bot.services.members import Members
from bot.services.minutes import (
    MinutesView,
    meetings_for_minutes,
    minutes_of,
    minutes_record,
    save_minutes,
)
from bot.services.mobility import Mobility
from bot.services.notices import Notices
from bot.services.organizations import Organizations, OrgEntry
from bot.services.photos import (
    CheckedPhoto,
    PhotoStore,
    PhotoView,
    attach_photos,
    check_photos,
    discard_photos,
    latest_report,
    store_photos,
)
from bot.services.points import MemberPoints, PointsTable, PointWeights, points_table
from bot.services.reminder_settings import (
    ORG_SETTINGS,
    SettingValue,
    clear_org_reminder_setting,
    org_reminder_settings,
    set_org_reminder_setting,
)
from bot.services.reminders import Reminders
from bot.services.rota import Period, Rota, parse_period
from bot.services.stats import AttendanceReport, attendance_report
from bot.services.structure import BranchSettings, branch_settings, set_org_setting
from bot.services.summary import YearSummary, year_summaries
from bot.texts import notices as notice_texts
from storage.models import Alliance, Invite, Meeting


class SharedTransactionError(Exception):
    """A unit of work sharing its transaction with others had to undo its writes."""


@dataclass(frozen=True, slots=True)
class InviteView:
    """A freshly made invite: the code to hand out and when it stops working."""

    code: str
    org: OrgView
    role: RoleKind
    name: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AllianceRoster:
    """An alliance's duties over a span of days."""

    name: str
    theme_days: list[DutySlot]
    conveners: list[DutySlot]
    executive: DutySlot
    meetings: list[MeetingView]


@dataclass(frozen=True, slots=True)
class PairingRoster:
    """A pairing's hosts over a span of quarters, with visits this year against the target."""

    name: str
    hosts: list[tuple[Quarter, OrgView]]
    meetings: list[MeetingView]
    visits_done: int
    visit_target: int


@dataclass(frozen=True, slots=True)
class RosterAnswer:
    """Who hosts what in a span of days, for every alliance and pairing of one organization."""

    first_day: date
    last_day: date
    alliances: list[AllianceRoster]
    pairings: list[PairingRoster]


@dataclass(frozen=True, slots=True)
class AlliancePlan:
    """An alliance's duty slots over a year."""

    code: str
    name: str
    slots: list[DutySlot]


@dataclass(frozen=True, slots=True)
class PairingPlan:
    """A pairing's host per quarter over a year."""

    code: str
    name: str
    visit_target: int
    hosts: list[tuple[Quarter, OrgView]]


@dataclass(frozen=True, slots=True)
class YearRoster:
    """Who is on duty over a year, in every alliance and pairing of one organization."""

    org: OrgView
    year: int
    alliances: list[AlliancePlan]
    pairings: list[PairingPlan]


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """What a report was asked for: an organization, or a group seen from one of its units."""

    org_id: int
    name: str
    group: tuple[Subject, str] | None = None


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """What the services take from the settings, worked out once for many units of work."""

    invite_ttl: timedelta
    feed_base_url: str | None
    public_url: str
    console_idle: timedelta
    point_weights: PointWeights
    checkin_window: CheckinWindow
    default_locale: str

    @classmethod
    def of(cls, settings: Settings) -> ServiceSettings:
        """Works out the services' values from the settings."""
        return cls(
            invite_ttl=timedelta(hours=settings.invite_ttl_hours),
            feed_base_url=settings.public_base_url,
            public_url=settings.public_url,
            console_idle=timedelta(minutes=settings.console_idle_minutes),
            point_weights=PointWeights(
                checkin=settings.points_checkin,
                report=settings.points_report,
                theme_day=settings.points_theme_day,
            ),
            checkin_window=CheckinWindow(
                opens_before=timedelta(minutes=settings.checkin_opens_before_minutes),
                on_time=timedelta(minutes=settings.checkin_on_time_minutes),
                refuse_late=settings.checkin_late == "refuse",
            ),
            default_locale=settings.default_locale,
        )


class Services:
    """Everything a handler may ask for, bound to one session and one moment."""

    def __init__(
        self,
        session: Session,
        *,
        now: datetime,
        tz: ZoneInfo,
        holidays: HolidayCalendar,
        settings: Settings,
        shared: bool = False,
        derived: ServiceSettings | None = None,
    ) -> None:
        self.session = session
        self.now = now
        # Whether this unit of work shares its transaction with others (a group commit).
        self.shared = shared
        self.tz = tz
        self.holidays = holidays
        # Set when this unit of work switched the member's language.
        self.new_locale: str | None = None
        # `ServiceSettings.of(settings)`: a caller answering many units of work keeps it.
        derived = derived or ServiceSettings.of(settings)
        self.invite_ttl = derived.invite_ttl
        self.feed_base_url = derived.feed_base_url
        self.public_url = derived.public_url
        self.console_idle = derived.console_idle
        self.point_weights = derived.point_weights
        self._settings = settings
        # Today's meetings of the member who wrote, as the arrival read them (org id, meetings).
        self._today: tuple[int, tuple[DayMeeting, ...]] | None = None
        # In a group's transaction: where the arrival leaves its last-seen stamp for the group.
        self.seen_later: list[SeenMark] | None = None
        self.orgs = Organizations(session)
        self.members = Members(session, now)
        self.meetings = Meetings(session, holidays=holidays, tz=tz)
        self.attendance = AttendanceBook(session, now, tz, derived.checkin_window)
        self.notices = Notices(session, now, default_locale=derived.default_locale)
        self.rota = Rota(session, now)
        self.ledger = Ledger(session, now)
        self.conversations = Conversations(session, now)
        self.mobility = Mobility(session, now)

    @property
    def today(self) -> date:
        """Returns the local date of this unit of work."""
        return self.now.astimezone(self.tz).date()

    @cached_property
    def photo_store(self) -> PhotoStore:
        """Where report photos are kept (built on first use: finding the folder touches the disk)."""
        return PhotoStore(self._settings.photo_root, self._settings.photo_max_bytes)

    @cached_property
    def download_config(self) -> DownloadConfig:
        """How download links are made."""
        return DownloadConfig(
            public_base_url=self._settings.public_base_url,
            link_minutes=self._settings.download_link_minutes,
        )

    def arrival(
        self, *, channel: Channel, chat_id: str, user_id: str, seen: bool = True
    ) -> Arrival | None:
        """Reads what a message from a chat account finds (None when the account is not bound)."""
        found = arrive(
            self.session,
            channel=channel,
            chat_id=chat_id,
            external_id=user_id,
            now=self.now,
            tz=self.tz,
            holidays=self.holidays,
            seen=seen,
            seen_later=self.seen_later,
        )
        if found is not None and found.member is not None and found.meetings is not None:
            self._today = (found.member.org.id, found.meetings)
        return found

    def undo(self) -> None:
        """Undoes this unit of work's writes; in a shared transaction, gives it up instead."""
        if self.shared:
            # Its writes cannot be told apart from the others': the group is answered again,
            # each message in a transaction of its own.
            raise SharedTransactionError
        self.session.rollback()

    def audit(self, *, actor_id: int | None, action: str, subject: str, **detail: object) -> None:
        """Records a privileged change in the audit log."""
        record_change(
            self.session, now=self.now, actor_id=actor_id, action=action, subject=subject, **detail
        )

    def require_lead(self, member: MemberView) -> None:
        """Refuses members who are neither secretary nor deputy secretary."""
        if not member.leads:
            raise ServiceError("not_allowed")

    # -- organizations -------------------------------------------------------------------

    def org_by_code(self, code: str) -> OrgView | None:
        """Finds an organization by its code (case-insensitive)."""
        return self.orgs.by_code(code)

    def org_tree(self) -> list[OrgEntry]:
        """Lists every organization, ordered by code, each with its parent's code."""
        return self.orgs.tree()

    def org_life_year(self, org: OrgView, year: int) -> OrgLifeYear:
        """Lists an organization's org-life days of a year; ValueError when its rule is not valid."""
        return self.meetings.org_life_year(org.id, year)

    def report_target(self, code: str) -> ReportTarget | None:
        """Finds an organization by code, else an alliance or a pairing (through its lead unit)."""
        org = self.orgs.by_code(code)
        if org is not None:
            return ReportTarget(org.id, org.name)
        alliance = self.rota.alliance_by_code(code)
        if alliance is not None:
            units = self.rota.units(alliance)
            if units:
                return ReportTarget(units[0].id, alliance.name, (Subject.ALLIANCE, alliance.code))
        pairing = self.rota.pairing_by_code(code)
        if pairing is not None:
            return ReportTarget(pairing.lead_org_id, pairing.name, (Subject.PAIRING, pairing.code))
        return None

    # -- binding and invites -------------------------------------------------------------

    def bind(
        self,
        *,
        code: str,
        channel: Channel,
        external_id: str,
        display_name: str,
        source: str = "private",
    ) -> MemberView:
        """Binds a chat account to a member with an invite code (failures throttled per source)."""
        return self.members.bind(
            code=code,
            channel=channel,
            external_id=external_id,
            display_name=display_name,
            source=source,
        )

    def give_name(self, member: MemberView, name: str) -> MemberView:
        """Stores the name of a member invited without one (once: later changes are the secretary's)."""
        if not self.members.give_name(member.id, name):
            raise ServiceError("already_named")
        self.audit(actor_id=member.id, action="member.name", subject=f"member:{member.id}")
        return self.members.get(member.id)

    def create_invite(
        self,
        *,
        actor: MemberView | None,
        org_id: int,
        role: RoleKind,
        name: str = "",
        member_id: int | None = None,
    ) -> InviteView:
        """Creates an invite; in chat only a secretary or deputy of that organization may."""
        if actor is not None:
            self.require_lead(actor)
            if actor.org.id != org_id:
                raise ServiceError("not_allowed")
        invite = self.members.create_invite(
            org_id=org_id,
            role=role,
            name=name,
            member_id=member_id,
            created_by=actor.id if actor else None,
            ttl=self.invite_ttl,
        )
        self.audit(
            actor_id=actor.id if actor else None,
            action="invite.create",
            subject=f"org:{org_id}",
            role=role.value,
        )
        return self._invite_view(invite)

    def _invite_view(self, invite: Invite) -> InviteView:
        """Builds the view of an invite."""
        return InviteView(
            code=invite.code,
            org=self.orgs.get(invite.organization_id),
            role=invite.role,
            name=invite.name,
            expires_at=invite.expires_at.astimezone(self.tz),
        )

    def set_locale(self, member: MemberView, locale: str) -> None:
        """Stores a member's language (replies from here on are in it)."""
        self.members.set_locale(member.id, locale)
        self.new_locale = locale

    # -- meetings and attendance -----------------------------------------------------------

    def _day_meetings(self, member: MemberView) -> tuple[DayMeeting, ...]:
        """Returns the meetings the member's organization takes part in today."""
        if self._today is not None and self._today[0] == member.org.id:
            return self._today[1]
        meetings = self.meetings.on_day(member.org.id, self.today)
        return tuple(day_meeting(m, self.meetings.view(m)) for m in meetings)

    def _meeting_today(self, member: MemberView, code: str | None) -> DayMeeting:
        """Picks the member's meeting today: the one whose code matches, else one open now."""
        meetings = self._day_meetings(member)
        if not meetings:
            raise ServiceError("no_meeting_today")
        if code:
            for meeting in meetings:
                if meeting.code == code:
                    return meeting
        window = self.attendance.window
        open_now = [m for m in meetings if window.is_open(m, self.now)]
        # Of the meetings open now, the one begun last (an afternoon meeting after a morning one).
        return open_now[-1] if open_now else meetings[0]

    def checkin_open_today(self, member: MemberView) -> bool:
        """Tells whether the secretary opened check-in for a meeting of the member's branch today."""
        return any(meeting.checkin_open for meeting in self._day_meetings(member))

    def check_in(self, member: MemberView, *, code: str | None, channel: Channel) -> CheckInResult:
        """Signs a member in to a meeting today that their organization takes part in."""
        meeting = self._meeting_today(member, code)
        signed = self.attendance.check_in(
            meeting=meeting, member_id=member.id, code=code, channel=channel
        )
        return CheckInResult(
            meeting=meeting.view,
            at=signed.at.astimezone(self.tz),
            new=signed.created,
            status=signed.status,
            late=signed.late,
        )

    def _hosted_today(self, member: MemberView, kind: MeetingKind | None) -> Meeting:
        """Picks a meeting the member's organization hosts today (of a kind, when one is named)."""
        hosted = [
            m
            for m in self.meetings.on_day(member.org.id, self.today)
            if m.organization_id == member.org.id and (kind is None or m.kind is kind)
        ]
        if not hosted:
            raise ServiceError("no_meeting_today")
        # The one starting nearest to now: the morning meeting at 09:30, the afternoon's at 14:50.
        return min(hosted, key=lambda m: abs((m.starts_at - self.now).total_seconds()))

    def open_checkin(
        self, member: MemberView, *, code_required: bool, kind: MeetingKind | None = None
    ) -> tuple[MeetingView, str]:
        """Opens check-in for a meeting the branch hosts today and returns its code (secretaries)."""
        self.require_lead(member)
        meeting = self._hosted_today(member, kind)
        self.meetings.open_checkin(meeting, code_required=code_required)
        self.audit(
            actor_id=member.id,
            action="checkin.open",
            subject=f"meeting:{meeting.id}",
            code_required=code_required,
        )
        return self.meetings.view(meeting), meeting.checkin_code

    def roll_call(self, member: MemberView) -> RollCall:
        """Returns attendance of the meeting hosted today, or the last one (secretaries only)."""
        self.require_lead(member)
        meeting = self.meetings.latest(member.org.id, self.today, self.now)
        if meeting is None:
            raise ServiceError("no_meeting_yet")
        return self.attendance.roll_call(
            meeting, self.meetings.view(meeting), self.meetings.expected(meeting)
        )

    def next_meeting(self, member: MemberView) -> MeetingView:
        """Returns the member's next meeting that has not started yet."""
        meeting = self.meetings.next_meeting(member.org.id, self.now.astimezone(self.tz))
        if meeting is None:
            raise ServiceError("no_meeting_ahead")
        return self.meetings.view(meeting)

    def _my_meeting(self, member: MemberView, meeting_id: int) -> Meeting:
        """Returns a meeting the member's organization takes part in, else refuses."""
        meeting = self.session.get(Meeting, meeting_id)
        if meeting is None or not self.meetings.takes_part(meeting, member.org.id):
            raise ServiceError("no_meeting_ahead")
        return meeting

    def ask_leave(self, member: MemberView, *, meeting_id: int, reason: str) -> MeetingView:
        """Records the member's leave from a meeting and tells the host's secretaries."""
        meeting = self._my_meeting(member, meeting_id)
        if meeting.held_on < self.today:
            raise ServiceError("meeting_past")
        if meeting.status is MeetingStatus.CANCELLED:
            raise ServiceError("meeting_cancelled")
        row = self.attendance.ask_leave(meeting=meeting, member_id=member.id, reason=reason)
        view = self.meetings.view(meeting)
        subject = f"leave:{meeting.id}:{member.id}"
        # A changed reason replaces a notice not sent yet.
        self.notices.withdraw(subject)
        self.notices.send(
            subject=subject,
            recipients=self.notices.leads(meeting.organization_id),
            render=lambda t: notice_texts.leave_asked(t, member.name, view, row.reason),
            skip=member.id,
        )
        return view

    def cancel_leave(self, member: MemberView) -> MeetingView:
        """Withdraws the member's leave from their next meeting they asked leave for (销假)."""
        upcoming = self.meetings.upcoming(member.org.id, self.today)
        ahead = [m for m in upcoming if m.starts_at > self.now]
        on_leave = self.attendance.leaves(member_id=member.id, meeting_ids=[m.id for m in ahead])
        view = next((m for m in ahead if m.id in on_leave), None)
        if view is None:
            raise ServiceError("no_leave")
        meeting = self.session.get_one(Meeting, view.id)
        self.attendance.cancel_leave(meeting=meeting, member_id=member.id)
        subject = f"leave:{meeting.id}:{member.id}"
        if not self.notices.withdraw(subject):
            # The secretaries already know of the leave: tell them it is off.
            self.notices.send(
                subject=subject,
                recipients=self.notices.leads(meeting.organization_id),
                render=lambda t: notice_texts.leave_cancelled(t, member.name, view),
                skip=member.id,
            )
        return view

    def upcoming(self, member: MemberView) -> list[MeetingView]:
        """Lists the member's upcoming meetings."""
        return self.meetings.upcoming(member.org.id, self.today)

    def my_leaves(self, member: MemberView, meetings: list[MeetingView]) -> set[int]:
        """Returns which of the listed meetings the member asked leave for."""
        return self.attendance.leaves(member_id=member.id, meeting_ids=[m.id for m in meetings])

    def next_hosted(self, member: MemberView) -> MeetingView:
        """Returns the next meeting the member's organization hosts."""
        return self.meetings.view(self._next_hosted(member))

    def _next_hosted(self, member: MemberView) -> Meeting:
        """Returns the next meeting the member's organization hosts, else refuses."""
        meeting = self.meetings.next_meeting(
            member.org.id, self.now.astimezone(self.tz), hosted=True
        )
        if meeting is None:
            raise ServiceError("no_meeting_ahead")
        return meeting

    def _announce(
        self, meeting: Meeting, actor_id: int | None, render: Callable[[Translator], str]
    ) -> None:
        """Tells every member taking part, but the actor, about a change (replacing unsent notices)."""
        subject = f"meeting:{meeting.id}"
        self.notices.withdraw(subject)
        self.notices.send(
            subject=subject,
            recipients=self._attendees(meeting),
            render=render,
            skip=actor_id,
        )

    def _attendees(self, meeting: Meeting) -> list[int]:
        """Lists who a meeting concerns: those expected at it."""
        return [m.id for m in self.meetings.expected(meeting) if m.id is not None]

    def missing_holiday_years(self) -> list[int]:
        """Lists the years of the next three months whose official holidays are not known."""
        return missing_holiday_years(self.holidays, self.today)

    def reschedule(
        self, member: MemberView, *, day: date | None, at: time | None, venue: str | None
    ) -> MeetingView:
        """Changes the day, time or venue of the branch's next meeting and tells its members."""
        self.require_lead(member)
        return self._move(member, self._next_hosted(member), day=day, at=at, venue=venue)

    def move_meeting(
        self,
        member: MemberView,
        *,
        meeting_id: int,
        day: date | None,
        at: time | None,
        venue: str | None,
    ) -> MeetingView:
        """Changes a meeting the branch hosts, before it begins, and tells its members (secretaries)."""
        self.require_lead(member)
        meeting = self._own_meeting(member, meeting_id)
        if meeting.starts_at <= self.now:
            raise ServiceError("meeting_begun")
        return self._move(member, meeting, day=day, at=at, venue=venue)

    def _move(
        self,
        member: MemberView,
        meeting: Meeting,
        *,
        day: date | None,
        at: time | None,
        venue: str | None,
    ) -> MeetingView:
        """Moves a meeting to a day, time or venue ahead, audits it and tells its members."""
        if day is not None and day < self.today:
            raise ServiceError("date_in_past")
        self.meetings.reschedule(meeting, at=at, venue=venue, day=day)
        if meeting.starts_at <= self.now:
            raise ServiceError("date_in_past")
        self.audit(
            actor_id=member.id,
            action="meeting.reschedule",
            subject=f"meeting:{meeting.id}",
            day=day,
            at=at,
            venue=venue,
        )
        view = self.meetings.view(meeting)
        self._announce(meeting, member.id, lambda t: notice_texts.meeting_changed(t, view))
        return view

    def schedule_meeting(
        self,
        actor: MemberView | None,
        *,
        kind: MeetingKind,
        day: date,
        at: time,
        venue: str,
        title: str = "",
        org_id: int | None = None,
    ) -> MeetingView:
        """Puts a meeting of any kind on the calendar and tells its members.

        In chat the actor is a secretary scheduling for their own organization; from the command
        line the operator (no actor) names the organization.
        """
        if actor is not None:
            self.require_lead(actor)
            if org_id is not None and org_id != actor.org.id:
                raise ServiceError("not_allowed")
            org_id = actor.org.id
        if org_id is None:
            raise ServiceError("org_unknown")
        starts = datetime.combine(day, at, tzinfo=self.tz)
        if starts <= self.now:
            raise ServiceError("date_in_past")
        org = self.orgs.row(org_id)
        alliance_id = pairing_id = None
        if kind is MeetingKind.THEME_DAY:
            alliance_id = self._alliance_on_duty(org_id, Duty.THEME_DAY, day).id
        elif kind is MeetingKind.JOINT_MEETING:
            alliance_id = self._alliance_on_duty(org_id, Duty.CONVENER, day).id
        elif kind is MeetingKind.VISIT:
            pairings = self.rota.pairings_of(org_id)
            if not pairings:
                raise ServiceError("no_pairing")
            pairing_id = pairings[0].id
        meeting = self.meetings.schedule(
            org,
            kind=kind,
            starts=starts,
            venue=venue,
            title=title,
            alliance_id=alliance_id,
            pairing_id=pairing_id,
        )
        self.audit(
            actor_id=actor.id if actor else None,
            action="meeting.schedule",
            subject=f"meeting:{meeting.id}",
            kind=kind.value,
            starts=starts,
            venue=venue,
        )
        view = self.meetings.view(meeting)
        self._announce(
            meeting, actor.id if actor else None, lambda t: notice_texts.meeting_scheduled(t, view)
        )
        return view

    def _alliance_on_duty(self, org_id: int, duty: Duty, day: date) -> Alliance:
        """Returns the organization's alliance in which it holds `duty` on `day`."""
        alliances = self.rota.alliances_of(org_id)
        if not alliances:
            raise ServiceError("no_alliance")
        slots = [(alliance, self.rota.slot(alliance, duty, day)) for alliance in alliances]
        for alliance, slot in slots:
            if slot.org.id == org_id:
                return alliance
        # 001: the unit on duty plans, convenes and takes attendance; others do not.
        raise ServiceError("not_on_duty", org=slots[0][1].org.name)

    def upcoming_of(self, org_id: int) -> list[MeetingView]:
        """Lists an organization's upcoming meetings (the command line's view)."""
        return self.meetings.upcoming(org_id, self.today)

    def cancel_meeting(self, member: MemberView, *, day: date | None, reason: str) -> MeetingView:
        """Cancels the branch's next meeting (or its meeting on a day) and tells its members."""
        self.require_lead(member)
        if day is None:
            meeting = self._next_hosted(member)
        else:
            hosted = [
                m
                for m in self.meetings.on_day(member.org.id, day)
                if m.organization_id == member.org.id and m.starts_at > self.now
            ]
            if not hosted:
                raise ServiceError("no_meeting_on_day")
            meeting = hosted[0]
        meeting.status = MeetingStatus.CANCELLED
        self.session.add(meeting)
        self.audit(
            actor_id=member.id,
            action="meeting.cancel",
            subject=f"meeting:{meeting.id}",
            reason=reason.strip()[:500],
        )
        view = self.meetings.view(meeting)
        reason = reason.strip()[:500]
        self._announce(
            meeting, member.id, lambda t: notice_texts.meeting_cancelled(t, view, reason)
        )
        return view

    # -- the console's meeting desk: a year's calendar, one meeting's roll call, corrections -----

    def meeting_calendar(self, org_id: int, year: int) -> MeetingCalendar:
        """Lists a year of an organization's meetings and the org-life days its rule still gives."""
        return self.meetings.calendar(org_id, year, self.today)

    def meeting(self, meeting_id: int) -> MeetingView | None:
        """Returns a meeting by id, or None."""
        row = self.session.get(Meeting, meeting_id)
        return self.meetings.view(row) if row is not None else None

    def roll_sheet(self, meeting_id: int) -> RollSheet:
        """Returns a meeting's roll call with every expected member's answer (the desk's view)."""
        meeting = self.session.get(Meeting, meeting_id)
        if meeting is None:
            raise ServiceError("meeting_unknown")
        view = self.meetings.view(meeting)
        expected = self.meetings.expected(meeting)
        return RollSheet(
            meeting=view,
            roll_call=self.attendance.roll_call(meeting, view, expected),
            entries=self.attendance.sheet(meeting, expected),
        )

    def correct_attendance(
        self,
        member: MemberView,
        *,
        meeting_id: int,
        member_id: int,
        status: AttendanceStatus,
        late: bool = False,
        reason: str,
    ) -> Correction:
        """Corrects one member's answer to a meeting the branch hosts, with a reason (audited).

        Leave may be recorded ahead of the meeting; present, late and absent once it has begun.
        """
        self.require_lead(member)
        meeting = self._own_meeting(member, meeting_id)
        if meeting.status is MeetingStatus.CANCELLED:
            raise ServiceError("meeting_cancelled")
        reason = clean_line(reason, limit=500)
        if not reason:
            raise ServiceError("reason_needed")
        if status is not AttendanceStatus.LEAVE and meeting.starts_at > self.now:
            raise ServiceError("attendance_ahead")
        if member_id not in {m.id for m in self.meetings.expected(meeting)}:
            raise ServiceError("not_expected")
        change = self.attendance.correct(
            meeting=meeting, member_id=member_id, status=status, late=late, reason=reason
        )
        self.audit(
            actor_id=member.id,
            action="attendance.correct",
            subject=f"meeting:{meeting_id}",
            member=member_id,
            before=change.before.value if change.before else None,
            before_late=change.before_late,
            after=change.after.value,
            late=change.late,
            reason=reason,
        )
        return change

    def branch_notice(self, member: MemberView, *, text: str) -> int:
        """Sends a secretary's notice to every member of the branch; returns how many get it."""
        self.require_lead(member)
        text = text.strip()[:1000]
        recipients = self.notices.members([member.org.id])
        queued = self.notices.send(
            subject=f"org:{member.org.id}",
            recipients=recipients,
            render=lambda t: notice_texts.branch_notice(t, member.org.name, member.name, text),
            skip=member.id,
        )
        self.audit(
            actor_id=member.id,
            action="notice.send",
            subject=f"org:{member.org.id}",
            recipients=queued,
        )
        return queued

    # -- ledger ----------------------------------------------------------------------------

    def partners(self, member: MemberView) -> list[OrgView]:
        """Lists the organizations the member's branch works with."""
        return self.orgs.partners(member.org.id)

    def record_activity(
        self,
        member: MemberView,
        *,
        kind: ActivityKind,
        held_on: date,
        participants: int,
        summary: str,
        partner_ids: list[int],
        title: str = "",
    ) -> ActivityView:
        """Turns a confirmed report into a ledger entry."""
        if held_on > self.today:
            raise ServiceError("date_in_future")
        allowed = {org.id for org in self.partners(member)}
        if not set(partner_ids) <= allowed:
            raise ServiceError("not_a_partner")
        first_line = summary.strip().splitlines()[0] if summary.strip() else ""
        return self.ledger.record(
            org_id=member.org.id,
            reporter_id=member.id,
            kind=kind,
            held_on=held_on,
            title=title or first_line[:40],
            participants=participants,
            summary=summary,
            partner_ids=partner_ids,
        )

    # -- photos as evidence ----------------------------------------------------------------

    def check_photos(self, images: Sequence[InboundImage]) -> list[CheckedPhoto]:
        """Refuses too many photos, or one too large or of another type; returns them checked."""
        return check_photos(self.photo_store, images)

    def save_photos(self, member: MemberView, photos: Sequence[CheckedPhoto]) -> list[PhotoView]:
        """Stores checked photos a member sent (not yet attached to any entry)."""
        return store_photos(
            self.session, self.photo_store, member_id=member.id, photos=photos, now=self.now
        )

    def attach_photos(self, member: MemberView, photo_ids: list[int], activity_id: int) -> int:
        """Attaches the member's unattached photos to one of their ledger entries."""
        return attach_photos(
            self.session, member_id=member.id, photo_ids=photo_ids, activity_id=activity_id
        )

    def discard_photos(self, member: MemberView, photo_ids: list[int]) -> None:
        """Forgets photos the member chose not to attach."""
        discard_photos(self.session, member_id=member.id, photo_ids=photo_ids)

    def latest_report(self, member: MemberView) -> ActivityView | None:
        """Returns the ledger entry the member reported last, if any."""
        row = latest_report(self.session, member_id=member.id)
        return self.ledger.view(row) if row is not None else None

    # -- roster ----------------------------------------------------------------------------

    def roster(self, org_id: int, first_day: date, last_day: date) -> RosterAnswer:
        """Answers who hosts what between two dates, for the organization's alliances and pairings."""
        all_alliances, all_pairings = self.rota.groups_of(org_id)
        # A pairing's visits are counted over the year the span starts in.
        year_first, year_last = date(first_day.year, 1, 1), date(first_day.year, 12, 31)
        widened = bool(all_pairings)
        records = self.rota.group_meetings(
            org_id,
            first=min(first_day, year_first) if widened else first_day,
            last=max(last_day, year_last) if widened else last_day,
        )
        in_span = [meeting for meeting in records if first_day <= meeting.held_on <= last_day]
        alliances: list[AllianceRoster] = []
        for alliance in all_alliances:
            assert alliance.id is not None
            theme_days = _distinct(
                self.rota.slot(alliance, Duty.THEME_DAY, day)
                for day in _month_starts(first_day, last_day)
            )
            conveners = _distinct(
                self.rota.slot(alliance, Duty.CONVENER, day)
                for day in _month_starts(first_day, last_day)
            )
            executive = self.rota.slot(alliance, Duty.EXECUTIVE, first_day)
            meetings = [m for m in in_span if m.alliance_id == alliance.id]
            alliances.append(
                AllianceRoster(
                    alliance.name,
                    theme_days,
                    conveners,
                    executive,
                    [
                        self.meetings.view(m, self.rota.group_org(m.organization_id))
                        for m in meetings
                    ],
                )
            )
        pairings: list[PairingRoster] = []
        for pairing in all_pairings:
            quarters = sorted({Quarter.of(day) for day in _month_starts(first_day, last_day)})
            meetings = [m for m in in_span if m.pairing_id == pairing.id]
            year_visits = [
                m
                for m in records
                if m.pairing_id == pairing.id and year_first <= m.held_on <= year_last
            ]
            pairings.append(
                PairingRoster(
                    pairing.name,
                    [(quarter, self.rota.pairing_host(pairing, quarter)) for quarter in quarters],
                    [
                        self.meetings.view(m, self.rota.group_org(m.organization_id))
                        for m in meetings
                    ],
                    sum(1 for m in year_visits if m.held_on <= self.today),
                    pairing.visit_target,
                )
            )
        return RosterAnswer(first_day, last_day, alliances, pairings)

    def year_roster(self, org: OrgView, year: int) -> YearRoster:
        """Lists a year's duty slots of the organization's alliances and its pairings' hosts."""
        alliances = [
            AlliancePlan(alliance.code, alliance.name, self.rota.plan(alliance, year))
            for alliance in self.rota.alliances_of(org.id)
        ]
        quarters = [Quarter(year, number) for number in range(1, 5)]
        pairings = [
            PairingPlan(
                pairing.code,
                pairing.name,
                pairing.visit_target,
                [(quarter, self.rota.pairing_host(pairing, quarter)) for quarter in quarters],
            )
            for pairing in self.rota.pairings_of(org.id)
        ]
        return YearRoster(org, year, alliances, pairings)

    def change_duty(
        self,
        *,
        alliance_code: str,
        duty: Duty,
        period_text: str,
        org_code: str | None = None,
        swap_with: str | None = None,
        reason: str,
    ) -> list[DutySlot]:
        """Replaces or swaps a duty slot of an alliance named by code, for the operator (no member)."""
        alliance = self.rota.alliance_by_code(alliance_code)
        if alliance is None:
            raise ServiceError("alliance_unknown", alliance=alliance_code)
        periods = self._apply_duty_change(
            alliance,
            duty=duty,
            period_text=period_text,
            org_code=org_code,
            swap_with=swap_with,
            reason=reason,
            actor_id=None,
            pick=self._org_by_code,
        )
        return [self.rota.slot(alliance, duty, period.first_day) for period in periods]

    def override_duty(
        self,
        member: MemberView,
        *,
        duty: Duty,
        period_text: str,
        org_code: str | None = None,
        swap_with: str | None = None,
        reason: str,
    ) -> None:
        """Replaces or swaps a duty slot in the member's alliance (secretaries only)."""
        self.require_lead(member)
        alliances = self.rota.alliances_of(member.org.id)
        if not alliances:
            raise ServiceError("no_alliance")
        self._apply_duty_change(
            alliances[0],
            duty=duty,
            period_text=period_text,
            org_code=org_code,
            swap_with=swap_with,
            reason=reason,
            actor_id=member.id,
            pick=self._pick_unit,
        )

    def _duty_period(self, alliance: Alliance, duty: Duty, text: str) -> Period:
        """Reads a period for a duty; an executive period is the whole term that contains it."""
        try:
            period = parse_period(duty, text, alliance.duty_period)
        except ValueError:
            raise ServiceError("bad_period") from None
        if duty is Duty.EXECUTIVE:
            # Executive terms are stored under the term's first month, whatever month was named.
            return self.rota.executive_period(alliance, period.first_day)
        return period

    def _apply_duty_change(
        self,
        alliance: Alliance,
        *,
        duty: Duty,
        period_text: str,
        org_code: str | None,
        swap_with: str | None,
        reason: str,
        actor_id: int | None,
        pick: Callable[[Alliance, str], OrgView],
    ) -> list[Period]:
        """Swaps two slots or puts the organization `pick` finds on one; returns the periods changed."""
        period = self._duty_period(alliance, duty, period_text)
        other = self._duty_period(alliance, duty, swap_with) if swap_with else None
        if not reason.strip():
            raise ServiceError("reason_needed")
        if other is not None:
            self.rota.swap(
                alliance=alliance,
                duty=duty,
                first=period,
                second=other,
                reason=reason,
                actor_id=actor_id,
            )
            return [period, other]
        org = pick(alliance, org_code or "")
        self.rota.override(
            alliance=alliance,
            duty=duty,
            period=period,
            org_id=org.id,
            reason=reason,
            actor_id=actor_id,
        )
        return [period]

    def _org_by_code(self, _alliance: Alliance, code: str) -> OrgView:
        """Finds an organization by its exact code (the operator names codes)."""
        org = self.orgs.by_code(code)
        if org is None:
            raise ServiceError("org_unknown")
        return org

    def duty_units(self, member: MemberView) -> list[OrgView]:
        """Lists the units of the member's alliance in rotation order (numbered from 1 in chat)."""
        alliances = self.rota.alliances_of(member.org.id)
        if not alliances:
            raise ServiceError("no_alliance")
        return self.rota.units(alliances[0])

    def _pick_unit(self, alliance: Alliance, text: str) -> OrgView:
        """Finds an alliance unit by number, code, name or a unique beginning of its name."""
        units = self.rota.units(alliance)
        wanted = text.strip()
        if wanted.isdigit():
            number = int(wanted)
            if 1 <= number <= len(units):
                return units[number - 1]
            raise ServiceError("unit_unknown", name=wanted)
        for unit in units:
            if wanted.upper() == unit.code.upper() or wanted == unit.name:
                return unit
        found = [unit for unit in units if unit.name.startswith(wanted)]
        if len(found) == 1:
            return found[0]
        if found:
            raise ServiceError("unit_ambiguous", name=wanted)
        org = self.orgs.by_code(wanted)
        if org is not None:
            # An organization, but not one of this alliance's units.
            raise ServiceError("not_in_alliance")
        raise ServiceError("unit_unknown", name=wanted)

    # -- personal data: calendar feed and member points ---------------------------------------

    def calendar_link(self, member: MemberView, *, renew: bool = False) -> CalendarLink:
        """Issues the member's private calendar URL, unless one is live and no renewal is asked."""
        if not self.feed_base_url:
            return CalendarLink(LinkState.UNCONFIGURED)
        feeds = CalendarFeeds(self.session, self.now)
        if renew:
            feeds.revoke(member.id)
        else:
            since = feeds.active_since(member.id)
            if since is not None:
                return CalendarLink(LinkState.ACTIVE, since=since.astimezone(self.tz))
        token = feeds.issue(member.id)
        self.audit(actor_id=member.id, action="calendar.issue", subject=f"member:{member.id}")
        return CalendarLink(LinkState.ISSUED, url=feed_url(self.feed_base_url, token))

    def console_link(self, member: MemberView) -> str:
        """Makes a single-use web console sign-in link for an officer (audited)."""
        token = ConsoleAccess(self.session, self.now, idle=self.console_idle).issue_link(member)
        self.audit(actor_id=member.id, action="console_link", subject=member.org.code)
        return f"{self.public_url}/console/enter/{token}"

    def console_link_for(self, *, channel: Channel, external_id: str) -> str:
        """Makes a console link for the member bound to a chat account (the operator's door)."""
        member = self.members.for_account(channel=channel, external_id=external_id, seen=False)
        if member is None:
            raise ServiceError("not_bound")
        return self.console_link(member)

    def add_console_account(self, *, login: str, name: str, org_code: str, password: str) -> int:
        """Creates a password account for committee staff (audited, never the password)."""
        access = ConsoleAccess(self.session, self.now, idle=self.console_idle)
        account_id = access.add_account(
            login=login, name=name, org_code=org_code, password=password
        )
        self.audit(actor_id=None, action="console.account", subject=f"org:{org_code.upper()}")
        return account_id

    def revoke_calendar(self, member: MemberView) -> int:
        """Revokes the member's calendar URLs; returns how many were live."""
        revoked = CalendarFeeds(self.session, self.now).revoke(member.id)
        if revoked:
            self.audit(actor_id=member.id, action="calendar.revoke", subject=f"member:{member.id}")
        return revoked

    def points(self, member: MemberView, *, year: int | None = None) -> PointsTable:
        """Returns the points table of the member's branch for a year (this year by default)."""
        return points_table(
            self.session,
            org_id=member.org.id,
            year=year or self.today.year,
            weights=self.point_weights,
            now=self.now,
            today=self.today,
        )

    def my_points(self, member: MemberView, *, year: int | None = None) -> tuple[MemberPoints, int]:
        """Returns the member's points with their rank, and how many members are ranked."""
        table = self.points(member, year=year)
        row = table.of(member.id)
        assert row is not None, "a member who can ask is a current member of the branch"
        return row, len(table.rows)

    def points_ranking(self, member: MemberView, *, year: int | None = None) -> PointsTable:
        """Returns the branch's points table (secretaries only)."""
        self.require_lead(member)
        return self.points(member, year=year)

    # -- secretary tools: attendance, compliance, the ledger workbook, the year-end summary ----

    def attendance_quarter(self, member: MemberView, quarter: Quarter) -> AttendanceReport:
        """Tallies the branch's attendance over a quarter, per meeting and member (secretaries)."""
        self.require_lead(member)
        return self.org_attendance(member.org.id, quarter)

    def org_attendance(self, org_id: int, quarter: Quarter) -> AttendanceReport:
        """Tallies an organization's attendance over a quarter, per meeting and member."""
        return attendance_report(
            self.session, org_id=org_id, quarter=quarter, now=self.now, tz=self.tz
        )

    def branch_settings(self, member: MemberView) -> BranchSettings:
        """Returns the secretary's branch settings and its liaison officers (secretaries)."""
        self.require_lead(member)
        return branch_settings(self.session, org_id=member.org.id)

    def set_branch_setting(self, member: MemberView, *, key: str, value: str) -> tuple[str, str]:
        """Changes one of the secretary's own branch settings, audited (secretaries)."""
        self.require_lead(member)
        return self.change_branch_setting(member.org.code, key=key, value=value, actor_id=member.id)

    def org_branch_settings(self, org_id: int) -> BranchSettings:
        """Returns an organization's org-life time and venue, holiday policy and liaisons."""
        return branch_settings(self.session, org_id=org_id)

    def org_reminder_settings(self, org_id: int) -> list[SettingValue]:
        """Lists an organization's reminder times and lead days, and where each comes from."""
        return org_reminder_settings(self.session, org_id=org_id)

    def change_org_setting(
        self, org_id: int, *, key: str, value: str, actor_id: int | None
    ) -> tuple[str, str]:
        """Changes a branch or reminder setting of an organization, audited; returns it stored."""
        if key in ORG_SETTINGS:
            stored = set_org_reminder_setting(
                self.session,
                org_id=org_id,
                name=key,
                value=value,
                now=self.now,
                actor_id=actor_id,
            )
            return key, stored
        return self.change_branch_setting(
            self.orgs.get(org_id).code, key=key, value=value, actor_id=actor_id
        )

    def change_branch_setting(
        self, org_code: str, *, key: str, value: str, actor_id: int | None = None
    ) -> tuple[str, str]:
        """Changes a branch setting, audited; a new org-life time moves the days planned at the old."""
        org = self.orgs.by_code(org_code)
        before = self.orgs.row(org.id).orglife_time if org else None
        canonical, stored = set_org_setting(
            self.session, org_code=org_code, key=key, value=value, now=self.now, actor_id=actor_id
        )
        if canonical == "orglife.time" and org is not None and before and stored != before:
            self.retime_org_life(org.id, old=before, new=stored, actor_id=actor_id)
        return canonical, stored

    def import_members(
        self,
        table: Table,
        *,
        dry_run: bool,
        source: str = "",
        progress: Progress | None = None,
        actor_id: int | None = None,
    ) -> ImportReport:
        """Imports organizations, members and roles, all or none; a new org-life time moves the
        days planned at the old one."""
        return import_members(
            self.session,
            table,
            now=self.now,
            dry_run=dry_run,
            source=source,
            progress=progress,
            actor_id=actor_id,
            retime=self.retime_org_life,
        )

    def import_district(
        self,
        workbook: Workbook,
        *,
        dry_run: bool,
        source: str = "",
        progress: Progress | None = None,
        scope: frozenset[int] | None = None,
        actor_id: int | None = None,
    ) -> DistrictReport:
        """Imports a district workbook, all sheets or nothing; a new org-life time moves the days
        planned at the old one."""
        return import_district(
            self.session,
            workbook,
            now=self.now,
            dry_run=dry_run,
            source=source,
            progress=progress,
            scope=scope,
            actor_id=actor_id,
            retime=self.retime_org_life,
        )

    def retime_org_life(self, org_id: int, *, old: str, new: str, actor_id: int | None) -> None:
        """Moves the org-life days planned at the old time to the new one, audited; tells members."""
        try:
            old_time, new_time = parse_hhmm(old), parse_hhmm(new)
        except ValueError:
            # A time stored before times were checked matches no day.
            return
        if old_time == new_time:
            return
        for meeting in self.meetings.retime_org_life(
            org_id, old=old_time, new=new_time, now=self.now
        ):
            self.audit(
                actor_id=actor_id,
                action="meeting.reschedule",
                subject=f"meeting:{meeting.id}",
                at=new,
                before=old,
                setting="orglife.time",
            )
            changed = partial(notice_texts.meeting_changed, meeting=self.meetings.view(meeting))
            self._announce(meeting, actor_id, changed)

    def reset_org_reminder_setting(self, org_id: int, name: str, *, actor_id: int | None) -> bool:
        """Returns a reminder setting to its alliance's or everyone's value, audited."""
        return clear_org_reminder_setting(
            self.session, org_id=org_id, name=name, now=self.now, actor_id=actor_id
        )

    def compliance(self, member: MemberView, quarter: Quarter) -> ComplianceReport:
        """Checks the branch, its alliances and pairings against the rules (secretaries)."""
        self.require_lead(member)
        return self.org_compliance(member.org.id, quarter)

    def org_compliance(self, org_id: int, quarter: Quarter) -> ComplianceReport:
        """Checks an organization, its alliances and pairings against the rules."""
        return compliance_report(
            self.session,
            org_id=org_id,
            quarter=quarter,
            now=self.now,
            holidays=self.holidays,
            tz=self.tz,
        )

    def export_ledger(self, member: MemberView, quarter: Quarter, t: Translator) -> LedgerExport:
        """Makes the branch's quarterly ledger workbook, which files it (secretaries)."""
        self.require_lead(member)
        export = self.org_ledger(
            member.org.id, quarter, t, actor_id=member.id, filled_by=member.name
        )
        self.audit(
            actor_id=member.id,
            action="ledger.export",
            subject=f"org:{member.org.id}",
            quarter=str(quarter),
        )
        return export

    def org_ledger(
        self,
        org_id: int,
        quarter: Quarter,
        t: Translator,
        *,
        actor_id: int | None = None,
        filled_by: str = "",
    ) -> LedgerExport:
        """Makes an organization's quarterly ledger workbook, which files it."""
        return export_ledger(
            self.session,
            org_id=org_id,
            quarter=quarter,
            now=self.now,
            holidays=self.holidays,
            tz=self.tz,
            t=t,
            actor_id=actor_id,
            filled_by=filled_by,
            photos=self.photo_store,
        )

    def ledger_link(self, member: MemberView, quarter: Quarter, *, locale: str) -> str | None:
        """Makes a single-use link to the quarter's workbook; None without a public URL."""
        self.require_lead(member)
        if quarter > Quarter.of(self.today):
            raise ServiceError("quarter_ahead")
        return self._download_link(
            member,
            kind=LEDGER_DOWNLOAD,
            params={"org_id": member.org.id, "quarter": str(quarter), "locale": locale},
            action="ledger.link",
            period=str(quarter),
        )

    def summary_link(self, member: MemberView, year: int, *, locale: str) -> str | None:
        """Makes a single-use link to the year-end summary document; None without a public URL."""
        self.require_lead(member)
        if year > self.today.year:
            raise ServiceError("year_ahead")
        return self._download_link(
            member,
            kind=SUMMARY_DOWNLOAD,
            params={"org_id": member.org.id, "year": year, "locale": locale},
            action="summary.link",
            period=str(year),
        )

    def _download_link(
        self, member: MemberView, *, kind: str, params: dict[str, object], action: str, period: str
    ) -> str | None:
        """Stores a single-use link for the member and audits it; None without a public URL."""
        config = self.download_config
        if not config.public_base_url:
            return None
        token = create_link(
            self.session,
            member_id=member.id,
            kind=kind,
            params=params,
            now=self.now,
            ttl=config.ttl,
        )
        self.audit(actor_id=member.id, action=action, subject=f"org:{member.org.id}", period=period)
        return config.url(token)

    def year_summaries(self, member: MemberView, year: int) -> list[YearSummary]:
        """Drafts the year-end summary of each of the branch's alliances and pairings (secretaries)."""
        self.require_lead(member)
        return self.org_year_summaries(member.org.id, year)

    def org_year_summaries(self, org_id: int, year: int) -> list[YearSummary]:
        """Drafts the year-end summary of each of an organization's alliances and pairings."""
        return year_summaries(
            self.session,
            org_id=org_id,
            year=year,
            now=self.now,
            holidays=self.holidays,
            tz=self.tz,
        )

    def summary_document(self, member: MemberView, year: int, t: Translator) -> Document | None:
        """Writes the year-end summary of the branch's groups as .docx; None without groups."""
        self.require_lead(member)
        document = year_summary_document(
            self.session,
            org_id=member.org.id,
            year=year,
            now=self.now,
            holidays=self.holidays,
            tz=self.tz,
            t=t,
        )
        self.audit(
            actor_id=member.id,
            action="summary.export",
            subject=f"org:{member.org.id}",
            year=year,
        )
        return document

    # -- the console's ledger desk: any organization, the caller's scope checked before ------

    def ledger_view(self, org_id: int, quarter: Quarter, *, filled_by: str = "") -> LedgerData:
        """Reads an organization's quarter as its ledger lists it, photos included."""
        if quarter > Quarter.of(self.today):
            raise ServiceError("quarter_ahead")
        return ledger_data(
            self.session,
            org_id=org_id,
            quarter=quarter,
            now=self.now,
            holidays=self.holidays,
            tz=self.tz,
            filled_by=filled_by,
        )

    def ledger_workbook(
        self,
        org_id: int,
        quarter: Quarter,
        t: Translator,
        *,
        actor_id: int | None,
        filled_by: str = "",
    ) -> Document:
        """Makes an organization's quarterly ledger workbook to read (.xlsx); audited, files nothing."""
        data = self.ledger_view(org_id, quarter, filled_by=filled_by)
        self.audit(
            actor_id=actor_id,
            action="ledger.download",
            subject=f"org:{org_id}",
            quarter=str(quarter),
        )
        return Document(ledger_filename(t, data), build_workbook(t, data), XLSX_MIME)

    def org_summary_document(
        self, org_id: int, year: int, t: Translator, *, actor_id: int | None
    ) -> Document | None:
        """Writes an organization's year-end summary (.docx), audited; None without groups."""
        if year > self.today.year:
            raise ServiceError("year_ahead")
        document = year_summary_document(
            self.session,
            org_id=org_id,
            year=year,
            now=self.now,
            holidays=self.holidays,
            tz=self.tz,
            t=t,
        )
        self.audit(actor_id=actor_id, action="summary.export", subject=f"org:{org_id}", year=year)
        return document

    def file_ledger(self, org_id: int, quarter: Quarter, *, actor_id: int | None) -> bool:
        """Marks an organization's quarterly ledger as submitted, audited; False when it was."""
        return Reminders.of(self).file_ledger(org_id, quarter, by=actor_id)

    # -- minutes (会议记录) of any meeting ------------------------------------------------------

    def _own_meeting(self, member: MemberView, meeting_id: int) -> Meeting:
        """Returns a meeting of the member's organization, or refuses."""
        meeting = self.session.get(Meeting, meeting_id)
        if meeting is None or meeting.organization_id != member.org.id:
            raise ServiceError("meeting_unknown")
        return meeting

    def minutes_meetings(self, member: MemberView) -> list[MeetingView]:
        """Lists the branch's meetings of the last two months, to write minutes for (secretaries)."""
        self.require_lead(member)
        rows = meetings_for_minutes(self.session, org_id=member.org.id, today=self.today)
        return [self.meetings.view(row) for row in rows]

    def minutes_of(self, meeting_ids: list[int]) -> dict[int, MinutesView]:
        """Reads the minutes already written for some meetings."""
        return minutes_of(self.session, meeting_ids)

    def record_minutes(
        self,
        member: MemberView,
        *,
        meeting_id: int,
        topic: str,
        host: str,
        recorder: str,
        content: str,
        resolutions: str,
    ) -> MinutesView:
        """Stores (or replaces) a held meeting's minutes (secretaries)."""
        self.require_lead(member)
        self._own_meeting(member, meeting_id)
        saved = save_minutes(
            self.session,
            meeting_id=meeting_id,
            topic=topic,
            host=host,
            recorder=recorder,
            content=content,
            resolutions=resolutions,
            by=member.id,
            now=self.now,
            today=self.today,
        )
        self.audit(actor_id=member.id, action="minutes.record", subject=f"meeting:{meeting_id}")
        return saved

    def minutes_document(self, member: MemberView, meeting_id: int, t: Translator) -> Document:
        """Writes a meeting's minutes as .docx (secretaries)."""
        self.require_lead(member)
        self._own_meeting(member, meeting_id)
        return self.meeting_minutes_document(meeting_id, t)

    def meeting_minutes_document(self, meeting_id: int, t: Translator) -> Document:
        """Writes any meeting's minutes as .docx (the console checks the reader's scope)."""
        record = minutes_record(
            self.session, meeting_id=meeting_id, meetings=self.meetings, attendance=self.attendance
        )
        return minutes_document(t, record)

    def minutes_link(self, member: MemberView, meeting_id: int, *, locale: str) -> str | None:
        """Makes a single-use link to a meeting's minutes; None without a public URL."""
        self.require_lead(member)
        self._own_meeting(member, meeting_id)
        if meeting_id not in minutes_of(self.session, [meeting_id]):
            raise ServiceError("minutes_missing")
        return self._download_link(
            member,
            kind=MINUTES_DOWNLOAD,
            params={"meeting_id": meeting_id, "locale": locale},
            action="minutes.link",
            period=str(meeting_id),
        )


def _month_starts(first_day: date, last_day: date) -> list[date]:
    """Lists the first day of every month touching a span (the span's start for the first)."""
    days = [first_day]
    cursor = (first_day.replace(day=1) + timedelta(days=32)).replace(day=1)
    while cursor <= last_day:
        days.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return days


def _distinct(slots: object) -> list[DutySlot]:
    """Keeps the first slot of each period, in order."""
    seen: set[str] = set()
    result: list[DutySlot] = []
    for slot in slots:  # type: ignore[attr-defined]
        if slot.period not in seen:
            seen.add(slot.period)
            result.append(slot)
    return result
