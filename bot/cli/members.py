"""Command line for members: bulk import, personal data export and deletion, points.

Mount with `bot.cli.members.register(app)`: adds `gongjian import members`, `gongjian member
export|delete|depart|purge` and `gongjian points`.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import col, select

from bot.cli.support import (
    emit_json,
    fail,
    friendly,
    parse_now,
    pick_translator,
    render_table,
)
from bot.config import load_settings
from bot.core.clock import SystemClock
from bot.core.i18n import N_, Translator
from bot.services.errors import ServiceError
from bot.services.importer import COLUMNS, ImportFileError, ImportReport, import_members, read_table
from bot.services.points import PointWeights, points_table
from bot.services.privacy import (
    depart_member,
    erase_member,
    export_member,
    purge_departed,
)
from storage.engine import Database
from storage.models import Member, Organization

EXIT_INVALID = 1

import_app = typer.Typer(no_args_is_help=True, help="Bulk imports from spreadsheets.")
member_app = typer.Typer(
    no_args_is_help=True, help="One member's personal data: export, delete, mark departed."
)

LangOption = Annotated[
    str | None, typer.Option("--lang", help="Language of the output: zh_CN or en.")
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Pretend it is this ISO date and time (e.g. 2026-11-03T09:30)."),
]
MemberArgument = Annotated[int, typer.Argument(help="The member's id.", min=1)]

# Column names as the operator reads them in error lists.
COLUMN_LABELS: dict[str, str] = {
    "org_code": N_("org_code (组织代码)"),
    "org_name": N_("org_name (组织名称)"),
    "org_kind": N_("org_kind (类型)"),
    "parent_code": N_("parent_code (上级)"),
    "member_name": N_("member_name (姓名)"),
    "roles": N_("roles (职务/身份)"),
    "status": N_("status (状态)"),
    "phone": N_("phone (电话)"),
    "mobile": N_("mobile (流动党员)"),
}
assert set(COLUMN_LABELS) == set(COLUMNS)


def register(app: typer.Typer) -> None:
    """Mounts the member commands on the `gongjian` app."""
    app.add_typer(import_app, name="import")
    app.add_typer(member_app, name="member")
    app.command("points")(points_command)


# -- plumbing ----------------------------------------------------------------------------


def _refusal(t: Translator, error: ServiceError) -> str:
    """Words the refusals these commands can meet."""
    if error.code == "member_unknown":
        return t("No member has the id {id}.", id=error.details.get("member_id"))
    return t("That cannot be done right now.")


# -- gongjian import members -------------------------------------------------------------


@import_app.command("members")
@friendly
def import_members_command(
    file: Annotated[
        Path, typer.Argument(help="An .xlsx or .csv file; the first row names the columns.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; import nothing.")
    ] = False,
    lang: LangOption = None,
) -> None:
    """Imports organizations, members and roles: all rows, or none when any row is bad."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    try:
        table = read_table(file)
    except ImportFileError as error:
        fail(t(error.message, **error.values))
    now = SystemClock(settings.tz).now()
    database = Database.connect(settings.database_url)
    try:
        with database.session() as session:
            report = import_members(session, table, now=now, dry_run=dry_run, source=file.name)
    finally:
        database.dispose()
    typer.echo(render_import(t, report, file.name))
    if not report.ok:
        raise typer.Exit(EXIT_INVALID)


def render_import(t: Translator, report: ImportReport, file_name: str) -> str:
    """Describes an import: every bad row, or what was (or would be) changed."""
    lines: list[str] = []
    if report.ignored_columns:
        lines.append(t("Ignored columns: {columns}", columns=", ".join(report.ignored_columns)))
    if not report.ok:
        lines.append(
            t(
                "{file}: {errors} problems in {rows} rows; nothing was imported.",
                file=file_name,
                errors=len(report.errors),
                rows=len({error.row for error in report.errors}),
            )
        )
        for error in report.errors:
            lines.append(
                t(
                    "Row {row}, {column}: {reason}",
                    row=error.row,
                    column=t(COLUMN_LABELS[error.column]),
                    reason=t(error.reason, **error.values),
                )
            )
        return "\n".join(lines)
    counts = {
        "orgs_created": report.orgs_created,
        "orgs_updated": report.orgs_updated,
        "members_created": report.members_created,
        "members_updated": report.members_updated,
        "roles_added": report.roles_added,
    }
    summary = t(
        "{orgs_created} organizations created, {orgs_updated} updated; {members_created} members"
        " created, {members_updated} updated; {roles_added} roles added.",
        **counts,
    )
    if report.dry_run:
        lines.append(
            t("Dry run of {file}: all {rows} rows are valid.", file=file_name, rows=report.rows)
        )
        lines.append(t("Would be: {summary}", summary=summary))
        lines.append(t("Nothing was imported; run again without --dry-run to import."))
    elif report.changes == 0:
        lines.append(
            t(
                "{file}: all {rows} rows are already in the database; nothing changed.",
                file=file_name,
                rows=report.rows,
            )
        )
    else:
        lines.append(
            t(
                "Imported {file} ({rows} rows): {summary}",
                file=file_name,
                rows=report.rows,
                summary=summary,
            )
        )
    return "\n".join(lines)


# -- gongjian member ---------------------------------------------------------------------


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
    database = Database.connect(settings.database_url)
    try:
        with database.session() as session:
            data = export_member(session, member_id, now=now)
    except ServiceError as error:
        fail(_refusal(t, error))
    finally:
        database.dispose()
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
    database = Database.connect(settings.database_url)
    try:
        with database.session() as session:
            member = session.get(Member, member_id)
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
    finally:
        database.dispose()
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
    database = Database.connect(settings.database_url)
    try:
        with database.session() as session:
            changed = depart_member(session, member_id, now=now)
    except ServiceError as error:
        fail(_refusal(t, error))
    finally:
        database.dispose()
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
def member_purge(now: NowOption = None, lang: LangOption = None) -> None:
    """Removes the personal data of members departed longer than GONGJIAN_RETENTION_DAYS."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    moment = parse_now(settings, now)
    database = Database.connect(settings.database_url)
    try:
        with database.session() as session:
            purged = purge_departed(session, moment, timedelta(days=settings.retention_days))
    finally:
        database.dispose()
    typer.echo(
        t(
            "Removed the personal data of {count} members departed more than {days} days ago.",
            count=len(purged),
            days=settings.retention_days,
        )
    )


# -- gongjian points ---------------------------------------------------------------------


@friendly
def points_command(
    org: Annotated[str, typer.Option("--org", help="The organization's code.")],
    year: Annotated[
        int | None, typer.Option("--year", help="The year (default: this year).")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
    now: NowOption = None,
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
    database = Database.connect(settings.database_url)
    try:
        with database.session() as session:
            found = session.exec(
                select(Organization.id).where(col(Organization.code) == org.strip().upper())
            ).first()
            if found is None:
                fail(t("No organization has the code {code}. See: gongjian org list", code=org))
            table = points_table(
                session, org_id=found, year=the_year, weights=weights, now=moment, today=today
            )
    finally:
        database.dispose()
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
