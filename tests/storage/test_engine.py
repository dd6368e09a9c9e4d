"""The database: migrations, SQLite pragmas, constraints that keep data unique."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from bot.core.domain import AttendanceStatus, MeetingKind, MeetingStatus, OrgKind
from storage.engine import Database, make_engine, upgrade
from storage.models import Attendance, Meeting, Organization
from tests.factories import World

NOW = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)


def test_upgrade_is_idempotent(database_url: str) -> None:
    engine = make_engine(database_url, pool=False)
    upgrade(engine)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {
        "organization",
        "member",
        "attendance",
        "meeting",
        "invite",
        "conversation",
        "audit_log",
    } <= tables
    engine.dispose()


def test_sqlite_pragmas(tmp_path: object) -> None:
    db = Database.connect(f"sqlite:///{tmp_path}/p.db")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    db.dispose()


def test_one_attendance_per_member_per_meeting(database: Database, world: World) -> None:
    with database.session() as session:
        meeting = Meeting(
            organization_id=world.orgs["B1"],
            kind=MeetingKind.LECTURE,
            period="x",
            held_on=date(2026, 11, 3),
            starts_at=NOW,
            checkin_code="123456",
            status=MeetingStatus.PLANNED,
        )
        session.add(meeting)
        session.flush()
        assert meeting.id is not None
        meeting_id = meeting.id
        session.add(
            Attendance(
                meeting_id=meeting_id,
                member_id=world.members["m1"],
                status=AttendanceStatus.PRESENT,
                at=NOW,
            )
        )
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(
            Attendance(
                meeting_id=meeting_id,
                member_id=world.members["m1"],
                status=AttendanceStatus.LEAVE,
                at=NOW,
            )
        )


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(
            Organization(code="X", name="x", kind=OrgKind.BRANCH, parent_id=999, created_at=NOW)
        )


def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive"), database.session() as session:
        session.add(
            Organization(code="Y", name="y", kind=OrgKind.BRANCH, created_at=datetime(2026, 1, 1))
        )


def test_datetimes_come_back_aware_utc(database: Database) -> None:
    with database.session() as session:
        session.add(Organization(code="Z", name="z", kind=OrgKind.BRANCH, created_at=NOW))
    with database.session() as session:
        org = session.exec(select(Organization).where(Organization.code == "Z")).one()
    assert org.created_at == NOW and org.created_at.tzinfo is not None


def test_ping(database: Database) -> None:
    assert database.ping()
    broken = Database(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool=False))
    assert not broken.ping()


def test_migrations_match_the_models(database_url: str) -> None:
    """Autogenerate finds nothing to do: every model change came with its migration."""
    engine = make_engine(database_url, pool=False)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert diff == []
