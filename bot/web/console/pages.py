"""The console's pages: sign-in, the overview, an organization, the audit log, sign-out."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.calendar.quarters import Quarter
from bot.config import Settings
from bot.core.domain import RoleKind
from bot.core.i18n import Translator
from bot.core.records import OrgView
from bot.services.audit_trail import audit_entries
from bot.services.compliance import Requirement, State
from bot.services.console_access import ConsoleAccess, Principal
from bot.services.errors import ServiceError
from bot.services.members import Members
from bot.services.organizations import Organizations
from bot.services.push_log import push_log, requeue_dead_pushes
from bot.texts.console import OUTBOX_STATES, REQUIREMENTS, STATES, UNKNOWN_REQUIREMENT
from bot.texts.phrases import ACTIVITY_KINDS, ROLES
from bot.texts.reminders import period_label
from bot.web.console.desk import (
    LOCALE_COOKIE,
    SESSION_COOKIE,
    Console,
    csrf_ok,
    locale_of,
    principal_of,
    secure_cookies,
    translator_for,
)
from bot.web.console.org_settings import settings_view
from handlers.errors import explain
from storage.engine import Session
from storage.reminders import OutboxStatus

TEMPLATES = Path(__file__).with_name("templates")
# Roles a console invite may carry: a secretary is appointed through the committee, not a link.
INVITE_ROLES = (RoleKind.MEMBER, RoleKind.LIAISON, RoleKind.COMMITTEE, RoleKind.DEPUTY)
LOGIN_CSRF_COOKIE = "gj_login"
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Scripts only from our own static files; ECharts sets element styles from script.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}
T = TypeVar("T")
# The most fields a console form posts; more is refused as unreadable (400).
MAX_FIELDS = 20
MEGABYTE = 1024 * 1024
# The largest body of an ordinary console form: no more than the shared server's own cap, so the
# console refuses first, in the reader's language.
FORM_LIMIT = MEGABYTE
# The largest district file the import takes.
MAX_UPLOAD = 10 * MEGABYTE
# The overview lists this many organizations, the most behind first; filters reach the others.
OVERVIEW_ROWS = 200

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",), default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def day_label(t: Translator, value: date) -> str:
    """Formats a date for the reader: Babel's medium date in their language."""
    return t.date(value, "medium")


def when(t: Translator, at: datetime, tz: tzinfo) -> str:
    """Formats a moment for the reader: its date and time of day in the district's time zone."""
    local = at.astimezone(tz)
    return f"{day_label(t, local.date())} {t.time(local)}"


def admitted(principal: Principal) -> bool:
    """Allows every principal the console admits (the default for reading)."""
    return principal.admitted


def managers(principal: Principal) -> bool:
    """Allows those who may change records (the default for forms)."""
    return principal.manages


def overseers(principal: Principal) -> bool:
    """Allows committee staff and the officers of an overseeing organization."""
    return principal.oversees


def asked_org(session: Session, principal: Principal, code: str) -> OrgView | None:
    """Returns the organization a request names (by default the principal's own) if in scope."""
    orgs = Organizations(session)
    org = orgs.by_code(code[:32]) if code else orgs.get(principal.home_org_id)
    return org if org is not None and principal.can_see(org.id) else None


def page(
    request: Request,
    settings: Settings,
    template: str,
    status: int = 200,
    *,
    principal: Principal | None = None,
    **values: Any,
) -> HTMLResponse:
    """Renders a template in the request's language with the page headers and date formats."""
    t = translator_for(request, settings)
    tz = settings.tz
    body = environment.get_template(template).render(
        t=t,
        # Listings of the use cases carry dates as ISO text; both read the same.
        day=lambda value: day_label(
            t, value if isinstance(value, date) else date.fromisoformat(value)
        ),
        when=lambda at: when(t, at, tz),
        locale=locale_of(request, settings),
        principal=principal,
        path=request.url.path,
        **values,
    )
    response = HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)
    if (
        "lang" in request.query_params
        and locale_of(request, settings) == (request.query_params["lang"])
    ):
        response.set_cookie(
            LOCALE_COOKIE,
            request.query_params["lang"],
            max_age=365 * 24 * 3600,
            path="/console",
            samesite="lax",
            secure=secure_cookies(settings),
        )
    return response


def refused(
    request: Request, settings: Settings, status: int, principal: Principal | None = None
) -> HTMLResponse:
    """Renders the translated refusal page: 403, 404, 413 or a request that could not be read."""
    limits = {"form_limit": FORM_LIMIT // MEGABYTE, "file_limit": MAX_UPLOAD // MEGABYTE}
    return page(
        request, settings, "refused.html", status, principal=principal, code=status, **limits
    )


# Who may use a page, asked after the console admitted the principal at all.
Allowed = Callable[[Principal], bool]
# A form's change: (transaction, now, principal, translator, fields) -> where to go, or a page.
ChangeWork = Callable[[Session, datetime, Principal, Translator, dict[str, str]], str | Response]


class Pages:
    """Serves each page after one check of the session, the role and the organization scope."""

    def __init__(self, console: Console) -> None:
        self.console = console

    # -- helpers ---------------------------------------------------------------------------

    def translator(self, request: Request) -> Translator:
        """Returns the translator of the request's language."""
        return translator_for(request, self.console.settings)

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        principal: Principal | None = None,
        **values: Any,
    ) -> HTMLResponse:
        """Renders a template in the request's language with the page headers and date formats."""
        return page(request, self.console.settings, template, status, principal=principal, **values)

    def refuse(self, request: Request, status: int, principal: Principal | None) -> HTMLResponse:
        """Answers a refusal (403, 404, or a request that could not be read) with a translated page."""
        return refused(request, self.console.settings, status, principal)

    def admit(
        self, request: Request, access: ConsoleAccess, allowed: Allowed
    ) -> Principal | Response:
        """Returns the signed-in principal when allowed; else the sign-in redirect or a 403 page."""
        principal = principal_of(request, access)
        if principal is None:
            return RedirectResponse("/console/login", status_code=303)
        if not principal.admitted or not allowed(principal):
            return self.refuse(request, 403, principal)
        return principal

    async def guarded(
        self,
        request: Request,
        work: Callable[[Session, Principal, Translator], T],
        *,
        allowed: Allowed = admitted,
    ) -> T | Response:
        """Runs a page's reads for an allowed principal; redirects or refuses everyone else."""

        def run() -> T | Response:
            t = translator_for(request, self.console.settings)
            with self.console.unit() as (session, _now, access):
                principal = self.admit(request, access, allowed)
                if isinstance(principal, Response):
                    return principal
                return work(session, principal, t)

        return await asyncio.to_thread(run)

    async def changed(
        self, request: Request, work: ChangeWork, *, allowed: Allowed = managers
    ) -> Response:
        """Runs a form's change for an allowed principal after the CSRF check, in one transaction.

        The work returns where to go next, or a response of its own (a page, a refusal).
        """
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        fields = {key: value for key, value in form.items() if isinstance(value, str)}

        def run() -> Response:
            t = translator_for(request, self.console.settings)
            with self.console.unit() as (session, now, access):
                principal = self.admit(request, access, allowed)
                if isinstance(principal, Response):
                    return principal
                if not csrf_ok(principal, fields.get("csrf")):
                    return self.refuse(request, 403, principal)
                done = work(session, now, principal, t, fields)
                if isinstance(done, Response):
                    return done
                return RedirectResponse(done, status_code=303)

        return await asyncio.to_thread(run)

    # -- sign-in and sign-out ----------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        """Shows the password form, with a fresh double-submit token."""
        token = secrets.token_urlsafe(24)
        response = self.render(request, "login.html", form_token=token, failed=False)
        self._login_cookie(response, token)
        return response

    async def login(self, request: Request) -> Response:
        """Checks a console account's password and starts a session."""
        form = await request.form(max_files=0, max_fields=5)
        submitted, cookie = form.get("form_token"), request.cookies.get(LOGIN_CSRF_COOKIE)
        if (
            not isinstance(submitted, str)
            or not cookie
            or not secrets.compare_digest(submitted.encode(), cookie.encode())
        ):
            return self.refuse(request, 403, None)
        login, password = str(form.get("login", ""))[:64], str(form.get("password", ""))[:256]
        address = request.client.host if request.client else "unknown"

        def run() -> str | None:
            with self.console.unit() as (_session, _now, access):
                signed = access.sign_in_by_password(login, password, address=address)
                return signed.token if signed else None

        try:
            token = await asyncio.to_thread(run)
        except ServiceError:
            return self._login_again(request, 429, throttled=True)
        if token is None:
            return self._login_again(request, 401, throttled=False)
        return self._signed_in(token)

    def _login_again(self, request: Request, status: int, *, throttled: bool) -> Response:
        """Shows the form again with why the sign-in failed."""
        token = secrets.token_urlsafe(24)
        response = self.render(
            request, "login.html", status, form_token=token, failed=True, throttled=throttled
        )
        self._login_cookie(response, token)
        return response

    def _login_cookie(self, response: Response, token: str) -> None:
        """Sets the sign-in form's double-submit cookie."""
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            max_age=3600,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=self.console.secure_cookies,
        )

    async def enter(self, request: Request) -> Response:
        """Trades a chat link's token for a session (a new session id every time)."""
        token = request.path_params["token"]

        def run() -> str | None:
            with self.console.unit() as (_session, _now, access):
                signed = access.sign_in_by_link(token) if len(token) <= 128 else None
                return signed.token if signed else None

        session_token = await asyncio.to_thread(run)
        if session_token is None:
            return self.render(request, "link_gone.html", 410)
        return self._signed_in(session_token)

    def _signed_in(self, token: str) -> Response:
        """Sets the session cookie and goes to the overview."""
        response = RedirectResponse("/console/", status_code=303, headers=PAGE_HEADERS)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            path="/console",
            httponly=True,
            samesite="lax",
            secure=self.console.secure_cookies,
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
        return response

    async def logout(self, request: Request) -> Response:
        """Ends this session, or every session of the same person."""
        form = await request.form(max_files=0, max_fields=5)
        token = request.cookies.get(SESSION_COOKIE, "")

        def run() -> bool:
            with self.console.unit() as (_session, _now, access):
                principal = principal_of(request, access)
                if principal is None or not csrf_ok(principal, form.get("csrf")):
                    return False
                access.sign_out(token, everywhere=form.get("everywhere") == "1")
                return True

        if not await asyncio.to_thread(run):
            return self.refuse(request, 403, None)
        response = RedirectResponse("/console/login", status_code=303, headers=PAGE_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path="/console")
        return response

    # -- pages ---------------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        """The quarter for every organization in scope, the most behind first."""
        wanted = request.query_params.get("quarter", "")
        state_filter = request.query_params.get("state", "")
        search = request.query_params.get("q", "").strip()[:50]

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            now = self.console.clock.now().astimezone(self.console.settings.tz)
            current = Quarter.of(now.date())
            try:
                quarter = Quarter.parse(wanted) if wanted else current
            except ValueError:
                quarter = current
            quarter = min(quarter, current)
            overview = self.console.overviews.overview(
                session,
                org_ids=principal.org_ids,
                quarter=quarter,
                now=now,
                holidays=self.console.holidays,
                tz=self.console.settings.tz,
            )
            rows = [
                s
                for s in overview.standings
                if (not search or search in s.org.name or search.upper() in s.org.code)
                and (not state_filter or any(c.value == state_filter for c in s.cells.values()))
            ]
            charts = {
                "attendance": {
                    "labels": [
                        period_label(t, f"{quarter.year}-{m:02d}")
                        for m, _ in overview.attendance_by_month
                    ],
                    "values": [round(rate * 100, 1) for _, rate in overview.attendance_by_month],
                },
                "activities": {
                    "labels": [t(ACTIVITY_KINDS[k]) for k, _ in overview.activities_by_kind],
                    "values": [n for _, n in overview.activities_by_kind],
                },
            }
            return self.render(
                request,
                "overview.html",
                principal=principal,
                overview=overview,
                rows=rows[:OVERVIEW_ROWS],
                matching=len(rows),
                quarter_label=period_label(t, str(quarter)),
                quarter=quarter,
                previous=quarter.previous(),
                next_quarter=quarter.next() if quarter < current else None,
                requirement_names={
                    r: t(REQUIREMENTS.get(r, UNKNOWN_REQUIREMENT)) for r in Requirement
                },
                state_names={s: t(STATES[s]) for s in State},
                states=State,
                state_filter=state_filter,
                search=search,
                charts=charts,
            )

        return _response(await self.guarded(request, work))

    async def organization(self, request: Request) -> Response:
        """An organization's members and roles, inside the principal's scope only."""
        code = request.path_params["code"][:32]

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            org = Organizations(session).by_code(code)
            if org is None or not principal.can_see(org.id):
                return self.refuse(request, 404, principal)
            members = Members(session, self.console.clock.now()).of_org(org.id)
            return self.render(
                request,
                "organization.html",
                principal=principal,
                org=org,
                members=members,
                role_names={role: t(name) for role, name in ROLES.items()},
                invite_roles=[(role.value, t(ROLES[role])) for role in INVITE_ROLES],
            )

        return _response(await self.guarded(request, work))

    async def audit(self, request: Request) -> Response:
        """The audit log under a committee, by organization, member and action (overseers only)."""
        action = request.query_params.get("action", "").strip()[:64]
        org_code = request.query_params.get("org", "").strip()[:32]
        member = request.query_params.get("member", "").strip()[:100]

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            scope: frozenset[int] = principal.org_ids
            if org_code:
                org = Organizations(session).by_code(org_code)
                scope = frozenset({org.id}) & scope if org else frozenset()
            entries = audit_entries(
                session, org_ids=scope, action=action or None, member=member or None
            )
            return self.render(
                request,
                "audit.html",
                principal=principal,
                entries=entries,
                action=action,
                org_code=org_code,
                member=member,
            )

        return _response(await self.guarded(request, work, allowed=overseers))


def _response(result: object) -> Response:
    """Narrows a guarded page's result to the response it always is."""
    assert isinstance(result, Response)
    return result


class ReminderPages:
    """The pushes in scope, a second try for dead ones, and an organization's settings."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    async def show(self, request: Request) -> Response:
        """Lists pushes by status, the newest first, and the settings of one organization."""
        wanted = request.query_params.get("status", "")
        status = OutboxStatus(wanted) if wanted in OutboxStatus.__members__.values() else None
        code = request.query_params.get("org", "")

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            org = asked_org(session, principal, code)
            if org is None:
                return self.pages.refuse(request, 404, principal)
            return self._page(request, session, principal, t, org, chosen=status)

        return _response(await self.pages.guarded(request, work))

    def _page(
        self,
        request: Request,
        session: Session,
        principal: Principal,
        t: Translator,
        org: OrgView,
        *,
        chosen: OutboxStatus | None = None,
        status: int = 200,
        problem: str = "",
    ) -> Response:
        """Renders the push log and an organization's settings."""
        log = push_log(session, org_ids=principal.org_ids, status=chosen)
        services = self.pages.console.services(session, self.pages.console.clock.now())
        return self.pages.render(
            request,
            "reminders.html",
            status,
            principal=principal,
            log=log,
            chosen=chosen,
            statuses=list(OutboxStatus),
            dead=OutboxStatus.DEAD,
            status_names={s: t(OUTBOX_STATES[s]) for s in OutboxStatus},
            requeued=request.query_params.get("requeued"),
            saved=request.query_params.get("saved", "")[:48],
            problem=problem,
            **settings_view(services, principal, t, org),
        )

    async def requeue(self, request: Request) -> Response:
        """Requeues every dead push to members in scope."""

        def work(
            session: Session,
            now: datetime,
            principal: Principal,
            _t: Translator,
            _fields: dict[str, str],
        ) -> str:
            count = requeue_dead_pushes(
                session,
                org_ids=principal.org_ids,
                now=now,
                actor_id=principal.member_id,
            )
            return f"/console/reminders?requeued={count}"

        return await self.pages.changed(request, work)

    async def change_setting(self, request: Request) -> Response:
        """Changes (or returns to the inherited value) one setting of an organization in scope."""

        def work(
            session: Session,
            now: datetime,
            principal: Principal,
            t: Translator,
            fields: dict[str, str],
        ) -> str | Response:
            org = asked_org(session, principal, fields.get("org", ""))
            if org is None:
                return self.pages.refuse(request, 404, principal)
            key = fields.get("key", "")[:48]
            services = self.pages.console.services(session, now)
            try:
                if fields.get("reset") == "1":
                    services.reset_org_reminder_setting(org.id, key, actor_id=principal.member_id)
                else:
                    services.change_org_setting(
                        org.id,
                        key=key,
                        value=fields.get("value", "")[:200],
                        actor_id=principal.member_id,
                    )
            except ServiceError as refusal:
                session.rollback()
                return self._page(
                    request, session, principal, t, org, status=400, problem=explain(t, refusal)
                )
            return f"/console/reminders?{urlencode({'org': org.code, 'saved': key})}#settings"

        return await self.pages.changed(request, work)
