"""`gongjian org`: the organizations."""

from __future__ import annotations

import typer

from bot.cli.support import (
    JsonOption,
    LangOption,
    emit_json,
    friendly,
    pick_translator,
    render_table,
    settings_from_env,
    use_cases,
)
from bot.texts.phrases import ORG_KINDS

org_app = typer.Typer(no_args_is_help=True, help="Organizations.")


def register(app: typer.Typer) -> None:
    """Mounts `gongjian org` on the app."""
    app.add_typer(org_app, name="org")


@org_app.command("list")
@friendly
def org_list(json_output: JsonOption = False, lang: LangOption = None) -> None:
    """Lists every organization: code, name, kind and parent's code."""
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    with use_cases(settings) as services:
        entries = services.org_tree()
    if json_output:
        emit_json(
            [
                {
                    "code": entry.org.code,
                    "name": entry.org.name,
                    "kind": entry.org.kind.value,
                    "parent": entry.parent_code,
                }
                for entry in entries
            ]
        )
        return
    if not entries:
        typer.echo(t("There are no organizations yet. Try: gongjian demo"))
        return
    typer.echo(
        render_table(
            [t("Code"), t("Name"), t("Kind"), t("Parent")],
            [
                [
                    entry.org.code,
                    entry.org.name,
                    t(ORG_KINDS[entry.org.kind]),
                    entry.parent_code or "-",
                ]
                for entry in entries
            ],
        )
    )
