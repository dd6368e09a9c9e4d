"""Setting up a party-building alliance (党建联盟): the one place its structure rules are checked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import Session, col, select

from bot.core.domain import DutyPeriod, UnitKind
from bot.services.errors import ServiceError
from storage.models import Alliance, AllianceUnit, AuditEntry, Organization
from storage.queries import insert_ignore

# 001 §3: "X" is 5-7 president units (会长单位), one of them the executive president unit.
MIN_PRESIDENT_UNITS = 5
MAX_PRESIDENT_UNITS = 7


def check_president_units(count: int) -> None:
    """Refuses a number of president units outside 001's 5-7."""
    if not MIN_PRESIDENT_UNITS <= count <= MAX_PRESIDENT_UNITS:
        raise ServiceError(
            "alliance_presidents",
            count=count,
            low=MIN_PRESIDENT_UNITS,
            high=MAX_PRESIDENT_UNITS,
        )


def create_alliance(
    session: Session,
    *,
    code: str,
    name: str,
    rota_start: date,
    presidents: Sequence[int],
    members: Sequence[int] = (),
    duty_period: DutyPeriod = DutyPeriod.MONTH,
    executive_term_months: int = 12,
    convener_rotation: bool = False,
    actor_id: int | None,
    now: datetime,
) -> Alliance:
    """Creates an alliance with its president and member units, after checking 001's rules.

    Every door that sets up an alliance (demo, import, command line, web) goes through here.
    Presidents come first in the rotation, in the order given, then the member units.
    """
    code, name = code.strip().upper(), name.strip()
    if not code or not name:
        raise ServiceError("alliance_incomplete")
    check_president_units(len(set(presidents)))
    if len(set(presidents)) != len(presidents) or len(set(members)) != len(members):
        raise ServiceError("alliance_unit_twice")
    if set(presidents) & set(members):
        raise ServiceError("alliance_unit_twice")
    if not 1 <= executive_term_months <= 60:
        raise ServiceError("alliance_term", low=1, high=60)
    units = [*presidents, *members]
    known = set(session.exec(select(Organization.id).where(col(Organization.id).in_(units))))
    if known != set(units):
        raise ServiceError("org_unknown")
    alliance_id = insert_ignore(
        session,
        Alliance,
        values={
            "code": code,
            "name": name[:200],
            "rota_start": rota_start,
            "duty_period": duty_period.value,
            "executive_term_months": executive_term_months,
            "convener_rotation": convener_rotation,
        },
        conflict=("code",),
    )
    if alliance_id is None:
        raise ServiceError("alliance_exists", alliance=code)
    for order, org_id in enumerate(units, 1):
        kind = UnitKind.PRESIDENT if order <= len(presidents) else UnitKind.MEMBER
        session.add(
            AllianceUnit(
                alliance_id=alliance_id, organization_id=org_id, kind=kind, rotation_order=order
            )
        )
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor_id,
            action="alliance.create",
            subject=f"alliance:{code}",
            detail=json.dumps(
                {
                    "presidents": list(presidents),
                    "members": list(members),
                    "rota_start": rota_start.isoformat(),
                    "convener_rotation": convener_rotation,
                }
            ),
        )
    )
    session.flush()
    return session.get_one(Alliance, alliance_id)
