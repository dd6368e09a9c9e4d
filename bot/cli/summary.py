"""`gongjian summary`: the year-end summary of an organization's alliances and pairings."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.support import (
    GroupOption,
    LangOption,
    ReportNowOption,
    fail,
    find_target,
    friendly,
    read_summary_year,
    run_use_cases,
    start,
)
from bot.services.errors import ServiceError
from bot.services.summary import render_summary


def register(app: typer.Typer) -> None:
    """Mounts `gongjian summary` on the app."""
    app.command("summary")(summary_command)


@friendly
def summary_command(
    *,
    org: GroupOption,
    year: Annotated[
        int | None, typer.Option("--year", help="The year (default: this year).")
    ] = None,
    lang: LangOption = None,
    now: ReportNowOption = None,
) -> None:
    """Drafts the year-end summary of each alliance and pairing of an organization (or of one)."""
    run = start(lang, now)
    t = run.t
    the_year = read_summary_year(run, year)
    with run_use_cases(run) as services:
        target = find_target(services, t, org)
        try:
            drafts = services.org_year_summaries(target.org_id, the_year)
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
