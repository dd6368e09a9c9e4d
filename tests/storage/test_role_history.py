"""The role history migration: every leading role held before it gets a term from the member's start."""

from __future__ import annotations

from datetime import UTC, date, datetime

from alembic import command
from sqlalchemy import insert, select

from bot.core.domain import MemberStatus, OrgKind, RoleKind
from storage.engine import alembic_config, make_engine, upgrade
from storage.models import Member, Organization, Role, RoleTerm


def test_upgrade_starts_terms_for_roles_held_before(database_url: str) -> None:
    engine = make_engine(database_url, pool=False)
    command.downgrade(alembic_config(engine), "0004")
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(Organization.__table__),  # type: ignore[attr-defined]
                {
                    "id": 1,
                    "code": "B1",
                    "name": "第1支部",
                    "kind": OrgKind.BRANCH.value,
                    "orglife_ordinal": 1,
                    "orglife_weekday": 1,
                    "orglife_time": "09:00",
                    "orglife_venue": "",
                    "holiday_policy": "keep",
                    "checkin_code_required": True,
                    "created_at": datetime(2025, 1, 1, tzinfo=UTC),
                },
            )
            connection.execute(
                insert(Member.__table__),  # type: ignore[attr-defined]
                {
                    "id": 1,
                    "name": "张三",
                    "organization_id": 1,
                    "status": MemberStatus.FULL.value,
                    "mobile": False,
                    "muted": False,
                    "created_at": datetime(2025, 3, 4, 2, 0, tzinfo=UTC),
                },
            )
            for role in (RoleKind.SECRETARY, RoleKind.MEMBER):
                connection.execute(
                    insert(Role.__table__),  # type: ignore[attr-defined]
                    {"organization_id": 1, "member_id": 1, "role": role.value},
                )
    finally:
        upgrade(engine)
    with engine.connect() as connection:
        terms = connection.execute(
            select(RoleTerm.member_id, RoleTerm.role, RoleTerm.started_on, RoleTerm.ended_on)  # type: ignore[call-overload]
        ).all()
    engine.dispose()
    assert [tuple(row) for row in terms] == [(1, RoleKind.SECRETARY, date(2025, 3, 4), None)]
