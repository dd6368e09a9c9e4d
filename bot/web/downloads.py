"""`GET /files/{token}`: single-use download links for channels that cannot carry files."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.calendar.holidays import HolidayCalendar
from bot.core.clock import Clock
from bot.core.i18n import DEFAULT_LOCALE, N_
from bot.core.reply import Document
from bot.services.downloads import FILES_PATH, claim_link, link_is_live, make_document
from bot.services.errors import ServiceError
from bot.services.photos import PhotoStore
from bot.texts.translation import translator
from storage.engine import Database

logger = logging.getLogger(__name__)

GONE = N_(
    "This download link is unknown, already used or expired. Ask the assistant for a new one."
)
# The file is personal data: nobody may cache it, sniff it or learn the link from a referrer.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def content_disposition(filename: str) -> str:
    """Returns an attachment header with an ASCII fallback name and the UTF-8 one (RFC 6266)."""
    fallback = "".join(
        char if char.isascii() and (char.isalnum() or char in "._-") else "_" for char in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def download_routes(
    database: Database,
    *,
    clock: Clock,
    holidays: HolidayCalendar,
    locale: str = DEFAULT_LOCALE,
    photos: PhotoStore | None = None,
) -> list[BaseRoute]:
    """Returns the route that serves each download link once, then never again."""

    def fetch(token: str) -> Document | None:
        """Claims the link and makes its file in one transaction (a failure keeps the link)."""
        now = clock.now()
        try:
            with database.session() as session:
                link = claim_link(session, token=token, now=now)
                if link is None:
                    return None
                return make_document(
                    session, link, now=now, holidays=holidays, tz=clock.tz, photos=photos
                )
        except ServiceError as error:
            logger.warning("A download link could not be served: %s", error.code)
            return None

    def live(token: str) -> bool:
        """Tells whether a link would work, without using it."""
        with database.session() as session:
            return link_is_live(session, token=token, now=clock.now())

    async def download(request: Request) -> Response:
        """Sends the file of a live link; HEAD only says whether it is live."""
        token = str(request.path_params["token"])
        gone = PlainTextResponse(translator(locale)(GONE), status_code=404, headers=PRIVATE_HEADERS)
        if request.method == "HEAD":
            # Link previews send HEAD: answering must not use the link up.
            if await asyncio.to_thread(live, token):
                return Response(status_code=200, headers=PRIVATE_HEADERS)
            return gone
        document = await asyncio.to_thread(fetch, token)
        if document is None:
            return gone
        return Response(
            document.content,
            media_type=document.mime_type,
            headers={
                **PRIVATE_HEADERS,
                "Content-Disposition": content_disposition(document.filename),
            },
        )

    return [Route(FILES_PATH + "{token}", download, methods=["GET", "HEAD"])]
