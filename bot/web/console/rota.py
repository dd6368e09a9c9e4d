"""The console's duty plan: a year of theme days, conveners and pairing hosts, with overrides."""

from __future__ import annotations

from datetime import date, datetime

from starlette.requests import Request
from starlette.responses import Response

from bot.core.domain import Duty
from bot.core.i18n import Translator
from bot.services.console_access import Principal
from bot.services.errors import ServiceError
from bot.texts.phrases import DUTIES
from bot.texts.reminders import period_label
from bot.web.console.pages import Pages, _response
from handlers.errors import MESSAGES, explain
from storage.engine import Session

OVERRIDABLE = (Duty.THEME_DAY, Duty.CONVENER)


class RotaPages:
    """Shows the home organization's year of duties; its secretaries may override a slot."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    async def show(self, request: Request) -> Response:
        """Lists the year's slots for the principal's alliances and pairings."""
        try:
            year = int(request.query_params.get("year", ""))
        except ValueError:
            year = self.pages.console.clock.now().astimezone(self.pages.console.settings.tz).year
        year = min(max(year, 2000), 2100)
        note = request.query_params.get("done", "")
        error = request.query_params.get("error", "")

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            services = self.pages.console.services(session, self.pages.console.clock.now())
            answer = services.roster(principal.home_org_id, date(year, 1, 1), date(year, 12, 31))
            units = {
                unit.code: unit.name
                for alliance in services.rota.alliances_of(principal.home_org_id)
                for unit in services.rota.units(alliance)
            }
            return self.pages.render(
                request,
                "rota.html",
                principal=principal,
                answer=answer,
                year=year,
                duty_names={duty: t(name) for duty, name in DUTIES.items()},
                period=lambda key: period_label(t, key),
                overridable=[(duty.value, t(DUTIES[duty])) for duty in OVERRIDABLE],
                units=sorted(units.items()),
                may_override=principal.member_id is not None and principal.manages,
                done=note == "1",
                error=explain(t, ServiceError(error)) if error in MESSAGES else "",
            )

        return _response(await self.pages.guarded(request, work))

    async def override(self, request: Request) -> Response:
        """Gives one period's duty to another unit, with a reason (audited by the use case)."""

        def work(
            session: Session,
            now: datetime,
            principal: Principal,
            _t: Translator,
            fields: dict[str, str],
        ) -> str:
            if principal.member_id is None:
                return "/console/rota?error=not_allowed"
            services = self.pages.console.services(session, now)
            member = services.members.get(principal.member_id)
            duty = fields.get("duty", "")
            if duty not in {d.value for d in OVERRIDABLE}:
                return "/console/rota?error=bad_period"
            try:
                services.override_duty(
                    member,
                    duty=Duty(duty),
                    period_text=fields.get("period", "")[:16],
                    org_code=fields.get("org", "")[:32],
                    reason=fields.get("reason", "")[:500],
                )
            except ServiceError as refusal:
                session.rollback()
                return f"/console/rota?error={refusal.code}"
            return "/console/rota?done=1"

        return await self.pages.changed(request, work)
