"""Command line for secretaries and committee staff: attendance, compliance, the ledger, the summary.

Mount with `bot.cli.secretary.register(app)`: adds `gongjian attendance`, `gongjian status`,
`gongjian export ledger` and `gongjian summary`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.cli.support import (
    emit_json,
    fail,
    friendly,
    render_table,
)
from bot.config import Settings, load_settings
from bot.core.clock import SystemClock
from bot.core.domain import AttendanceStatus
from bot.core.i18n import N_, SUPPORTED_LOCALES, Translator, match_locale
from bot.services.compliance import (
    ComplianceReport,
    Line,
    Subject,
    compliance_report,
    describe_report,
)
from bot.services.errors import ServiceError
from bot.services.ledger_book import export_ledger
from bot.services.stats import AttendanceReport, MemberTally, attendance_report, parse_quarter
from bot.services.summary import render_summary, year_summaries
from bot.texts.phrases import MEETING_KINDS
from bot.texts.reminders import period_label
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import Alliance, AllianceUnit, Member, Organization, Pairing

FIRST_YEAR = 2000

export_app = typer.Typer(no_args_is_help=True, help="Reports as files: the quarterly ledger.")

OrgOption = Annotated[str, typer.Option("--org", help="The organization's code.")]
GroupOption = Annotated[
    str,
    typer.Option("--org", help="The code of an organization, or of an alliance or pairing."),
]
QuarterOption = Annotated[
    str | None, typer.Option("--quarter", help="The quarter, e.g. 2026Q4 (default: this one).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
LangOption = Annotated[
    str | None, typer.Option("--lang", help="Language of the output: zh_CN or en.")
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Pretend it is this ISO date and time (e.g. 2026-11-03T09:30)."),
]
STATUS_WORDS: dict[AttendanceStatus, str] = {
    AttendanceStatus.PRESENT: N_("present"),
    AttendanceStatus.LEAVE: N_("on leave"),
    AttendanceStatus.ABSENT: N_("absent"),
}


def register(app: typer.Typer) -> None:
    """Mounts the secretary commands on the `gongjian` app."""
    app.command("attendance")(attendance_command)
    app.command("status")(status_command)
    app.command("summary")(summary_command)
    app.add_typer(export_app, name="export")


# -- plumbing ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """What every command needs: settings, translator, the moment, the holiday calendar."""

    settings: Settings
    t: Translator
    now: datetime
    holidays: HolidayCalendar

    @property
    def today(self) -> date:
        """The local date of the run."""
        return self.now.date()


def start(lang: str | None, now: str | None) -> Run:
    """Loads the settings and reads `--lang` and `--now`, failing with one line on a bad one."""
    settings = load_settings()
    if lang is None:
        t = translator(settings.default_locale)
    else:
        locale = lang if lang in SUPPORTED_LOCALES else match_locale(lang)
        if locale is None:
            fail(
                f"--lang: unsupported language {lang!r}; choose one of {', '.join(SUPPORTED_LOCALES)}"
            )
        t = translator(locale)
    if now is None:
        moment = SystemClock(settings.tz).now()
    else:
        try:
            moment = datetime.fromisoformat(now.strip())
        except ValueError:
            fail(f"--now: not an ISO date and time: {now!r} (e.g. 2026-11-03T09:30)")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=settings.tz)
    return Run(
        settings, t, moment.astimezone(settings.tz), HolidayCalendar.load(settings.holidays_file)
    )


@contextmanager
def unit_of_work(run: Run) -> Iterator[Session]:
    """Opens the database (upgrading its schema) for one transaction, then closes it."""
    database = Database.connect(run.settings.database_url)
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


def find_org(session: Session, t: Translator, code: str) -> Organization:
    """Returns the organization with `code`, or fails naming it."""
    org = session.exec(
        select(Organization).where(col(Organization.code) == code.strip().upper())
    ).first()
    if org is None or org.id is None:
        fail(t("No organization has the code {code}. See: gongjian org list", code=code))
    return org


@dataclass(frozen=True, slots=True)
class Target:
    """What `--org` named: an organization, or an alliance or pairing seen from one of its units."""

    org_id: int
    name: str
    group: tuple[Subject, str] | None = None


def find_target(session: Session, t: Translator, code: str) -> Target:
    """Finds an organization by code, else an alliance or a pairing (through its lead unit)."""
    wanted = code.strip().upper()
    org = session.exec(select(Organization).where(col(Organization.code) == wanted)).first()
    if org is not None and org.id is not None:
        return Target(org.id, org.name)
    alliance = session.exec(select(Alliance).where(col(Alliance.code) == wanted)).first()
    if alliance is not None:
        unit = session.exec(
            select(AllianceUnit)
            .where(AllianceUnit.alliance_id == alliance.id)
            .order_by(col(AllianceUnit.rotation_order))
        ).first()
        if unit is not None:
            return Target(unit.organization_id, alliance.name, (Subject.ALLIANCE, alliance.code))
    pairing = session.exec(select(Pairing).where(col(Pairing.code) == wanted)).first()
    if pairing is not None:
        return Target(pairing.lead_org_id, pairing.name, (Subject.PAIRING, pairing.code))
    fail(t("No organization, alliance or pairing has the code {code}.", code=code))


def read_quarter(run: Run, text: str | None) -> Quarter:
    """Reads `--quarter` (this quarter when absent), refusing one that has not begun."""
    t = run.t
    quarter = parse_quarter(text or "", run.today)
    if quarter is None:
        fail(t("--quarter: not a quarter: {text} (e.g. 2026Q4)", text=text))
    if quarter > Quarter.of(run.today):
        fail(t("{quarter} has not started yet.", quarter=period_label(t, str(quarter))))
    return quarter


def percent(share: float) -> str:
    """Formats a share as a whole percentage."""
    return f"{round(share * 100)}%"


# -- gongjian attendance -----------------------------------------------------------------


@friendly
def attendance_command(
    *,
    org: OrgOption,
    quarter: QuarterOption = None,
    member: Annotated[
        int | None, typer.Option("--member", help="Only this member (their id).", min=1)
    ] = None,
    json_output: JsonOption = False,
    lang: LangOption = None,
    now: NowOption = None,
) -> None:
    """Shows a quarter's attendance of an organization: per meeting and per member."""
    run = start(lang, now)
    t = run.t
    the_quarter = read_quarter(run, quarter)
    with unit_of_work(run) as session:
        target = find_org(session, t, org)
        assert target.id is not None
        report = attendance_report(
            session, org_id=target.id, quarter=the_quarter, now=run.now, tz=run.settings.tz
        )
        if member is not None and report.member(member) is None:
            if session.get(Member, member) is None:
                fail(t("No member has the id {id}.", id=member))
            fail(
                t(
                    "Member {id} has no attendance to count in {org} in {quarter}.",
                    id=member,
                    org=target.name,
                    quarter=period_label(t, str(the_quarter)),
                )
            )
    if member is not None:
        tally = report.member(member)
        assert tally is not None
        if json_output:
            emit_json(_member_json(report, tally, the_quarter))
        else:
            typer.echo(_member_text(t, report, tally, the_quarter))
        return
    if json_output:
        emit_json(_report_json(report, the_quarter))
        return
    typer.echo(_report_text(t, report, the_quarter))


def _totals(tally: AttendanceReport | MemberTally) -> dict[str, Any]:
    """Returns the counts and rate of a report or a member."""
    return {
        "present": tally.present,
        "leave": tally.leave,
        "absent": tally.absent,
        "expected": tally.expected,
        "rate": round(tally.rate, 4),
    }


def _report_json(report: AttendanceReport, quarter: Quarter) -> dict[str, Any]:
    """Describes a quarter's attendance as JSON."""
    return {
        "org": report.org.code,
        "quarter": str(quarter),
        "meetings": [
            {
                "id": m.meeting_id,
                "date": m.held_on.isoformat(),
                "kind": m.kind.value,
                "taken": m.taken,
                "present": m.present,
                "leave": m.leave,
                "absent": m.absent,
                "expected": m.expected,
                "rate": round(m.rate, 4),
            }
            for m in report.meetings
        ],
        "members": [{"id": m.member_id, "name": m.name, **_totals(m)} for m in report.members],
        "totals": _totals(report),
    }


def _member_json(report: AttendanceReport, tally: MemberTally, quarter: Quarter) -> dict[str, Any]:
    """Describes one member's attendance as JSON."""
    return {
        "org": report.org.code,
        "quarter": str(quarter),
        "member": {"id": tally.member_id, "name": tally.name, **_totals(tally)},
        "meetings": [
            {
                "id": meeting.meeting_id,
                "date": meeting.held_on.isoformat(),
                "kind": meeting.kind.value,
                "status": mark.value if mark is not None else None,
            }
            for meeting, mark in zip(report.meetings, tally.marks, strict=True)
        ],
    }


def _report_text(t: Translator, report: AttendanceReport, quarter: Quarter) -> str:
    """Lays out a quarter's attendance as two tables and a total."""
    label = period_label(t, str(quarter))
    lines = [t("Attendance of {org}, {quarter}", org=report.org.name, quarter=label), ""]
    if not report.meetings:
        lines.append(
            t(
                "No meeting of {org} has taken place in {quarter} yet.",
                org=report.org.name,
                quarter=label,
            )
        )
        return "\n".join(lines)
    header = [
        t("Date"),
        t("Meeting"),
        t("Present"),
        t("Expected"),
        t("On leave"),
        t("Absent"),
        t("Attendance rate"),
    ]
    rows = [
        [
            m.held_on.isoformat(),
            t(MEETING_KINDS[m.kind]),
            str(m.present),
            str(m.expected) if m.taken else "-",
            str(m.leave),
            str(m.absent) if m.taken else "-",
            percent(m.rate) if m.taken else t("nobody signed in"),
        ]
        for m in report.meetings
    ]
    lines += [render_table(header, rows), ""]
    header = [t("Member"), t("Present"), t("On leave"), t("Absent"), t("Attendance rate")]
    rows = [
        [
            m.name,
            str(m.present),
            str(m.leave),
            str(m.absent),
            percent(m.rate) if m.expected else "-",
        ]
        for m in report.members
    ]
    lines += [render_table(header, rows), ""]
    lines.append(
        t(
            "In all: signed in {present} of {expected} ({rate}%), on leave {leave}, absent {absent}.",
            present=report.present,
            expected=report.expected,
            rate=round(report.rate * 100),
            leave=report.leave,
            absent=report.absent,
        )
    )
    return "\n".join(lines)


def _member_text(
    t: Translator, report: AttendanceReport, tally: MemberTally, quarter: Quarter
) -> str:
    """Lays out one member's answers to the quarter's meetings."""
    lines = [
        t(
            "Attendance of {name} ({org}), {quarter}",
            name=tally.name,
            org=report.org.name,
            quarter=period_label(t, str(quarter)),
        ),
        "",
    ]
    rows = [
        [
            meeting.held_on.isoformat(),
            t(MEETING_KINDS[meeting.kind]),
            t(STATUS_WORDS[mark]) if mark is not None else "-",
        ]
        for meeting, mark in zip(report.meetings, tally.marks, strict=True)
    ]
    lines += [render_table([t("Date"), t("Meeting"), t("Status")], rows), ""]
    lines.append(
        t(
            "Present {present}, on leave {leave}, absent {absent} ({rate}%).",
            present=tally.present,
            leave=tally.leave,
            absent=tally.absent,
            rate=round(tally.rate * 100),
        )
    )
    return "\n".join(lines)


# -- gongjian status ---------------------------------------------------------------------


@friendly
def status_command(
    *,
    org: GroupOption,
    quarter: QuarterOption = None,
    json_output: JsonOption = False,
    lang: LangOption = None,
    now: NowOption = None,
) -> None:
    """Checks an organization, its alliances and pairings (or one of them) against the rules."""
    run = start(lang, now)
    t = run.t
    the_quarter = read_quarter(run, quarter)
    with unit_of_work(run) as session:
        target = find_target(session, t, org)
        report = compliance_report(
            session,
            org_id=target.org_id,
            quarter=the_quarter,
            now=run.now,
            holidays=run.holidays,
            tz=run.settings.tz,
        )
    if target.group is not None:
        kept = tuple(s for s in report.sections if (s.subject, s.code) == target.group)
        report = replace(report, sections=kept)
    if json_output:
        emit_json(_compliance_json(report))
        return
    typer.echo(describe_report(t, report))


def _line_json(line: Line) -> dict[str, Any]:
    """Describes one compliance line as JSON."""
    return {
        "requirement": line.requirement.value,
        "state": line.state.value,
        "period": line.period,
        "deadline": line.deadline.isoformat(),
        "days_left": line.days_left,
        "org": line.org or None,
        "done": line.done,
        "target": line.target,
        "expected": line.expected,
        "day": line.day.isoformat() if line.day else None,
        "present": line.present,
        "attendees": line.attendees,
        "cancelled": line.cancelled,
        "days": [day.isoformat() for day in line.days],
        "missing": list(line.missing),
    }


def _compliance_json(report: ComplianceReport) -> dict[str, Any]:
    """Describes a compliance report as JSON."""
    return {
        "org": report.org.code,
        "quarter": str(report.quarter),
        "today": report.today.isoformat(),
        "as_of": report.as_of.isoformat(),
        "sections": [
            {
                "subject": section.subject.value,
                "code": section.code,
                "name": section.name,
                "lines": [_line_json(line) for line in section.lines],
            }
            for section in report.sections
        ],
    }


# -- gongjian export ledger --------------------------------------------------------------


@export_app.command("ledger")
@friendly
def export_ledger_command(
    *,
    org: OrgOption,
    quarter: QuarterOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Where to write the .xlsx (default: its own name here)."
        ),
    ] = None,
    lang: LangOption = None,
    now: NowOption = None,
) -> None:
    """Writes an organization's quarterly ledger (台账) as an .xlsx workbook; this files it."""
    run = start(lang, now)
    t = run.t
    the_quarter = read_quarter(run, quarter)
    if output is not None and output.is_dir():
        fail(t("--output: {path} is a directory; name the file.", path=output))
    with unit_of_work(run) as session:
        target = find_org(session, t, org)
        assert target.id is not None
        export = export_ledger(
            session,
            org_id=target.id,
            quarter=the_quarter,
            now=run.now,
            holidays=run.holidays,
            tz=run.settings.tz,
            t=t,
            actor_id=None,
        )
        path = output or Path(export.document.filename)
        try:
            path.write_bytes(export.document.content)
        except OSError as error:
            fail(t("--output: cannot write {path}: {reason}", path=path, reason=error.strerror))
    data = export.data
    typer.echo(
        t(
            "Wrote {path}: the {quarter} ledger of {org}. Ledger entries: {activities};"
            " meetings: {meetings}.",
            path=path,
            quarter=period_label(t, str(the_quarter)),
            org=target.name,
            activities=len(data.activities),
            meetings=len(data.attendance.meetings),
        )
    )
    if export.newly_filed:
        typer.echo(t("This counts as filing the ledger: its reminders stop."))
    elif export.preview:
        typer.echo(
            t(
                "This is a preview: an export counts as filing from {date} on, or send /submitted"
                " once the ledger is submitted.",
                date=t.date(data.compliance.ledger_opens, "long"),
            )
        )


# -- gongjian summary --------------------------------------------------------------------


@friendly
def summary_command(
    *,
    org: GroupOption,
    year: Annotated[
        int | None, typer.Option("--year", help="The year (default: this year).")
    ] = None,
    lang: LangOption = None,
    now: NowOption = None,
) -> None:
    """Drafts the year-end summary of each alliance and pairing of an organization (or of one)."""
    run = start(lang, now)
    t = run.t
    the_year = run.today.year if year is None else year
    if not FIRST_YEAR <= the_year <= run.today.year:
        fail(
            t(
                "The year must be between {first} and {last}.",
                first=FIRST_YEAR,
                last=run.today.year,
            )
        )
    with unit_of_work(run) as session:
        target = find_target(session, t, org)
        try:
            drafts = year_summaries(
                session,
                org_id=target.org_id,
                year=the_year,
                now=run.now,
                holidays=run.holidays,
                tz=run.settings.tz,
            )
        except ServiceError:
            fail(t("That cannot be done right now."))
    if target.group is not None:
        drafts = [d for d in drafts if (d.subject, d.code) == target.group]
    if not drafts and target.group is not None:
        typer.echo(
            t(
                "{group} did not run in {year}: there is nothing to sum up.",
                group=target.name,
                year=the_year,
            )
        )
        return
    if not drafts:
        typer.echo(
            t(
                "{org} was in no alliance or pairing in {year}, so there is no joint summary"
                " to draft.",
                org=target.name,
                year=the_year,
            )
        )
        return
    typer.echo("\n\n".join(render_summary(t, draft) for draft in drafts))
