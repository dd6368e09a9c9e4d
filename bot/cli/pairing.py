"""`gongjian pairing add|edit|end|list`: co-construction pairings (结对共建) from the command line.

Mount with `bot.cli.pairing.register(app)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import typer

from bot.cli.support import (
    JsonOption,
    LangOption,
    emit_json,
    fail,
    friendly,
    parse_now,
    pick_translator,
    render_table,
    run_use_case,
)
from bot.config import load_settings
from bot.core.domain import PairingForm
from bot.core.i18n import N_, Translator
from bot.services.errors import ServiceError
from bot.services.structure import (
    FORM_WORDS,
    GroupView,
    PairingSpec,
    end_pairing,
    list_pairings,
    pairing_spec,
    save_pairing,
    word,
)
from handlers.errors import explain

pairing_app = typer.Typer(
    no_args_is_help=True, help="Co-construction pairings (结对共建): add, edit, end, list."
)

FORMS: dict[PairingForm, str] = {
    PairingForm.ONE_TO_ONE: N_("one-to-one (一对一)"),
    PairingForm.MANY_TO_ONE: N_("many-to-one (多对一)"),
    PairingForm.ONE_TO_MANY: N_("one-to-many (一对多)"),
}
MONTHS_A_YEAR = 12

CodeArgument = Annotated[str, typer.Argument(help="The pairing's code, e.g. JD-2026-01.")]
NameOption = Annotated[str | None, typer.Option("--name", help="The pairing's name.")]
FormOption = Annotated[
    str | None,
    typer.Option(
        "--form",
        help="one_to_one, many_to_one or one_to_many (一对一/多对一/一对多); default: one_to_one"
        " for one partner, one_to_many for several.",
    ),
]
LeadOption = Annotated[
    str | None, typer.Option("--lead", help="The lead organization's code (牵头单位).")
]
PartnerOption = Annotated[
    list[str] | None,
    typer.Option("--partner", help="A partner organization's code; repeat for each partner."),
]
StartOption = Annotated[
    str | None,
    typer.Option("--start", help="The agreement's first day (共建协议), e.g. 2026-05-01."),
]
EndOption = Annotated[str | None, typer.Option("--end", help="The agreement's last day.")]
TermOption = Annotated[
    int | None,
    typer.Option("--term-months", min=1, help="The agreement's term in months (instead of --end)."),
]
VisitsOption = Annotated[
    int | None, typer.Option("--visits", help="Visits (走亲串门) a year; at least 3 (000 §四).")
]
GoalsOption = Annotated[str | None, typer.Option("--goals", help="The agreement's goals.")]


@dataclass(frozen=True, slots=True)
class PairingOptions:
    """The options `pairing add` and `pairing edit` share, as given (None when left out)."""

    name: str | None = None
    form: str | None = None
    lead: str | None = None
    partners: list[str] | None = None
    start: str | None = None
    end: str | None = None
    term_months: int | None = None
    visits: int | None = None
    goals: str | None = None


def register(app: typer.Typer) -> None:
    """Mounts `gongjian pairing`."""
    app.add_typer(pairing_app, name="pairing")


def parse_day(t: Translator, option: str, text: str) -> date:
    """Reads an ISO date option, or fails naming it."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(t("{option}: not a date like 2026-05-01: {value}", option=option, value=text))


def add_months(day: date, months: int) -> date:
    """Returns the day before the same day `months` later: the last day of a term."""
    index = day.month - 1 + months
    year, month = day.year + index // MONTHS_A_YEAR, index % MONTHS_A_YEAR + 1
    following = date(year, month, min(day.day, 28))
    return date.fromordinal(following.toordinal() - 1)


def _spec(t: Translator, base: PairingSpec | None, code: str, given: PairingOptions) -> PairingSpec:
    """Builds the spec from the options, over a stored pairing's values when editing."""
    changes: dict[str, Any] = {}
    if given.name is not None:
        changes["name"] = given.name
    if given.form is not None:
        try:
            changes["form"] = word(FORM_WORDS, given.form, "bad_form")
        except ServiceError as error:
            fail(explain(t, error))
    if given.lead is not None:
        changes["lead"] = given.lead
    if given.partners:
        changes["partners"] = tuple(part for text in given.partners for part in text.split(","))
    if given.start is not None:
        changes["agreement_start"] = parse_day(t, "--start", given.start)
    if given.end is not None and given.term_months is not None:
        fail(t("Give --end or --term-months, not both."))
    if given.end is not None:
        changes["agreement_end"] = parse_day(t, "--end", given.end)
    if given.visits is not None:
        changes["visit_target"] = given.visits
    if given.goals is not None:
        changes["goals"] = given.goals
    if base is None:
        missing = [
            option
            for option, key in (
                ("--name", "name"),
                ("--lead", "lead"),
                ("--start", "agreement_start"),
            )
            if key not in changes
        ]
        if "partners" not in changes:
            missing.append("--partner")
        if missing:
            fail(t("Missing options: {options}", options=", ".join(missing)))
        # Without --form, the partners say it: one is 一对一, several 一对多.
        several = len(changes["partners"]) > 1
        changes.setdefault("form", PairingForm.ONE_TO_MANY if several else PairingForm.ONE_TO_ONE)
        spec = PairingSpec(code=code, **changes)
    else:
        spec = dataclasses.replace(base, **changes)
    if given.term_months is not None:
        spec = dataclasses.replace(
            spec, agreement_end=add_months(spec.agreement_start, given.term_months)
        )
    return spec


def _pairing_command(*, editing: bool) -> Callable[..., None]:
    """Builds `pairing add` or `pairing edit`: one set of options, for a new or a stored pairing."""

    @friendly
    def command(
        code: CodeArgument,
        *,
        name: NameOption = None,
        form: FormOption = None,
        lead: LeadOption = None,
        partner: PartnerOption = None,
        start: StartOption = None,
        end: EndOption = None,
        term_months: TermOption = None,
        visits: VisitsOption = None,
        goals: GoalsOption = None,
        lang: LangOption = None,
    ) -> None:
        """Adds or changes the pairing `code` from the options given."""
        given = PairingOptions(name, form, lead, partner, start, end, term_months, visits, goals)
        settings = load_settings()
        t = pick_translator(settings, lang)
        now = parse_now(settings, None)

        # A new pairing is made of the options alone: refused before the database is opened.
        new = None if editing else _spec(t, None, code, given)

        def save(session: Any) -> None:
            spec = new or _spec(t, pairing_spec(session, code), code, given)
            save_pairing(session, spec=spec, now=now, actor_id=None, replace=editing)

        run_use_case(settings, t, save)
        shown = code.strip().upper()
        if editing:
            typer.echo(t("Pairing {code} changed.", code=shown))
        else:
            typer.echo(t("Pairing {code} added.", code=shown))

    return command


pairing_app.command(
    "add",
    help="Adds a pairing: its form, lead, partners and agreement (refused if the code exists).",
)(_pairing_command(editing=False))
pairing_app.command(
    "edit", help="Changes a pairing: only the options given (--partner replaces the partners)."
)(_pairing_command(editing=True))


@pairing_app.command("end")
@friendly
def pairing_end(
    code: CodeArgument,
    on: Annotated[
        str | None, typer.Option("--on", help="The agreement's last day (default: today).")
    ] = None,
    lang: LangOption = None,
) -> None:
    """Ends a pairing's agreement: its records stay, nothing more is asked of it."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    now = parse_now(settings, None)
    day = parse_day(t, "--on", on) if on is not None else now.date()
    run_use_case(
        settings,
        t,
        lambda session: end_pairing(session, code=code, on=day, now=now, actor_id=None),
    )
    typer.echo(t("Pairing {code} ends on {date}.", code=code.strip().upper(), date=t.date(day)))


@pairing_app.command("list")
@friendly
def pairing_list(json_output: JsonOption = False, lang: LangOption = None) -> None:
    """Lists the pairings: form, organizations (lead first), agreement, missing liaisons."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    views = run_use_case(settings, t, list_pairings)
    if json_output:
        emit_json([group_json(view) for view in views])
        return
    if not views:
        typer.echo(t("There are no pairings yet. Add one: gongjian pairing add --help"))
        return
    typer.echo(
        render_table(
            [t("Code"), t("Name"), t("Form"), t("Organizations"), t("Agreement"), t("No liaison")],
            [
                [
                    view.code,
                    view.name,
                    t(FORMS[PairingForm(str(view.detail["form"]))]),
                    ", ".join(view.orgs),
                    f"{view.detail['agreement_start']} – {view.detail['agreement_end'] or ''}",
                    ", ".join(view.missing_liaisons) or "-",
                ]
                for view in views
            ],
        )
    )


def group_json(view: GroupView) -> dict[str, object]:
    """Returns a pairing or alliance as JSON-ready data."""
    return {
        "code": view.code,
        "name": view.name,
        **view.detail,
        "orgs": list(view.orgs),
        "missing_liaisons": list(view.missing_liaisons),
    }
