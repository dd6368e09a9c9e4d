"""`gongjian import district FILE` and `gongjian import template -o FILE`: a whole district from one workbook.

Mount with `bot.cli.district_import.register(app)` once the `import` group is mounted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.importer import render_import
from bot.cli.progress import import_progress
from bot.cli.support import (
    LangOption,
    fail,
    friendly,
    mounted_group,
    pick_translator,
    run_services,
)
from bot.config import load_settings
from bot.core.i18n import Translator
from bot.services.district import (
    ALLIANCE_COLUMNS,
    PAIRING_COLUMNS,
    PAIRING_SHEET,
    DistrictReport,
    read_workbook,
)
from bot.services.errors import ServiceError
from bot.services.import_template import MEMBER_TEMPLATE, write_template
from bot.services.importer import ImportFileError
from bot.texts.phrases import IMPORT_COLUMNS as COLUMN_LABELS
from handlers.errors import explain

EXIT_INVALID = 1


def register(app: typer.Typer) -> None:
    """Adds `import district` and `import template` to the `import` group mounted on `app`."""
    group = mounted_group(app, "import")
    group.command("district", help=district_help())(import_district_command)
    group.command("template")(import_template_command)


def district_help() -> str:
    """Describes the district import with every sheet's columns."""
    return (
        "Imports a whole district from one .xlsx: sheets 组织与党员 ("
        + "、".join(column.header for column in MEMBER_TEMPLATE.values())
        + "), 结对 ("
        + "、".join(aliases[0] for aliases in PAIRING_COLUMNS.values())
        + ") and 联盟 ("
        + "、".join(aliases[0] for aliases in ALLIANCE_COLUMNS.values())
        + "). All rows of all sheets, or none when any is bad. Get the template with"
        " `gongjian import template -o 导入模板.xlsx`."
    )


@friendly
def import_district_command(
    file: Annotated[Path, typer.Argument(help="The filled-in template (.xlsx), or a .csv.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; import nothing.")
    ] = False,
    lang: LangOption = None,
) -> None:
    """Imports a whole district from one workbook."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    with import_progress(t) as progress:
        try:
            workbook = read_workbook(file, progress=progress)
        except ImportFileError as error:
            fail(t(error.message, **error.values))
        report = run_services(
            settings,
            t,
            lambda services: services.import_district(
                workbook, dry_run=dry_run, source=file.name, progress=progress
            ),
        )
    typer.echo(render_district(t, report, file.name))
    if not report.ok:
        raise typer.Exit(EXIT_INVALID)


def render_district(t: Translator, report: DistrictReport, file_name: str) -> str:
    """Describes a district import: every bad cell of every sheet, or what changed."""
    lines = [render_import(t, report.members, file_name)] if report.members.rows else []
    if report.group_errors:
        if report.members.ok:
            lines.append(
                t(
                    "{file}: {errors} problems in the 结对 and 联盟 sheets; nothing was imported.",
                    file=file_name,
                    errors=len(report.group_errors),
                )
            )
        for error in report.group_errors:
            columns = PAIRING_COLUMNS if error.sheet == PAIRING_SHEET else ALLIANCE_COLUMNS
            lines.append(
                t(
                    "{sheet} row {row}, {column}: {reason}",
                    sheet=error.sheet,
                    row=error.row,
                    column=columns[error.column][0],
                    reason=explain(t, refusal(error.code, error.values)),
                )
            )
        return "\n".join(lines)
    if not report.ok:
        return "\n".join(lines)
    lines.append(
        t(
            "Pairings: {p_new} created, {p_changed} changed; alliances: {a_new} created,"
            " {a_changed} changed.",
            p_new=report.pairings_created,
            p_changed=report.pairings_updated,
            a_new=report.alliances_created,
            a_changed=report.alliances_updated,
        )
    )
    if report.members.dry_run and not report.members.rows:
        lines.append(t("Nothing was imported; run again without --dry-run to import."))
    return "\n".join(lines)


def refusal(code: str, values: dict[str, object]) -> ServiceError:
    """Rebuilds the refusal a sheet's cell met, to word it as every door does."""
    error = ServiceError(code)
    error.details = dict(values)
    return error


@friendly
def import_template_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the template (.xlsx).")
    ] = Path("导入模板.xlsx"),
    lang: LangOption = None,
) -> None:
    """Writes the import template: Chinese headers, an example row per sheet, drop-downs, notes."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    if output.suffix.lower() != ".xlsx":
        fail(t("{file}: the template is an .xlsx file", file=output.name))
    try:
        with output.open("wb") as stream:
            write_template(stream, t)
    except OSError as error:
        fail(t("Cannot write {file}: {reason}", file=output, reason=error.strerror or error))
    typer.echo(t("Template written to {file}.", file=output))


# The member sheet's labels are the member import's.
assert set(COLUMN_LABELS) == set(MEMBER_TEMPLATE)
