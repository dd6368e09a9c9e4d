"""`gongjian roster`: who is on duty in an organization's alliances and pairings, and changes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli.support import (
    JsonOption,
    LangOption,
    check_year,
    emit_json,
    fail,
    find_org,
    friendly,
    pick_translator,
    render_table,
    settings_from_env,
    use_cases,
)
from bot.core.clock import SystemClock
from bot.core.domain import Duty
from bot.core.i18n import Translator
from bot.core.records import DutySlot
from bot.services.errors import ServiceError
from bot.services.use_cases import YearRoster
from bot.texts.phrases import DUTIES
from handlers.errors import explain

roster_app = typer.Typer(help="The duty roster of an organization's alliances and pairings.")


def register(app: typer.Typer) -> None:
    """Mounts `gongjian roster` on the app."""
    app.add_typer(roster_app, name="roster")


@roster_app.callback(invoke_without_command=True)
@friendly
def roster(
    context: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help="The organization's code.")] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="The year (default: this year).")
    ] = None,
    json_output: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Shows who is on duty in the alliances and pairings of an organization, over a year."""
    if context.invoked_subcommand is not None:
        return
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    if org is None:
        fail(t("Name the organization: gongjian roster --org CODE"))
    now = SystemClock(settings.tz).now()
    the_year = check_year(t, year if year is not None else now.year)
    with use_cases(settings, now=now) as services:
        target = find_org(services, t, org)
        try:
            plan = services.year_roster(target, the_year)
        except ServiceError as error:
            fail(explain(t, error))
    if json_output:
        emit_json(roster_json(plan))
        return
    typer.echo(render_roster(t, plan))


def roster_json(plan: YearRoster) -> dict[str, Any]:
    """Returns a year's roster as JSON-ready data."""
    return {
        "org": plan.org.code,
        "year": plan.year,
        "alliances": [
            {"code": a.code, "name": a.name, "slots": [slot_json(s) for s in a.slots]}
            for a in plan.alliances
        ],
        "pairings": [
            {
                "code": p.code,
                "name": p.name,
                "visit_target": p.visit_target,
                "hosts": [
                    {"quarter": str(quarter), "org": host.code, "org_name": host.name}
                    for quarter, host in p.hosts
                ],
            }
            for p in plan.pairings
        ],
    }


def render_roster(t: Translator, plan: YearRoster) -> str:
    """Describes a year's duties per alliance and hosts per pairing, marking changed slots."""
    org = plan.org
    lines = [
        t("Duty roster of {org} ({code}) for {year}", org=org.name, code=org.code, year=plan.year)
    ]
    if not plan.alliances and not plan.pairings:
        lines.append(t("{org} is in no alliance and no pairing.", org=org.name))
    for alliance in plan.alliances:
        lines.extend(["", t("{name} ({code})", name=alliance.name, code=alliance.code)])
        for duty in Duty:
            lines.extend(["", t(DUTIES[duty])])
            rows = [
                [slot.period, slot.org.name, describe_override(t, slot)]
                for slot in alliance.slots
                if slot.duty is duty
            ]
            lines.append(render_table([t("Period"), t("Organization"), t("Change")], rows))
    for pairing in plan.pairings:
        lines.extend(["", t("{name} ({code})", name=pairing.name, code=pairing.code)])
        lines.append(
            t.plural(
                "Host of each quarter's joint activity; at least {n} visit a year.",
                "Host of each quarter's joint activity; at least {n} visits a year.",
                pairing.visit_target,
            )
        )
        rows = [[str(quarter), host.name] for quarter, host in pairing.hosts]
        lines.append(render_table([t("Quarter"), t("Host")], rows))
    return "\n".join(lines)


def slot_json(slot: DutySlot) -> dict[str, Any]:
    """Returns a duty slot as JSON-ready data."""
    return {
        "duty": slot.duty.value,
        "period": slot.period,
        "first_day": slot.first_day.isoformat(),
        "last_day": slot.last_day.isoformat(),
        "org": slot.org.code,
        "org_name": slot.org.name,
        "overridden": slot.overridden,
        "reason": slot.reason,
        "scheduled_org": slot.scheduled_org.code if slot.scheduled_org else None,
    }


def describe_override(t: Translator, slot: DutySlot) -> str:
    """Says who a changed slot was scheduled for and why it changed."""
    if not slot.overridden:
        return ""
    scheduled = slot.scheduled_org.name if slot.scheduled_org else "-"
    return t("instead of {org}: {reason}", org=scheduled, reason=slot.reason)


@roster_app.command("override")
@friendly
def roster_override(
    *,
    alliance: Annotated[str, typer.Option("--alliance", help="The alliance's code.")],
    duty: Annotated[str, typer.Option("--duty", help="theme_day, convener or executive.")],
    period: Annotated[
        str, typer.Option("--period", help="A month (2026-12) or a quarter (2027Q1).")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why the slot changes (kept in the log).")
    ],
    org: Annotated[str | None, typer.Option("--org", help="Put this organization on duty.")] = None,
    swap_with: Annotated[
        str | None, typer.Option("--swap-with", help="Swap with the unit on duty in this period.")
    ] = None,
    lang: LangOption = None,
) -> None:
    """Changes who holds one duty slot, or swaps two slots, with a reason."""
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    try:
        the_duty = Duty(duty.strip().lower())
    except ValueError:
        fail(
            t(
                "Unknown duty {duty}; use one of: {duties}.",
                duty=duty,
                duties=", ".join(d.value for d in Duty),
            )
        )
    if (org is None) == (swap_with is None):
        fail(t("Give either --org or --swap-with."))
    if not reason.strip():
        fail(t("Please give a reason for the change."))
    with use_cases(settings) as services:
        try:
            changed = services.change_duty(
                alliance_code=alliance,
                duty=the_duty,
                period_text=period,
                org_code=org,
                swap_with=swap_with,
                reason=reason,
            )
        except ServiceError as error:
            fail(_refusal(t, error, alliance=alliance, org=org))
    for slot in changed:
        typer.echo(
            t(
                "{duty} {period}: {org} ({reason})",
                duty=t(DUTIES[slot.duty]),
                period=slot.period,
                org=slot.org.name,
                reason=slot.reason,
            )
        )


def _refusal(t: Translator, error: ServiceError, *, alliance: str, org: str | None) -> str:
    """Words a refused duty change: an unknown code names it, the rest as the chat says them."""
    if error.code == "alliance_unknown":
        return t("No alliance has the code {code}.", code=alliance)
    if error.code == "org_unknown":
        return t("No organization has the code {code}. See: gongjian org list", code=org)
    return explain(t, error)
