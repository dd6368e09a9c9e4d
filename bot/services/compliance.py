"""Compliance: what the rules ask of a branch, its alliances and its pairings, against the records.

The facts are the reminder engine's (`bot.services.obligations.facts.load_facts`), read as of the end of the
asked quarter (or now, for the current one), so that `/status` and the nudges never disagree
about what is done. Each line is done, owed with the days left, or missed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import HolidayPolicy, org_life_day
from bot.calendar.quarters import Quarter, month_key
from bot.core.domain import Duty, MeetingStatus, OrgKind
from bot.core.i18n import N_, Translator
from bot.core.names import isolate
from bot.core.records import OrgView
from bot.services.errors import ServiceError
from bot.services.obligations.facts import (
    AllianceFact,
    DutyFact,
    Facts,
    PairingFact,
    Part,
    load_facts,
)
from bot.services.obligations.rules import visit_counts, visits_expected
from bot.services.organizations import org_view
from bot.services.stats import AttendanceReport, MeetingTally, StoredDay, attendance_and_org_life
from bot.services.structure import liaisons_missing
from bot.texts.reminders import period_label
from storage.models import Organization
from storage.reminders import FilingKind, alliance_scope, org_scope, pairing_scope

QUARTERS_A_YEAR = 4
# The annual plan is asked for in January (001 §5(1)); the reminder rule nudges all month.
PLAN_DUE_DAY = 31
END_OF_DAY = time(23, 59, 59)
# A line names at most this many late units; the rest are counted.
MAX_NAMED = 5


class State(StrEnum):
    """Where one requirement stands."""

    DONE = "done"
    OWED = "owed"
    MISSED = "missed"


class Requirement(StrEnum):
    """The requirements the seed documents set, one per kind of line."""

    ORG_LIFE = "org_life"
    LEDGER = "ledger"
    JOINT_MEETING = "joint_meeting"
    JOINT_MEETINGS_YEAR = "joint_meetings_year"
    THEME_DAY = "theme_day"
    UNIT_LEDGERS = "unit_ledgers"
    VISITS = "visits"
    JOINT_ACTIVITY = "joint_activity"
    JOINT_ACTIVITIES_YEAR = "joint_activities_year"
    ANNUAL_PLAN = "annual_plan"
    YEAR_SUMMARY = "year_summary"


class Subject(StrEnum):
    """What a section of the report is about."""

    ORG = "org"
    ALLIANCE = "alliance"
    PAIRING = "pairing"


@dataclass(frozen=True, slots=True)
class Line:
    """One requirement against the records: its state, deadline and the numbers behind it."""

    requirement: Requirement
    state: State
    period: str
    deadline: date
    days_left: int = 0
    org: str = ""
    done: int = 0
    target: int = 0
    expected: int = 0
    day: date | None = None
    present: int = 0
    leave: int = 0
    attendees: int = 0
    cancelled: bool = False
    days: tuple[date, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def rate(self) -> float:
        """The attendance rate of an org-life day, 0..1."""
        return self.present / self.attendees if self.attendees else 0.0


@dataclass(frozen=True, slots=True)
class Section:
    """The lines about one branch, alliance or pairing."""

    subject: Subject
    code: str
    name: str
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """What an organization and its groups owe for a quarter and its year, as of a day.

    `ledger_opens` is the first day of the quarter's ledger window (the reminder rule's).
    """

    org: OrgView
    quarter: Quarter
    today: date
    as_of: date
    sections: tuple[Section, ...]
    attendance: AttendanceReport
    ledger_opens: date
    # Codes of the organizations in the branch's pairings and alliances naming no liaison.
    missing_liaisons: tuple[str, ...] = ()

    @property
    def lines(self) -> list[Line]:
        """Every line, section after section."""
        return [line for section in self.sections for line in section.lines]

    def count(self, state: State) -> int:
        """Counts the lines in `state`."""
        return sum(1 for line in self.lines if line.state is state)


def judge(
    done: bool, deadline: date, today: date, *, counted_from: date | None = None
) -> tuple[State, int]:
    """Returns done, owed with the days left (from `counted_from`, else today), or missed."""
    if done:
        return State.DONE, 0
    if today > deadline:
        return State.MISSED, 0
    return State.OWED, (deadline - (counted_from or today)).days + 1


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """Returns the last second of a local day."""
    return datetime.combine(day, END_OF_DAY, tzinfo=tz)


def compliance_report(
    session: Session,
    *,
    org_id: int,
    quarter: Quarter,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
) -> ComplianceReport:
    """Checks an organization, its alliances and its pairings against the rules for a quarter."""
    now = now.astimezone(tz)
    today = now.date()
    if quarter > Quarter.of(today):
        raise ServiceError("quarter_ahead")
    org = session.get(Organization, org_id)
    if org is None:
        raise ServiceError("org_unknown")
    as_of = min(now, end_of_day(quarter.last_day, tz))
    # The lines read the groups, their records and filings, never the members.
    facts = load_facts(session, now=as_of, holidays=holidays, around=org_id, parts=Part.NONE)
    year_moment = min(now, end_of_day(date(quarter.year, 12, 31), tz))
    year_facts = (
        facts
        if year_moment == as_of
        else load_facts(session, now=year_moment, holidays=holidays, around=org_id, parts=Part.NONE)
    )
    attendance, stored = attendance_and_org_life(
        session, org_id=org_id, quarter=quarter, now=now, tz=tz
    )
    # A past quarter is reported as of its last day: its days left count from there, not today.
    check = Checker(facts, year_facts, quarter, today, as_of=as_of.date())
    view = org_view(org)
    tallies = {tally.meeting_id: tally for tally in attendance.meetings}
    window = facts.config(org_id=org_id).ledger_window_days
    return ComplianceReport(
        org=view,
        quarter=quarter,
        today=today,
        as_of=as_of.date(),
        sections=check.sections(view, tallies, stored),
        attendance=attendance,
        ledger_opens=quarter.last_day - timedelta(days=window - 1),
        missing_liaisons=tuple(liaisons_missing(session, sorted(check.partners(org_id)))),
    )


def _runs_during(pairing: PairingFact, first: date, last: date) -> bool:
    """Tells whether a pairing's agreement covers any day from `first` to `last`."""
    return pairing.agreement_start <= last and (
        pairing.agreement_end is None or pairing.agreement_end >= first
    )


def _org_life_lines(
    check: Checker,
    org: OrgView,
    tallies: Mapping[int, MeetingTally],
    stored: Mapping[str, StoredDay],
) -> Iterator[Line]:
    """One line per month of the quarter: the org-life day, held (with attendance) or not."""
    if org.kind is OrgKind.COMMITTEE:
        return
    rule = check.facts.orgs.get(org.id)
    for month, key in check.months:
        meeting = stored.get(key)
        if meeting is not None:
            tally = tallies.get(meeting.meeting_id)
            cancelled = meeting.status is MeetingStatus.CANCELLED
            held = tally is not None and tally.taken and not cancelled
            state, left = judge(held, meeting.held_on, check.today, counted_from=check.as_of)
            yield Line(
                Requirement.ORG_LIFE,
                state,
                key,
                meeting.held_on,
                left,
                day=meeting.held_on,
                present=tally.present if tally and held else 0,
                leave=tally.leave if tally and held else 0,
                attendees=tally.expected if tally and held else 0,
                cancelled=cancelled,
            )
            continue
        if rule is None:
            continue
        line = check.rule_line(
            month, key, rule.orglife_ordinal, rule.orglife_weekday, rule.holiday_policy
        )
        if line is not None:
            yield line


class Checker:
    """Builds lines from the quarter's facts and the year's facts, for any organization in them.

    A group's section is the same for each of its organizations: it is built once and shared.
    """

    def __init__(
        self,
        facts: Facts,
        year_facts: Facts,
        quarter: Quarter,
        today: date,
        *,
        as_of: date | None = None,
    ) -> None:
        self.facts = facts
        self.year_facts = year_facts
        self.quarter = quarter
        self.today = today
        self.as_of = as_of or today
        self.year = quarter.year
        self.year_end = date(self.year, 12, 31)
        # Asked for once per organization or group: worked out once.
        self.period, self.first_day, self.last_day = (
            str(quarter),
            quarter.first_day,
            quarter.last_day,
        )
        self.months = [(month, month_key(date(self.year, month, 1))) for month in quarter.months()]
        self.year_quarters = [
            (str(q), q.first_day, q.last_day)
            for q in (Quarter(self.year, number) for number in range(1, QUARTERS_A_YEAR + 1))
        ]
        self._rule_lines: dict[tuple[int, int, int, HolidayPolicy], Line | None] = {}
        self._alliances_of: dict[int, list[AllianceFact]] | None = None
        self._pairings_of: dict[int, list[PairingFact]] = {}
        self._alliance_sections: dict[int, Section] = {}
        self._pairing_sections: dict[int, Section] = {}

    def alliances_of(self, org_id: int) -> list[AllianceFact]:
        """Lists the alliances an organization is a unit of, in the facts' order."""
        if self._alliances_of is None:
            self._index()
        assert self._alliances_of is not None
        return self._alliances_of.get(org_id, [])

    def pairings_of(self, org_id: int) -> list[PairingFact]:
        """Lists the pairings an organization is in, in the facts' order."""
        if self._alliances_of is None:
            self._index()
        return self._pairings_of.get(org_id, [])

    def _index(self) -> None:
        """Maps each organization to its groups, once: a city has thousands of each."""
        alliances: dict[int, list[AllianceFact]] = defaultdict(list)
        for alliance in self.facts.alliances:
            for org_id in dict.fromkeys(unit.org_id for unit in alliance.units):
                alliances[org_id].append(alliance)
        pairings: dict[int, list[PairingFact]] = defaultdict(list)
        for pairing in self.facts.pairings:
            for org_id in dict.fromkeys(pairing.org_ids):
                pairings[org_id].append(pairing)
        self._alliances_of, self._pairings_of = dict(alliances), dict(pairings)

    def rule_line(
        self, month: int, key: str, ordinal: int, weekday: int, policy: HolidayPolicy
    ) -> Line | None:
        """The line of a month's org-life day as a rule sets it (none stored): one per rule."""
        rule = (month, ordinal, weekday, policy)
        if rule not in self._rule_lines:
            try:
                due: date | None = org_life_day(
                    self.year,
                    month,
                    holidays=self.facts.holidays,
                    ordinal=ordinal,
                    weekday=weekday,
                    policy=policy,
                ).date
            except ValueError:
                due = None
            found = None
            if due is not None:
                state, left = judge(False, due, self.today, counted_from=self.as_of)
                found = Line(Requirement.ORG_LIFE, state, key, due, left, day=due)
            self._rule_lines[rule] = found
        return self._rule_lines[rule]

    def partners(self, org_id: int) -> set[int]:
        """The organization and those of its alliances and pairings (each names a liaison)."""
        found = {org_id}
        for alliance in self.alliances_of(org_id):
            found.update(unit.org_id for unit in alliance.units)
        for pairing in self.pairings_of(org_id):
            found.update(pairing.org_ids)
        return found

    def sections(
        self, org: OrgView, tallies: Mapping[int, MeetingTally], stored: Mapping[str, StoredDay]
    ) -> tuple[Section, ...]:
        """The organization's own lines, then those of its alliances and running pairings."""
        sections = [
            Section(
                Subject.ORG,
                org.code,
                org.name,
                (*_org_life_lines(self, org, tallies, stored), *self.ledger(org.id)),
            )
        ]
        for alliance in self.alliances_of(org.id):
            section = self._alliance_sections.get(alliance.id)
            if section is None:
                section = Section(
                    Subject.ALLIANCE, alliance.code, alliance.name, self.alliance(alliance)
                )
                self._alliance_sections[alliance.id] = section
            sections.append(section)
        for pairing in self.pairings_of(org.id):
            if not _runs_during(pairing, self.first_day, self.last_day):
                continue
            section = self._pairing_sections.get(pairing.id)
            if section is None:
                section = Section(
                    Subject.PAIRING, pairing.code, pairing.name, self.pairing(pairing)
                )
                self._pairing_sections[pairing.id] = section
            sections.append(section)
        return tuple(sections)

    def line(
        self, requirement: Requirement, met: bool, period: str, deadline: date, **values: Any
    ) -> Line:
        """Judges one requirement and builds its line."""
        state, left = judge(met, deadline, self.today, counted_from=self.as_of)
        return Line(requirement, state, period, deadline, left, **values)

    def name(self, org_id: int) -> str:
        """Names an organization of the snapshot."""
        return self.facts.org_name(org_id)

    def filed(self, facts: Facts, kind: FilingKind, scope: str, period: str) -> bool:
        """Tells whether a report was filed (submitted or exported)."""
        return (kind, scope, period) in facts.filings

    def ledger(self, org_id: int) -> Iterator[Line]:
        """The organization's quarterly ledger feedback, when it is in an alliance or pairing."""
        facts = self.facts
        if not (self.alliances_of(org_id) or self.pairings_of(org_id)):
            return
        done = self.filed(facts, FilingKind.LEDGER, org_scope(org_id), self.period)
        yield self.line(Requirement.LEDGER, done, self.period, self.last_day)

    def quarters_held(
        self, held: frozenset[tuple[int, str]], group_id: int, first: date, last: date
    ) -> Line:
        """Counts the quarters of the year with a joint meeting or activity; names the missed ones."""
        quarters = [
            (key, ends)
            for key, starts, ends in self.year_quarters
            if ends >= first and starts <= last
        ]
        done = [key for key, _ in quarters if (group_id, key) in held]
        missed = tuple(key for key, ends in quarters if key not in done and ends < self.today)
        if missed:
            state, left = State.MISSED, 0
        else:
            state, left = judge(
                len(done) == len(quarters), self.year_end, self.today, counted_from=self.as_of
            )
        return Line(
            Requirement.JOINT_MEETINGS_YEAR,
            state,
            str(self.year),
            self.year_end,
            left,
            done=len(done),
            target=len(quarters),
            missing=missed,
        )

    def alliance(self, alliance: AllianceFact) -> tuple[Line, ...]:
        """Joint meeting, theme days on duty, the units' ledgers, the plan and the summary."""
        facts, year_facts, quarter = self.facts, self.year_facts, self.quarter
        lines: list[Line] = []
        convener = alliance.duty(Duty.CONVENER, quarter.first_day)
        lines.append(
            self.line(
                Requirement.JOINT_MEETING,
                (alliance.id, self.period) in facts.alliance_joint,
                self.period,
                self.last_day,
                org=self.name(convener.org_id) if convener else "",
            )
        )
        lines.append(
            self.quarters_held(
                year_facts.alliance_joint,
                alliance.id,
                max(alliance.rota_start, date(self.year, 1, 1)),
                self.year_end,
            )
        )
        day = quarter.first_day
        while day <= quarter.last_day:
            slot = alliance.duty(Duty.THEME_DAY, day)
            if slot is None:
                break
            lines.append(
                self.line(
                    Requirement.THEME_DAY,
                    (alliance.id, slot.period) in facts.alliance_theme,
                    slot.period,
                    slot.last_day,
                    org=self.name(slot.org_id),
                    day=slot.first_day,
                )
            )
            day = date.fromordinal(slot.last_day.toordinal() + 1)
        units = [unit.org_id for unit in alliance.units]
        filed = [
            unit
            for unit in units
            if self.filed(facts, FilingKind.LEDGER, org_scope(unit), self.period)
        ]
        lines.append(
            self.line(
                Requirement.UNIT_LEDGERS,
                len(filed) == len(units),
                str(quarter),
                quarter.last_day,
                done=len(filed),
                target=len(units),
                missing=tuple(self.name(unit) for unit in units if unit not in filed),
            )
        )
        scope = alliance_scope(alliance.id)
        lines.extend(
            self.yearly(
                scope,
                alliance.rota_start,
                planner=_holder(alliance.duty(Duty.EXECUTIVE, date(self.year, 1, 1))),
                summarizer=_holder(alliance.duty(Duty.EXECUTIVE, year_facts.today)),
            )
        )
        return tuple(lines)

    def yearly(
        self, scope: str, started: date, *, planner: int | None, summarizer: int | None
    ) -> Iterator[Line]:
        """The annual work plan (when the group existed in January) and the year-end summary."""
        plan_due = date(self.year, 1, PLAN_DUE_DAY)
        year = str(self.year)
        if started <= plan_due:
            yield self.line(
                Requirement.ANNUAL_PLAN,
                self.filed(self.year_facts, FilingKind.ANNUAL_PLAN, scope, year),
                year,
                plan_due,
                org=self.name(planner) if planner is not None else "",
            )
        yield self.line(
            Requirement.YEAR_SUMMARY,
            self.filed(self.year_facts, FilingKind.YEAR_SUMMARY, scope, year),
            year,
            self.year_end,
            org=self.name(summarizer) if summarizer is not None else "",
        )

    def pairing(self, pairing: PairingFact) -> tuple[Line, ...]:
        """Visits against the yearly target, the quarter's joint activity, the plan and the summary."""
        facts, year_facts, quarter = self.facts, self.year_facts, self.quarter
        config = year_facts.config(org_id=pairing.lead_org_id)
        target = pairing.visit_target or config.visit_target
        deadline = min(self.year_end, pairing.agreement_end or self.year_end)
        expected = visits_expected(pairing, target, year_facts.today)
        lines = []
        for partner, _ in visit_counts(year_facts, pairing):
            visits = tuple(
                sorted(
                    year_facts.pairing_visits.get(pairing.id, ())
                    if partner is None
                    else year_facts.partner_visits.get(pairing.id, {}).get(partner, ())
                )
            )
            lines.append(
                self.line(
                    Requirement.VISITS,
                    len(visits) >= target,
                    str(self.year),
                    deadline,
                    done=len(visits),
                    target=target,
                    expected=expected,
                    days=visits,
                    org="" if partner is None else self.name(partner),
                )
            )
        lines += [
            self.line(
                Requirement.JOINT_ACTIVITY,
                (pairing.id, self.period) in facts.pairing_joint,
                self.period,
                self.last_day,
                org=self.name(pairing_host(pairing, quarter)),
            ),
        ]
        yearly = self.quarters_held(
            year_facts.pairing_joint,
            pairing.id,
            max(pairing.agreement_start, date(self.year, 1, 1)),
            deadline,
        )
        lines.append(_replace_requirement(yearly, Requirement.JOINT_ACTIVITIES_YEAR))
        lines.extend(
            self.yearly(
                pairing_scope(pairing.id),
                pairing.agreement_start,
                planner=pairing.lead_org_id,
                summarizer=pairing.lead_org_id,
            )
        )
        return tuple(lines)


def _holder(slot: DutyFact | None) -> int | None:
    """Returns the organization holding a duty slot, if any."""
    return slot.org_id if slot is not None else None


def _replace_requirement(line: Line, requirement: Requirement) -> Line:
    """Returns the line under another requirement."""
    return Line(
        requirement,
        line.state,
        line.period,
        line.deadline,
        line.days_left,
        done=line.done,
        target=line.target,
        missing=line.missing,
    )


def pairing_host(pairing: PairingFact, quarter: Quarter) -> int:
    """Returns the organization hosting a quarter's joint activity: lead first, then in turn."""
    start = Quarter.of(pairing.agreement_start)
    index = (quarter.year - start.year) * 4 + (quarter.number - start.number)
    return pairing.org_ids[index % len(pairing.org_ids)]


# -- wording ---------------------------------------------------------------------------------

SUBJECTS: dict[Subject, str] = {
    Subject.ORG: N_("Organization: {name}"),
    Subject.ALLIANCE: N_("Alliance: {name}"),
    Subject.PAIRING: N_("Pairing: {name}"),
}
MARKS: dict[State, str] = {State.DONE: "✓", State.OWED: "○", State.MISSED: "✗"}


def state_text(t: Translator, line: Line) -> str:
    """Says "done", "owed, N days left" or "missed"."""
    if line.state is State.DONE:
        return t("done")
    if line.state is State.MISSED:
        return t("missed")
    return t.plural("owed, {n} day left", "owed, {n} days left", line.days_left)


def requirement_text(t: Translator, line: Line) -> str:
    """Names what a line requires, with who holds it."""
    period = period_label(t, line.period)
    requirement = line.requirement
    if requirement is Requirement.ORG_LIFE:
        assert line.day is not None
        return t("Organization-life day on {date}", date=t.date(line.day, "medium"))
    if requirement is Requirement.LEDGER:
        return t("Ledger feedback for {quarter}", quarter=period)
    if requirement is Requirement.JOINT_MEETING:
        return t("Joint meeting in {quarter} (convener: {org})", quarter=period, org=line.org)
    if requirement is Requirement.JOINT_MEETINGS_YEAR:
        return t(
            "Joint meetings in {year}, {done} of {target} quarters",
            year=period,
            done=line.done,
            target=line.target,
        )
    if requirement is Requirement.THEME_DAY:
        return t("Theme party day of {period} (on duty: {org})", period=period, org=line.org)
    if requirement is Requirement.UNIT_LEDGERS:
        return t(
            "Ledger feedback of the units for {quarter}, {done} of {target}",
            quarter=period,
            done=line.done,
            target=line.target,
        )
    if requirement is Requirement.VISITS and line.org:
        return t(
            "Visits with {org} in {year}, {done} of {target}",
            org=line.org,
            year=period,
            done=line.done,
            target=line.target,
        )
    if requirement is Requirement.VISITS:
        return t(
            "Visits in {year}, {done} of {target}",
            year=period,
            done=line.done,
            target=line.target,
        )
    if requirement is Requirement.JOINT_ACTIVITY:
        return t("Joint activity in {quarter} (host: {org})", quarter=period, org=line.org)
    if requirement is Requirement.JOINT_ACTIVITIES_YEAR:
        return t(
            "Joint activities in {year}, {done} of {target} quarters",
            year=period,
            done=line.done,
            target=line.target,
        )
    if requirement is Requirement.ANNUAL_PLAN:
        return t("Annual work plan for {year} ({org})", year=period, org=line.org)
    return t("Year-end summary for {year} ({org})", year=period, org=line.org)


def detail_text(t: Translator, line: Line) -> str:
    """Adds what a reader needs beyond the state: attendance, who is late, being behind."""
    if line.requirement is Requirement.ORG_LIFE:
        if line.cancelled:
            return t("cancelled")
        if line.state is State.DONE:
            return t(
                "signed in {present} of {expected} ({rate}%), on leave {leave}",
                present=line.present,
                expected=line.attendees,
                rate=round(line.rate * 100),
                leave=line.leave,
            )
        return ""
    if line.requirement is Requirement.UNIT_LEDGERS and line.missing:
        names = [isolate(name) for name in line.missing[:MAX_NAMED]]
        if len(line.missing) > MAX_NAMED:
            names.append(t("{count} more", count=len(line.missing) - MAX_NAMED))
        return t("waiting for {names}", names=t.join(names))
    if line.missing:
        quarters = [period_label(t, key) for key in line.missing]
        return t("none in {quarters}", quarters=t.join(quarters))
    if line.requirement is Requirement.VISITS and line.state is State.OWED:
        if line.done < line.expected:
            return t("behind: {expected} expected by now", expected=line.expected)
        return t("on track")
    return ""


def describe_line(t: Translator, line: Line) -> str:
    """Writes one line: mark, requirement, state and details."""
    text = t("{label}: {text}", label=requirement_text(t, line), text=state_text(t, line))
    detail = detail_text(t, line)
    if detail:
        text = t("{text}; {more}", text=text, more=detail)
    return f"{MARKS[line.state]} {text}"


def subject_text(t: Translator, section: Section) -> str:
    """Names a section of the report."""
    return t(SUBJECTS[section.subject], name=section.name)


def describe_report(t: Translator, report: ComplianceReport) -> str:
    """Writes the whole report: a heading, then each section with its lines."""
    lines = [
        t(
            "Compliance of {org} for {quarter}, as of {date}:",
            org=report.org.name,
            quarter=period_label(t, str(report.quarter)),
            date=t.date(report.as_of, "long"),
        ),
        t(
            "{done} done, {owed} owed, {missed} missed.",
            done=report.count(State.DONE),
            owed=report.count(State.OWED),
            missed=report.count(State.MISSED),
        ),
    ]
    for section in report.sections:
        if not section.lines:
            continue
        lines.extend(["", subject_text(t, section)])
        lines.extend(describe_line(t, line) for line in section.lines)
    if report.missing_liaisons:
        lines.extend(
            [
                "",
                t(
                    "No liaison officer named (联络员) for: {orgs}. Each side names one;"
                    " ask the committee to add them.",
                    orgs=", ".join(report.missing_liaisons),
                ),
            ]
        )
    return "\n".join(lines)
