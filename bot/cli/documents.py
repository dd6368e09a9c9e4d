"""Command line for documents a secretary hands in: the year-end summary as Word, meeting minutes.

Mount with `bot.cli.documents.register(app)`: adds `gongjian document summary`,
`gongjian document minutes`, `gongjian minutes list` and `gongjian minutes record`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.support import (
    LangOption,
    fail,
    find_org,
    friendly,
    output_path,
    read_summary_year,
    render_table,
    run_use_cases,
    start,
)
from bot.services.attendance import AttendanceBook
from bot.services.documents import minutes_document, year_summary_document
from bot.services.errors import ServiceError
from bot.services.meetings import Meetings
from bot.services.minutes import meetings_for_minutes, minutes_of, minutes_record, save_minutes
from bot.texts.phrases import MEETING_KINDS
from handlers.errors import explain

document_app = typer.Typer(
    no_args_is_help=True, help="Documents as Word files: the year-end summary, meeting minutes."
)

OrgOption = Annotated[str, typer.Option("--org", help="The organization's code.")]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Where to write the .docx: a file, or a folder for its own name."
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Pretend it is this ISO date and time (e.g. 2026-11-03T09:30)."),
]


minutes_app = typer.Typer(no_args_is_help=True, help="Minutes (会议记录) of meetings.")
MeetingOption = Annotated[int, typer.Option("--meeting", help="The meeting's number.")]


def register(app: typer.Typer) -> None:
    """Mounts the document commands on the `gongjian` app."""
    app.add_typer(document_app, name="document")
    app.add_typer(minutes_app, name="minutes")


@document_app.command("summary")
@friendly
def summary_document_command(
    *,
    org: OrgOption,
    year: Annotated[
        int | None, typer.Option("--year", help="The year (default: this year).")
    ] = None,
    output: OutputOption = None,
    lang: LangOption = None,
    now: NowOption = None,
) -> None:
    """Writes the year-end summary of an organization's alliances and pairings as .docx."""
    run = start(lang, now)
    t = run.t
    the_year = read_summary_year(run, year)
    with run_use_cases(run) as services:
        session = services.session
        target = find_org(services, t, org)
        assert target.id is not None
        try:
            document = year_summary_document(
                session,
                org_id=target.id,
                year=the_year,
                now=run.now,
                holidays=run.holidays,
                tz=run.settings.tz,
                t=t,
            )
        except ServiceError:
            fail(t("That cannot be done right now."))
    if document is None:
        fail(
            t(
                "{org} was in no alliance or pairing in {year}, so there is no joint summary"
                " to draft.",
                org=target.name,
                year=the_year,
            )
        )
    path = output_path(output, document.filename)
    try:
        path.write_bytes(document.content)
    except OSError as error:
        fail(t("--output: cannot write {path}: {reason}", path=path, reason=error.strerror))
    typer.echo(t("Wrote {path}: the year-end summary for {year}.", path=path, year=the_year))


# -- gongjian minutes ------------------------------------------------------------------------


@minutes_app.command("list")
@friendly
def minutes_list_command(*, org: OrgOption, lang: LangOption = None, now: NowOption = None) -> None:
    """Lists an organization's meetings of the last two months, with their numbers and minutes."""
    run = start(lang, now)
    t = run.t
    with run_use_cases(run) as services:
        session = services.session
        target = find_org(services, t, org)
        assert target.id is not None
        meetings = meetings_for_minutes(session, org_id=target.id, today=run.today)
        written = minutes_of(session, [meeting.id for meeting in meetings if meeting.id])
    rows = [
        [
            str(meeting.id),
            meeting.held_on.isoformat(),
            t(MEETING_KINDS[meeting.kind]),
            meeting.title,
            written[meeting.id].topic if meeting.id in written else "—",
        ]
        for meeting in meetings
        if meeting.id is not None
    ]
    header = [t("No."), t("Date"), t("Meeting"), t("Title"), t("Minutes")]
    typer.echo(render_table(header, rows))


@minutes_app.command("record")
@friendly
def minutes_record_command(
    *,
    meeting: MeetingOption,
    topic: Annotated[str, typer.Option("--topic", help="The topic (default: the title).")] = "",
    host: Annotated[str, typer.Option("--host", help="Who chaired the meeting.")],
    recorder: Annotated[str, typer.Option("--recorder", help="Who took the minutes.")],
    content: Annotated[str, typer.Option("--content", help="What was discussed.")],
    resolutions: Annotated[str, typer.Option("--resolutions", help="What was resolved.")] = "",
    lang: LangOption = None,
    now: NowOption = None,
) -> None:
    """Stores (or replaces) the minutes of a held meeting; attendance comes from its roll call."""
    run = start(lang, now)
    t = run.t
    with run_use_cases(run) as services:
        session = services.session
        try:
            saved = save_minutes(
                session,
                meeting_id=meeting,
                topic=topic,
                host=host,
                recorder=recorder,
                content=content,
                resolutions=resolutions,
                by=None,
                now=run.now,
                today=run.today,
            )
        except ServiceError as error:
            fail(explain(t, error))
    typer.echo(
        t("Stored the minutes of meeting {number}: {topic}.", number=meeting, topic=saved.topic)
    )


@document_app.command("minutes")
@friendly
def minutes_document_command(
    *,
    meeting: MeetingOption,
    output: OutputOption = None,
    lang: LangOption = None,
    now: NowOption = None,
) -> None:
    """Writes a meeting's minutes as .docx, with attendance from its roll call."""
    run = start(lang, now)
    t = run.t
    with run_use_cases(run) as services:
        session = services.session
        try:
            record = minutes_record(
                session,
                meeting_id=meeting,
                meetings=Meetings(session, holidays=run.holidays, tz=run.settings.tz),
                attendance=AttendanceBook(session, run.now, run.settings.tz),
            )
        except ServiceError as error:
            fail(explain(t, error))
        document = minutes_document(t, record)
    path = output_path(output, document.filename)
    try:
        path.write_bytes(document.content)
    except OSError as error:
        fail(t("--output: cannot write {path}: {reason}", path=path, reason=error.strerror))
    typer.echo(t("Wrote {path}: the minutes of {topic}.", path=path, topic=record.minutes.topic))
