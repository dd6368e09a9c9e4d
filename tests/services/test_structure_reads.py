"""Listing groups, working out a file's reach, importing a district and showing a photo read a
fixed number of statements, whatever the number of groups or the size of the viewer's scope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlmodel import col, select

from bot.core.domain import DutyPeriod, MemberStatus, OrgKind, RoleKind, UnitKind
from bot.core.inbound import InboundImage
from bot.services.district import (
    ALLIANCE_COLUMNS,
    PAIRING_COLUMNS,
    Workbook,
    import_district,
    parse_group_sheet,
    reach_of,
)
from bot.services.importer import table_of
from bot.services.photos import PhotoStore, attach_photos, save_photos, visible_photo
from bot.services.structure import GroupView, liaisons_missing, list_alliances, list_pairings
from storage.engine import Database
from storage.models import Alliance, AllianceUnit, Member, Organization, Role
from tests.factories import World, add_org
from tests.services.test_answer_reads import add_pairing, counted
from tests.services.test_photos import png
from tests.services.test_stats import add_activity

NOW = datetime.fromisoformat("2026-11-03T09:30:00+08:00")
# Reads every stored organization: the statement ends with its table, no condition.
WHOLE_TABLE = re.compile(r"\bFROM organization\s*$")


def add_branches(database: Database, world: World, *codes: str, parent: str = "C") -> None:
    """Adds branches under `parent` (empty: under no organization)."""
    with database.session() as session:
        for code in codes:
            world.orgs[code] = add_org(
                session,
                code=code,
                name=f"{code}支部",
                kind=OrgKind.BRANCH,
                parent=world.orgs[parent] if parent else None,
                now=NOW,
            )


def add_alliance(database: Database, code: str, *units: tuple[int, UnitKind]) -> None:
    """Adds an alliance with these units in rotation order."""
    with database.session() as session:
        alliance = Alliance(
            code=code,
            name=f"{code}联盟",
            rota_start=date(2026, 1, 1),
            duty_period=DutyPeriod.MONTH,
        )
        session.add(alliance)
        session.flush()
        assert alliance.id is not None
        for order, (org, kind) in enumerate(units, 1):
            session.add(
                AllianceUnit(
                    alliance_id=alliance.id, organization_id=org, kind=kind, rotation_order=order
                )
            )


def name_liaison(database: Database, org: int, status: MemberStatus) -> None:
    """Names a liaison officer of an organization, in that status."""
    with database.session() as session:
        member = Member(name=f"联络员{org}", organization_id=org, status=status, created_at=NOW)
        session.add(member)
        session.flush()
        assert member.id is not None
        session.add(Role(organization_id=org, member_id=member.id, role=RoleKind.LIAISON))


def listed(
    database: Database, scope: frozenset[int] | None
) -> tuple[list[GroupView], list[GroupView], list[int]]:
    """Lists the pairings and alliances; returns them and the statements each took."""
    with database.session() as session:
        with counted(database) as first:
            pairings = list_pairings(session, org_ids=scope)
        with counted(database) as second:
            alliances = list_alliances(session, org_ids=scope)
        for view in [*pairings, *alliances]:
            # Each group's missing liaisons read as one look-up of its organizations would.
            ids = session.exec(
                select(Organization.id).where(col(Organization.code).in_(view.orgs))
            ).all()
            assert view.missing_liaisons == tuple(
                liaisons_missing(session, [i for i in ids if i is not None])
            )
    return pairings, alliances, [len(first), len(second)]


def test_groups_are_listed_in_three_statements_however_many(
    database: Database, world: World
) -> None:
    orgs = world.orgs
    add_branches(database, world, "B5", "B6", "B7")
    add_branches(database, world, "X1", parent="")
    name_liaison(database, orgs["B3"], MemberStatus.FULL)
    name_liaison(database, orgs["B2"], MemberStatus.DEPARTED)
    scope = frozenset(orgs[code] for code in ("C", "B1", "B2", "B3", "B4", "B5", "B6", "B7"))
    pairings, alliances, statements = listed(database, None)
    assert statements == [3, 3]
    assert [(v.code, v.orgs, v.missing_liaisons) for v in pairings] == [
        ("P1", ("B1", "B2"), ("B2",))
    ]
    assert [(v.code, v.orgs, v.detail["presidents"]) for v in alliances] == [
        ("ALLY", ("B1", "B2", "B3", "B4"), ["B1", "B2", "B3"])
    ]
    assert alliances[0].missing_liaisons == ("B2", "B4")

    add_pairing(database, "P2", orgs["B7"], orgs["B3"], orgs["B5"])
    add_pairing(database, "P3", orgs["B4"], orgs["B1"])
    add_pairing(database, "PX", orgs["X1"], orgs["B6"])
    add_pairing(database, "XX", orgs["X1"])
    add_alliance(
        database,
        "A2",
        (orgs["B6"], UnitKind.PRESIDENT),
        (orgs["B5"], UnitKind.MEMBER),
        (orgs["B3"], UnitKind.PRESIDENT),
    )
    add_alliance(database, "AX", (orgs["X1"], UnitKind.PRESIDENT))
    pairings, alliances, statements = listed(database, None)
    assert statements == [3, 3]
    assert [(v.code, v.orgs, v.detail["lead"], v.missing_liaisons) for v in pairings] == [
        ("P1", ("B1", "B2"), "B1", ("B2",)),
        ("P2", ("B7", "B3", "B5"), "B7", ("B5", "B7")),
        ("P3", ("B4", "B1"), "B4", ("B4",)),
        ("PX", ("X1", "B6"), "X1", ("B6", "X1")),
        ("XX", ("X1",), "X1", ("X1",)),
    ]
    assert [(v.code, v.orgs, v.detail["members"], v.missing_liaisons) for v in alliances] == [
        ("A2", ("B6", "B5", "B3"), ["B5"], ("B5", "B6")),
        ("ALLY", ("B1", "B2", "B3", "B4"), ["B4"], ("B2", "B4")),
        ("AX", ("X1",), [], ("X1",)),
    ]
    everything = (pairings, alliances)
    pairings, alliances, statements = listed(database, scope)
    assert statements == [3, 3]
    # A group with one organization in scope is listed whole; one with none is not.
    assert (pairings, alliances) == (
        [v for v in everything[0] if v.code != "XX"],
        [v for v in everything[1] if v.code != "AX"],
    )
    assert listed(database, frozenset({orgs["X1"]}))[:2] == (
        [v for v in everything[0] if v.code in {"PX", "XX"}],
        [v for v in everything[1] if v.code == "AX"],
    )
    assert listed(database, frozenset({orgs["C"]})) == ([], [], [3, 3])


def test_a_files_reach_reads_the_groups_in_one_statement(database: Database, world: World) -> None:
    orgs = world.orgs
    add_branches(database, world, "X1", parent="")
    scope = frozenset(orgs[code] for code in ("C", "B1", "B2", "B3", "B4"))

    def reach() -> tuple[frozenset[str], int]:
        with database.session() as session:
            stored = session.exec(select(Organization)).all()
            with counted(database) as statements:
                found, errors = reach_of(session, None, scope, stored)
            assert errors == []
            assert found.orgs == {"C", "B1", "B2", "B3", "B4"}
            return found.foreign_groups, len(statements)

    assert reach() == (frozenset(), 1)
    add_pairing(database, "PX", orgs["B1"], orgs["X1"])
    add_pairing(database, "P2", orgs["B3"], orgs["B4"])
    add_alliance(database, "AX", (orgs["X1"], UnitKind.PRESIDENT))
    add_alliance(database, "A2", (orgs["B2"], UnitKind.PRESIDENT), (orgs["B4"], UnitKind.MEMBER))
    # A group with one organization out of scope may not be rewritten from this scope.
    assert reach() == (frozenset({"PX", "AX"}), 1)


MEMBERS = (
    "组织代码,组织名称,组织类型,上级组织代码,姓名,职务/身份,手机号\n"
    "B7,第7支部,党支部,C,钱七,书记,13800000007\n"
    "B8,第8支部,党支部,C,孙八,书记,13800000008\n"
    "B1,,,,周九,党员,13800000009\n"
)


def district_workbook() -> Workbook:
    """A district file: two new branches, a member of B1, a pairing and an alliance."""
    pairings = [
        ("结对代码", "结对名称", "牵头单位代码", "共建单位代码", "协议开始日期"),
        ("JD-9", "七八结对", "B7", "B8、B1", "2026-01-01"),
    ]
    alliances = [
        ("联盟代码", "联盟名称", "会长单位代码", "会员单位代码", "轮值开始日期"),
        ("XL", "新联盟", "B1、B2、B3、B4、B8", "B7", "2027-01-01"),
    ]
    return Workbook(
        members=table_of("区镇.csv", MEMBERS.encode("utf-8")),
        pairings=parse_group_sheet(PAIRING_COLUMNS, pairings),
        alliances=parse_group_sheet(ALLIANCE_COLUMNS, alliances),
    )


def test_a_district_import_reads_the_organizations_once(database: Database, world: World) -> None:
    scope = frozenset(world.orgs.values())
    for dry_run, within in ((True, scope), (False, None)):
        with database.session() as session, counted(database) as statements:
            report = import_district(
                session, district_workbook(), now=NOW, dry_run=dry_run, scope=within
            )
        assert report.ok, (report.members.errors, report.group_errors)
        assert (report.members.orgs_created, report.members.members_created) == (2, 3)
        assert (report.pairings_created, report.alliances_created) == (1, 1)
        assert len([s for s in statements if WHOLE_TABLE.search(s)]) == 1
    with database.session() as session:
        [pairing] = [v for v in list_pairings(session) if v.code == "JD-9"]
        assert pairing.orgs == ("B7", "B1", "B8")
        [alliance] = [v for v in list_alliances(session) if v.code == "XL"]
        assert alliance.orgs == ("B1", "B2", "B3", "B4", "B8", "B7")


@contextmanager
def bound(database: Database) -> Iterator[list[tuple[str, Any]]]:
    """Collects the statements run meanwhile with their bound values."""
    seen: list[tuple[str, Any]] = []

    def note(*args: Any) -> None:
        seen.append((args[2], args[3]))

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", note)


def test_a_photo_is_checked_against_the_scope_without_binding_it(
    database: Database, world: World, tmp_path: Path
) -> None:
    orgs, sec = world.orgs, world.members["sec"]
    store = PhotoStore(tmp_path / "photos", 1024 * 1024)
    entry = add_activity(
        database, org=orgs["B1"], day=date(2026, 10, 12), partners=(orgs["B2"],), reporter=sec
    )
    with database.session() as session:
        attached, loose = save_photos(
            session,
            store,
            member_id=sec,
            images=[InboundImage(png(1)), InboundImage(png(2))],
            now=NOW,
        )
        assert attach_photos(session, member_id=sec, photo_ids=[attached.id], activity_id=entry)

    def seen(photo_id: int, *codes: str, others: int = 0) -> tuple[bool, int, int]:
        """Whether the photo shows to a scope of these organizations (and `others` strangers),
        in how many statements, binding how many values."""
        scope = frozenset({*(orgs[code] for code in codes), *range(10**6, 10**6 + others)})
        with database.session() as session, bound(database) as statements:
            found = visible_photo(session, photo_id=photo_id, org_ids=scope)
        assert found is None or (found.id, found.activity_id) == (attached.id, entry)
        values = sum(len(parameters or ()) for _, parameters in statements)
        return found is not None, len(statements), values

    # The reporter's organization, a partner's, or neither; a loose photo shows to nobody.
    assert seen(attached.id, "B1") == (True, 1, 1)
    assert seen(attached.id, "B2") == (True, 2, 2)
    assert seen(attached.id, "B3", "B4", "C") == (False, 2, 2)
    assert seen(attached.id) == (False, 0, 0)
    assert seen(loose.id, "B1", "B2") == (False, 1, 1)
    assert seen(loose.id + attached.id + 1, "B1") == (False, 1, 1)
    # A committee's thousands of organizations cost no more than one.
    assert seen(attached.id, "B1", others=5000) == (True, 1, 1)
    assert seen(attached.id, "B2", others=5000) == (True, 2, 2)
    assert seen(attached.id, others=5000) == (False, 2, 2)
