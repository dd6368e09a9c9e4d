"""`gongjian meeting`: schedule a meeting of any kind, list an organization's meetings.

Both go through the same use cases as the chat's 新建会议 and 日程.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.support import (
    LangOption,
    OrgOption,
    ReportJsonOption,
    ReportNowOption,
    emit_json,
    fail,
    find_org,
    friendly,
    parse_now,
    pick_translator,
    use_cases,
)
from bot.config import load_settings
from bot.core.records import MeetingView
from bot.services.errors import ServiceError
from bot.texts.phrases import describe_meeting
from handlers.dates import parse_clock, parse_coming_day
from handlers.errors import explain
from handlers.schedule import read_kind

meeting_app = typer.Typer(no_args_is_help=True, help="Meetings of every kind.")


def register(app: typer.Typer) -> None:
    """Mounts the meeting commands on the `gongjian` app."""
    app.add_typer(meeting_app, name="meeting")


def _json(meeting: MeetingView) -> dict[str, object]:
    """Lays out a meeting for --json."""
    return {
        "id": meeting.id,
        "org": meeting.org.code,
        "kind": meeting.kind.value,
        "date": meeting.held_on.isoformat(),
        "starts_at": meeting.starts_at.isoformat(),
        "venue": meeting.venue,
        "status": meeting.status.value,
    }


@meeting_app.command("schedule")
@friendly
def schedule_command(
    *,
    org: OrgOption,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="组织生活日, 主题党日, 联席会议, 走访, 支部党员大会, 支委会, 党小组会, 党课"
            " (or org-life, theme-day, joint-meeting, visit, assembly, committee, group, lecture).",
        ),
    ],
    day: Annotated[str, typer.Option("--date", help="The day, e.g. 2026-12-10 or 12月10日.")],
    at: Annotated[str, typer.Option("--time", help="The start, e.g. 14:30.")],
    venue: Annotated[str, typer.Option("--venue", help="Where it takes place.")] = "",
    now: ReportNowOption = None,
    json_output: ReportJsonOption = False,
    lang: LangOption = None,
) -> None:
    """Schedules a meeting for an organization; its members are told through the outbox."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    meeting_kind = read_kind(kind)
    if meeting_kind is None:
        fail(t("I do not know the meeting kind {text}.", text=kind))
    moment = parse_now(settings, now)
    held_on = parse_coming_day(day, today=moment.date())
    if held_on is None:
        fail(t("I could not read the date {text}.", text=day))
    start = parse_clock(at)
    if start is None:
        fail(t("I could not read the time {text}.", text=at))
    try:
        with use_cases(settings, now=moment) as services:
            target = find_org(services, t, org)
            meeting = services.schedule_meeting(
                None, kind=meeting_kind, day=held_on, at=start, venue=venue, org_id=target.id
            )
    except ServiceError as error:
        fail(explain(t, error))
    if json_output:
        emit_json(_json(meeting))
        return
    typer.echo(t("Scheduled:\n{meeting}", meeting=describe_meeting(t, meeting)))


@meeting_app.command("list")
@friendly
def list_command(
    org: OrgOption,
    now: ReportNowOption = None,
    json_output: ReportJsonOption = False,
    lang: LangOption = None,
) -> None:
    """Lists an organization's upcoming meetings, its alliances' and pairings' included."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    with use_cases(settings, now=parse_now(settings, now)) as services:
        target = find_org(services, t, org)
        meetings = services.upcoming_of(target.id)
    if json_output:
        emit_json([_json(meeting) for meeting in meetings])
        return
    if not meetings:
        typer.echo(t("Your branch has no upcoming meeting."))
        return
    typer.echo(t("Upcoming meetings of {org}:", org=target.name))
    for meeting in meetings:
        typer.echo(f"• {describe_meeting(t, meeting)}")
