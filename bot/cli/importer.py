"""`gongjian import members`: organizations, members and roles from a spreadsheet, all or none."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.progress import import_progress
from bot.cli.support import LangOption, fail, friendly, pick_translator, run_services
from bot.config import load_settings
from bot.core.i18n import Translator
from bot.services.import_template import MEMBER_TEMPLATE
from bot.services.importer import COLUMNS, ImportFileError, ImportReport, read_table
from bot.texts.phrases import IMPORT_COLUMNS

EXIT_INVALID = 1

import_app = typer.Typer(no_args_is_help=True, help="Bulk imports from spreadsheets.")

assert set(IMPORT_COLUMNS) == set(COLUMNS)


def register(app: typer.Typer) -> None:
    """Mounts `gongjian import` on the app."""
    app.add_typer(import_app, name="import")


@import_app.command(
    "members",
    help="Imports organizations, members and roles: all rows, or none when any row is bad."
    " Columns (Chinese or English headers, any order; only 组织代码 is required): "
    + "、".join(f"{column.header} ({name})" for name, column in MEMBER_TEMPLATE.items())
    + ". The template: gongjian import template -o 导入模板.xlsx",
)
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
    with import_progress(t) as progress:
        try:
            table = read_table(file, progress=progress)
        except ImportFileError as error:
            fail(t(error.message, **error.values))
        report = run_services(
            settings,
            t,
            lambda services: services.import_members(
                table, dry_run=dry_run, source=file.name, progress=progress
            ),
        )
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
                    column=t(IMPORT_COLUMNS[error.column]),
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
