"""The marks the watched tables leave: every kind of write leaves one, and none is refused for it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Table
from sqlmodel import SQLModel, select

from bot.core.domain import MemberStatus
from bot.core.inbound import Channel
from bot.demo import build_demo
from storage.engine import Database, Session
from storage.models import ChatAccount, Member
from storage.queries import upsert
from storage.reminders import (
    WATCHED_TABLES,
    FactChange,
    FilingKind,
    FilingMethod,
    MobileMovement,
    MovementDirection,
    ReminderSetting,
    org_scope,
    record_filing,
    set_reminder_setting,
    take_fact_changes,
)
from tests.conftest import DEFAULT_NOW, SHANGHAI
from tests.test_demo import HOLIDAYS


def model_of(table: str) -> type[SQLModel]:
    """Returns the model class mapped to a table."""
    for mapper in SQLModel._sa_registry.mappers:
        if mapper.class_.__table__.name == table:
            model: type[SQLModel] = mapper.class_
            return model
    raise LookupError(table)


def marked(database: Database) -> bool:
    """Tells whether a mark is waiting."""
    with database.session() as session:
        return session.exec(select(FactChange.id).limit(1)).first() is not None


def take_marks(database: Database) -> None:
    """Takes every waiting mark, as a tick does."""
    with database.session() as session:
        take_fact_changes(session)


@pytest.fixture
def district(database: Database) -> Database:
    """The demo district, with a row in every watched table."""
    with database.session() as session:
        build_demo(
            session, now=DEFAULT_NOW, tz=SHANGHAI, holidays=HOLIDAYS, invite_ttl=timedelta(hours=1)
        )
        member = session.exec(select(Member).where(Member.status == MemberStatus.FULL)).first()
        assert member is not None and member.id is not None
        session.add(
            ChatAccount(
                channel=Channel.CONSOLE,
                external_id="x",
                member_id=member.id,
                created_at=DEFAULT_NOW,
            )
        )
        session.add(
            MobileMovement(
                member_id=member.id,
                direction=MovementDirection.LEAVING,
                marked_at=DEFAULT_NOW,
            )
        )
        record_filing(
            session=session,
            kind=FilingKind.LEDGER,
            scope=org_scope(member.organization_id),
            period="2026Q4",
            method=FilingMethod.SUBMITTED,
            at=DEFAULT_NOW,
            by=None,
        )
        set_reminder_setting(
            session=session,
            scope=org_scope(member.organization_id),
            name="notice_time",
            value="9:00",
        )
    return database


def first_row(session: Session, table: Table) -> dict[str, Any]:
    """Reads one row of a table as column values."""
    row = session.connection().execute(table.select().limit(1)).mappings().first()
    assert row is not None, table.name
    return dict(row)


def test_an_upsert_of_a_watched_row_works_and_leaves_a_mark(district: Database) -> None:
    for table_name in WATCHED_TABLES:
        model = model_of(table_name)
        table: Table = model.__table__  # type: ignore[attr-defined]
        # A mark waits already: the upsert's update must not clash with it.
        assert marked(district)
        with district.session() as session:
            values = first_row(session, table)
            assert upsert(session, model, values=values, conflict=("id",)) == values["id"]
        # With no mark waiting, the update leaves one.
        take_marks(district)
        with district.session() as session:
            upsert(session, model, values=first_row(session, table), conflict=("id",))
        assert marked(district), table_name


def test_an_upsert_that_inserts_leaves_a_mark_beside_a_waiting_one(district: Database) -> None:
    for waiting in (True, False):
        if not waiting:
            take_marks(district)
        with district.session() as session:
            for value in ("8:00", "8:30"):
                upsert(
                    session,
                    ReminderSetting,
                    values={"scope": f"org:{waiting}", "name": "notice_time", "value": value},
                    conflict=("scope", "name"),
                )
        assert marked(district)
