"""`gongjian attendance`: a quarter's attendance of an organization, per meeting and member."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.calendar.quarters import Quarter
from bot.cli.support import (
    LangOption,
    OrgOption,
    QuarterOption,
    ReportJsonOption,
    ReportNowOption,
    emit_json,
    fail,
    find_org,
    friendly,
    read_quarter,
    render_table,
    run_use_cases,
    start,
)
from bot.core.i18n import Translator
from bot.services.stats import AttendanceReport, MemberTally
from bot.texts.attendance import (
    ATTENDANCE_STATUSES,
    attendance_heading,
    no_meeting_yet,
    totals_line,
)
from bot.texts.phrases import MEETING_KINDS
from bot.texts.reminders import period_label


def register(app: typer.Typer) -> None:
    """Mounts `gongjian attendance` on the app."""
    app.command("attendance")(attendance_command)


def percent(share: float) -> str:
    """Formats a share as a whole percentage."""
    return f"{round(share * 100)}%"


@friendly
def attendance_command(
    *,
    org: OrgOption,
    quarter: QuarterOption = None,
    member: Annotated[
        int | None, typer.Option("--member", help="Only this member (their id).", min=1)
    ] = None,
    json_output: ReportJsonOption = False,
    lang: LangOption = None,
    now: ReportNowOption = None,
) -> None:
    """Shows a quarter's attendance of an organization: per meeting and per member."""
    run = start(lang, now)
    t = run.t
    the_quarter = read_quarter(run, quarter)
    with run_use_cases(run) as services:
        target = find_org(services, t, org)
        report = services.org_attendance(target.id, the_quarter)
        if member is not None and report.member(member) is None:
            if services.members.find(member) is None:
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
    lines = [attendance_heading(t, org=report.org.name, quarter=quarter), ""]
    if not report.meetings:
        lines.append(no_meeting_yet(t, org=report.org.name, quarter=quarter))
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
    lines.append(totals_line(t, report))
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
            t(ATTENDANCE_STATUSES[mark]) if mark is not None else "-",
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
