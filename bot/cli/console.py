"""`gongjian console`: password accounts for committee staff, and sign-in links from the terminal."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from bot.cli.support import (
    LangOption,
    OrgOption,
    fail,
    friendly,
    pick_translator,
    settings_from_env,
    use_cases,
)
from bot.core.inbound import Channel
from bot.services.errors import ServiceError
from handlers.errors import explain

console_app = typer.Typer(no_args_is_help=True, help="The web console at /console.")
user_app = typer.Typer(no_args_is_help=True, help="Password accounts for committee staff.")
console_app.add_typer(user_app, name="user")


def register(app: typer.Typer) -> None:
    """Mounts `gongjian console` on the app."""
    app.add_typer(console_app, name="console")


def read_password(prompt: str) -> str:
    """Reads a password: hidden at a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("add")
@friendly
def user_add(
    login: Annotated[str, typer.Argument(help="The login name (at most 64 characters).")],
    name: Annotated[str, typer.Option("--name", help="The person's name.")],
    org: OrgOption,
    lang: LangOption = None,
) -> None:
    """Creates a console account whose scope is the organization and all below it."""
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    password = read_password(t("Password (at least 12 characters): "))
    try:
        with use_cases(settings) as services:
            services.add_console_account(login=login, name=name, org_code=org, password=password)
    except ServiceError as refusal:
        fail(explain(t, refusal))
    sign_in = settings.public_url + "/console/login"
    typer.echo(
        t(
            "Console account {login} created; sign in at {url}.",
            login=login.strip().lower(),
            url=sign_in,
        )
    )


@console_app.command("link")
@friendly
def link(
    user: Annotated[
        str,
        typer.Option(
            "--as", help="The console chat user bound to an officer (gongjian chat --as)."
        ),
    ],
    lang: LangOption = None,
) -> None:
    """Prints a single-use, 10-minute console sign-in link for the officer behind a chat user."""
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    try:
        with use_cases(settings) as services:
            url = services.console_link_for(channel=Channel.CONSOLE, external_id=user)
    except ServiceError as refusal:
        fail(explain(t, refusal))
    typer.echo(url)
