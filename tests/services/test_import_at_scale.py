"""Large imports: all or nothing over thousands of rows, a refused write undoes all, progress reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import col, func, select

from bot.core.domain import MemberStatus, RoleKind
from bot.services.errors import ServiceError
from bot.services.importer import ImportReport, Phase, import_members, read_table
from storage.engine import Database
from storage.models import AuditEntry, Member, Organization, Role, RoleTerm
from storage.reminders import FactChange
from tests.conftest import DEFAULT_NOW
from tests.factories import World

HEADER = ["组织代码", "组织名称", "组织类型", "上级组织代码", "姓名", "职务/身份", "手机号"]
BRANCHES = 80
PER_BRANCH = 25  # 80 x 25 = 2,000 member rows, under the 50-member cap


def big_rows() -> list[list[object]]:
    """A committee and 80 branches of 25 members each: 2,001 rows."""
    rows: list[list[object]] = [["BIG", "大型党委", "党委", "", "", "", ""]]
    for branch in range(BRANCHES):
        code = f"BIG-{branch:03d}"
        for index in range(PER_BRANCH):
            role = "书记" if index == 0 else "副书记、联络员" if index == 1 else "党员"
            phone = 13_900_000_000 + branch * 100 + index
            rows.append([code, f"第{branch}支部", "党支部", "BIG", f"党员{index}", role, phone])
    return rows


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def counts(database: Database) -> tuple[int, ...]:
    with database.session() as session:
        return tuple(
            session.exec(select(func.count()).select_from(model)).one()
            for model in (Organization, Member, Role, RoleTerm, AuditEntry)
        )


def run(database: Database, path: Path, **kwargs: object) -> ImportReport:
    table = read_table(path)
    with database.session() as session:
        return import_members(
            session,
            table,
            now=DEFAULT_NOW,
            dry_run=False,
            source=path.name,
            **kwargs,  # type: ignore[arg-type]
        )


def test_a_bad_last_row_of_two_thousand_imports_nothing(
    database: Database, world: World, tmp_path: Path
) -> None:
    rows = big_rows()
    rows.append(["BIG-000", "", "", "", "迟到者", "党员", "12ab"])
    path = write_xlsx(tmp_path / "big.xlsx", rows)
    before = counts(database)
    report = run(database, path)
    assert not report.ok and report.changes == 0
    assert [(e.row, e.column) for e in report.errors] == [(len(rows) + 1, "phone")]
    assert counts(database) == before

    rows[-1][-1] = "13700000000"
    report = run(database, write_xlsx(tmp_path / "fixed.xlsx", rows))
    assert report.ok, report.errors[:3]
    assert (report.orgs_created, report.members_created) == (1 + BRANCHES, 2_001)
    # Every member is a member; secretaries, deputies and liaisons also hold their roles.
    assert report.roles_added == 2_001 + BRANCHES * 3
    orgs, members, roles, terms, audits = counts(database)
    assert (orgs - before[0], members - before[1], roles - before[2]) == (
        1 + BRANCHES,
        2_001,
        2_001 + BRANCHES * 3,
    )
    assert terms - before[3] == BRANCHES * 3 and audits == before[4] + 1
    with database.session() as session:
        big = session.exec(select(Organization).where(Organization.code == "BIG")).one()
        first = session.exec(select(Organization).where(Organization.code == "BIG-000")).one()
        assert first.parent_id == big.id
        secretary = session.exec(
            select(Member).where(Member.organization_id == first.id, Member.name == "党员0")
        ).one()
        assert secretary.phone == "13900000000" and secretary.status is MemberStatus.FULL
        held = set(session.exec(select(Role.role).where(Role.member_id == secretary.id)).all())
        assert held == {RoleKind.SECRETARY, RoleKind.MEMBER}
    assert run(database, path.with_name("fixed.xlsx")).changes == 0


def test_a_row_the_database_refuses_while_writing_undoes_everything(
    database: Database, world: World, tmp_path: Path
) -> None:
    """Another writer gives a member the role the file gives them, after the checks: the
    database's unique constraint refuses the file's role row, written after every member."""
    rows = big_rows()
    rows.append(["B1", "", "", "", "m1", "联络员", ""])
    path = write_xlsx(tmp_path / "big.xlsx", rows)
    before = counts(database)
    table = read_table(path)
    phases: list[Phase] = []
    with pytest.raises(ServiceError) as refused, database.session() as session:

        def progress(phase: Phase, done: int, total: int | None) -> None:
            phases.append(phase)
            if phase is Phase.CHECK and done == total:
                # Between the checks and the writes, as a concurrent writer would.
                session.add(
                    Role(
                        organization_id=world.orgs["B1"],
                        member_id=world.members["m1"],
                        role=RoleKind.LIAISON,
                    )
                )
                session.flush()

        import_members(
            session, table, now=DEFAULT_NOW, dry_run=False, source=path.name, progress=progress
        )
    assert refused.value.code == "import_conflict"
    # The members were written before the refused role row: the write phase was under way.
    assert phases.count(Phase.WRITE) > 1
    assert counts(database) == before


def test_a_failure_in_the_middle_of_writing_undoes_everything(
    database: Database, world: World, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", big_rows())
    before = counts(database)
    written: list[int] = []

    def progress(phase: Phase, done: int, total: int | None) -> None:
        if phase is Phase.WRITE:
            written.append(done)
            if len(written) == 2:
                raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError, match="disk is full"):
        run(database, path, progress=progress)
    assert written[-1] > 0
    assert counts(database) == before


def test_progress_is_reported_phase_by_phase_and_never_goes_back(
    database: Database, world: World, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", big_rows())
    calls: list[tuple[Phase, int, int | None]] = []

    def progress(phase: Phase, done: int, total: int | None) -> None:
        calls.append((phase, done, total))

    table = read_table(path, progress=progress)
    with database.session() as session:
        report = import_members(
            session, table, now=DEFAULT_NOW, dry_run=False, source=path.name, progress=progress
        )
    assert report.ok
    phases = [phase for phase, _done, _total in calls]
    assert phases == sorted(phases, key=list(Phase).index)
    assert set(phases) == set(Phase)
    for phase in Phase:
        mine = [(done, total) for p, done, total in calls if p is phase]
        assert len(mine) > 1, phase
        done_values = [done for done, _total in mine]
        assert done_values == sorted(done_values)
        assert all(total is None or done <= total for done, total in mine)
        last_done, last_total = mine[-1]
        assert last_done == last_total
    assert [c for c in calls if c[0] is Phase.READ][-1][1] == len(big_rows())
    assert [c for c in calls if c[0] is Phase.CHECK][-1][1] == len(table.rows)
    # Written: organizations, members, roles and the leading roles' terms.
    assert [c for c in calls if c[0] is Phase.WRITE][-1][1] == (
        1 + BRANCHES + 2_001 - 1 + (2_000 + BRANCHES * 3) + BRANCHES * 3
    )


def test_a_dry_run_reports_reading_and_checking_but_writes_nothing(
    database: Database, world: World, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", big_rows())
    before = counts(database)
    phases: set[Phase] = set()
    table = read_table(path)
    with database.session() as session:
        report = import_members(
            session,
            table,
            now=DEFAULT_NOW,
            dry_run=True,
            progress=lambda phase, _done, _total: phases.add(phase),
        )
    assert report.ok and report.members_created == 2_000
    assert phases == {Phase.CHECK}
    assert counts(database) == before


def test_rows_of_one_member_apply_in_order(
    database: Database, world: World, tmp_path: Path
) -> None:
    """A second row giving a new member's phone updates the member the first row created."""
    rows: list[list[object]] = [
        ["B2", "", "", "", "新来的", "党员", ""],
        ["B2", "", "", "", "新来的", "联络员", "13600000000"],
    ]
    report = run(database, write_xlsx(tmp_path / "two.xlsx", rows))
    assert report.ok, report.errors
    assert (report.members_created, report.members_updated, report.roles_added) == (1, 1, 2)
    with database.session() as session:
        [member] = session.exec(select(Member).where(Member.name == "新来的")).all()
        assert member.phone == "13600000000"
        roles = set(session.exec(select(Role.role).where(Role.member_id == member.id)).all())
        assert roles == {RoleKind.MEMBER, RoleKind.LIAISON}


def test_an_import_leaves_a_mark_for_the_reminder_tick(
    database: Database, world: World, tmp_path: Path
) -> None:
    with database.session() as session:
        for mark in session.exec(select(FactChange)).all():
            session.delete(mark)
    path = write_xlsx(tmp_path / "big.xlsx", big_rows())
    assert run(database, path).ok
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(FactChange)).one() > 0
        # Bulk-written rows read back like any other, enums and UTC times included.
        member = session.exec(select(Member).order_by(col(Member.id).desc())).first()
        assert member is not None
        assert member.status is MemberStatus.FULL and member.created_at == DEFAULT_NOW
