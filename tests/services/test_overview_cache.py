"""Overviews are kept between views exactly while nothing they read was written and no moment passed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select, update

from bot.calendar.quarters import Quarter
from bot.core.domain import AttendanceStatus
from bot.core.inbound import Channel
from bot.services import overview_cache
from bot.services.overview import Overview, district_overview
from bot.services.overview_cache import LONGEST_KEPT, OverviewCache
from storage.engine import Database
from storage.models import Attendance, ChatAccount, Meeting, Member, Organization
from storage.reminders import EVERY_TABLE, fact_version, rewritten, written_since
from tests.conftest import DEFAULT_NOW, SHANGHAI
from tests.services.test_overview import HOLIDAYS, all_orgs, demo_with_edges

QUARTER = Quarter(2026, 4)


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        """Returns the hand-set time."""
        return self.seconds


def view(
    database: Database,
    cache: OverviewCache,
    now: datetime = DEFAULT_NOW,
    quarter: Quarter = QUARTER,
) -> Overview:
    """Opens the whole district's overview through the cache, in a transaction of its own."""
    with database.session() as session:
        return cache.overview(
            session,
            org_ids=all_orgs(session),
            quarter=quarter,
            now=now,
            holidays=HOLIDAYS,
            tz=SHANGHAI,
        )


def first_branch(overview: Overview) -> int:
    """The id of the first branch the overview lists."""
    return overview.standings[0].org.id


def rename(session: Session, org_id: int, name: str) -> None:
    """Renames an organization (a write to a table the rules read)."""
    session.execute(update(Organization).where(col(Organization.id) == org_id).values(name=name))


def name_in(overview: Overview, org_id: int) -> str:
    """The name the overview shows for an organization."""
    return next(s.org.name for s in overview.standings if s.org.id == org_id)


def test_a_second_view_with_nothing_written_is_the_kept_overview(database: Database) -> None:
    demo_with_edges(database)
    cache = OverviewCache()
    first = view(database, cache)
    assert view(database, cache) is first
    # Another quarter is another overview, kept beside the first.
    earlier = view(database, cache, quarter=QUARTER.previous())
    assert earlier is not first and earlier.quarter == QUARTER.previous()
    assert view(database, cache) is first


def test_a_write_to_what_the_rules_read_is_seen_at_the_next_view(database: Database) -> None:
    demo_with_edges(database)
    cache = OverviewCache()
    first = view(database, cache)
    branch = first_branch(first)
    with database.session() as session:
        rename(session, branch, "改了名的支部")
    second = view(database, cache)
    assert second is not first
    assert name_in(second, branch) == "改了名的支部"
    assert view(database, cache) is second


def test_a_write_elsewhere_keeps_the_overview(database: Database) -> None:
    demo_with_edges(database)
    cache = OverviewCache()
    first = view(database, cache)
    with database.session() as session:
        member = session.exec(select(Member)).first()
        assert member is not None and member.id is not None
        account = ChatAccount(
            channel=Channel.CONSOLE, external_id="seen", member_id=member.id, created_at=DEFAULT_NOW
        )
        session.add(account)
    with database.session() as session:
        # Every message stamps when its account was last seen: that is no fact of the rules.
        session.execute(update(ChatAccount).values(last_seen_at=DEFAULT_NOW))
    # The new account itself was a write to a watched table; the stamp after it is not.
    second = view(database, cache)
    assert second is not first
    with database.session() as session:
        session.execute(update(ChatAccount).values(last_seen_at=DEFAULT_NOW + timedelta(minutes=1)))
    assert view(database, cache) is second


def test_a_write_running_while_the_overview_is_computed_is_seen_once_committed(
    database: Database,
) -> None:
    demo_with_edges(database)
    cache = OverviewCache()
    branch = first_branch(view(database, cache))
    with database.session() as session:
        rename(session, branch, "早先的名字")
    # A writer has written, not yet committed, when the overview is computed: it cannot see the
    # new name. On PostgreSQL the version had already moved when the overview read it.
    with database.engine.connect() as writer:
        pending = writer.begin()
        writer.execute(
            update(Organization).where(col(Organization.id) == branch).values(name="新名字")
        )
        during = view(database, cache)
        assert name_in(during, branch) == "早先的名字"
        pending.commit()
    after = view(database, cache)
    assert name_in(after, branch) == "新名字"


def test_a_rolled_back_write_keeps_the_overview(database: Database) -> None:
    demo_with_edges(database)
    cache = OverviewCache()
    branch = first_branch(view(database, cache))
    with database.engine.connect() as writer:
        pending = writer.begin()
        writer.execute(
            update(Organization).where(col(Organization.id) == branch).values(name="不作数")
        )
        during = view(database, cache)
        pending.rollback()
    assert view(database, cache) is during


def test_the_overview_is_computed_anew_when_a_meeting_starts_or_a_day_begins(
    database: Database,
) -> None:
    demo_with_edges(database)
    cache = OverviewCache()
    morning = DEFAULT_NOW.replace(hour=7, minute=0)
    first = view(database, cache, now=morning)
    with database.session() as session:
        starts = session.exec(
            select(Meeting.starts_at).where(
                col(Meeting.starts_at) > morning,
                col(Meeting.held_on) <= QUARTER.last_day,
            )
        ).all()
    next_start = min(at.astimezone(SHANGHAI) for at in starts)
    assert first.holds_until == min(
        next_start,
        datetime.combine(morning.date() + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI),
    )
    assert view(database, cache, now=first.holds_until - timedelta(seconds=1)) is first
    later = view(database, cache, now=first.holds_until)
    assert later is not first
    # A view asked for an earlier moment than the kept one was computed for is computed anew.
    assert view(database, cache, now=morning) is not later


def test_a_kept_overview_is_computed_anew_after_the_longest_it_is_kept(
    database: Database,
) -> None:
    demo_with_edges(database)
    ticks = Ticks()
    cache = OverviewCache(monotonic=ticks)
    first = view(database, cache)
    ticks.seconds += LONGEST_KEPT.total_seconds() - 1
    assert view(database, cache) is first
    ticks.seconds += 2
    assert view(database, cache) is not first


def test_the_fact_version_names_the_tables_written_since(database: Database) -> None:
    demo_with_edges(database)
    with database.session() as session:
        branch = all_orgs(session)[1]
        before = fact_version(session)
    with database.session() as session:
        assert written_since(session, before) == set()
        rename(session, branch, "又改名")
    with database.session() as session:
        assert written_since(session, before) == {"organization"}
        now = fact_version(session)
        assert written_since(session, now) == set()
    with database.session() as session:
        answer_someone(session)
    with database.session() as session:
        assert written_since(session, now) == {"attendance"}
        now = fact_version(session)
    with database.session() as session:
        session.execute(update(Member).where(col(Member.id) == 1).values(name="改名的党员"))
        meeting = session.exec(select(Meeting.id).order_by(col(Meeting.id))).first()
        session.execute(update(Meeting).where(col(Meeting.id) == meeting).values(venue="新地点"))
    with database.session() as session:
        # Updates of the answers, the meetings and the members are named apart too.
        updated = {"member", "meeting", rewritten("member"), rewritten("meeting")}
        assert written_since(session, now) == updated
        assert written_since(session, before) == {"organization", "attendance", *updated}
        assert written_since(session, before) < EVERY_TABLE


def answer_someone(session: Session) -> tuple[int, int]:
    """Signs in a member of a meeting's organization who had not answered; returns both ids."""
    answered = select(Attendance.member_id).where(col(Attendance.meeting_id) == Meeting.id)
    meeting, member = session.exec(
        select(Meeting.id, Member.id)
        .join(Member, col(Member.organization_id) == Meeting.organization_id)
        .where(
            col(Meeting.starts_at) <= DEFAULT_NOW,
            col(Meeting.held_on) >= QUARTER.first_day,
            col(Member.id).not_in(answered),
        )
        .order_by(col(Meeting.id), col(Member.id))
    ).first() or (None, None)
    assert meeting is not None and member is not None
    session.add(
        Attendance(
            meeting_id=meeting,
            member_id=member,
            status=AttendanceStatus.PRESENT,
            at=DEFAULT_NOW,
            channel=Channel.CONSOLE,
        )
    )
    return meeting, member


def test_after_a_check_in_only_the_answers_are_counted_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_with_edges(database)
    bases: list[object] = []
    real = overview_cache.overview_basis

    def counting(*args: Any, **kwargs: Any) -> Any:
        bases.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(overview_cache, "overview_basis", counting)
    cache = OverviewCache()
    first = view(database, cache)
    with database.session() as session:
        answer_someone(session)
    second = view(database, cache)
    assert len(bases) == 1 and second is not first
    with database.session() as session:
        fresh = district_overview(
            session,
            org_ids=all_orgs(session),
            quarter=QUARTER,
            now=DEFAULT_NOW,
            holidays=HOLIDAYS,
            tz=SHANGHAI,
        )
    assert second == fresh
    assert second.attendance_by_month != first.attendance_by_month
    # Branches whose meetings were not answered meanwhile keep their standings as they were.
    kept = {s.org.id: s for s in first.standings}
    assert sum(1 for s in second.standings if s is kept[s.org.id]) >= len(kept) - 1
    # A change to anything else reads the facts again.
    with database.session() as session:
        rename(session, first_branch(second), "改名后")
    view(database, cache)
    assert len(bases) == 2


def test_the_least_recently_viewed_overview_goes_beyond_the_limit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_with_edges(database)
    monkeypatch.setattr(overview_cache, "KEPT_SCOPES", 2)
    cache = OverviewCache()
    with database.session() as session:
        orgs = all_orgs(session)

    def scoped(scope: list[int]) -> Overview:
        with database.session() as session:
            return cache.overview(
                session,
                org_ids=scope,
                quarter=QUARTER,
                now=DEFAULT_NOW,
                holidays=HOLIDAYS,
                tz=SHANGHAI,
            )

    first, second = scoped(orgs), scoped(orgs[1:])
    assert scoped(orgs) is first
    scoped(orgs[2:])
    # The second was viewed longest ago: it went, the first stays.
    assert scoped(orgs) is first
    assert scoped(orgs[1:]) is not second


def test_a_write_between_the_check_and_the_new_version_reads_the_facts_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_with_edges(database)
    cache = OverviewCache()
    first = view(database, cache)
    branch = first_branch(first)
    with database.session() as session:
        answer_someone(session)
    real = overview_cache.fact_version

    def after_a_rename(session: Session) -> Any:
        # Another process renames the branch just after the kept version was checked.
        with database.engine.begin() as writer:
            writer.execute(
                update(Organization).where(col(Organization.id) == branch).values(name="刚改的名")
            )
        return real(session)

    monkeypatch.setattr(overview_cache, "fact_version", after_a_rename)
    second = view(database, cache)
    assert name_in(second, branch) == "刚改的名"
