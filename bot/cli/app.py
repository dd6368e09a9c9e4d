"""The `gongjian` Typer app: every command group mounted in the order `--help` lists them."""

from __future__ import annotations

import typer

from bot.cli import (
    alliance,
    attendance,
    calendar,
    chat,
    compliance,
    console,
    db,
    demo,
    district_import,
    documents,
    importer,
    invites,
    ledger,
    meetings,
    members,
    org,
    org_settings,
    pairing,
    points,
    reminders,
    roster,
    server,
    summary,
)

app = typer.Typer(
    no_args_is_help=True,
    help="共建助手 Gongjian: the party-branch co-construction assistant.",
    pretty_exceptions_show_locals=False,
)

for group in (
    db,
    invites,
    org,
    roster,
    demo,
    chat,
    calendar,
    server,
    console,
    reminders,
    importer,
    members,
    points,
    attendance,
    compliance,
    summary,
    ledger,
    documents,
    meetings,
    pairing,
    alliance,
    org_settings,
    district_import,
):
    group.register(app)


def main() -> None:
    """Runs the command line."""
    app()
