"""The console's member desk: invites with a QR code, and a member's data exported or erased."""

from __future__ import annotations

import json
from datetime import datetime

import segno
from starlette.requests import Request
from starlette.responses import Response

from bot.core.i18n import Translator
from bot.services.console_access import Principal
from bot.services.errors import ServiceError
from bot.services.organizations import Organizations
from bot.services.privacy import erase_member, export_member
from bot.texts.phrases import ROLES
from bot.web.console.pages import INVITE_ROLES, PAGE_HEADERS, Pages, admitted, when
from storage.engine import Session


def invite_qr(code: str, bot_username: str | None) -> tuple[str, str]:
    """Returns what the QR code carries (a Telegram deep link, else the binding phrase) and its SVG."""
    target = f"https://t.me/{bot_username}?start={code}" if bot_username else f"绑定 {code}"
    svg = segno.make(target, error="m").svg_inline(scale=4, border=2, dark="#1f2328")
    return target, svg


class MemberPages:
    """Invites and personal data, for the organizations a principal manages."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def _managed_org(
        self, request: Request, session: Session, principal: Principal, code: str
    ) -> int | Response:
        """Returns the organization's id if the principal manages it: 404 outside scope, else 403."""
        org = Organizations(session).by_code(code[:32])
        if org is None or not principal.can_see(org.id):
            return self.pages.refuse(request, 404, principal)
        if not principal.manages:
            return self.pages.refuse(request, 403, principal)
        return org.id

    async def invite(self, request: Request) -> Response:
        """Creates an invite for a role (secretaries create any role but secretary)."""
        code = request.path_params["code"]

        def work(
            session: Session,
            now: datetime,
            principal: Principal,
            t: Translator,
            fields: dict[str, str],
        ) -> Response:
            org_id = self._managed_org(request, session, principal, code)
            if isinstance(org_id, Response):
                return org_id
            wanted = fields.get("role", "member")
            role = next((r for r in INVITE_ROLES if r.value == wanted), None)
            if role is None:
                return self.pages.refuse(request, 403, principal)
            services = self.pages.console.services(session, now)
            # Officers of the organization act as themselves; overseers as the operator.
            actor = None
            if principal.member_id is not None and principal.home_org_id == org_id:
                actor = services.members.get(principal.member_id)
            try:
                made = services.create_invite(
                    actor=actor,
                    org_id=org_id,
                    role=role,
                    name=fields.get("name", "").strip()[:100],
                )
            except ServiceError:
                return self.pages.refuse(request, 403, principal)
            target, svg = invite_qr(made.code, self.pages.console.settings.telegram_bot_username)
            return self.pages.render(
                request,
                "invite.html",
                principal=principal,
                invite=made,
                role_name=t(ROLES[made.role]),
                expires=when(t, made.expires_at, self.pages.console.settings.tz),
                qr_target=target,
                qr_svg=svg,
            )

        return await self.pages.changed(request, work, allowed=admitted)

    async def export(self, request: Request) -> Response:
        """Downloads everything stored about one member as JSON (audited)."""
        return await self._member_action(request, erase=False)

    async def erase(self, request: Request) -> Response:
        """Erases one member's personal data, keeping anonymous statistics (audited)."""
        return await self._member_action(request, erase=True)

    async def _member_action(self, request: Request, *, erase: bool) -> Response:
        """Checks scope, role, CSRF and confirmation, then exports or erases a member."""
        code, member_id = request.path_params["code"], int(request.path_params["member_id"])

        def work(
            session: Session,
            now: datetime,
            principal: Principal,
            _t: Translator,
            fields: dict[str, str],
        ) -> str | Response:
            org_id = self._managed_org(request, session, principal, code)
            if isinstance(org_id, Response):
                return org_id
            members = self.pages.console.services(session, now).members
            if member_id not in {m.id for m in members.of_org(org_id)}:
                return self.pages.refuse(request, 404, principal)
            if erase:
                if fields.get("confirm") != "1":
                    return self.pages.refuse(request, 403, principal)
                erase_member(session, member_id, now=now)
                return f"/console/org/{code}"
            data = export_member(session, member_id, now=now)
            body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
            return Response(
                body,
                media_type="application/json",
                headers={
                    **PAGE_HEADERS,
                    "Content-Disposition": f'attachment; filename="member-{member_id}.json"',
                },
            )

        return await self.pages.changed(request, work, allowed=admitted)
