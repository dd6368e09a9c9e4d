"""The console's district import: upload, a dry run's table of row errors or changes, confirm.

The dry run checks the file the way `gongjian import district --dry-run` does, within the
principal's scope. A file that passes is kept on the server under a random token bound to the
session that checked it, so the confirmation imports exactly the bytes that were checked, all
or nothing, in one transaction.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePath

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
    import_district,
    workbook_of,
)
from bot.services.errors import ServiceError
from bot.services.importer import FILE_KIND, ImportFileError
from bot.texts.phrases import IMPORT_COLUMNS
from bot.web.console.desk import csrf_ok, whole
from bot.web.console.pages import MAX_UPLOAD, MEGABYTE, Pages, _response
from bot.web.console.structure import arranges
from handlers.errors import explain
from storage.engine import Session

# The multipart envelope around the file: boundaries, headers and the form's token.
ENVELOPE = 64 * 1024
SUFFIXES = (".xlsx", ".csv")
MAX_STAGED = 20
TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")
TOO_LARGE = N_("The file is larger than {limit} MB; split it into smaller files.")
NO_FILE = N_("Choose an .xlsx or .csv file to check.")
GONE = N_(
    "The checked file is no longer here (it expired or was already imported); upload it again."
)


class UploadTooLargeError(Exception):
    """The request body grew past the upload limit while it was read."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad cell as the dry run's table shows it."""

    sheet: str
    row: int
    column: str
    message: str


@dataclass(frozen=True, slots=True)
class StagedFile:
    """An uploaded file a dry run passed, waiting for its confirmation."""

    name: str
    data: bytes


class ImportShelf:
    """Keeps checked uploads in a private folder under random tokens, each bound to one session.

    Only a digest of the token names the files, and a file is taken by renaming it first, so two
    confirmations racing for one token import it once.
    """

    def __init__(self, folder: Path | None, lifetime: timedelta) -> None:
        self._folder = folder
        self.lifetime = lifetime

    @property
    def folder(self) -> Path:
        """Returns the folder (by default the process's own, private to its user)."""
        if self._folder is None:
            self._folder = process_folder()
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self._folder

    def put(self, *, owner: str, name: str, data: bytes, now: datetime) -> str:
        """Keeps a checked file for its owner (a session's digest); returns the token."""
        self._sweep(now)
        token = secrets.token_urlsafe(32)
        base = self.folder / _digest(token)
        meta = {"owner": owner, "name": name, "at": now.isoformat(), "sha256": _digest(data)}
        _write_private(base.with_suffix(".bin"), data)
        _write_private(base.with_suffix(".json"), json.dumps(meta).encode())
        return token

    def take(self, token: str, *, owner: str, now: datetime) -> StagedFile | None:
        """Hands a kept file to its owner once (None when unknown, expired, taken or not theirs)."""
        if not TOKEN.fullmatch(token):
            return None
        base = self.folder / _digest(token)
        try:
            meta = json.loads(base.with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None
        if not hmac.compare_digest(str(meta.get("owner", "")), owner):
            return None
        claimed = base.with_suffix(f".taken-{secrets.token_hex(8)}")
        try:
            os.rename(base.with_suffix(".bin"), claimed)
        except OSError:
            return None
        try:
            data = claimed.read_bytes()
        finally:
            claimed.unlink(missing_ok=True)
            base.with_suffix(".json").unlink(missing_ok=True)
        fresh = now - datetime.fromisoformat(meta["at"]) <= self.lifetime
        if not fresh or not hmac.compare_digest(_digest(data), str(meta.get("sha256", ""))):
            return None
        return StagedFile(name=str(meta["name"]), data=data)

    def _sweep(self, now: datetime) -> None:
        """Drops expired files, and the oldest beyond MAX_STAGED."""
        kept: list[tuple[datetime, Path]] = []
        for meta_path in self.folder.glob("*.json"):
            try:
                at = datetime.fromisoformat(json.loads(meta_path.read_text())["at"])
            except (OSError, ValueError, KeyError):
                continue
            kept.append((at, meta_path))
        kept.sort()
        for index, (at, meta_path) in enumerate(kept):
            if now - at > self.lifetime or len(kept) - index >= MAX_STAGED:
                meta_path.with_suffix(".bin").unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)


@functools.cache
def process_folder() -> Path:
    """Makes one private temporary folder per process for the checked uploads.

    Uploads carry members' names and phones: the folder goes when the process ends.
    """
    folder = Path(tempfile.mkdtemp(prefix="gongjian-imports-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _digest(data: str | bytes) -> str:
    """Returns the SHA-256 of a token or a file, in hex."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    """Writes a file only this user may read."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)


def owner_of(principal: Principal) -> str:
    """Returns what binds a kept file to one session: a digest of the session's form token."""
    return _digest(principal.csrf_token)


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

    def __init__(self, pages: Pages, folder: Path | None = None) -> None:
        self.pages = pages
        self.shelf = ImportShelf(folder, pages.console.idle)

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
                report = import_district(
                    session,
                    workbook,
                    now=now,
                    dry_run=True,
                    source=name,
                    scope=principal.org_ids,
                    actor_id=principal.member_id,
                )
                token = ""
                if report.ok:
                    token = self.shelf.put(owner=owner_of(principal), name=name, data=data, now=now)
                return self._page(
                    request,
                    principal,
                    file_name=name,
                    report=report,
                    rows=problems(t, report, name),
                    token=token,
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
            staged = self.shelf.take(
                fields.get("token", "")[:64], owner=owner_of(principal), now=now
            )
            if staged is None:
                return self._page(request, principal, 410, problem=t(GONE))
            report = import_district(
                session,
                workbook_of(staged.name, staged.data),
                now=now,
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
