"""The console's pairings and alliances: listed for everyone in scope, set up by committee staff.

Every form goes through the set-up use cases of `bot.services.structure`, the ones the command
line and the import use, so a refusal reads the same at every door; here it is shown next to
the field it is about, with everything the user typed kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bot.core.domain import ConvenerRule, DutyPeriod, PairingForm
from bot.core.i18n import N_, Translator
from bot.services.console_access import Principal
from bot.services.district import ALLIANCE_REFUSALS, PAIRING_REFUSALS
from bot.services.errors import ServiceError
from bot.services.organizations import Organizations
from bot.services.structure import (
    CONVENER_WORDS,
    FORM_WORDS,
    GROUP_CODE,
    PERIOD_WORDS,
    AllianceSpec,
    GroupView,
    PairingSpec,
    alliance_spec,
    end_pairing,
    list_alliances,
    list_pairings,
    pairing_spec,
    save_alliance,
    save_pairing,
    word,
)
from bot.web.console.desk import whole
from bot.web.console.pages import Pages, _response
from handlers.errors import explain
from storage.engine import Session

CODE_SPLIT = re.compile(r"[,，、;；\s]+")
MAX_FIELD = 2000
FORMS: dict[str, str] = {
    PairingForm.ONE_TO_ONE.value: N_("one-to-one (一对一)"),
    PairingForm.MANY_TO_ONE.value: N_("many-to-one (多对一)"),
    PairingForm.ONE_TO_MANY.value: N_("one-to-many (一对多)"),
}
PERIODS: dict[str, str] = {
    DutyPeriod.MONTH.value: N_("every month"),
    DutyPeriod.QUARTER.value: N_("every quarter"),
}
CONVENERS: dict[str, str] = {
    ConvenerRule.EXECUTIVE.value: N_("the executive president unit (001)"),
    ConvenerRule.ROTATION.value: N_("the president units in turn"),
}
PAIRING_FIELDS = ("name", "form", "lead", "partners", "start", "end", "visits", "goals")
ALLIANCE_FIELDS = (
    "name",
    "presidents",
    "members",
    "start",
    "term",
    "period",
    "convener",
    "theme_order",
)
# Which field a refusal about an organization code is about: the first naming the code.
CODE_FIELDS = {
    "pairing": ("lead", "partners"),
    "alliance": ("presidents", "members", "theme_order"),
}
ORG_REFUSALS = frozenset({"org_not_in_scope", "org_unknown_code"})


def codes_in(text: str) -> tuple[str, ...]:
    """Splits a field listing organization codes (commas, 、 or spaces between them)."""
    return tuple(code.upper() for code in CODE_SPLIT.split(text.strip()) if code)


def arranges(principal: Principal) -> bool:
    """Tells whether the principal sets up pairings and alliances (committee staff, 党（工）委)."""
    return principal.admitted and principal.oversees


@dataclass(slots=True)
class Filled:
    """A form as the user filled it in, and the refusals to show next to its fields."""

    kind: str
    values: dict[str, str]
    t: Translator
    errors: dict[str, str] = field(default_factory=dict)
    problem: str = ""

    def note(self, name: str, code: str, **values: object) -> None:
        """Words a refusal of the form's own reading next to a field."""
        error = ServiceError(code)
        error.details = dict(values)
        self.errors.setdefault(name, explain(self.t, error))

    def refuse(self, error: ServiceError) -> None:
        """Words a use case's refusal next to the field it is about (or above the form)."""
        refusals = PAIRING_REFUSALS if self.kind == "pairing" else ALLIANCE_REFUSALS
        where = refusals.get(error.code)
        if error.code in {"pairing_exists", "alliance_exists"}:
            where = "code"
        if error.code in ORG_REFUSALS:
            wanted = str(error.details.get("value", ""))
            where = next(
                (f for f in CODE_FIELDS[self.kind] if wanted in codes_in(self.values[f])), None
            )
        if where is not None and where in self.values and where not in self.errors:
            self.errors[where] = explain(self.t, error)
        else:
            self.problem = explain(self.t, error)


def pairing_values(spec: PairingSpec | None) -> dict[str, str]:
    """Returns a pairing's fields as the form shows them (empty for a new one)."""
    if spec is None:
        return {"code": "", "visits": "3"} | {
            name: "" for name in PAIRING_FIELDS if name != "visits"
        }
    return {
        "code": spec.code,
        "name": spec.name,
        "form": spec.form.value,
        "lead": spec.lead,
        "partners": ", ".join(spec.partners),
        "start": spec.agreement_start.isoformat(),
        "end": spec.agreement_end.isoformat() if spec.agreement_end else "",
        "visits": str(spec.visit_target),
        "goals": spec.goals,
    }


def alliance_values(spec: AllianceSpec | None) -> dict[str, str]:
    """Returns an alliance's fields as the form shows them (empty for a new one)."""
    if spec is None:
        blank = {name: "" for name in ALLIANCE_FIELDS}
        return blank | {"code": "", "term": "12", "period": "month", "convener": "executive"}
    return {
        "code": spec.code,
        "name": spec.name,
        "presidents": ", ".join(spec.presidents),
        "members": ", ".join(spec.members),
        "start": spec.rota_start.isoformat(),
        "term": str(spec.executive_term_months),
        "period": spec.duty_period.value,
        "convener": spec.convener_rule.value,
        "theme_order": ", ".join(spec.theme_order),
    }


def _typed(fields: dict[str, str], names: tuple[str, ...], code: str | None) -> dict[str, str]:
    """Takes the form's fields as typed (bounded), the code from the path when editing."""
    values = {name: fields.get(name, "")[:MAX_FIELD] for name in names}
    values["code"] = code if code is not None else fields.get("code", "")[:MAX_FIELD]
    return values


def _day(filled: Filled, name: str, *, required: bool) -> date | None:
    """Reads a date field, noting a missing or unreadable one."""
    text = filled.values[name].strip()
    if not text:
        if required:
            filled.note(name, "required")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        filled.note(name, "bad_date", value=text)
        return None


def _number(filled: Filled, name: str, default: int) -> int:
    """Reads a whole-number field, noting an unreadable one."""
    text = filled.values[name].strip()
    if not text:
        return default
    number = whole(text)
    if number is None:
        filled.note(name, "bad_number", value=text)
        return default
    return number


def _required(filled: Filled, names: tuple[str, ...]) -> None:
    """Notes the required fields left empty."""
    for name in names:
        if not filled.values[name].strip():
            filled.note(name, "required")


def read_pairing(filled: Filled) -> PairingSpec | None:
    """Builds a pairing spec from the form, or notes what is missing or unreadable."""
    values = filled.values
    _required(filled, ("code", "name", "lead", "partners"))
    start = _day(filled, "start", required=True)
    end = _day(filled, "end", required=False)
    visits = _number(filled, "visits", 3)
    partners = codes_in(values["partners"])
    # Without a form, the partners say it: one is 一对一, several 一对多 (as on the command line).
    form = PairingForm.ONE_TO_MANY if len(partners) > 1 else PairingForm.ONE_TO_ONE
    if values["form"].strip():
        try:
            form = word(FORM_WORDS, values["form"], "bad_form")
        except ServiceError as error:
            filled.refuse(error)
    if filled.errors or filled.problem or start is None:
        return None
    return PairingSpec(
        code=values["code"],
        name=values["name"],
        form=form,
        lead=values["lead"],
        partners=partners,
        agreement_start=start,
        agreement_end=end,
        visit_target=visits,
        goals=values["goals"],
    )


def read_alliance(filled: Filled) -> AllianceSpec | None:
    """Builds an alliance spec from the form, or notes what is missing or unreadable."""
    values = filled.values
    _required(filled, ("code", "name", "presidents"))
    start = _day(filled, "start", required=True)
    term = _number(filled, "term", 12)
    period, convener = DutyPeriod.MONTH, ConvenerRule.EXECUTIVE
    try:
        if values["period"].strip():
            period = word(PERIOD_WORDS, values["period"], "bad_duty_period")
        if values["convener"].strip():
            convener = word(CONVENER_WORDS, values["convener"], "bad_convener_rule")
    except ServiceError as error:
        filled.refuse(error)
    if filled.errors or filled.problem or start is None:
        return None
    return AllianceSpec(
        code=values["code"],
        name=values["name"],
        presidents=codes_in(values["presidents"]),
        members=codes_in(values["members"]),
        rota_start=start,
        duty_period=period,
        executive_term_months=term,
        convener_rule=convener,
        theme_order=codes_in(values["theme_order"]),
    )


class StructurePages:
    """Lists the pairings and alliances in scope; committee staff create, edit and end them."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    # -- reading -------------------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        """Lists the pairings and alliances with an organization in the principal's scope."""
        saved = request.query_params.get("saved", "")
        ended = request.query_params.get("ended", "")

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            pairings = list_pairings(session, org_ids=principal.org_ids)
            alliances = list_alliances(session, org_ids=principal.org_ids)
            # Only the organizations the listed groups name, some of them outside the scope.
            orgs = Organizations(session).with_codes(
                {code for view in (*pairings, *alliances) for code in view.orgs}
            )
            ours = {org.code for org in orgs if principal.can_see(org.id)}

            def editable(view: GroupView) -> bool:
                return arranges(principal) and set(view.orgs) <= ours

            return self.pages.render(
                request,
                "structure.html",
                principal=principal,
                pairings=pairings,
                alliances=alliances,
                names={org.code: org.name for org in orgs},
                editable=editable,
                writer=arranges(principal),
                form_names={key: t(label) for key, label in FORMS.items()},
                period_names={key: t(label) for key, label in PERIODS.items()},
                convener_names={key: t(label) for key, label in CONVENERS.items()},
                saved=saved if GROUP_CODE.fullmatch(saved) else "",
                ended=ended if GROUP_CODE.fullmatch(ended) else "",
            )

        return _response(await self.pages.guarded(request, work))

    async def new_pairing(self, request: Request) -> Response:
        """Shows an empty pairing form."""
        return await self._form(request, "pairing", None)

    async def edit_pairing(self, request: Request) -> Response:
        """Shows a pairing's form filled in from the stored pairing."""
        return await self._form(request, "pairing", request.path_params["code"][:32])

    async def new_alliance(self, request: Request) -> Response:
        """Shows an empty alliance form."""
        return await self._form(request, "alliance", None)

    async def edit_alliance(self, request: Request) -> Response:
        """Shows an alliance's form filled in from the stored alliance."""
        return await self._form(request, "alliance", request.path_params["code"][:32])

    async def _form(self, request: Request, kind: str, code: str | None) -> Response:
        """Shows a form to committee staff; a group outside their scope is not found."""

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            try:
                values = self._stored(session, principal, kind, code)
            except ServiceError:
                return self.pages.refuse(request, 404, principal)
            return self._render(request, session, principal, Filled(kind, values, t), code)

        return _response(await self.pages.guarded(request, work, allowed=arranges))

    def _stored(
        self, session: Session, principal: Principal, kind: str, code: str | None
    ) -> dict[str, str]:
        """Reads a stored group's fields (refused when outside the scope), or blank ones."""
        if kind == "pairing":
            spec = pairing_spec(session, code, scope=principal.org_ids) if code else None
            return pairing_values(spec)
        found = alliance_spec(session, code, scope=principal.org_ids) if code else None
        return alliance_values(found)

    def _render(
        self,
        request: Request,
        session: Session,
        principal: Principal,
        filled: Filled,
        code: str | None,
        *,
        status: int = 200,
        end_error: str = "",
        end_on: str = "",
    ) -> Response:
        """Renders a pairing's or alliance's form with its values and refusals."""
        t = self.pages.translator(request)
        orgs = Organizations(session).among(principal.org_ids)
        return self.pages.render(
            request,
            f"{filled.kind}_form.html",
            status,
            principal=principal,
            filled=filled,
            values=filled.values,
            errors=filled.errors,
            editing=code,
            orgs=orgs,
            forms=[(key, t(label)) for key, label in FORMS.items()],
            periods=[(key, t(label)) for key, label in PERIODS.items()],
            conveners=[(key, t(label)) for key, label in CONVENERS.items()],
            end_error=end_error,
            end_on=end_on,
        )

    # -- writing -------------------------------------------------------------------------

    async def save_pairing(self, request: Request) -> Response:
        """Creates a pairing, or saves an edited one; refusals come back with the form."""
        return await self._save(request, "pairing", request.path_params.get("code"))

    async def save_alliance(self, request: Request) -> Response:
        """Creates an alliance, or saves an edited one; refusals come back with the form."""
        return await self._save(request, "alliance", request.path_params.get("code"))

    async def _save(self, request: Request, kind: str, code: str | None) -> Response:
        """Reads the form, runs the set-up use case with the principal's scope, and answers."""
        code = code[:32] if code is not None else None

        def work(
            session: Session,
            now: datetime,
            principal: Principal,
            t: Translator,
            fields: dict[str, str],
        ) -> str | Response:
            try:
                stored = self._stored(session, principal, kind, code)
            except ServiceError:
                return self.pages.refuse(request, 404, principal)
            names = PAIRING_FIELDS if kind == "pairing" else ALLIANCE_FIELDS
            filled = Filled(kind, _typed(fields, names, code), t)
            try:
                if kind == "pairing":
                    spec = read_pairing(filled)
                    if spec is not None:
                        save_pairing(
                            session,
                            spec=spec,
                            now=now,
                            actor_id=principal.member_id,
                            replace=code is not None,
                            scope=principal.org_ids,
                        )
                else:
                    alliance = read_alliance(filled)
                    if alliance is not None:
                        alliance = _fresh_theme_order(alliance, stored)
                        save_alliance(
                            session,
                            spec=alliance,
                            now=now,
                            actor_id=principal.member_id,
                            replace=code is not None,
                            scope=principal.org_ids,
                        )
            except ServiceError as refusal:
                session.rollback()
                filled.refuse(refusal)
            if filled.errors or filled.problem:
                return self._render(request, session, principal, filled, code, status=400)
            saved = (code or filled.values["code"]).strip().upper()
            return f"/console/structure?saved={saved}"

        return await self.pages.changed(request, work, allowed=arranges)

    async def end(self, request: Request) -> Response:
        """Ends a pairing's agreement on a day (today when none is given)."""
        code = request.path_params["code"][:32]

        def work(
            session: Session,
            now: datetime,
            principal: Principal,
            t: Translator,
            fields: dict[str, str],
        ) -> str | Response:
            try:
                stored = self._stored(session, principal, "pairing", code)
            except ServiceError:
                return self.pages.refuse(request, 404, principal)
            text = fields.get("on", "").strip()[:32]
            if fields.get("confirm") != "1":
                filled = Filled("pairing", stored, t)
                sure = t("Tick “I am sure” to end the agreement.")
                return self._render(
                    request,
                    session,
                    principal,
                    filled,
                    code,
                    status=400,
                    end_error=sure,
                    end_on=text,
                )
            try:
                day = date.fromisoformat(text) if text else now.astimezone(self.tz).date()
            except ValueError:
                error = explain(t, ServiceError("bad_date", value=text))
                filled = Filled("pairing", stored, t)
                return self._render(
                    request,
                    session,
                    principal,
                    filled,
                    code,
                    status=400,
                    end_error=error,
                    end_on=text,
                )
            try:
                end_pairing(
                    session,
                    code=code,
                    on=day,
                    now=now,
                    actor_id=principal.member_id,
                    scope=principal.org_ids,
                )
            except ServiceError as refusal:
                session.rollback()
                filled = Filled("pairing", stored, t)
                return self._render(
                    request,
                    session,
                    principal,
                    filled,
                    code,
                    status=400,
                    end_error=explain(t, refusal),
                    end_on=text,
                )
            return f"/console/structure?ended={stored['code']}"

        return await self.pages.changed(request, work, allowed=arranges)

    @property
    def tz(self) -> Any:
        """The district's time zone (for today's date)."""
        return self.pages.console.settings.tz


def _fresh_theme_order(spec: AllianceSpec, stored: dict[str, str]) -> AllianceSpec:
    """Starts the theme-day order again when the units changed but the order was left as stored.

    The command line does the same: new units with the old order would only be refused.
    """
    if not stored.get("code"):
        return spec
    same_order = spec.theme_order == codes_in(stored["theme_order"])
    same_units = set(spec.presidents) | set(spec.members) == set(
        codes_in(stored["presidents"]) + codes_in(stored["members"])
    )
    if same_order and not same_units:
        return replace(spec, theme_order=())
    return spec
