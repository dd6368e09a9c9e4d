"""The year-end summary draft (年底有总结) of each alliance and pairing, written from the year's records."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.domain import Duty, MeetingKind, MeetingStatus, UnitKind
from bot.core.i18n import N_, Translator
from bot.services.compliance import Subject, end_of_day
from bot.services.errors import ServiceError
from bot.services.ledger_book import AS_ACTIVITY, LedgerActivity, activities_of_group
from bot.services.obligations.facts import (
    AllianceFact,
    Facts,
    PairingFact,
    home_of,
    load_facts,
    scope_of,
)
from bot.services.stats import AttendanceReport, attendance_reports
from bot.texts.phrases import ACTIVITY_KINDS, MEETING_KINDS
from bot.texts.reminders import period_label
from storage.models import Meeting, Organization
from storage.reminders import Filing, FilingKind, alliance_scope, org_scope, pairing_scope

# A draft lists the main activities; the rest are counted, not listed.
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class OrgLifeRecord:
    """One organization's year of org-life days: how many took attendance, and its rate."""

    org: str
    held: int
    months: int
    present: int
    expected: int

    @property
    def rate(self) -> float:
        """The share of expected attendances that happened, 0..1."""
        return self.present / self.expected if self.expected else 0.0


@dataclass(frozen=True, slots=True)
class JointMeeting:
    """A meeting the group held together: a joint meeting, theme party day or visit."""

    held_on: date
    kind: MeetingKind
    host: str
    title: str


@dataclass(frozen=True, slots=True)
class UnitDuty:
    """How one alliance unit did its part in the year (001: 年末听取各成员单位的履职情况汇报)."""

    org: str
    kind: UnitKind
    executive: bool
    org_life: OrgLifeRecord | None
    hosted: int
    reported: int
    theme_held: int
    theme_duty: int
    ledgers_filed: int
    ledgers_due: int


@dataclass(frozen=True, slots=True)
class YearSummary:
    """What one alliance or pairing did in a year, as far as the records go."""

    subject: Subject
    code: str
    name: str
    year: int
    as_of: date
    orgs: tuple[str, ...]
    lead: str
    quarters_held: tuple[str, ...]
    quarters_due: tuple[str, ...]
    theme_held: tuple[tuple[str, str], ...]
    theme_missed: tuple[tuple[str, str], ...]
    visits: tuple[date, ...]
    visit_target: int
    meetings: tuple[JointMeeting, ...]
    activities: tuple[LedgerActivity, ...]
    org_life: tuple[OrgLifeRecord, ...]
    summary_filed: bool
    units: tuple[UnitDuty, ...] = ()

    @property
    def quarters_missed(self) -> tuple[str, ...]:
        """The finished quarters without a joint meeting (alliance) or activity (pairing)."""
        return tuple(
            key
            for key in self.quarters_due
            if key not in self.quarters_held and Quarter.parse(key).last_day < self.as_of
        )


def year_summaries(
    session: Session,
    *,
    org_id: int,
    year: int,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
) -> list[YearSummary]:
    """Gathers the year's records of every alliance and pairing the organization belongs to."""
    now = now.astimezone(tz)
    if year > now.year:
        raise ServiceError("year_ahead")
    if session.get(Organization, org_id) is None:
        raise ServiceError("org_unknown")
    moment = min(now, end_of_day(date(year, 12, 31), tz))
    facts = load_facts(session, now=moment, holidays=holidays, org_ids=scope_of(session, org_id))
    as_of = moment.date()
    groups: list[AllianceFact | PairingFact] = [
        alliance
        for alliance in facts.alliances
        if any(unit.org_id == org_id for unit in alliance.units) and alliance.rota_start <= as_of
    ]
    groups += [
        pairing
        for pairing in facts.pairings
        if org_id in pairing.org_ids
        and pairing.agreement_start <= as_of
        and (pairing.agreement_end is None or pairing.agreement_end >= date(year, 1, 1))
    ]
    member_orgs = {org for group in groups for org in _org_ids(group)}
    org_life = attendance_reports(
        session,
        org_ids=member_orgs,
        first_day=date(year, 1, 1),
        last_day=as_of,
        now=moment,
        tz=tz,
    )
    meetings = _joint_meetings(session, facts, year, as_of)
    summaries = []
    for group in groups:
        records = tuple(
            _org_life_record(org_life[org].org.name, org_life[org], as_of)
            for org in _org_ids(group)
            if org in org_life
        )
        summaries.append(
            _summarize(
                session,
                facts,
                group=group,
                year=year,
                as_of=as_of,
                meetings=meetings,
                org_life=records,
            )
        )
    return summaries


def _org_ids(group: AllianceFact | PairingFact) -> tuple[int, ...]:
    """Lists a group's organizations in rotation order (alliance) or lead first (pairing)."""
    if isinstance(group, AllianceFact):
        return tuple(unit.org_id for unit in group.units)
    return group.org_ids


def _org_life_record(name: str, report: AttendanceReport, as_of: date) -> OrgLifeRecord:
    """Counts one organization's org-life days with attendance in the year so far."""
    days = [m for m in report.taken if m.kind is MeetingKind.ORG_LIFE]
    return OrgLifeRecord(
        org=name,
        held=len(days),
        months=as_of.month,
        present=sum(m.present for m in days),
        expected=sum(m.expected for m in days),
    )


def _joint_meetings(
    session: Session, facts: Facts, year: int, as_of: date
) -> dict[tuple[str, int], list[JointMeeting]]:
    """Reads the year's meetings held by each alliance and pairing, keyed by (kind, id)."""
    alliance_ids = [a.id for a in facts.alliances]
    pairing_ids = [p.id for p in facts.pairings]
    found: dict[tuple[str, int], list[JointMeeting]] = {}
    for meeting in session.exec(
        select(Meeting)
        .where(
            Meeting.held_on >= date(year, 1, 1),
            Meeting.held_on <= as_of,
            Meeting.status != MeetingStatus.CANCELLED,
            col(Meeting.alliance_id).in_(alliance_ids) | col(Meeting.pairing_id).in_(pairing_ids),
        )
        .order_by(col(Meeting.held_on), col(Meeting.id))
    ):
        entry = JointMeeting(
            meeting.held_on, meeting.kind, facts.org_name(meeting.organization_id), meeting.title
        )
        # A meeting naming both groups is listed where it belongs, once.
        alliance_id, pairing_id = home_of(
            meeting.kind, alliance_id=meeting.alliance_id, pairing_id=meeting.pairing_id
        )
        if alliance_id is not None:
            found.setdefault(("alliance", alliance_id), []).append(entry)
        if pairing_id is not None:
            found.setdefault(("pairing", pairing_id), []).append(entry)
    return found


def _summarize(
    session: Session,
    facts: Facts,
    *,
    group: AllianceFact | PairingFact,
    year: int,
    as_of: date,
    meetings: dict[tuple[str, int], list[JointMeeting]],
    org_life: tuple[OrgLifeRecord, ...],
) -> YearSummary:
    """Builds the summary of one group from the facts already read."""
    first = date(year, 1, 1)
    if isinstance(group, AllianceFact):
        start = max(first, group.rota_start)
        held = facts.alliance_joint
        executive = group.duty(Duty.EXECUTIVE, as_of)
        lead = facts.org_name(executive.org_id) if executive else ""
        theme_held, theme_missed = _theme_days(facts, group, start, as_of)
        visits: tuple[date, ...] = ()
        target = 0
        scope = alliance_scope(group.id)
        joint = meetings.get(("alliance", group.id), [])
        activities = activities_of_group(
            session, alliance_id=group.id, first_day=first, last_day=as_of
        )
        subject = Subject.ALLIANCE
    else:
        start = max(first, group.agreement_start)
        held = facts.pairing_joint
        lead = facts.org_name(group.lead_org_id)
        theme_held, theme_missed = (), ()
        visits = tuple(sorted(facts.pairing_visits.get(group.id, ())))
        target = group.visit_target or facts.config(org_id=group.lead_org_id).visit_target
        scope = pairing_scope(group.id)
        joint = meetings.get(("pairing", group.id), [])
        activities = activities_of_group(
            session, pairing_id=group.id, first_day=first, last_day=as_of
        )
        subject = Subject.PAIRING
    due = tuple(
        str(Quarter(year, number))
        for number in range(1, 5)
        if Quarter(year, number).last_day >= start and Quarter(year, number).first_day <= as_of
    )
    units: tuple[UnitDuty, ...] = ()
    if isinstance(group, AllianceFact):
        units = _unit_duties(
            facts,
            group,
            filed=_ledgers_filed(session, group, due),
            lead=lead,
            due=due,
            org_life=org_life,
            joint=joint,
            activities=activities,
            theme=(theme_held, theme_missed),
        )
    return YearSummary(
        subject=subject,
        code=group.code,
        name=group.name,
        year=year,
        as_of=as_of,
        orgs=tuple(facts.org_name(org) for org in _org_ids(group)),
        lead=lead,
        quarters_held=tuple(key for key in due if (group.id, key) in held),
        quarters_due=due,
        theme_held=theme_held,
        theme_missed=theme_missed,
        visits=visits,
        visit_target=target,
        meetings=tuple(joint),
        activities=activities,
        org_life=org_life,
        summary_filed=(FilingKind.YEAR_SUMMARY, scope, str(year)) in facts.filings,
        units=units,
    )


def _ledgers_filed(
    session: Session, alliance: AllianceFact, quarters: tuple[str, ...]
) -> set[tuple[str, str]]:
    """Reads which units filed their ledger for which of the quarters, as (scope, quarter)."""
    scopes = [org_scope(unit.org_id) for unit in alliance.units]
    rows = session.exec(
        select(Filing.scope, Filing.period).where(
            Filing.kind == FilingKind.LEDGER,
            col(Filing.scope).in_(scopes),
            col(Filing.period).in_(quarters),
        )
    )
    return {(scope, period) for scope, period in rows}


def _unit_duties(
    facts: Facts,
    alliance: AllianceFact,
    *,
    lead: str,
    due: tuple[str, ...],
    org_life: tuple[OrgLifeRecord, ...],
    joint: list[JointMeeting],
    activities: tuple[LedgerActivity, ...],
    theme: tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]],
    filed: set[tuple[str, str]],
) -> tuple[UnitDuty, ...]:
    """Sums up each unit's year: org life, meetings hosted, entries, theme days, ledgers filed."""
    records = {record.org: record for record in org_life}
    held, missed = theme
    duties = []
    for unit in alliance.units:
        name = facts.org_name(unit.org_id)
        ledgers = sum(1 for key in due if (org_scope(unit.org_id), key) in filed)
        duties.append(
            UnitDuty(
                org=name,
                kind=unit.kind,
                executive=name == lead,
                org_life=records.get(name),
                hosted=sum(1 for meeting in joint if meeting.host == name),
                reported=sum(1 for entry in activities if entry.org == name),
                theme_held=sum(1 for _, org in held if org == name),
                theme_duty=sum(1 for _, org in (*held, *missed) if org == name),
                ledgers_filed=ledgers,
                ledgers_due=len(due),
            )
        )
    return tuple(duties)


def _theme_days(
    facts: Facts, alliance: AllianceFact, start: date, as_of: date
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Splits the year's finished or started theme-day slots into held and not recorded."""
    held: list[tuple[str, str]] = []
    missed: list[tuple[str, str]] = []
    day = start
    while day <= as_of:
        slot = alliance.duty(Duty.THEME_DAY, day)
        if slot is None:
            break
        entry = (slot.period, facts.org_name(slot.org_id))
        if (alliance.id, slot.period) in facts.alliance_theme:
            held.append(entry)
        elif slot.last_day < as_of:
            missed.append(entry)
        day = date.fromordinal(slot.last_day.toordinal() + 1)
    return tuple(held), tuple(missed)


# -- wording ---------------------------------------------------------------------------------


def render_summary(t: Translator, summary: YearSummary) -> str:
    """Writes the draft: the joint work, main activities, organization life, shortfalls, plans."""
    lines = [
        t("{name}: year-end summary for {year} (draft)", name=summary.name, year=summary.year),
        t(
            "Organizations: {orgs}. Lead: {lead}.",
            orgs=t.join(list(summary.orgs)),
            lead=summary.lead,
        ),
        t("Written from the records up to {date}.", date=t.date(summary.as_of, "long")),
        "",
        t("1. Joint work"),
    ]
    lines += [f"• {line}" for line in joint_work(t, summary)]
    lines += ["", t("2. Main activities")]
    lines += [f"• {line}" for line in main_activities(t, summary)]
    lines += ["", t("3. Organization life")]
    lines += [f"• {line}" for line in org_life_lines(t, summary)]
    lines += ["", t("4. Shortfalls")]
    lines += [f"• {line}" for line in shortfalls(t, summary)]
    lines += ["", t("5. Plans for next year")]
    lines += [f"• {line}" for line in plans(t, summary)]
    if summary.units:
        lines += ["", t("Appendix: how each unit did its part")]
        lines += [f"• {unit_duty_text(t, unit)}" for unit in summary.units]
    if summary.summary_filed:
        lines += ["", t("The year-end summary is already marked submitted.")]
    return "\n".join(lines)


def org_life_lines(t: Translator, summary: YearSummary) -> list[str]:
    """Says, per organization, how many org-life days took attendance and at what rate."""
    return [
        t(
            "{org}: organization-life days with attendance taken in {held} of {months}"
            " months, attendance {rate}%.",
            org=record.org,
            held=record.held,
            months=record.months,
            rate=round(record.rate * 100),
        )
        for record in summary.org_life
    ]


def plans(t: Translator, summary: YearSummary) -> list[str]:
    """Proposes next year's plans from the rules, the shortfalls first, for the lead to edit."""
    lines = []
    if summary.subject is Subject.ALLIANCE:
        if summary.quarters_missed:
            lines.append(t("Hold the joint meeting every quarter without a gap."))
        if summary.theme_missed:
            lines.append(t("Every unit on duty holds its theme party day and takes attendance."))
        lines.append(
            t(
                "Set next year's work plan at the first joint meeting, with 1 to 2 major projects"
                " led together."
            )
        )
    else:
        if len(summary.visits) < summary.visit_target or summary.quarters_missed:
            lines.append(
                t(
                    "Plan the {target} visits and one joint activity a quarter at the start of"
                    " the year.",
                    target=summary.visit_target,
                )
            )
        lines.append(t("Renew the co-construction agreement's goals and content for next year."))
    lines.append(t("Keep the ledger, photos and minutes, and report them every quarter."))
    lines.append(t("(To be completed by the lead organization.)"))
    return lines


UNIT_KINDS: dict[UnitKind, str] = {
    UnitKind.PRESIDENT: N_("President unit"),
    UnitKind.MEMBER: N_("Member unit"),
}


def unit_kind_text(t: Translator, unit: UnitDuty) -> str:
    """Names a unit's place: executive president unit, president unit or member unit."""
    if unit.executive:
        return t("Executive president unit")
    return t(UNIT_KINDS[unit.kind])


def unit_duty_text(t: Translator, unit: UnitDuty) -> str:
    """Writes one unit's year in a sentence (the chat draft's appendix)."""
    record = unit.org_life
    return t(
        "{org} ({kind}): organization life {held} of {months} months at {rate}%; hosted {hosted}"
        " joint meetings; reported {reported} ledger entries; theme party days on duty {theme};"
        " ledgers filed for {filed} of {due} quarters.",
        org=unit.org,
        kind=unit_kind_text(t, unit),
        held=record.held if record else 0,
        months=record.months if record else 0,
        rate=round(record.rate * 100) if record else 0,
        hosted=unit.hosted,
        reported=unit.reported,
        theme=f"{unit.theme_held}/{unit.theme_duty}",
        filed=unit.ledgers_filed,
        due=unit.ledgers_due,
    )


def joint_work(t: Translator, summary: YearSummary) -> list[str]:
    """Sums up meetings, theme days, visits and ledger entries."""
    held = [period_label(t, key) for key in summary.quarters_held]
    lines = []
    if summary.subject is Subject.ALLIANCE:
        lines.append(
            t(
                "Joint meetings held in {held} of {due} quarters: {quarters}.",
                held=len(summary.quarters_held),
                due=len(summary.quarters_due),
                quarters=t.join(held) or "—",
            )
        )
        themes, missed = len(summary.theme_held), len(summary.theme_missed)
        lines.append(
            t(
                "Theme party days on duty: {held} held, {missed} not recorded.",
                held=themes,
                missed=missed,
            )
            if missed
            else t("Theme party days on duty: {held} held, all recorded.", held=themes)
        )
    else:
        lines.append(
            t(
                "Visits (走亲串门): {done} of the {target} a year: {dates}.",
                done=len(summary.visits),
                target=summary.visit_target,
                dates=t.join([t.date(day, "medium") for day in summary.visits]) or "—",
            )
        )
        lines.append(
            t(
                "A joint activity in {held} of {due} quarters: {quarters}.",
                held=len(summary.quarters_held),
                due=len(summary.quarters_due),
                quarters=t.join(held) or "—",
            )
        )
    kinds = Counter(entry.kind for entry in summary.activities)
    breakdown = t.join([f"{t(ACTIVITY_KINDS[kind])} × {n}" for kind, n in kinds.most_common()])
    lines.append(
        t(
            "Ledger entries: {count}, with {participants} participants in all{breakdown}.",
            count=len(summary.activities),
            participants=sum(entry.participants for entry in summary.activities),
            breakdown=t(" ({text})", text=breakdown) if breakdown else "",
        )
    )
    return lines


def _titled(t: Translator, text: str, title: str) -> str:
    """Adds a meeting's title after its description, when it has one."""
    return t("{label}: {text}", label=text, text=title) if title else text


def _without_label(title: str, label: str) -> str:
    """Drops a kind's name from the start of a title, so it is not said twice."""
    if title.startswith(label):
        rest = title[len(label) :].lstrip(":：，, ")
        if rest:
            return rest
    return title


def main_activities(t: Translator, summary: YearSummary) -> list[str]:
    """Lists the meetings held together and the ledger entries, by date."""
    # A meeting that also has its ledger entry is listed once, as the entry.
    entered = {(entry.held_on, entry.kind) for entry in summary.activities}
    items: list[tuple[date, str]] = [
        (
            meeting.held_on,
            _titled(
                t,
                t(
                    "{date} {kind}, hosted by {host}",
                    date=t.date(meeting.held_on, "medium"),
                    kind=t(MEETING_KINDS[meeting.kind]),
                    host=meeting.host,
                ),
                meeting.title,
            ),
        )
        for meeting in summary.meetings
        if (meeting.held_on, AS_ACTIVITY.get(meeting.kind)) not in entered
    ]
    items += [
        (
            entry.held_on,
            t(
                "{date} {kind}: {title} ({org}, {participants} participants)",
                date=t.date(entry.held_on, "medium"),
                kind=t(ACTIVITY_KINDS[entry.kind]),
                title=_without_label(entry.title, t(ACTIVITY_KINDS[entry.kind])),
                org=entry.org,
                participants=entry.participants,
            ),
        )
        for entry in summary.activities
    ]
    items.sort(key=lambda item: item[0])
    if not items:
        return [t("No joint meetings or ledger entries are recorded yet.")]
    listed = [text for _, text in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        listed.append(t("… and {count} more.", count=len(items) - MAX_LISTED))
    return listed


def shortfalls(t: Translator, summary: YearSummary) -> list[str]:
    """Lists what the rules asked for and the records do not show (or says there is nothing)."""
    return _shortfalls(t, summary) or [t("None in the records.")]


def _shortfalls(t: Translator, summary: YearSummary) -> list[str]:
    """Lists what the rules asked for and the records do not show."""
    lines = []
    missed = [period_label(t, key) for key in summary.quarters_missed]
    if missed and summary.subject is Subject.ALLIANCE:
        lines.append(t("No joint meeting in {quarters}.", quarters=t.join(missed)))
    elif missed:
        lines.append(t("No joint activity in {quarters}.", quarters=t.join(missed)))
    for period, org in summary.theme_missed:
        lines.append(
            t(
                "No theme party day recorded for {period} (on duty: {org}).",
                period=period_label(t, period),
                org=org,
            )
        )
    if summary.subject is Subject.PAIRING and len(summary.visits) < summary.visit_target:
        lines.append(
            t(
                "Visits short of the target: {done} of {target}.",
                done=len(summary.visits),
                target=summary.visit_target,
            )
        )
    return lines
