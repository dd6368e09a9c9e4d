"""`gongjian export ledger`: an organization's quarterly ledger (台账) as an .xlsx workbook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.support import (
    LangOption,
    OrgOption,
    QuarterOption,
    ReportNowOption,
    fail,
    find_org,
    friendly,
    output_path,
    read_quarter,
    run_use_cases,
    start,
)
from bot.texts.reminders import period_label

export_app = typer.Typer(no_args_is_help=True, help="Reports as files: the quarterly ledger.")


def register(app: typer.Typer) -> None:
    """Mounts `gongjian export` on the app."""
    app.add_typer(export_app, name="export")


@export_app.command("ledger")
@friendly
def export_ledger_command(
    *,
    org: OrgOption,
    quarter: QuarterOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the .xlsx: a file, or a folder for its own name (default: here).",
        ),
    ] = None,
    filled_by: Annotated[
        str | None, typer.Option("--by", help="The 填报人 named on the ledger (default: blank).")
    ] = None,
    lang: LangOption = None,
    now: ReportNowOption = None,
) -> None:
    """Writes an organization's quarterly ledger (台账) as an .xlsx workbook; this files it."""
    run = start(lang, now)
    t = run.t
    the_quarter = read_quarter(run, quarter)
    with run_use_cases(run) as services:
        target = find_org(services, t, org)
        export = services.org_ledger(target.id, the_quarter, t, filled_by=(filled_by or "").strip())
        path = output_path(output, export.document.filename)
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
