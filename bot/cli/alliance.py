"""`gongjian alliance add|edit|list`: party-building alliances (党建联盟) from the command line.

Mount with `bot.cli.alliance.register(app)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from bot.cli.pairing import group_json, parse_day
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
from bot.core.i18n import Translator
from bot.services.errors import ServiceError
from bot.services.structure import (
    CONVENER_WORDS,
    PERIOD_WORDS,
    AllianceSpec,
    alliance_spec,
    list_alliances,
    save_alliance,
    word,
)
from handlers.errors import explain

alliance_app = typer.Typer(
    no_args_is_help=True, help="Party-building alliances (党建联盟): add, edit, list."
)

CodeArgument = Annotated[str, typer.Argument(help="The alliance's code, e.g. JHHW.")]
NameOption = Annotated[str | None, typer.Option("--name", help="The alliance's name.")]
PresidentOption = Annotated[
    list[str] | None,
    typer.Option(
        "--president",
        help="A president unit's code (会长单位, 5-7); repeat in the order the executive term"
        " passes: the first is the executive president unit first.",
    ),
]
MemberOption = Annotated[
    list[str] | None,
    typer.Option("--member", help="A member unit's code (会员单位); repeat for each."),
]
StartOption = Annotated[
    str | None,
    typer.Option("--start", help="The first day of the rotation, e.g. 2026-01-01."),
]
TermOption = Annotated[
    int | None, typer.Option("--term-months", help="The executive president unit's term, months.")
]
PeriodOption = Annotated[
    str | None, typer.Option("--duty-period", help="Theme-day duty per month or quarter.")
]
ConvenerOption = Annotated[
    str | None,
    typer.Option(
        "--convener",
        help="Who convenes the joint meeting: executive (default, 001) or rotation.",
    ),
]
ThemeOption = Annotated[
    str | None,
    typer.Option(
        "--theme-order",
        help="The theme-day rotation over every unit, comma-separated (default: presidents,"
        " then members).",
    ),
]


@dataclass(frozen=True, slots=True)
class AllianceOptions:
    """The options `alliance add` and `alliance edit` share, as given (None when left out)."""

    name: str | None = None
    presidents: list[str] | None = None
    members: list[str] | None = None
    start: str | None = None
    term_months: int | None = None
    duty_period: str | None = None
    convener: str | None = None
    theme_order: str | None = None


def register(app: typer.Typer) -> None:
    """Mounts `gongjian alliance`."""
    app.add_typer(alliance_app, name="alliance")


def _codes(values: list[str] | None) -> tuple[str, ...] | None:
    """Splits repeated or comma-separated codes; None when the option was not given."""
    if not values:
        return None
    return tuple(code for text in values for code in text.replace("，", ",").split(","))


def _spec(
    t: Translator, base: AllianceSpec | None, code: str, given: AllianceOptions
) -> AllianceSpec:
    """Builds the spec from the options, over a stored alliance's values when editing."""
    changes: dict[str, Any] = {}
    if given.name is not None:
        changes["name"] = given.name
    if (found := _codes(given.presidents)) is not None:
        changes["presidents"] = found
    if (found := _codes(given.members)) is not None:
        changes["members"] = found
    if given.start is not None:
        changes["rota_start"] = parse_day(t, "--start", given.start)
    if given.term_months is not None:
        changes["executive_term_months"] = given.term_months
    try:
        if given.duty_period is not None:
            changes["duty_period"] = word(PERIOD_WORDS, given.duty_period, "bad_duty_period")
        if given.convener is not None:
            changes["convener_rule"] = word(CONVENER_WORDS, given.convener, "bad_convener_rule")
    except ServiceError as error:
        fail(explain(t, error))
    if given.theme_order is not None:
        changes["theme_order"] = _codes([given.theme_order]) or ()
    elif base is not None and ("presidents" in changes or "members" in changes):
        # New units: the theme-day order starts again from presidents then members.
        changes["theme_order"] = ()
    if base is None:
        missing = [
            option
            for option, key in (
                ("--name", "name"),
                ("--president", "presidents"),
                ("--start", "rota_start"),
            )
            if key not in changes
        ]
        if missing:
            fail(t("Missing options: {options}", options=", ".join(missing)))
        changes.setdefault("members", ())
        return AllianceSpec(code=code, **changes)
    return dataclasses.replace(base, **changes)


def _alliance_command(*, editing: bool) -> Callable[..., None]:
    """Builds `alliance add` or `alliance edit`: one set of options, for a new or a stored alliance."""

    @friendly
    def command(
        code: CodeArgument,
        *,
        name: NameOption = None,
        president: PresidentOption = None,
        member: MemberOption = None,
        start: StartOption = None,
        term_months: TermOption = None,
        duty_period: PeriodOption = None,
        convener: ConvenerOption = None,
        theme_order: ThemeOption = None,
        lang: LangOption = None,
    ) -> None:
        """Adds or changes the alliance `code` from the options given."""
        given = AllianceOptions(
            name, president, member, start, term_months, duty_period, convener, theme_order
        )
        settings = load_settings()
        t = pick_translator(settings, lang)
        now = parse_now(settings, None)
        # A new alliance is made of the options alone: refused before the database is opened.
        new = None if editing else _spec(t, None, code, given)

        def save(session: Any) -> None:
            spec = new or _spec(t, alliance_spec(session, code), code, given)
            save_alliance(session, spec=spec, now=now, actor_id=None, replace=editing)

        run_use_case(settings, t, save)
        shown = code.strip().upper()
        if editing:
            typer.echo(t("Alliance {code} changed.", code=shown))
        else:
            typer.echo(t("Alliance {code} added.", code=shown))

    return command


alliance_app.command(
    "add", help="Adds an alliance: 5-7 president units, member units, terms and rotations."
)(_alliance_command(editing=False))
alliance_app.command(
    "edit",
    help="Changes an alliance: only the options given (--president/--member replace the lists).",
)(_alliance_command(editing=True))


@alliance_app.command("list")
@friendly
def alliance_list(json_output: JsonOption = False, lang: LangOption = None) -> None:
    """Lists the alliances: president and member units, executive, rules, missing liaisons."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    views = run_use_case(settings, t, list_alliances)
    if json_output:
        emit_json([group_json(view) for view in views])
        return
    if not views:
        typer.echo(t("There are no alliances yet. Add one: gongjian alliance add --help"))
        return
    typer.echo(
        render_table(
            [
                t("Code"),
                t("Name"),
                t("President units"),
                t("Member units"),
                t("Executive"),
                t("No liaison"),
            ],
            [
                [
                    view.code,
                    view.name,
                    ", ".join(map(str, view.detail["presidents"])),  # type: ignore[call-overload]
                    ", ".join(map(str, view.detail["members"])) or "-",  # type: ignore[call-overload]
                    str(view.detail["executive"]),
                    ", ".join(view.missing_liaisons) or "-",
                ]
                for view in views
            ],
        )
    )
