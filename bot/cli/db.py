"""`gongjian db`: the database schema."""

from __future__ import annotations

import typer

from bot.cli.support import friendly, open_database, settings_from_env
from bot.texts.translation import translator

db_app = typer.Typer(no_args_is_help=True, help="The database schema.")


def register(app: typer.Typer) -> None:
    """Mounts `gongjian db` on the app."""
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Migrates the database to the newest schema and prints its revision."""
    settings = settings_from_env()
    database = open_database(settings)
    try:
        revision = database.revision()
    finally:
        database.dispose()
    t = translator(settings.default_locale)
    typer.echo(t("The database schema is at revision {revision}.", revision=revision))
