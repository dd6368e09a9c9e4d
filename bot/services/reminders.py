"""Reminder use cases for chat: mute nudges, list what a branch owes, mark reports filed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.domain import Duty
from bot.core.i18n import DEFAULT_LOCALE
from bot.core.records import MemberView
from bot.services.audit_trail import record_change
from bot.services.errors import ServiceError
from bot.services.obligations.facts import Facts, Part, load_facts
from bot.services.obligations.rules import Obligation, pending_for
from storage.reminders import (
    FilingKind,
    FilingMethod,
    alliance_scope,
    org_scope,
    pairing_scope,
    record_filing,
    set_muted,
)

if TYPE_CHECKING:
    from bot.services.use_cases import Services

__all__ = [
    "FilingKind",
    "FilingResult",
    "Reminders",
    "parse_filing_kind",
    "reminders_for",
]


@dataclass(frozen=True, slots=True)
class FilingResult:
    """What a "filed" command recorded: the report, its period, and for which groups."""

    kind: FilingKind
    period: str
    groups: tuple[str, ...]
    new: int


class Reminders:
    """Reminder use cases over one unit of work."""

    def __init__(
        self,
        session: Session,
        *,
        now: datetime,
        tz: ZoneInfo,
        holidays: HolidayCalendar,
        default_locale: str = DEFAULT_LOCALE,
    ) -> None:
        self.session = session
        self.now = now.astimezone(tz)
        self.holidays = holidays
        self.default_locale = default_locale

    @classmethod
    def of(cls, services: Services) -> Reminders:
        """Builds the reminder use cases over a `Services` unit of work."""
        return cls(services.session, now=services.now, tz=services.tz, holidays=services.holidays)

    def set_muted(self, member: MemberView, *, muted: bool) -> bool:
        """Mutes or unmutes the member's non-essential nudges; False when already so."""
        return set_muted(session=self.session, member_id=member.id, muted=muted)

    def facts_for(self, org_id: int, parts: Part = Part.LEADS) -> Facts:
        """Reads the facts about one organization and those it works with (`parts` of them)."""
        # What is listed names only members with a role and mobile members; org-life reminders,
        # which go to every member, are pushed, never listed.
        return load_facts(
            self.session,
            now=self.now,
            holidays=self.holidays,
            default_locale=self.default_locale,
            around=org_id,
            parts=parts,
        )

    def pending(self, member: MemberView) -> list[Obligation]:
        """Lists what the member's organization still owes this quarter."""
        return pending_for(self.facts_for(member.org.id), member.org.id)

    def file(self, member: MemberView, kind: FilingKind) -> FilingResult:
        """Marks this quarter's ledger, or this year's plan or summary, as submitted."""
        org_id = member.org.id
        today = self.now.date()
        if kind is FilingKind.LEDGER:
            period = str(Quarter.of(today))
            scopes = [(org_scope(org_id), member.org.name)]
        else:
            period = str(today.year)
            facts = self.facts_for(org_id, Part.NONE)
            scopes = []
            for alliance in facts.alliances:
                executive = alliance.duty(Duty.EXECUTIVE, today)
                if executive is not None and executive.org_id == org_id:
                    scopes.append((alliance_scope(alliance.id), alliance.name))
            scopes += [
                (pairing_scope(p.id), p.name) for p in facts.pairings if p.lead_org_id == org_id
            ]
        new = sum(self._submit(kind, scope, period, by=member.id) for scope, _name in scopes)
        return FilingResult(kind, period, tuple(name for _, name in scopes), new)

    def file_ledger(self, org_id: int, quarter: Quarter, *, by: int | None) -> bool:
        """Marks an organization's ledger of a quarter (not one ahead) as submitted; audited."""
        if quarter > Quarter.of(self.now.date()):
            raise ServiceError("quarter_ahead")
        return self._submit(FilingKind.LEDGER, org_scope(org_id), str(quarter), by=by)

    def _submit(self, kind: FilingKind, scope: str, period: str, *, by: int | None) -> bool:
        """Records one report as submitted and audits it; False when it was filed already."""
        new = record_filing(
            session=self.session,
            kind=kind,
            scope=scope,
            period=period,
            method=FilingMethod.SUBMITTED,
            at=self.now,
            by=by,
        )
        record_change(
            self.session,
            now=self.now,
            actor_id=by,
            action="filing.submit",
            subject=scope,
            kind=kind.value,
            period=period,
        )
        return new


def reminders_for(services: Services) -> Reminders:
    """Returns the reminder use cases of a unit of work (`services.reminders` once wired)."""
    existing = getattr(services, "reminders", None)
    return existing if isinstance(existing, Reminders) else Reminders.of(services)


FILING_WORDS: dict[str, FilingKind] = {
    "": FilingKind.LEDGER,
    "ledger": FilingKind.LEDGER,
    "台账": FilingKind.LEDGER,
    "plan": FilingKind.ANNUAL_PLAN,
    "计划": FilingKind.ANNUAL_PLAN,
    "年度计划": FilingKind.ANNUAL_PLAN,
    "summary": FilingKind.YEAR_SUMMARY,
    "总结": FilingKind.YEAR_SUMMARY,
    "年终总结": FilingKind.YEAR_SUMMARY,
}


def parse_filing_kind(text: str) -> FilingKind | None:
    """Reads which report a secretary marks filed: ledger (default), plan or summary."""
    return FILING_WORDS.get(text.strip().lower())
