"""Command line for documents a secretary hands in: the year-end summary as Word, meeting minutes.

Mount with `bot.cli.documents.register(app)`: adds `gongjian document summary`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.secretary import FIRST_YEAR, find_org, output_path, start, unit_of_work
from bot.cli.support import fail, friendly
from bot.services.documents import year_summary_document
from bot.services.errors import ServiceError

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
LangOption = Annotated[
    str | None, typer.Option("--lang", help="Language of the output: zh_CN or en.")
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Pretend it is this ISO date and time (e.g. 2026-11-03T09:30)."),
]


def register(app: typer.Typer) -> None:
    """Mounts the document commands on the `gongjian` app."""
    app.add_typer(document_app, name="document")


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
        target = find_org(session, t, org)
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
