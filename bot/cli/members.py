"""`gongjian member`: one member's personal data: export, delete, mark departed, purge."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.support import (
    LangOption,
    ReportNowOption,
    fail,
    friendly,
    parse_now,
    pick_translator,
    unit_of_work,
)
from bot.config import load_settings
from bot.core.clock import SystemClock
from bot.core.i18n import Translator
from bot.services.errors import ServiceError
from bot.services.members import Members
from bot.services.privacy import (
    depart_member,
    erase_member,
    export_member,
    purge_departed,
)

member_app = typer.Typer(
    no_args_is_help=True, help="One member's personal data: export, delete, mark departed."
)

MemberArgument = Annotated[int, typer.Argument(help="The member's id.", min=1)]


def register(app: typer.Typer) -> None:
    """Mounts `gongjian member` on the app."""
    app.add_typer(member_app, name="member")


def _refusal(t: Translator, error: ServiceError) -> str:
    """Words the refusals these commands can meet."""
    if error.code == "member_unknown":
        return t("No member has the id {id}.", id=error.details.get("member_id"))
    return t("That cannot be done right now.")


@member_app.command("export")
@friendly
def member_export(
    member_id: MemberArgument,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the JSON to this file (default: print it)."),
    ] = None,
    lang: LangOption = None,
) -> None:
    """Writes everything stored about a member as JSON (it is personal data: keep it safe)."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    now = SystemClock(settings.tz).now()
    try:
        with unit_of_work(settings) as session:
            data = export_member(session, member_id, now=now)
    except ServiceError as error:
        fail(_refusal(t, error))
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
        return
    try:
        # Readable by the operator alone: the file holds one person's party membership data.
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError as error:
        fail(t("Cannot write {file}: {reason}", file=str(output), reason=error.strerror or error))
    typer.echo(t("Wrote the data of member #{id} to {file}.", id=member_id, file=str(output)))


@member_app.command("delete")
@friendly
def member_delete(
    member_id: MemberArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    lang: LangOption = None,
) -> None:
    """Removes a member's personal data; anonymous attendance and ledger statistics stay."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    now = SystemClock(settings.tz).now()
    with unit_of_work(settings) as session:
        member = Members(session, now).find(member_id)
        if member is None:
            fail(_refusal(t, ServiceError("member_unknown", member_id=member_id)))
        if not yes and not typer.confirm(
            t(
                "Delete the personal data of member #{id} ({name})? This cannot be undone.",
                id=member_id,
                name=member.name,
            )
        ):
            fail(t("Nothing was deleted."))
        erasure = erase_member(session, member_id, now=now)
    removed = sum(erasure.deleted.values())
    typer.echo(
        t(
            "Deleted the personal data of member #{id}: {rows} rows removed; attendance and"
            " ledger entries stay, anonymized.",
            id=member_id,
            rows=removed,
        )
    )


@member_app.command("depart")
@friendly
def member_depart(member_id: MemberArgument, lang: LangOption = None) -> None:
    """Marks a member departed (their data is removed after the retention period)."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    now = SystemClock(settings.tz).now()
    try:
        with unit_of_work(settings) as session:
            changed = depart_member(session, member_id, now=now)
    except ServiceError as error:
        fail(_refusal(t, error))
    if not changed:
        typer.echo(t("Member #{id} had already departed; nothing changed.", id=member_id))
        return
    typer.echo(
        t(
            "Member #{id} is marked departed; their personal data will be removed after"
            " {days} days.",
            id=member_id,
            days=settings.retention_days,
        )
    )


@member_app.command("purge")
@friendly
def member_purge(now: ReportNowOption = None, lang: LangOption = None) -> None:
    """Removes the personal data of members departed longer than GONGJIAN_RETENTION_DAYS."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    moment = parse_now(settings, now)
    with unit_of_work(settings) as session:
        purged = purge_departed(session, moment, timedelta(days=settings.retention_days))
    typer.echo(
        t(
            "Removed the personal data of {count} members departed more than {days} days ago.",
            count=len(purged),
            days=settings.retention_days,
        )
    )
