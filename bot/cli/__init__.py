"""The `gongjian` command line: schema, demo data, console chat, invites, calendar, roster, run."""

from __future__ import annotations

import asyncio
import errno
import getpass
import importlib
import inspect
import io
import logging
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import HolidayPolicy, MoveReason, OrgLifeDay, org_life_days
from bot.calendar.quarters import Quarter
from bot.cli.meetings import register as register_meeting_commands
from bot.cli.members import register as register_member_commands
from bot.cli.reminders import register as register_scheduler_commands
from bot.cli.secretary import register as register_secretary_commands
from bot.cli.support import (
    emit_json,
    fail,
    friendly,
    parse_now,
    pick_translator,
    render_table,
)
from bot.config import ConfigError, Settings, load_settings
from bot.core.clock import FrozenClock, SystemClock
from bot.core.domain import Duty, OrgKind, RoleKind
from bot.core.i18n import N_, Translator
from bot.core.inbound import Channel
from bot.core.records import DutySlot, OrgView
from bot.demo import DemoResult, build_demo, demo_invite
from bot.services.errors import ServiceError
from bot.services.holiday_data import missing_holiday_years
from bot.services.rota import Period, Rota, parse_period
from bot.services.use_cases import InviteView, Services
from bot.texts.phrases import DUTIES, HOLIDAYS, ROLE_WORDS, ROLES
from bot.texts.reminders import holiday_data_warning
from bot.texts.translation import translator
from handlers.errors import explain
from storage.engine import Database
from storage.models import ChatAccount, Organization

if TYPE_CHECKING:
    from bot.channels.console import ConsoleChannel
    from bot.engine.assistant import Assistant

log = logging.getLogger(__name__)


MIN_YEAR, MAX_YEAR = 1900, 2200

ORG_KINDS: dict[OrgKind, str] = {
    OrgKind.COMMITTEE: N_("Party committee"),
    OrgKind.GENERAL_BRANCH: N_("General branch"),
    OrgKind.BRANCH: N_("Branch"),
    OrgKind.JOINT_BRANCH: N_("Joint branch"),
}
ORDINALS: dict[int, str] = {
    1: N_("first"),
    2: N_("second"),
    3: N_("third"),
    4: N_("fourth"),
    -1: N_("last"),
}
POLICIES: dict[str, str] = {
    HolidayPolicy.KEEP.value: N_("keep the day"),
    HolidayPolicy.NEXT_WORKDAY.value: N_("move to the next working day"),
}

app = typer.Typer(
    no_args_is_help=True,
    help="共建助手 Gongjian: the party-branch co-construction assistant.",
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
invite_app = typer.Typer(no_args_is_help=True, help="Invite codes that bind a chat account.")
org_app = typer.Typer(no_args_is_help=True, help="Organizations.")
roster_app = typer.Typer(help="The duty roster of an organization's alliances and pairings.")
app.add_typer(db_app, name="db")
app.add_typer(invite_app, name="invite")
app.add_typer(org_app, name="org")
app.add_typer(roster_app, name="roster")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LangOption = Annotated[
    str | None, typer.Option("--lang", help="Language of the output: zh_CN or en.")
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now", help="Pretend it is this ISO date and time (e.g. 2026-11-03T09:30), for demos."
    ),
]
OrgOption = Annotated[str, typer.Option("--org", help="The organization's code.")]

_logging_ready = False


# -- plumbing ----------------------------------------------------------------------------


def settings_from_env() -> Settings:
    """Loads the settings once and sets up logging from them."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return settings


def configure_logging(level_name: str) -> None:
    """Configures stdlib logging to stderr once per process."""
    global _logging_ready  # noqa: PLW0603 (one configuration per process)
    level = logging.getLevelName(level_name.strip().upper())
    if not isinstance(level, int):
        raise ConfigError(
            f"GONGJIAN_LOG_LEVEL: unknown level {level_name!r} (DEBUG, INFO, WARNING or ERROR)"
        )
    if _logging_ready:
        return
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if level > logging.DEBUG:
        # Alembic announces its context on every start; only worth seeing when debugging.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    _logging_ready = True


def open_database(settings: Settings) -> Database:
    """Opens the configured database, bringing its schema up to date."""
    return Database.connect(settings.database_url)


def find_org(session: Session, t: Translator, code: str) -> Organization:
    """Returns the organization with `code`, or fails naming it."""
    org = session.exec(
        select(Organization).where(col(Organization.code) == code.strip().upper())
    ).first()
    if org is None:
        fail(t("No organization has the code {code}. See: gongjian org list", code=code))
    return org


def check_year(t: Translator, year: int) -> int:
    """Refuses a year the calendar cannot sensibly answer for."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        fail(t("The year must be between {first} and {last}.", first=MIN_YEAR, last=MAX_YEAR))
    return year


# -- gongjian db -------------------------------------------------------------------------


@db_app.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Migrates the database to the newest schema and prints its revision."""
    settings = settings_from_env()
    database = open_database(settings)
    with database.engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    database.dispose()
    t = translator(settings.default_locale)
    typer.echo(t("The database schema is at revision {revision}.", revision=revision))


# -- gongjian demo -----------------------------------------------------------------------


@app.command()
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
    with database.session() as session:
        result = build_demo(
            session,
            now=moment,
            tz=settings.tz,
            holidays=holidays,
            invite_ttl=timedelta(hours=settings.invite_ttl_hours),
            reset=reset,
        )
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
        else t("Demo data refreshed: nothing was duplicated and unused invites were reissued.")
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


# -- gongjian chat -----------------------------------------------------------------------


@app.command()
@friendly
def chat(
    as_user: Annotated[
        str | None, typer.Option("--as", help="The console user id (default: your OS user name).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Your display name, used by invites without one.")
    ] = None,
    now: NowOption = None,
    demo_role: Annotated[
        str | None,
        typer.Option(
            "--demo-role",
            help="Bind first with an unused demo invite of this role (secretary, deputy, liaison, member).",
        ),
    ] = None,
) -> None:
    """Chats with the assistant on this terminal, or answers one message per line from a pipe."""
    from bot.channels.console import ConsoleChannel, terminal_lines  # noqa: PLC0415
    from bot.engine.assembly import build_assistant  # noqa: PLC0415 (loads every handler; only chat needs it)

    settings = settings_from_env()
    user_id = (as_user or os_user()).strip()
    if not user_id:
        fail("--as: the console user id cannot be empty")
    clock = FrozenClock(parse_now(settings, now), settings.tz) if now else None
    assistant = build_assistant(settings, clock=clock)
    channel = ConsoleChannel(assistant, user_id=user_id, display_name=name or user_id)
    _tolerant_streams()
    if demo_role is not None:
        _bind_demo(assistant, channel, demo_role)
    interactive = reads_terminal()
    t = translator(settings.default_locale)
    try:
        if interactive:
            typer.echo(t("Chatting as {user}. Send help for help; Ctrl-D ends.", user=user_id))
            channel.run(terminal_lines(), _write, prompt=False)
            _write("\n")
        else:
            channel.run(sys.stdin, _write, prompt=False)
    except KeyboardInterrupt:
        _write("\n")
    finally:
        assistant.database.dispose()


def _bind_demo(assistant: Assistant, channel: ConsoleChannel, role_name: str) -> None:
    """Binds the console user with a demo invite of a role, unless it is already bound."""
    from bot.channels.console import render  # noqa: PLC0415

    try:
        role = RoleKind(role_name.strip().lower())
    except ValueError:
        fail(
            f"--demo-role: unknown role {role_name!r}; use secretary, deputy, committee, liaison or member"
        )
    with assistant.database.session() as session:
        bound = session.exec(
            select(ChatAccount.id).where(
                ChatAccount.channel == Channel.CONSOLE, ChatAccount.external_id == channel.user_id
            )
        ).first()
        code = None if bound else demo_invite(session, role, assistant.clock.now())
    if bound:
        return
    if code is None:
        fail(
            f"--demo-role: no unused demo invite for {role.value} is left; run `gongjian demo` first"
        )
    for reply in channel.send(f"绑定 {code}"):
        _write(render(reply) + "\n")


def reads_terminal() -> bool:
    """Tells whether standard input is a person at a terminal rather than a pipe or file."""
    return sys.stdin.isatty()


def os_user() -> str:
    """Returns the operating system's user name, or `console` when there is none."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "console"


def _tolerant_streams() -> None:
    """Keeps odd bytes or a non-UTF-8 terminal from ending the chat with an encoding error."""
    for stream in (sys.stdin, sys.stdout):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def _write(text: str) -> None:
    """Writes console output at once, so a program on the other end of a pipe sees each reply."""
    sys.stdout.write(text)
    sys.stdout.flush()


# -- gongjian invite ---------------------------------------------------------------------


@invite_app.command("create")
@friendly
def invite_create(
    org: OrgOption,
    role: Annotated[
        str, typer.Option("--role", help="secretary, deputy, committee, liaison or member.")
    ],
    name: Annotated[
        str, typer.Option("--name", help="The invitee's name (else their chat name).")
    ] = "",
    json_output: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Creates a single-use invite for a role in an organization and prints its code."""
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    role_kind = ROLE_WORDS.get(role.strip().lower())
    if role_kind is None:
        fail(
            t(
                "Unknown role {role}; use one of: {roles}.",
                role=role,
                roles=", ".join(kind.value for kind in RoleKind),
            )
        )
    database = open_database(settings)
    with database.session() as session:
        target = find_org(session, t, org)
        services = Services(
            session,
            now=SystemClock(settings.tz).now(),
            tz=settings.tz,
            holidays=HolidayCalendar.load(settings.holidays_file),
            settings=settings,
        )
        assert target.id is not None
        invite = services.create_invite(actor=None, org_id=target.id, role=role_kind, name=name)
    database.dispose()
    link = telegram_link(settings, invite.code)
    if json_output:
        data: dict[str, Any] = {
            "code": invite.code,
            "org": invite.org.code,
            "org_name": invite.org.name,
            "role": invite.role.value,
            "name": invite.name,
            "expires_at": invite.expires_at.isoformat(),
        }
        if link:
            data["telegram_link"] = link
        emit_json(data)
        return
    typer.echo(render_invite(t, invite, link))


def render_invite(t: Translator, invite: InviteView, link: str | None) -> str:
    """Describes a new invite for the person handing it out."""
    lines = [
        t("Invite code: {code}", code=invite.code),
        t("Organization: {org} ({code})", org=invite.org.name, code=invite.org.code),
        t("Role: {role}", role=t(ROLES[invite.role])),
    ]
    if invite.name:
        lines.append(t("Name: {name}", name=invite.name))
    lines.append(
        t(
            "Valid once, until {date} {time}.",
            date=t.date(invite.expires_at.date(), "medium"),
            time=t.time(invite.expires_at),
        )
    )
    lines.append(t("To bind, send in a chat: /bind {code}", code=invite.code))
    if link:
        lines.append(t("Telegram: {link}", link=link))
    return "\n".join(lines)


def telegram_link(settings: Settings, code: str) -> str | None:
    """Asks the Telegram channel for the invite's deep link, when Telegram is configured.

    The channel module offers `deep_link(settings, code)` (async: it asks Telegram for the bot's
    username); when it is missing or the link cannot be made right now, the invite is printed
    without a link.
    """
    if not settings.telegram_enabled:
        return None
    try:
        module = importlib.import_module("bot.channels.telegram")
    except ImportError:
        return None
    make_link = getattr(module, "deep_link", None)
    if not callable(make_link):
        return None
    try:
        link = make_link(settings, code)
        if inspect.isawaitable(link):
            link = asyncio.run(_awaited(link))
    except Exception as error:  # a network hiccup must not lose the invite just made
        log.warning("no Telegram link for the invite: %s", type(error).__name__)
        return None
    return str(link) if link else None


async def _awaited(value: Any) -> Any:
    """Awaits an awaitable (asyncio.run wants a coroutine)."""
    return await value


# -- gongjian org ------------------------------------------------------------------------


@org_app.command("list")
@friendly
def org_list(json_output: JsonOption = False, lang: LangOption = None) -> None:
    """Lists every organization: code, name, kind and parent's code."""
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    database = open_database(settings)
    with database.session() as session:
        orgs = session.exec(select(Organization).order_by(col(Organization.code))).all()
    database.dispose()
    codes = {org.id: org.code for org in orgs}
    rows: list[dict[str, str | None]] = [
        {
            "code": org.code,
            "name": org.name,
            "kind": org.kind.value,
            "parent": codes.get(org.parent_id) if org.parent_id else None,
        }
        for org in orgs
    ]
    if json_output:
        emit_json(rows)
        return
    if not rows:
        typer.echo(t("There are no organizations yet. Try: gongjian demo"))
        return
    typer.echo(
        render_table(
            [t("Code"), t("Name"), t("Kind"), t("Parent")],
            [
                [org.code, org.name, t(ORG_KINDS[org.kind]), codes.get(org.parent_id) or "-"]
                for org in orgs
            ],
        )
    )


# -- gongjian calendar -------------------------------------------------------------------


@app.command()
@friendly
def calendar(
    org: OrgOption,
    year: Annotated[int, typer.Option("--year", help="The year, e.g. 2026.")],
    json_output: JsonOption = False,
    lang: LangOption = None,
    now: NowOption = None,
) -> None:
    """Lists an organization's organization-life days of a year, with holiday moves."""
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    today = parse_now(settings, now).date()
    check_year(t, year)
    holidays = HolidayCalendar.load(settings.holidays_file)
    database = open_database(settings)
    with database.session() as session:
        target = find_org(session, t, org)
    database.dispose()
    try:
        policy = HolidayPolicy(target.holiday_policy)
        days = org_life_days(
            year,
            holidays=holidays,
            ordinal=target.orglife_ordinal,
            weekday=target.orglife_weekday,
            policy=policy,
        )
    except ValueError as error:
        fail(
            t(
                "The organization-life rule of {code} is not valid: {reason}",
                code=target.code,
                reason=str(error),
            )
        )
    if json_output:
        emit_json(
            [
                {
                    "month": day.month,
                    "date": day.date.isoformat(),
                    "original": day.original.isoformat(),
                    "reason": day.reason.value if day.reason else None,
                    "holiday": day.holiday.value if day.holiday else None,
                }
                for day in days
            ]
        )
        _warn_holiday_data(t, holidays, today)
        return
    typer.echo(render_calendar(t, target, year, policy, days))
    _warn_holiday_data(t, holidays, today)


def _warn_holiday_data(t: Translator, holidays: HolidayCalendar, today: date) -> None:
    """Warns (on stderr) when the next three months lie past the official holiday data."""
    warning = holiday_data_warning(t, missing_holiday_years(holidays, today))
    if warning:
        typer.echo(warning, err=True)


def render_calendar(
    t: Translator, org: Organization, year: int, policy: HolidayPolicy, days: list[OrgLifeDay]
) -> str:
    """Describes a year's organization-life days, one line per month."""
    weekday_name = t.weekday(date(2024, 1, 1) + timedelta(days=org.orglife_weekday))
    lines = [
        t(
            "{org} ({code}): organization-life days of {year}",
            org=org.name,
            code=org.code,
            year=year,
        ),
        t(
            "Rule: the {ordinal} {weekday} of every month at {time}; on a public holiday: {policy}.",
            ordinal=t(ORDINALS.get(org.orglife_ordinal, ORDINALS[1])),
            weekday=weekday_name,
            time=org.orglife_time,
            policy=t(POLICIES[policy.value]),
        ),
        "",
    ]
    rows = []
    for day in days:
        rows.append([t.date(day.date, "long"), t.weekday(day.date), describe_day(t, day)])
    lines.append(render_table([t("Date"), t("Weekday"), t("Note")], rows))
    return "\n".join(lines)


def describe_day(t: Translator, day: OrgLifeDay) -> str:
    """Says why an organization-life day moved, or what to know about it."""
    holiday = t(HOLIDAYS.get(day.holiday.value, HOLIDAYS["other"])) if day.holiday else ""
    if day.reason is MoveReason.MOVED_FOR_HOLIDAY:
        return t(
            "moved from {date} ({holiday})", date=t.date(day.original, "medium"), holiday=holiday
        )
    if day.reason is MoveReason.KEPT_ON_HOLIDAY:
        return t("falls on {holiday}; the branch keeps the day", holiday=holiday)
    if day.reason is MoveReason.CALENDAR_UNKNOWN:
        return t("holidays of {year} not published yet; check nearer the time", year=day.year)
    return ""


# -- gongjian roster ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlliancePlan:
    """An alliance's duty slots over a year."""

    code: str
    name: str
    slots: list[DutySlot]


@dataclass(frozen=True, slots=True)
class PairingPlan:
    """A pairing's host per quarter over a year."""

    code: str
    name: str
    visit_target: int
    hosts: list[tuple[Quarter, OrgView]]


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
    database = open_database(settings)
    with database.session() as session:
        target = find_org(session, t, org)
        assert target.id is not None
        rota = Rota(session, now)
        alliances: list[AlliancePlan] = []
        for alliance in rota.alliances_of(target.id):
            try:
                slots = rota.plan(alliance, the_year)
            except ServiceError as error:
                fail(explain(t, error))
            alliances.append(AlliancePlan(alliance.code, alliance.name, slots))
        pairings = [
            PairingPlan(
                pairing.code,
                pairing.name,
                pairing.visit_target,
                [
                    (quarter, rota.pairing_host(pairing, quarter))
                    for quarter in (Quarter(the_year, number) for number in range(1, 5))
                ],
            )
            for pairing in rota.pairings_of(target.id)
        ]
    database.dispose()
    if json_output:
        emit_json(
            {
                "org": target.code,
                "year": the_year,
                "alliances": [
                    {"code": a.code, "name": a.name, "slots": [slot_json(s) for s in a.slots]}
                    for a in alliances
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
                    for p in pairings
                ],
            }
        )
        return
    typer.echo(render_roster(t, target, the_year, alliances, pairings))


def render_roster(
    t: Translator,
    org: Organization,
    year: int,
    alliances: list[AlliancePlan],
    pairings: list[PairingPlan],
) -> str:
    """Describes a year's duties per alliance and hosts per pairing, marking changed slots."""
    lines = [t("Duty roster of {org} ({code}) for {year}", org=org.name, code=org.code, year=year)]
    if not alliances and not pairings:
        lines.append(t("{org} is in no alliance and no pairing.", org=org.name))
    for plan in alliances:
        lines.extend(["", t("{name} ({code})", name=plan.name, code=plan.code)])
        for duty in Duty:
            lines.extend(["", t(DUTIES[duty])])
            rows = [
                [slot.period, slot.org.name, describe_override(t, slot)]
                for slot in plan.slots
                if slot.duty is duty
            ]
            lines.append(render_table([t("Period"), t("Organization"), t("Change")], rows))
    for pairing in pairings:
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
    database = open_database(settings)
    with database.session() as session:
        rota = Rota(session, SystemClock(settings.tz).now())
        found = rota.alliance_by_code(alliance)
        if found is None:
            fail(t("No alliance has the code {code}.", code=alliance))
        try:
            first = duty_period(rota, found, the_duty, period)
            second = duty_period(rota, found, the_duty, swap_with) if swap_with else None
        except ValueError:
            fail(explain(t, ServiceError("bad_period")))
        try:
            if second is not None:
                rota.swap(
                    alliance=found,
                    duty=the_duty,
                    first=first,
                    second=second,
                    reason=reason,
                    actor_id=None,
                )
            else:
                assert org is not None
                unit = find_org(session, t, org)
                assert unit.id is not None
                rota.override(
                    alliance=found,
                    duty=the_duty,
                    period=first,
                    org_id=unit.id,
                    reason=reason,
                    actor_id=None,
                )
        except ServiceError as error:
            session.rollback()
            fail(explain(t, error))
        changed = [rota.slot(found, the_duty, first.first_day)]
        if second is not None:
            changed.append(rota.slot(found, the_duty, second.first_day))
    database.dispose()
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


def duty_period(rota: Rota, alliance: Any, duty: Duty, text: str) -> Period:
    """Reads a period for a duty; an executive period is the whole term that contains it."""
    period = parse_period(duty, text, alliance.duty_period)
    if duty is Duty.EXECUTIVE:
        # Executive terms are stored under the term's first month, whatever month was named.
        return rota.executive_period(alliance, period.first_day)
    return period


# -- gongjian run ------------------------------------------------------------------------


@app.command()
@friendly
def run() -> None:
    """Runs every configured channel and the HTTP server until stopped (Ctrl-C or SIGTERM)."""
    from bot.engine.assembly import build_assistant  # noqa: PLC0415 (loads every handler; only run needs it)
    from bot.runner import assistant_services, serve  # noqa: PLC0415 (uvicorn loads only here)

    settings = settings_from_env()
    if not (settings.telegram_enabled or settings.wechat_enabled or settings.wecom_enabled):
        fail(
            "No channel is configured: set GONGJIAN_TELEGRAM_TOKEN, GONGJIAN_WECHAT_TOKEN or"
            " GONGJIAN_WECOM_TOKEN (or talk on this machine with: gongjian chat)"
        )
    assistant = build_assistant(settings)
    log.info("starting on %s", make_url(settings.database_url).get_backend_name())
    try:
        asyncio.run(serve(settings, assistant, assistant_services(settings, assistant)))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        fail(
            f"GONGJIAN_HTTP_PORT: cannot listen on {settings.http_host}:{settings.http_port}:"
            f" {error.strerror or error}"
        )
    finally:
        assistant.database.dispose()


# Reminders, the outbox and the stand-alone scheduler live with the scheduler.
register_scheduler_commands(app)
register_member_commands(app)
register_secretary_commands(app)
register_meeting_commands(app)


def main() -> None:
    """Runs the command line."""
    app()
