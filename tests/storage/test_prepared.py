"""Statements run on the driver give what SQLAlchemy gives, and fail the way it fails."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col

from bot.core.domain import OrgKind
from storage.engine import Database
from storage.models import Organization, ProcessedInbound
from storage.prepared import fetch, remembered
from storage.queries import insert_ignore_rows, run
from tests.survival.conftest import admin_engine, postgres_only, terminate

NOW = datetime(2026, 11, 3, 1, 30, tzinfo=UTC)
BY_CODE = (
    select(
        col(Organization.id),
        col(Organization.code),
        col(Organization.kind).label("kind"),
        col(Organization.created_at).label("created"),
    )
    .where(col(Organization.code) == bindparam("code"), col(Organization.kind) != OrgKind.COMMITTEE)
    .order_by(col(Organization.id))
)


AT_OF = select(col(ProcessedInbound.key), col(ProcessedInbound.at)).where(
    col(ProcessedInbound.at) == bindparam("at")
)


def add(database: Database, code: str, kind: OrgKind = OrgKind.BRANCH) -> None:
    """Adds an organization."""
    with database.session() as session:
        session.add(Organization(code=code, name=code, kind=kind, created_at=NOW))


def test_rows_are_those_sqlalchemy_gives_with_their_types(database: Database) -> None:
    add(database, "A1")
    add(database, "C1", OrgKind.COMMITTEE)
    with database.session() as session:
        for code in ("A1", "C1", "none"):
            ours = fetch(session, BY_CODE, {"code": code})
            theirs = run(session, BY_CODE, {"code": code}).all()
            assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
        (row,) = fetch(session, BY_CODE, {"code": "A1"})
        assert row.kind is OrgKind.BRANCH and row.created == NOW and row.created.tzinfo is not None


def test_pending_orm_changes_are_seen_and_the_transaction_is_the_sessions(
    database: Database,
) -> None:
    with database.session() as session:
        session.add(Organization(code="P1", name="P1", kind=OrgKind.BRANCH, created_at=NOW))
        assert [row.code for row in fetch(session, BY_CODE, {"code": "P1"})] == ["P1"]
        session.rollback()
        assert fetch(session, BY_CODE, {"code": "P1"}) == []


def test_engine_listeners_see_the_statement(database: Database) -> None:
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        with database.session() as session:
            fetch(session, BY_CODE, {"code": "A1"})
    finally:
        event.remove(database.engine, "before_cursor_execute", note)
    assert any("FROM organization" in statement for statement in seen)


def test_inserts_returning_and_a_driver_error_as_sqlalchemys(database: Database) -> None:
    row = {"channel": "telegram", "key": "u:1", "at": NOW, "answer": None}
    with database.session() as session:
        first = insert_ignore_rows(
            session, ProcessedInbound, rows=[row], conflict=("channel", "key"), returning="key"
        )
        again = insert_ignore_rows(
            session, ProcessedInbound, rows=[row], conflict=("channel", "key"), returning="key"
        )
    assert (first, again) == ({"u:1"}, set())
    # A missing NOT NULL value: the driver refuses, the caller gets SQLAlchemy's error.
    broken = {**row, "key": "u:2", "at": None}
    with pytest.raises(IntegrityError), database.session() as session:
        insert_ignore_rows(
            session, ProcessedInbound, rows=[broken], conflict=("channel", "key"), returning="key"
        )
    with database.session() as session:
        again = insert_ignore_rows(
            session, ProcessedInbound, rows=[row], conflict=("channel", "key"), returning="key"
        )
    assert again == set()


def test_a_statement_without_rows_gives_none_and_one_returning_unnamed_rows_is_refused(
    database: Database,
) -> None:
    add(database, "R1")
    renamed = (
        update(Organization)
        .where(col(Organization.code) == bindparam("code"))
        .values(name=bindparam("name"))
    )
    with database.session() as session:
        assert fetch(session, renamed, {"code": "R1", "name": "renamed"}) == []
        assert [row.code for row in fetch(session, BY_CODE, {"code": "R1"})] == ["R1"]
        returning = (
            insert(Organization)
            .values(code="R2", name="R2", kind=OrgKind.BRANCH, created_at=NOW)
            .returning(col(Organization.id))
        )
        with pytest.raises(TypeError, match="selected columns"):
            fetch(session, returning, {})


def test_a_statement_binding_a_list_at_execution_is_refused(database: Database) -> None:
    listed = select(col(Organization.id)).where(
        col(Organization.code).in_(bindparam("codes", expanding=True))
    )
    with database.session() as session, pytest.raises(TypeError, match="lists"):
        fetch(session, listed, {"codes": ["A1"]})


@postgres_only
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lost_connection_is_invalidated_and_the_next_session_works(
    database: Database, database_url: str
) -> None:
    add(database, "L1")
    admin = admin_engine(database_url)
    try:
        with pytest.raises(DBAPIError) as raised, database.session() as session:
            pid = session.connection().connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
            terminate(admin, pids=[int(pid)])
            fetch(session, BY_CODE, {"code": "L1"})
        assert raised.value.connection_invalidated
        with database.session() as session:
            assert [r.code for r in fetch(session, BY_CODE, {"code": "L1"})] == ["L1"]
    finally:
        admin.dispose()


def test_remembered_conversions_tell_zones_types_and_values_apart() -> None:
    calls: list[object] = []

    def shown(value: object) -> object:
        calls.append(value)
        return None if value is None else str(value)

    convert = remembered(shown)
    shanghai = ZoneInfo("Asia/Shanghai")
    instant = datetime(2026, 11, 3, 9, 30, tzinfo=shanghai)
    same_instant_in_utc = instant.astimezone(UTC)
    assert instant == same_instant_in_utc
    assert convert(instant) == str(instant)
    # Equal instants in other zones are written differently: not taken from the first.
    assert convert(same_instant_in_utc) == str(same_instant_in_utc)
    assert convert(date(2026, 11, 3)) == "2026-11-03"
    assert convert(datetime(2026, 11, 3)) == "2026-11-03 00:00:00"
    assert convert(None) is None
    assert len(calls) == 5
    # Seen before: not converted again.
    assert convert(instant) == str(instant)
    assert convert(date(2026, 11, 3)) == "2026-11-03"
    assert len(calls) == 5


def test_dates_and_times_bound_and_read_through_remembered_conversions_round_trip(
    database: Database,
) -> None:
    later = NOW.astimezone(ZoneInfo("Asia/Shanghai"))
    with database.session() as session:
        for at in (NOW, later, NOW):
            row = {"channel": "telegram", "key": f"u:{at.isoformat()}", "at": at, "answer": None}
            insert_ignore_rows(
                session, ProcessedInbound, rows=[row], conflict=("channel", "key"), returning="key"
            )
        found = fetch(session, AT_OF, {"at": later})
    # The same instant, written in either zone, is the same stored value.
    assert {row.key for row in found} == {f"u:{NOW.isoformat()}", f"u:{later.isoformat()}"}
    assert all(row.at == NOW and row.at.tzinfo is not None for row in found)
