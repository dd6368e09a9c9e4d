"""bulk_insert: many rows in one COPY or executemany, each row keeping its own values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import col, select

from bot.core.domain import MemberStatus, OrgKind
from storage.engine import Database
from storage.models import Member, Organization
from storage.queries import bulk_insert
from tests.factories import add_org

NOW = datetime(2026, 11, 3, 1, 30, tzinfo=UTC)


def branch(database: Database) -> int:
    """Stores one branch and returns its id."""
    with database.session() as session:
        return add_org(
            session, code="B1", name="第一支部", kind=OrgKind.BRANCH, parent=None, now=NOW
        )


def member(org_id: int, name: str, **more: Any) -> dict[str, Any]:
    """A member row with only the columns a member cannot do without, and `more`."""
    return {
        "name": name,
        "organization_id": org_id,
        "status": MemberStatus.FULL,
        "created_at": NOW,
        **more,
    }


def members(database: Database) -> list[tuple[int | None, str, str | None, bool, bool]]:
    """Lists the stored members: id, name, phone, mobile, muted."""
    with database.session() as session:
        rows = session.exec(select(Member).order_by(col(Member.id))).all()
        return [(row.id, row.name, row.phone, row.mobile, row.muted) for row in rows]


@pytest.mark.parametrize("ids", [True, False], ids=["ids", "no-ids"])
def test_rows_with_differing_keys_each_keep_their_own_values(database: Database, ids: bool) -> None:
    org_id = branch(database)
    rows = [
        # The first row names fewer columns than later ones, and a later one fewer than it.
        member(org_id, "甲"),
        member(org_id, "乙", phone="13800138000", mobile=True),
        member(org_id, "丙", mobile=True, muted=True),
        member(org_id, "丁", phone="139", locale="en"),
    ]
    with database.session() as session:
        new_ids = bulk_insert(session, Member, rows, ids=ids)
    stored = members(database)
    # A column a row leaves out takes the model's default: no value is dropped or misplaced.
    assert [row[1:] for row in stored] == [
        ("甲", None, False, False),
        ("乙", "13800138000", True, False),
        ("丙", None, True, True),
        ("丁", "139", False, False),
    ]
    with database.session() as session:
        locales = session.exec(select(Member.locale).order_by(col(Member.id))).all()
    assert locales == [None, None, None, "en"]
    assert new_ids == ([row[0] for row in stored] if ids else [])


def test_a_row_without_a_required_value_or_with_an_unknown_key_is_refused(
    database: Database,
) -> None:
    org_id = branch(database)
    nameless = {key: value for key, value in member(org_id, "乙").items() if key != "name"}
    with pytest.raises(ValueError, match="no name"), database.session() as session:
        bulk_insert(session, Member, [member(org_id, "甲"), nameless], ids=True)
    with pytest.raises(ValueError, match="nickname"), database.session() as session:
        bulk_insert(session, Member, [member(org_id, "甲"), member(org_id, "乙", nickname="x")])
    with pytest.raises(ValueError, match="id"), database.session() as session:
        bulk_insert(session, Member, [member(org_id, "甲", id=99)], ids=True)
    assert members(database) == []


def test_rows_alike_are_written_as_given(database: Database) -> None:
    org_id = branch(database)
    with database.session() as session:
        bulk_insert(
            session,
            Organization,
            [
                {
                    "code": f"B{number}",
                    "name": f"第{number}支部",
                    "kind": OrgKind.BRANCH,
                    "parent_id": org_id,
                    "orglife_ordinal": 1,
                    "orglife_weekday": 1,
                    "orglife_time": "14:30",
                    "orglife_venue": "党群服务中心",
                    "holiday_policy": "keep",
                    "checkin_code_required": False,
                    "created_at": NOW,
                }
                for number in (2, 3)
            ],
        )
    with database.session() as session:
        stored = session.exec(
            select(Organization.code, Organization.orglife_time).where(
                col(Organization.parent_id) == org_id
            )
        ).all()
    assert sorted(stored) == [("B2", "14:30"), ("B3", "14:30")]
