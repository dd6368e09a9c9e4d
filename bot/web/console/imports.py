"""The console's district import: upload, a dry run's table of row errors or changes, confirm.

The dry run checks the file the way `gongjian import district --dry-run` does, within the
principal's scope. A file that passes is kept in the database under a random token bound to the
person who checked it (`bot.services.pending_imports`), so the confirmation, in any process and
after a restart, imports exactly the bytes that were checked, all or nothing, in one transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from bot.core.i18n import N_, Translator
from bot.services.console_access import Principal
from bot.services.district import (
    ALLIANCE_COLUMNS,
    MEMBER_SHEET,
    PAIRING_COLUMNS,
    PAIRING_SHEET,
    DistrictReport,
    workbook_of,
)
from bot.services.errors import ServiceError
from bot.services.importer import FILE_KIND, ImportFileError
from bot.services.pending_imports import LIFETIME, Refusal, claim_upload, keep_upload
from bot.texts.phrases import IMPORT_COLUMNS
from bot.web.console.desk import csrf_ok, whole
from bot.web.console.pages import MAX_UPLOAD, MEGABYTE, Pages, _response
from bot.web.console.structure import arranges
from handlers.errors import explain
from storage.engine import Session

# The multipart envelope around the file: boundaries, headers and the form's token.
ENVELOPE = 64 * 1024
SUFFIXES = (".xlsx", ".csv")
TOO_LARGE = N_("The file is larger than {limit} MB; split it into smaller files.")
NO_FILE = N_("Choose an .xlsx or .csv file to check.")
# Why a confirmation imports nothing, and the status it answers with.
REFUSALS: dict[Refusal, tuple[int, str]] = {
    Refusal.GONE: (
        410,
        N_(
            "The checked file is no longer here (it expired or was already imported);"
            " upload it again."
        ),
    ),
    Refusal.FOREIGN: (
        403,
        N_(
            "Someone else checked this file, so only they can confirm it;"
            " upload it yourself to import it."
        ),
    ),
    Refusal.TAMPERED: (
        400,
        N_(
            "This confirmation does not match the file that was checked, so nothing was"
            " imported; upload the file again."
        ),
    ),
}


class UploadTooLargeError(Exception):
    """The request body grew past the upload limit while it was read."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad cell as the dry run's table shows it."""

    sheet: str
    row: int
    column: str
    message: str


def shown_name(raw: str | None) -> str:
    """Returns an upload's file name without any folder, bounded."""
    return PurePath((raw or "").replace("\\", "/")).name[:100]


def problems(t: Translator, report: DistrictReport, file_name: str) -> list[RowProblem]:
    """Lists every bad cell of every sheet, worded in the reader's language."""
    sheet = MEMBER_SHEET if file_name.lower().endswith(".xlsx") else file_name
    found = [
        RowProblem(
            sheet=sheet,
            row=error.row,
            column=t(IMPORT_COLUMNS[error.column]),
            message=t(error.reason, **error.values),
        )
        for error in report.members.errors
    ]
    for error in report.group_errors:
        columns = PAIRING_COLUMNS if error.sheet == PAIRING_SHEET else ALLIANCE_COLUMNS
        refusal = ServiceError(error.code)
        refusal.details = dict(error.values)
        found.append(
            RowProblem(
                sheet=error.sheet,
                row=error.row,
                column=columns[error.column][0],
                message=explain(t, refusal),
            )
        )
    return found


class ImportPages:
    """Committee staff upload a district file, see the dry run, and confirm it."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    async def show(self, request: Request) -> Response:
        """Shows the upload form."""

        def work(_session: Session, principal: Principal, _t: Translator) -> Response:
            return self._page(request, principal)

        return _response(await self.pages.guarded(request, work, allowed=arranges))

    def _page(
        self, request: Request, principal: Principal, status: int = 200, **values: object
    ) -> Response:
        """Renders the import page: the form, and a dry run's or an import's outcome."""
        return self.pages.render(
            request,
            "import.html",
            status,
            principal=principal,
            limit=MAX_UPLOAD // MEGABYTE,
            **values,
        )

    async def _admitted(self, request: Request) -> Principal | Response:
        """Returns committee staff's principal, or the answer for everyone else."""

        def run() -> Principal | Response:
            with self.pages.console.unit() as (_session, _now, access):
                return self.pages.admit(request, access, arranges)

        return await asyncio.to_thread(run)

    async def check(self, request: Request) -> Response:
        """Reads an upload (signed in, size-capped, CSRF-checked) and shows its dry run."""
        # Who it is comes first: nobody else gets to send ten megabytes.
        principal = await self._admitted(request)
        if isinstance(principal, Response):
            return principal
        t = self.pages.translator(request)
        declared = request.headers.get("content-length", "")
        size = whole(declared)
        if size is not None and size > MAX_UPLOAD + ENVELOPE:
            return self._too_large(request, principal, t)
        try:
            form = await _capped(request).form(max_files=1, max_fields=5)
        except UploadTooLargeError:
            return self._too_large(request, principal, t)
        except HTTPException:
            # Starlette turns an unreadable multipart body into a 400 before we see it.
            return self._page(request, principal, 400, problem=t(NO_FILE))
        try:
            if not csrf_ok(principal, form.get("csrf")):
                return self.pages.refuse(request, 403, principal)
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return self._page(request, principal, 400, problem=t(NO_FILE))
            name = shown_name(upload.filename)
            if not name.lower().endswith(SUFFIXES):
                return self._page(request, principal, 400, problem=t(FILE_KIND, file=name))
            data = await upload.read(MAX_UPLOAD + 1)
        finally:
            await form.close()
        if len(data) > MAX_UPLOAD:
            return self._too_large(request, principal, t)
        return await self._dry_run(request, name, data)

    def _too_large(self, request: Request, principal: Principal, t: Translator) -> Response:
        """Refuses an upload over the limit."""
        problem = t(TOO_LARGE, limit=MAX_UPLOAD // MEGABYTE)
        return self._page(request, principal, 413, problem=problem)

    async def _dry_run(self, request: Request, name: str, data: bytes) -> Response:
        """Checks a file within the principal's scope; keeps it when it passes."""

        def run() -> Response:
            t = self.pages.translator(request)
            with self.pages.console.unit() as (session, now, access):
                principal = self.pages.admit(request, access, arranges)
                if isinstance(principal, Response):
                    return principal
                try:
                    workbook = workbook_of(name, data)
                except ImportFileError as error:
                    problem = t(error.message, **error.values)
                    return self._page(request, principal, 400, problem=problem)
                report = self.pages.console.services(session, now).import_district(
                    workbook,
                    dry_run=True,
                    source=name,
                    scope=principal.org_ids,
                    actor_id=principal.member_id,
                )
                kept = None
                if report.ok:
                    kept = keep_upload(
                        session,
                        member_id=principal.member_id,
                        account_id=principal.account_id,
                        name=name,
                        data=data,
                        now=now,
                    )
                return self._page(
                    request,
                    principal,
                    file_name=name,
                    report=report,
                    rows=problems(t, report, name),
                    kept=kept,
                    minutes=LIFETIME // timedelta(minutes=1),
                )

        return await asyncio.to_thread(run)

    async def confirm(self, request: Request) -> Response:
        """Imports the file a dry run passed, all rows or none, after the CSRF check."""

        def work(
            session: Session,
            now: datetime,
            principal: Principal,
            t: Translator,
            fields: dict[str, str],
        ) -> Response:
            staged = claim_upload(
                session,
                token=fields.get("token", "")[:64],
                sha256=fields.get("sha256", "")[:64],
                member_id=principal.member_id,
                account_id=principal.account_id,
                now=now,
            )
            if isinstance(staged, Refusal):
                status, problem = REFUSALS[staged]
                return self._page(request, principal, status, problem=t(problem))
            # Through the use case: a new org-life time moves the days planned at the old one.
            report = self.pages.console.services(session, now).import_district(
                workbook_of(staged.name, staged.data),
                dry_run=False,
                source=staged.name,
                scope=principal.org_ids,
                actor_id=principal.member_id,
            )
            return self._page(
                request,
                principal,
                200 if report.ok else 409,
                file_name=staged.name,
                report=report,
                rows=problems(t, report, staged.name),
                imported=report.ok,
            )

        return await self.pages.changed(request, work, allowed=arranges)


def _capped(request: Request) -> Request:
    """Returns the request reading its body through a counter that stops past the limit."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_UPLOAD + ENVELOPE:
                raise UploadTooLargeError
        return message

    return Request(request.scope, receive)
