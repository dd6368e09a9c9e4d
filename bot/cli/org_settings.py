"""`gongjian org set` and `gongjian member list`: a branch's settings and who is in it.

Mount with `bot.cli.org_settings.register(app)` once the `org` and `member` groups are mounted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from bot.cli.support import (
    EXIT_REFUSED,
    LangOption,
    emit_json,
    fail,
    friendly,
    mounted_group,
    parse_now,
    pick_translator,
    render_table,
    run_use_case,
    use_cases,
)
from bot.config import load_settings
from bot.core.domain import MemberStatus
from bot.core.i18n import N_
from bot.services.errors import ServiceError
from bot.services.membership import invite_member, list_members
from bot.services.structure import SETTING_KEYS
from bot.texts.phrases import ROLES
from handlers.errors import explain

STATUSES: dict[MemberStatus, str] = {
    MemberStatus.FULL: N_("full"),
    MemberStatus.PROBATIONARY: N_("probationary"),
    MemberStatus.DEPARTED: N_("departed"),
}
SETTINGS_HELP = (
    "orglife.time (14:30), orglife.venue (text), holiday_policy (keep/顺延 next_workday),"
    " liaison (a member's id or name)"
)


def register(app: typer.Typer) -> None:
    """Adds `org set` and `member list` to the groups already mounted on `app`."""
    mounted_group(app, "org").command("set")(org_set)
    mounted_group(app, "member").command("list")(member_list)
    mounted_group(app, "member").command("invite")(member_invite)


@friendly
def org_set(
    org: Annotated[str, typer.Argument(help="The organization's code.")],
    key: Annotated[str, typer.Argument(help=f"The setting: {SETTINGS_HELP}.")],
    value: Annotated[str, typer.Argument(help="The new value.")],
    lang: LangOption = None,
) -> None:
    """Changes a branch setting: org-life time or venue, holiday policy, liaison (audited)."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    now = parse_now(settings, None)
    if not key.strip():
        fail(t("Name the setting: {keys}", keys=", ".join(sorted(set(SETTING_KEYS.values())))))
    try:
        with use_cases(settings, now=now) as services:
            canonical, stored = services.change_branch_setting(org, key=key, value=value)
    except ServiceError as error:
        fail(explain(t, error), code=EXIT_REFUSED)
    typer.echo(
        t("{org}: {key} is now {value}.", org=org.strip().upper(), key=canonical, value=stored)
    )


@friendly
def member_list(
    org: Annotated[
        str | None, typer.Option("--org", help="Only the members of this organization.")
    ] = None,
    departed: Annotated[
        bool, typer.Option("--departed", help="Include members who have left.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
    lang: LangOption = None,
) -> None:
    """Lists members with their ids (for `member export ID`), roles and bound channels."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    rows = run_use_case(
        settings, t, lambda session: list_members(session, org_code=org, departed=departed)
    )
    if json_output:
        emit_json(
            [
                {
                    "id": row.id,
                    "name": row.name,
                    "org": row.org_code,
                    "status": row.status.value,
                    "mobile": row.mobile,
                    "roles": [role.value for role in row.roles],
                    "channels": list(row.channels),
                }
                for row in rows
            ]
        )
        return
    if not rows:
        typer.echo(t("No members yet. Import them: gongjian import members --help"))
        return
    typer.echo(
        render_table(
            [t("Id"), t("Name"), t("Organization"), t("Status"), t("Roles"), t("Channels")],
            [
                [
                    str(row.id),
                    row.name,
                    row.org_code,
                    t(STATUSES[row.status]),
                    "、".join(t(ROLES[role]) for role in row.roles),
                    ", ".join(row.channels) or "-",
                ]
                for row in rows
            ],
        )
    )


@friendly
def member_invite(
    member_id: Annotated[
        int, typer.Argument(help="The member's id (see: gongjian member list).", min=1)
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    lang: LangOption = None,
) -> None:
    """Creates a single-use invite that binds a chat account to this stored member."""
    settings = load_settings()
    t = pick_translator(settings, lang)
    now = parse_now(settings, None)
    ttl = timedelta(hours=settings.invite_ttl_hours)
    invite = run_use_case(
        settings, t, lambda session: invite_member(session, member_id=member_id, now=now, ttl=ttl)
    )
    local = invite.expires_at.astimezone(settings.tz)
    if json_output:
        emit_json(
            {
                "code": invite.code,
                "member_id": invite.member.id,
                "name": invite.member.name,
                "org": invite.member.org_code,
                "expires_at": invite.expires_at.isoformat(),
            }
        )
        return
    typer.echo(
        t(
            "Invite for {name} ({org}): {code}, valid until {expires}. They send 绑定 {code} to the"
            " assistant.",
            name=invite.member.name,
            org=invite.member.org_code,
            code=invite.code,
            expires=f"{t.date(local.date())} {t.time(local)}",
        )
    )
