"""Mobile members (流动党员): a secretary marks a move; the member files the three reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.core.domain import MemberStatus
from bot.core.records import MemberView
from bot.services.audit_trail import record_change
from bot.services.errors import ServiceError
from storage.models import Member
from storage.reminders import (
    REPORT_COLUMNS,
    MobileMovement,
    MobileReport,
    MovementDirection,
    mark_movement,
    record_mobile_report,
)


@dataclass(frozen=True, slots=True)
class MovementView:
    """A move and which of its reports are still owed (by their values)."""

    member_name: str
    direction: str
    place: str
    owed: tuple[str, ...]


def _owed(movement: MobileMovement) -> tuple[str, ...]:
    """Lists the reports a movement still owes."""
    return tuple(
        report.value
        for report, (column, direction) in REPORT_COLUMNS.items()
        if direction is movement.direction and getattr(movement, column) is None
    )


class Mobility:
    """Marks moves and records the three reports."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def mark(self, actor: MemberView, *, name: str, direction: str, place: str) -> MovementView:
        """Marks a member of the secretary's branch as leaving or arrived (secretaries only)."""
        way = MovementDirection(direction)
        if not actor.leads:
            raise ServiceError("not_allowed")
        matches = self.session.exec(
            select(Member).where(
                Member.organization_id == actor.org.id,
                Member.name == name.strip(),
                col(Member.status) != MemberStatus.DEPARTED,
            )
        ).all()
        if not matches:
            raise ServiceError("member_unknown", name=name.strip())
        if len(matches) > 1:
            raise ServiceError("member_ambiguous", name=name.strip())
        member = matches[0]
        assert member.id is not None
        member.mobile = True
        self.session.add(member)
        movement_id = mark_movement(
            session=self.session,
            member_id=member.id,
            direction=way,
            at=self.now,
            by=actor.id,
            place=place,
        )
        record_change(
            self.session,
            now=self.now,
            actor_id=actor.id,
            action="mobile.mark",
            subject=f"member:{member.id}",
            direction=way.value,
        )
        return self._view(self.session.get_one(MobileMovement, movement_id), member.name)

    def report(self, member: MemberView, kind: str) -> MovementView | None:
        """Files one of the member's reports; returns the move with what is still owed, or None."""
        report = MobileReport(kind)
        if not record_mobile_report(
            session=self.session, member_id=member.id, report=report, at=self.now
        ):
            return None
        _, direction = REPORT_COLUMNS[report]
        movement = self.session.exec(
            select(MobileMovement)
            .where(MobileMovement.member_id == member.id, MobileMovement.direction == direction)
            .order_by(col(MobileMovement.marked_at).desc(), col(MobileMovement.id).desc())
        ).first()
        assert movement is not None
        return self._view(movement, member.name)

    def _view(self, movement: MobileMovement, name: str) -> MovementView:
        """Builds the view of a move."""
        return MovementView(name, movement.direction.value, movement.place, _owed(movement))
