"""`gongjian status`: an organization, its alliances and pairings checked against the rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import typer

from bot.cli.support import (
    GroupOption,
    LangOption,
    QuarterOption,
    ReportJsonOption,
    ReportNowOption,
    emit_json,
    find_target,
    friendly,
    read_quarter,
    run_use_cases,
    start,
)
from bot.services.compliance import ComplianceReport, Line, describe_report


def register(app: typer.Typer) -> None:
    """Mounts `gongjian status` on the app."""
    app.command("status")(status_command)


@friendly
def status_command(
    *,
    org: GroupOption,
    quarter: QuarterOption = None,
    json_output: ReportJsonOption = False,
    lang: LangOption = None,
    now: ReportNowOption = None,
) -> None:
    """Checks an organization, its alliances and pairings (or one of them) against the rules."""
    run = start(lang, now)
    t = run.t
    the_quarter = read_quarter(run, quarter)
    with run_use_cases(run) as services:
        target = find_target(services, t, org)
        report = services.org_compliance(target.org_id, the_quarter)
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
