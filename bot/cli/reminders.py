"""Command line for reminders: preview the rules, inspect the outbox, run the scheduler alone.

Mount with `bot.cli.reminders.register(app)`: adds `gongjian reminders ...`, `gongjian outbox` and
`gongjian scheduler`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from bot.calendar.holidays import HolidayCalendar, HolidayFileError
from bot.channels.registry import push_senders
from bot.cli.support import emit_json, fail, parse_now
from bot.config import ConfigError, Settings, load_settings
from bot.core.clock import SystemClock
from bot.services.obligations.facts import DEFAULT_SCOPE, parse_setting
from scheduler.service import plan_tick, preview, run_scheduler
from storage import outbox
from storage.engine import Database
from storage.reminders import OutboxStatus, scope_owner, set_reminder_setting

log = logging.getLogger(__name__)

reminders_app = typer.Typer(no_args_is_help=True, help="Reminder pushes the rules imply.")


def _settings() -> Settings:
    """Loads the settings, failing with one line on a bad one."""
    try:
        settings = load_settings()
    except ConfigError as error:
        fail(str(error))
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr)
    return settings


def _holidays(settings: Settings) -> HolidayCalendar:
    """Loads the holiday calendar, failing with one line on a bad overrides file."""
    try:
        return HolidayCalendar.load(settings.holidays_file)
    except HolidayFileError as error:
        fail(str(error))


def parse_at(settings: Settings, text: str | None) -> datetime:
    """Reads `--at` (ISO, in the configured time zone when it names none), or now."""
    return parse_now(settings, text, option="--at", example="2026-11-02T19:00")


@reminders_app.command("preview")
def preview_command(
    at: Annotated[
        str | None, typer.Option("--at", help="Moment to evaluate, e.g. 2026-11-02T19:00.")
    ] = None,
    include_queued: Annotated[
        bool, typer.Option("--all", help="Also list pushes already in the outbox.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Lists what the rules would push at a moment, without sending or recording anything."""
    settings = _settings()
    moment = parse_at(settings, at)
    database = Database.connect(settings.database_url)
    try:
        items = preview(
            database,
            at=moment,
            holidays=_holidays(settings),
            settings=settings,
            include_queued=include_queued,
        )
    finally:
        database.dispose()
    if json_output:
        emit_json(
            [
                {
                    "member_id": item.member_id,
                    "recipient": item.member,
                    "channel": item.channel.value if item.channel else None,
                    "rule": item.rule,
                    "key": item.key,
                    "urgent": item.urgent,
                    "queued": item.queued,
                    "text": item.text,
                }
                for item in items
            ]
        )
        return
    if not items:
        typer.echo(f"Nothing is due at {moment.isoformat(timespec='minutes')}.")
        return
    typer.echo(f"{len(items)} push(es) due at {moment.isoformat(timespec='minutes')}:")
    for item in items:
        channel = item.channel.value if item.channel else "-"
        queued = " (already queued)" if item.queued else ""
        typer.echo(f"\n[{item.rule}] to {item.member} (#{item.member_id}) via {channel}{queued}")
        typer.echo("  " + item.text.replace("\n", "\n  "))


@reminders_app.command("tick")
def tick_command(
    at: Annotated[
        str | None, typer.Option("--at", help="Moment to evaluate (default now).")
    ] = None,
) -> None:
    """Runs one scheduler tick: stores the pushes due now in the outbox (idempotent)."""
    settings = _settings()
    moment = parse_at(settings, at)
    database = Database.connect(settings.database_url)
    try:
        report = plan_tick(database, now=moment, holidays=_holidays(settings), settings=settings)
    finally:
        database.dispose()
    typer.echo(f"{report.due} due, {report.queued} newly queued, {report.retired} no longer owed.")


@reminders_app.command("set")
def set_command(
    name: Annotated[str, typer.Argument(help="Setting, e.g. orglife_eve_time or theme_lead_days.")],
    value: Annotated[str, typer.Argument(help="Value, e.g. 18:30 or 14,3.")],
    scope: Annotated[
        str, typer.Option("--scope", help="default, alliance:CODE or org:CODE (or :ID).")
    ] = DEFAULT_SCOPE,
) -> None:
    """Sets a reminder time or lead for everyone, one alliance or one organization."""
    settings = _settings()
    try:
        parse_setting(name, value)
    except ValueError as error:
        fail(str(error))
    kind, _, ident = scope.strip().partition(":")
    if scope != DEFAULT_SCOPE and not (kind in ("alliance", "org") and ident.strip()):
        fail(f"--scope: expected default, alliance:CODE or org:CODE, got {scope!r}")
    database = Database.connect(settings.database_url)
    try:
        with database.session() as session:
            if scope != DEFAULT_SCOPE:
                owner = scope_owner(session=session, kind=kind, ident=ident.strip())
                if owner is None:
                    fail(f"--scope: no {kind} has the code or id {ident.strip()!r}")
                scope = f"{kind}:{owner}"
            set_reminder_setting(session=session, scope=scope, name=name, value=value.strip())
    finally:
        database.dispose()
    typer.echo(f"{name} = {value.strip()} ({scope})")


def outbox_command(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="pending, sending, sent, failed, undeliverable, dead or obsolete."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    requeue_dead: Annotated[
        bool, typer.Option("--requeue-dead", help="Give dead-lettered pushes another round.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Shows the outbox: counts per status and the newest pushes."""
    settings = _settings()
    try:
        statuses = [OutboxStatus(word.strip().lower()) for word in status or []]
    except ValueError:
        fail("--status: use pending, sending, sent, failed, undeliverable, dead or obsolete")
    database = Database.connect(settings.database_url)
    try:
        with database.session() as session:
            requeued = (
                outbox.requeue_dead(session, now=SystemClock(settings.tz).now())
                if requeue_dead
                else 0
            )
            counts = outbox.count_by_status(session)
            rows = outbox.list_outbox(session, statuses=statuses, limit=limit)
    finally:
        database.dispose()
    if json_output:
        emit_json(
            {
                "counts": {key.value: value for key, value in counts.items()},
                "requeued": requeued,
                "rows": [_row_json(row) for row in rows],
            }
        )
        return
    if requeue_dead:
        typer.echo(f"Requeued {requeued} dead-lettered push(es).")
    typer.echo("  ".join(f"{key.value}: {value}" for key, value in counts.items()))
    for row in rows:
        when = (row.sent_at or row.next_attempt_at).astimezone(settings.tz)
        channel = row.channel.value if row.channel else "-"
        line = f"#{row.id} {row.status.value:<13} {row.rule:<15} member {row.member_id} {channel}"
        line += f" {when.isoformat(timespec='minutes')} tries {row.attempts}"
        typer.echo(line + (f"  ({row.last_error})" if row.last_error else ""))


def _row_json(row: outbox.OutboxView) -> dict[str, Any]:
    """Describes one outbox row as JSON."""
    return {
        "id": row.id,
        "key": row.key,
        "rule": row.rule,
        "member_id": row.member_id,
        "status": row.status.value,
        "attempts": row.attempts,
        "channel": row.channel.value if row.channel else None,
        "created_at": row.created_at.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "last_error": row.last_error,
        "text": row.text,
    }


def scheduler_command(
    deliver: Annotated[
        bool, typer.Option("--deliver/--no-deliver", help="Also push the outbox.")
    ] = True,
) -> None:
    """Runs the reminder scheduler alone (ticks when leading; delivers unless --no-deliver)."""
    from bot.engine.assembly import build_assistant  # noqa: PLC0415 (loads the handlers only here)

    settings = _settings()
    assistant = build_assistant(settings)

    async def main() -> None:
        """Runs until interrupted."""
        async with push_senders(
            settings, assistant, database=assistant.database, clock=assistant.clock
        ) as senders:
            await run_scheduler(
                database=assistant.database,
                clock=assistant.clock,
                settings=settings,
                holidays=assistant.holidays,
                senders=senders if deliver else (),
                plan=True,
            )

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        assistant.database.dispose()


def register(app: typer.Typer) -> None:
    """Mounts the reminder commands on the `gongjian` app."""
    app.add_typer(reminders_app, name="reminders")
    app.command("outbox")(outbox_command)
    app.command("scheduler")(scheduler_command)
