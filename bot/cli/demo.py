"""`gongjian demo`: the 江海红湾 demo data and an unused invite for every member."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

import typer

from bot.calendar.holidays import HolidayCalendar
from bot.cli.support import (
    JsonOption,
    LangOption,
    NowOption,
    emit_json,
    friendly,
    open_database,
    parse_now,
    pick_translator,
    render_table,
    settings_from_env,
)
from bot.core.i18n import Translator
from bot.demo import DemoResult, build_demo
from bot.texts.phrases import ROLES

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    """Mounts `gongjian demo` on the app."""
    app.command("demo")(demo)


@friendly
def demo(
    json_output: JsonOption = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the demo data first, then build it again.")
    ] = False,
    now: NowOption = None,
    lang: LangOption = None,
) -> None:
    """Creates or refreshes the 江海红湾 demo data and prints an unused invite for every member."""
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    moment = parse_now(settings, now)
    holidays = HolidayCalendar.load(settings.holidays_file)
    database = open_database(settings)
    try:
        with database.session() as session:
            result = build_demo(
                session,
                now=moment,
                tz=settings.tz,
                holidays=holidays,
                invite_ttl=timedelta(hours=settings.invite_ttl_hours),
                reset=reset,
            )
    finally:
        database.dispose()
    log.debug("demo data ready: %s", result.counts)
    if json_output:
        emit_json(
            [
                {
                    "code": i.code,
                    "org": i.org_code,
                    "org_name": i.org_name,
                    "role": i.role.value,
                    "name": i.name,
                }
                for i in result.invites
            ]
        )
        return
    typer.echo(render_demo(t, result))


def render_demo(t: Translator, result: DemoResult) -> str:
    """Describes a demo run and lists its invites as a table."""
    counts = result.counts
    headline = (
        t("Demo data created.")
        if result.created
        else t(
            "Demo data refreshed: nothing was duplicated; the invite codes printed before still"
            " work (only expired ones were replaced)."
        )
    )
    summary = t(
        "{orgs} organizations, {members} members, {meetings} meetings,"
        " {attendance} attendance records, {activities} ledger entries.",
        orgs=counts["organizations"],
        members=counts["members"],
        meetings=counts["meetings"],
        attendance=counts["attendance"],
        activities=counts["activities"],
    )
    table = render_table(
        [t("Organization"), t("Role"), t("Name"), t("Invite code")],
        [[i.org_name, t(ROLES[i.role]), i.name, i.code] for i in result.invites],
    )
    lines = [headline, summary, "", table, ""]
    if result.invites:
        expires = result.invites[0].expires_at
        lines.append(
            t(
                "The codes work once each until {date} {time}. In a chat send: /bind CODE"
                " (try: gongjian chat --as demo).",
                date=t.date(expires.date(), "medium"),
                time=t.time(expires),
            )
        )
    return "\n".join(lines)
