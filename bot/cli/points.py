"""`gongjian points`: an organization's members ranked by points (党员积分) of a year."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.support import (
    JsonOption,
    LangOption,
    ReportNowOption,
    emit_json,
    fail,
    friendly,
    parse_now,
    pick_translator,
    render_table,
    unit_of_work,
)
from bot.config import load_settings
from bot.services.organizations import Organizations
from bot.services.points import PointWeights, points_table


def register(app: typer.Typer) -> None:
    """Mounts `gongjian points` on the app."""
    app.command("points")(points_command)


@friendly
def points_command(
    org: Annotated[str, typer.Option("--org", help="The organization's code.")],
    year: Annotated[
        int | None, typer.Option("--year", help="The year (default: this year).")
    ] = None,
    json_output: JsonOption = False,
    now: ReportNowOption = None,
    lang: LangOption = None,
) -> None:
    """Ranks an organization's members by points (党员积分) earned in a year."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    moment = parse_now(settings, now)
    today = moment.date()
    the_year = year or today.year
    if not 2000 <= the_year <= today.year:
        fail(t("The year must be between {first} and {last}.", first=2000, last=today.year))
    weights = PointWeights(
        checkin=settings.points_checkin,
        report=settings.points_report,
        theme_day=settings.points_theme_day,
    )
    with unit_of_work(settings) as session:
        found = Organizations(session).by_code(org)
        if found is None:
            fail(t("No organization has the code {code}. See: gongjian org list", code=org))
        table = points_table(
            session, org_id=found.id, year=the_year, weights=weights, now=moment, today=today
        )
    if json_output:
        emit_json(
            {
                "org": table.org.code,
                "year": table.year,
                "weights": {
                    "checkin": weights.checkin,
                    "report": weights.report,
                    "theme_day": weights.theme_day,
                },
                "members": [
                    {
                        "rank": row.rank,
                        "member_id": row.member_id,
                        "name": row.name,
                        "checkins": row.checkins,
                        "reports": row.reports,
                        "theme_days": row.theme_days,
                        "total": row.total,
                    }
                    for row in table.rows
                ],
            }
        )
        return
    typer.echo(t("Points of {org} in {year}:", org=table.org.name, year=table.year))
    typer.echo(
        render_table(
            [t("Rank"), t("Name"), t("Sign-ins"), t("Reports"), t("Theme days"), t("Points")],
            [
                [
                    str(row.rank),
                    row.name,
                    str(row.checkins),
                    str(row.reports),
                    str(row.theme_days),
                    str(row.total),
                ]
                for row in table.rows
            ],
        )
    )
