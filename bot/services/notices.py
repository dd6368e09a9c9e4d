"""Notices: messages about a change, queued in the outbox for the members concerned."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from bot.core.domain import LEADING_ROLES, MemberStatus
from bot.core.i18n import Translator
from bot.texts.translation import translator
from storage.models import ChatAccount, Member, Role
from storage.outbox import NOTICE_RULE, NewPush, enqueue, withdraw


class Notices:
    """Queues notices through the outbox (so quiet hours and retries apply) and withdraws them."""

    def __init__(self, session: Session, now: datetime, *, default_locale: str) -> None:
        self.session = session
        self.now = now
        self.default_locale = default_locale

    def leads(self, org_id: int) -> list[int]:
        """Lists an organization's current secretaries and deputy secretaries."""
        rows = self.session.exec(
            select(Role.member_id)
            .join(Member, col(Member.id) == Role.member_id)
            .where(
                Role.organization_id == org_id,
                col(Role.role).in_(LEADING_ROLES),
                Member.status != MemberStatus.DEPARTED,
            )
        ).all()
        return sorted(set(rows))

    def members(self, org_ids: Iterable[int]) -> list[int]:
        """Lists the current members of some organizations."""
        rows = self.session.exec(
            select(Member.id).where(
                col(Member.organization_id).in_(list(org_ids)),
                Member.status != MemberStatus.DEPARTED,
            )
        ).all()
        return [member_id for member_id in rows if member_id is not None]

    def send(
        self,
        *,
        subject: str,
        recipients: Iterable[int],
        render: Callable[[Translator], str],
        skip: int | None = None,
    ) -> int:
        """Queues one notice to each recipient in their language; returns how many were queued."""
        wanted = sorted({member for member in recipients if member != skip})
        if not wanted:
            return 0
        # Like planned pushes, a notice goes only to members with a chat account to receive it.
        reachable = select(ChatAccount.member_id).where(col(ChatAccount.member_id).in_(wanted))
        rows = self.session.exec(
            select(Member.id, Member.locale).where(col(Member.id).in_(reachable))
        ).all()
        locales = {member_id: locale for member_id, locale in rows if member_id is not None}
        # The moment and the words make the key: the same notice sent twice at once is queued
        # once, a different one about the same subject (moved, then cancelled) is queued too.
        stamp = self.now.strftime("%Y%m%dT%H%M%S.%f")
        texts: dict[str, str] = {}
        pushes = []
        for member_id in sorted(locales):
            locale = locales[member_id] or self.default_locale
            if locale not in texts:
                texts[locale] = render(translator(locale))
            digest = zlib.crc32(texts[locale].encode())
            pushes.append(
                NewPush(
                    key=f"{NOTICE_RULE}:{subject}:{stamp}:{digest:08x}:m{member_id}",
                    rule=NOTICE_RULE,
                    subject=subject,
                    period=stamp,
                    member_id=member_id,
                    urgent=False,
                    text=texts[locale],
                )
            )
        return enqueue(self.session, pushes, now=self.now)

    def withdraw(self, subject: str) -> int:
        """Withdraws the notices of a subject not sent yet; returns how many."""
        return withdraw(self.session, rule=NOTICE_RULE, subject=subject)
