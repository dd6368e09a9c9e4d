"""Plain read-only views that services hand to handlers (no ORM objects cross that line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from bot.core.domain import (
    LEADING_ROLES,
    ActivityKind,
    AttendanceStatus,
    Duty,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    OrgKind,
    RoleKind,
)


@dataclass(frozen=True, slots=True)
class OrgView:
    """An organization as handlers see it."""

    id: int
    code: str
    name: str
    kind: OrgKind


@dataclass(frozen=True, slots=True)
class MemberView:
    """The member behind a chat account, with their roles in their own organization."""

    id: int
    name: str
    org: OrgView
    status: MemberStatus
    locale: str | None
    roles: frozenset[RoleKind] = field(default_factory=frozenset)
    muted: bool = False

    @property
    def leads(self) -> bool:
        """Tells whether the member is secretary or deputy secretary of their organization."""
        return bool(self.roles & LEADING_ROLES)


@dataclass(frozen=True, slots=True)
class MeetingView:
    """A meeting with the facts a reply needs."""

    id: int
    org: OrgView
    kind: MeetingKind
    held_on: date
    starts_at: datetime
    venue: str
    title: str
    status: MeetingStatus
    code_required: bool
    checkin_open: bool
    moved_from: date | None = None
    move_reason: str | None = None
    holiday: str | None = None


@dataclass(frozen=True, slots=True)
class CheckInResult:
    """What happened when a member tried to sign in."""

    meeting: MeetingView
    at: datetime
    new: bool
    status: AttendanceStatus
    late: bool = False


@dataclass(frozen=True, slots=True)
class RollCall:
    """A meeting's attendance: who came, who is on leave, who is missing."""

    meeting: MeetingView
    present: list[tuple[str, datetime]]
    on_leave: list[tuple[str, str]]
    missing: list[str]
    # Those of `present` who signed in after the on-time window (迟到).
    late: list[str] = field(default_factory=list)

    @property
    def expected(self) -> int:
        """How many members were expected (应到): everyone, those on leave included."""
        return len(self.present) + len(self.on_leave) + len(self.missing)

    @property
    def rate(self) -> float:
        """The share of expected members who signed in, 0..1."""
        return len(self.present) / self.expected if self.expected else 0.0


@dataclass(frozen=True, slots=True)
class DutySlot:
    """Who holds one duty in one period, and whether a secretary changed it."""

    duty: Duty
    period: str
    first_day: date
    last_day: date
    org: OrgView
    overridden: bool = False
    reason: str = ""
    scheduled_org: OrgView | None = None


@dataclass(frozen=True, slots=True)
class ActivityView:
    """A stored ledger entry."""

    id: int
    kind: ActivityKind
    held_on: date
    title: str
    participants: int
    summary: str
    org: OrgView
    partners: list[OrgView]
