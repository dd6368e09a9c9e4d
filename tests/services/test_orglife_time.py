"""A new org-life time moves the org-life days already planned and not begun, and tells members."""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.config import Settings
from bot.core.domain import MeetingKind
from bot.services.district import read_workbook
from bot.services.errors import ServiceError
from bot.services.importer import read_table
from storage.engine import Database
from storage.models import AuditEntry, Meeting
from storage.reminders import OutboxMessage
from tests.factories import World
from tests.scheduler.test_rules import give_accounts
from tests.services.test_importer import write_csv
from tests.services.test_meeting_desk import NOW, lead, use_cases
from tests.services.test_stats import SH, at


def plan_days(database: Database, settings: Settings, world: World, now: datetime) -> None:
    """Stores B1's org-life days of October 2026 to February 2027, and B2's of December."""
    with use_cases(database, settings, now) as services:
        b1 = services.orgs.row(world.orgs["B1"])
        for year, month in ((2026, 10), (2026, 11), (2026, 12), (2027, 1), (2027, 2)):
            services.meetings.ensure_org_life(b1, year, month)
        services.meetings.ensure_org_life(services.orgs.row(world.orgs["B2"]), 2026, 12)


def starts(database: Database, world: World, org: str = "B1") -> dict[str, time]:
    """Maps each stored org-life day of an organization (by month) to its local start."""
    with database.session() as session:
        rows = session.exec(
            select(Meeting).where(
                Meeting.organization_id == world.orgs[org], Meeting.kind == MeetingKind.ORG_LIFE
            )
        ).all()
        return {row.period: row.starts_at.astimezone(SH).time() for row in rows}


def moves(database: Database) -> list[tuple[str, int | None, dict[str, object]]]:
    """Lists the audited meeting moves: subject, actor and detail."""
    with database.session() as session:
        rows = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "meeting.reschedule")
            .order_by(col(AuditEntry.id))
        ).all()
        return [(row.subject, row.actor_id, json.loads(row.detail)) for row in rows]


def meeting_id(database: Database, world: World, period: str) -> int:
    """Returns the id of B1's org-life day of a month."""
    with database.session() as session:
        row = session.exec(
            select(Meeting.id).where(
                Meeting.organization_id == world.orgs["B1"], Meeting.period == period
            )
        ).one()
        assert row is not None
        return row


def test_a_new_time_moves_the_days_ahead_and_tells_their_members(
    database: Database, settings: Settings, world: World
) -> None:
    give_accounts(database, world)
    plan_days(database, settings, world, NOW)
    # February's day was given a time of its own: it keeps it.
    with use_cases(database, settings) as services:
        february = services.session.get_one(Meeting, meeting_id(database, world, "2027-02"))
        services.meetings.reschedule(february, at=time(10, 0), venue=None)
    with use_cases(database, settings) as services:
        assert services.set_branch_setting(lead(services, world), key="时间", value="14:30") == (
            "orglife.time",
            "14:30",
        )
    assert starts(database, world) == {
        "2026-10": time(9, 0),
        # Today's day began at 09:00: it is not moved.
        "2026-11": time(9, 0),
        "2026-12": time(14, 30),
        "2027-01": time(14, 30),
        "2027-02": time(10, 0),
    }
    # Another branch's days keep their time.
    assert starts(database, world, "B2") == {"2026-12": time(9, 0)}
    december, january = (meeting_id(database, world, p) for p in ("2026-12", "2027-01"))
    assert moves(database) == [
        (
            f"meeting:{meeting}",
            world.members["sec"],
            {"at": "14:30", "before": "09:00", "setting": "orglife.time"},
        )
        for meeting in (december, january)
    ]
    with database.session() as session:
        told = session.exec(
            select(OutboxMessage.subject, OutboxMessage.member_id, OutboxMessage.text)
        ).all()
    for meeting in (december, january):
        members = {who for subject, who, _ in told if subject == f"meeting:{meeting}"}
        # Everyone of B1 but the secretary who made the change, as after a move in chat.
        assert members == {world.members[n] for n in ("deputy", "liaison", "m1", "m2")}
    assert all("14:30" in text for subject, _, text in told if subject.startswith("meeting:"))
    # The days the rule makes from now on take the new time.
    with use_cases(database, settings) as services:
        march = services.meetings.ensure_org_life(services.orgs.row(world.orgs["B1"]), 2027, 3)
    assert march.starts_at.astimezone(SH).time() == time(14, 30)


def test_a_day_later_today_is_not_moved_before_now(
    database: Database, settings: Settings, world: World
) -> None:
    early = at(2026, 11, 3, 8, 0)
    plan_days(database, settings, world, early)
    with use_cases(database, settings, early) as services:
        services.set_branch_setting(lead(services, world), key="orglife.time", value="7:30")
    found = starts(database, world)
    # 07:30 today has passed at 08:00: the day stays at 09:00, as its members were told.
    assert (found["2026-11"], found["2026-12"]) == (time(9, 0), time(7, 30))
    with use_cases(database, settings, early) as services:
        services.set_branch_setting(lead(services, world), key="orglife.time", value="9:30")
    found = starts(database, world)
    # Today's day is at 09:00, not at the 07:30 just replaced: it is left as it is.
    assert (found["2026-11"], found["2026-12"]) == (time(9, 0), time(9, 30))


def test_a_day_whose_check_in_is_open_is_not_moved(
    database: Database, settings: Settings, world: World
) -> None:
    early = at(2026, 11, 3, 8, 30)
    plan_days(database, settings, world, early)
    with use_cases(database, settings, early) as services:
        today = services.session.get_one(Meeting, meeting_id(database, world, "2026-11"))
        services.meetings.open_checkin(today, code_required=True)
    with use_cases(database, settings, early) as services:
        services.set_branch_setting(lead(services, world), key="orglife.time", value="10:00")
    found = starts(database, world)
    assert (found["2026-11"], found["2026-12"]) == (time(9, 0), time(10, 0))


def test_the_same_time_or_a_bad_one_moves_nothing(
    database: Database, settings: Settings, world: World
) -> None:
    plan_days(database, settings, world, NOW)
    with use_cases(database, settings) as services:
        services.set_branch_setting(lead(services, world), key="orglife.time", value="9:00")
    with pytest.raises(ServiceError) as refused, use_cases(database, settings) as services:
        services.set_branch_setting(lead(services, world), key="orglife.time", value="25:00")
    assert refused.value.code == "bad_time"
    assert moves(database) == []
    assert set(starts(database, world).values()) == {time(9, 0)}


def test_the_committee_changes_a_branchs_time_from_the_operators_doors(
    database: Database, settings: Settings, world: World
) -> None:
    plan_days(database, settings, world, NOW)
    with use_cases(database, settings) as services:
        services.change_org_setting(
            world.orgs["B1"], key="orglife.time", value="15:00", actor_id=None
        )
    assert starts(database, world)["2026-12"] == time(15, 0)
    assert [actor for _, actor, _ in moves(database)] == [None, None, None]


@pytest.mark.parametrize("door", ["district", "members"])
def test_an_import_moves_the_days_through_the_same_use_case(
    database: Database, settings: Settings, world: World, tmp_path: Path, door: str
) -> None:
    give_accounts(database, world)
    plan_days(database, settings, world, NOW)
    path = write_csv(tmp_path / "time.csv", ["org_code", "orglife_time"], [["B1", "14:30"]])

    def run(*, dry_run: bool) -> bool:
        with use_cases(database, settings) as services:
            if door == "district":
                report = services.import_district(
                    read_workbook(path), dry_run=dry_run, actor_id=world.members["sec"]
                )
                return report.ok and report.members.orgs_updated == 1
            members = services.import_members(
                read_table(path), dry_run=dry_run, actor_id=world.members["sec"]
            )
            return members.ok and members.orgs_updated == 1

    assert run(dry_run=True)
    assert moves(database) == [] and set(starts(database, world).values()) == {time(9, 0)}
    assert run(dry_run=False)
    assert starts(database, world) == {
        "2026-10": time(9, 0),
        # Today's day began at 09:00: it is not moved.
        "2026-11": time(9, 0),
        "2026-12": time(14, 30),
        "2027-01": time(14, 30),
        "2027-02": time(14, 30),
    }
    assert starts(database, world, "B2") == {"2026-12": time(9, 0)}
    moved = [meeting_id(database, world, p) for p in ("2026-12", "2027-01", "2027-02")]
    assert moves(database) == [
        (
            f"meeting:{meeting}",
            world.members["sec"],
            {"at": "14:30", "before": "09:00", "setting": "orglife.time"},
        )
        for meeting in moved
    ]
    with database.session() as session:
        told = session.exec(select(OutboxMessage.subject, OutboxMessage.member_id)).all()
    for meeting in moved:
        members = {who for subject, who in told if subject == f"meeting:{meeting}"}
        assert members == {world.members[n] for n in ("deputy", "liaison", "m1", "m2")}
    # The same file again changes nothing and moves nothing more.
    assert not run(dry_run=False)
    assert len(moves(database)) == len(moved)
