"""`gongjian invite`: single-use invite codes that bind a chat account."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from typing import Annotated, Any

import typer

from bot.cli.support import (
    JsonOption,
    LangOption,
    OrgOption,
    emit_json,
    fail,
    find_org,
    friendly,
    pick_translator,
    settings_from_env,
    use_cases,
)
from bot.config import Settings
from bot.core.domain import RoleKind
from bot.core.i18n import Translator
from bot.services.use_cases import InviteView
from bot.texts.phrases import ROLE_WORDS, ROLES

log = logging.getLogger(__name__)

invite_app = typer.Typer(no_args_is_help=True, help="Invite codes that bind a chat account.")


def register(app: typer.Typer) -> None:
    """Mounts `gongjian invite` on the app."""
    app.add_typer(invite_app, name="invite")


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
    with use_cases(settings) as services:
        target = find_org(services, t, org)
        invite = services.create_invite(actor=None, org_id=target.id, role=role_kind, name=name)
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
