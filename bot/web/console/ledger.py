"""The console's ledger (台账) desk: a quarter's entries with photos, the files, "submitted"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bot.calendar.quarters import Quarter
from bot.core.i18n import N_, Translator
from bot.core.records import OrgView
from bot.core.reply import Document
from bot.services.compliance import Requirement
from bot.services.console_access import Principal
from bot.services.errors import ServiceError
from bot.services.organizations import Organizations
from bot.services.photos import visible_photo
from bot.services.stats import parse_quarter
from bot.services.use_cases import Services
from bot.texts.console import STATES
from bot.texts.phrases import ACTIVITY_KINDS
from bot.texts.reminders import period_label
from bot.web.console.desk import whole
from bot.web.console.pages import PAGE_HEADERS, Pages, _response, asked_org
from bot.web.downloads import content_disposition
from handlers.errors import explain
from storage.engine import Session

BAD_QUARTER = N_("I could not read the quarter {value}. Use a quarter like 2026Q4.")
BAD_YEAR = N_("I could not read the year {value}. Use a year like 2026.")
NO_SUMMARY = N_("{org} is in no alliance or pairing, so it writes no year-end summary.")
# Photos are evidence of a branch's work: private, never cached by a shared proxy.
PHOTO_HEADERS = {
    "Cache-Control": "private, max-age=300",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@dataclass(frozen=True, slots=True)
class Asked:
    """The organization and quarter a ledger request names, or why it cannot be answered."""

    org: OrgView | None = None
    quarter: Quarter | None = None
    status: int = 200
    problem: str = ""


class LedgerPages:
    """The ledger of an organization in the principal's scope; managers mark it submitted."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def _services(self, session: Session) -> Services:
        """Binds the use cases to this request's transaction and the console's clock."""
        return self.pages.console.services(session, self.pages.console.clock.now())

    def _today(self) -> date:
        """Returns the console's local date."""
        console = self.pages.console
        return console.clock.now().astimezone(console.settings.tz).date()

    def _asked(
        self, session: Session, principal: Principal, t: Translator, code: str, quarter: str
    ) -> Asked:
        """Reads the organization (default: the principal's own) and the quarter (default: now)."""
        org = asked_org(session, principal, code)
        if org is None:
            return Asked(status=404)
        today = self._today()
        wanted = parse_quarter(quarter[:32], today) if quarter.strip() else Quarter.of(today)
        if wanted is None:
            return Asked(org, status=400, problem=t(BAD_QUARTER, value=quarter[:32]))
        if wanted > Quarter.of(today):
            return Asked(org, status=400, problem=explain(t, ServiceError("quarter_ahead")))
        return Asked(org, wanted)

    def _scope(self, session: Session, principal: Principal) -> list[OrgView]:
        """Lists the organizations the principal may pick, by code."""
        return Organizations(session).among(principal.org_ids)

    async def show(self, request: Request) -> Response:
        """Lists a quarter's ledger entries with their photos, the files and the filing state."""
        params = request.query_params
        code, quarter_text = params.get("org", ""), params.get("quarter", "")

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            asked = self._asked(session, principal, t, code, quarter_text)
            if asked.status == 404:
                return self.pages.refuse(request, 404, principal)
            org, quarter = asked.org, asked.quarter
            assert org is not None
            values: dict[str, object] = {
                "org": org,
                "orgs": self._scope(session, principal),
                "quarter_text": quarter_text[:32],
                "problem": asked.problem,
                "data": None,
            }
            if quarter is not None:
                data = self._services(session).ledger_view(org.id, quarter)
                ledger = next(
                    (
                        line
                        for line in data.compliance.lines
                        if line.requirement is Requirement.LEDGER
                    ),
                    None,
                )
                current = Quarter.of(self._today())
                values |= {
                    "data": data,
                    "quarter": quarter,
                    "quarter_label": period_label(t, str(quarter)),
                    "previous": quarter.previous(),
                    "next_quarter": quarter.next() if quarter < current else None,
                    "ledger": ledger,
                    "state_names": {state: t(name) for state, name in STATES.items()},
                    "kind_names": {kind: t(name) for kind, name in ACTIVITY_KINDS.items()},
                    "query": urlencode({"org": org.code, "quarter": str(quarter)}),
                    "summary_query": urlencode({"org": org.code, "year": quarter.year}),
                    "may_file": principal.manages,
                    "done": params.get("done") == "1",
                }
            return self.pages.render(
                request, "ledger.html", asked.status, principal=principal, **values
            )

        return _response(await self.pages.guarded(request, work))

    async def workbook(self, request: Request) -> Response:
        """Downloads the quarter's ledger workbook: 台账-<unit>-2026Q4.xlsx (audited)."""
        params = request.query_params
        code, quarter_text = params.get("org", ""), params.get("quarter", "")

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            asked = self._asked(session, principal, t, code, quarter_text)
            if asked.org is None or asked.quarter is None:
                return self._refused(request, principal, asked)
            document = self._services(session).ledger_workbook(
                asked.org.id,
                asked.quarter,
                t,
                actor_id=principal.member_id,
                filled_by=principal.name,
            )
            return attachment(document)

        return _response(await self.pages.guarded(request, work))

    async def summary(self, request: Request) -> Response:
        """Downloads the organization's year-end summary (.docx) for a year (audited)."""
        params = request.query_params
        code, year_text = params.get("org", ""), params.get("year", "").strip()[:8]

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            asked = self._asked(session, principal, t, code, "")
            if asked.org is None:
                return self._refused(request, principal, asked)
            today = self._today()
            year = whole(year_text)
            if year_text and (year is None or not 2000 <= year <= today.year):
                problem = (
                    explain(t, ServiceError("year_ahead"))
                    if year is not None and year > today.year
                    else t(BAD_YEAR, value=year_text)
                )
                return self._refused(
                    request, principal, Asked(asked.org, status=400, problem=problem)
                )
            document = self._services(session).org_summary_document(
                asked.org.id, year or today.year, t, actor_id=principal.member_id
            )
            if document is None:
                problem = t(NO_SUMMARY, org=asked.org.name)
                return self._refused(
                    request, principal, Asked(asked.org, status=404, problem=problem)
                )
            return attachment(document)

        return _response(await self.pages.guarded(request, work))

    def _refused(self, request: Request, principal: Principal, asked: Asked) -> Response:
        """Answers a request the ledger cannot serve: 404 out of scope, else the reason why."""
        if asked.org is None or not asked.problem:
            return self.pages.refuse(request, asked.status, principal)
        return self.pages.render(
            request,
            "ledger.html",
            asked.status,
            principal=principal,
            org=asked.org,
            orgs=[],
            quarter_text="",
            problem=asked.problem,
            data=None,
        )

    async def photo(self, request: Request) -> Response:
        """Sends a photo of a ledger entry in the principal's scope, as the type it was stored."""
        photo_id = int(request.path_params["photo_id"])

        def work(session: Session, principal: Principal, _t: Translator) -> Response:
            found = visible_photo(session, photo_id=photo_id, org_ids=principal.org_ids)
            if found is None:
                return self.pages.refuse(request, 404, principal)
            path = self._services(session).photo_store.file(found)
            if not path.is_file():
                return self.pages.refuse(request, 404, principal)
            return FileResponse(path, media_type=found.mime_type, headers=PHOTO_HEADERS)

        return _response(await self.pages.guarded(request, work))

    async def submitted(self, request: Request) -> Response:
        """Marks the quarter's ledger of an organization in scope as submitted (audited)."""

        def work(
            session: Session,
            _now: datetime,
            principal: Principal,
            t: Translator,
            fields: dict[str, str],
        ) -> str | Response:
            asked = self._asked(
                session, principal, t, fields.get("org", ""), fields.get("quarter", "")
            )
            if asked.org is None or asked.quarter is None:
                return self._refused(request, principal, asked)
            try:
                self._services(session).file_ledger(
                    asked.org.id, asked.quarter, actor_id=principal.member_id
                )
            except ServiceError as refusal:
                session.rollback()
                problem = explain(t, refusal)
                return self._refused(
                    request, principal, Asked(asked.org, status=400, problem=problem)
                )
            query = urlencode({"org": asked.org.code, "quarter": str(asked.quarter), "done": 1})
            return f"/console/ledger?{query}"

        return await self.pages.changed(request, work)


def attachment(document: Document) -> Response:
    """Sends a made file as a download under its own name (RFC 6266 and 5987)."""
    return Response(
        document.content,
        media_type=document.mime_type,
        headers={**PAGE_HEADERS, "Content-Disposition": content_disposition(document.filename)},
    )
