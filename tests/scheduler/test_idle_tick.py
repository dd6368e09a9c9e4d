"""The idle tick: planned again only when a fact is written or a window moves, never missing one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.config import Settings
from bot.core.domain import MeetingKind, MemberStatus, RoleKind
from bot.core.inbound import Channel
from bot.services.obligations.facts import load_facts
from bot.services.obligations.rules import next_change, owed_pushes
from scheduler.service import TickState, plan_tick
from storage.engine import Database
from storage.models import ChatAccount, Member, Role
from storage.reminders import (
    WATCHED_TABLES,
    FactChange,
    FilingKind,
    FilingMethod,
    OutboxMessage,
    org_scope,
    record_filing,
)
from tests.factories import World
from tests.scheduler.test_rules import HOLIDAYS, add_meeting, at, give_accounts

# Tables whose rows the reminder facts never read (the rest are watched).
UNWATCHED = {
    "audit_log",
    "bind_failure",
    "calendar_feed",
    "channel_token",
    "checkin_failure",
    "console_account",
    "console_link",
    "console_login_failure",
    "console_session",
    "conversation",
    "download_link",
    "fact_change",
    "fact_version",
    "invite",
    "meeting_minutes",
    "offered_option",
    "outbox",
    "pending_import",
    "photo",
    "processed_inbound",
}


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """Collects the SQL statements run on the database meanwhile."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", note)


def outbox_rows(database: Database) -> list[OutboxMessage]:
    """Lists the outbox rows."""
    with database.session() as session:
        return list(session.exec(select(OutboxMessage)).all())


def test_every_table_is_watched_or_named_as_unread(database: Database) -> None:
    tables = set(database.engine.dialect.get_table_names(database.engine.connect()))
    tables.discard("alembic_version")
    assert tables == set(WATCHED_TABLES) | UNWATCHED


def test_an_idle_tick_reads_one_row_and_plans_nothing(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world)
    state = TickState()
    first = plan_tick(
        database, now=at(2026, 11, 2, 19, 0), holidays=HOLIDAYS, settings=settings, state=state
    )
    assert first.planned and first.queued > 0
    with statements(database) as seen:
        idle = plan_tick(
            database, now=at(2026, 11, 2, 19, 1), holidays=HOLIDAYS, settings=settings, state=state
        )
    assert not idle.planned and idle.queued == 0 and idle.due == first.due
    assert len(seen) == 1 and "fact_change" in seen[0]
    # Without a state (the command line's tick), every tick plans.
    assert plan_tick(database, now=at(2026, 11, 2, 19, 2), holidays=HOLIDAYS, settings=settings)


def add_member(database: Database, world: World, now: datetime) -> None:
    """Adds a member to B1 with a console account."""
    with database.session() as session:
        member = Member(
            name="new", organization_id=world.orgs["B1"], status=MemberStatus.FULL, created_at=now
        )
        session.add(member)
        session.flush()
        assert member.id is not None
        session.add(
            Role(member_id=member.id, organization_id=world.orgs["B1"], role=RoleKind.MEMBER)
        )
        session.add(
            ChatAccount(
                channel=Channel.CONSOLE, external_id="new", member_id=member.id, created_at=now
            )
        )
        world.members["new"] = member.id


def add_org_life_day(database: Database, world: World, now: datetime) -> None:
    """Stores B1's November org-life day."""
    add_meeting(
        database,
        org=world.orgs["B1"],
        kind=MeetingKind.ORG_LIFE,
        held_on=date(2026, 11, 3),
        period="2026-11",
    )


def file_ledger(database: Database, world: World, now: datetime) -> None:
    """Files B1's quarterly ledger."""
    with database.session() as session:
        record_filing(
            session=session,
            kind=FilingKind.LEDGER,
            scope=org_scope(world.orgs["B1"]),
            period="2026Q4",
            method=FilingMethod.SUBMITTED,
            at=now,
            by=None,
        )


def test_a_member_writing_in_changes_no_fact(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world)
    state = TickState()
    plan_tick(
        database, now=at(2026, 11, 2, 19, 0), holidays=HOLIDAYS, settings=settings, state=state
    )
    with database.session() as session:
        for account in session.exec(select(ChatAccount)).all():
            account.last_seen_at = at(2026, 11, 2, 19, 1)
            session.add(account)
    assert not plan_tick(
        database, now=at(2026, 11, 2, 19, 2), holidays=HOLIDAYS, settings=settings, state=state
    ).planned


@pytest.mark.parametrize("change", [add_member, add_org_life_day, file_ledger])
def test_a_change_wakes_the_next_tick(
    database: Database, world: World, settings: Settings, change: Any
) -> None:
    give_accounts(database, world)
    state = TickState()
    plan_tick(
        database, now=at(2026, 11, 2, 19, 0), holidays=HOLIDAYS, settings=settings, state=state
    )
    assert not plan_tick(
        database, now=at(2026, 11, 2, 19, 1), holidays=HOLIDAYS, settings=settings, state=state
    ).planned
    change(database, world, at(2026, 11, 2, 19, 1))
    woken = plan_tick(
        database, now=at(2026, 11, 2, 19, 2), holidays=HOLIDAYS, settings=settings, state=state
    )
    assert woken.planned
    if change is add_member:
        # The newcomer gets the evening reminder the others got at 19:00.
        assert woken.queued == 1
        assert {row.member_id for row in outbox_rows(database)} >= {world.members["new"]}
    # The marks were taken: the tick after is idle again.
    with database.session() as session:
        assert session.exec(select(FactChange)).first() is None
    assert not plan_tick(
        database, now=at(2026, 11, 2, 19, 3), holidays=HOLIDAYS, settings=settings, state=state
    ).planned


def test_the_due_moment_wakes_the_tick_and_a_late_tick_catches_up(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world)
    state = TickState()
    plan_tick(
        database, now=at(2026, 11, 2, 18, 0), holidays=HOLIDAYS, settings=settings, state=state
    )
    assert not [row for row in outbox_rows(database) if row.rule == "orglife"]
    # The org-life day's evening reminder opens at 19:00.
    assert state.wakes_at == at(2026, 11, 2, 19, 0)
    assert not plan_tick(
        database, now=at(2026, 11, 2, 18, 59), holidays=HOLIDAYS, settings=settings, state=state
    ).planned
    due = plan_tick(
        database, now=at(2026, 11, 2, 19, 0), holidays=HOLIDAYS, settings=settings, state=state
    )
    assert due.planned and due.queued > 0
    # Quiet hours start at 22:00: the next moment something can change.
    assert state.wakes_at == at(2026, 11, 2, 22, 0)
    # A process stalled overnight: the late tick plans and sends the morning reminder once.
    late = plan_tick(
        database, now=at(2026, 11, 3, 8, 0), holidays=HOLIDAYS, settings=settings, state=state
    )
    assert late.planned and late.queued > 0
    periods = {row.period for row in outbox_rows(database) if row.rule == "orglife"}
    assert periods == {"2026-11-03-eve", "2026-11-03-morning"}


def test_nothing_owed_changes_before_the_next_change(database: Database, world: World) -> None:
    give_accounts(database, world)
    add_meeting(
        database,
        org=world.orgs["B2"],
        kind=MeetingKind.ORG_LIFE,
        held_on=date(2026, 11, 5),
        period="2026-11",
    )
    grid = [at(2026, 11, 1, 0, 0) + timedelta(minutes=15 * step) for step in range(4 * 24 * 6)]
    grid += [at(2026, 12, 31, 0, 0) + timedelta(minutes=30 * step) for step in range(2 * 48)]
    owed: dict[datetime, frozenset[tuple[str, bool, bool]]] = {}
    wakes: dict[datetime, datetime] = {}
    with database.session() as session:
        for moment in grid:
            facts = load_facts(session, now=moment, holidays=HOLIDAYS)
            owed[moment] = frozenset((p.key, p.held, p.urgent) for p in owed_pushes(facts))
            wakes[moment] = next_change(facts)
    changes = 0
    for index, moment in enumerate(grid):
        assert wakes[moment] > moment
        for later in grid[index + 1 :]:
            if later >= wakes[moment]:
                break
            assert owed[later] == owed[moment], (moment, later, wakes[moment])
        changes += owed[grid[index - 1]] != owed[moment] if index else 0
    assert changes > 5
