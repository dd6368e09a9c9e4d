"""Bulk import: every bad row reported, all-or-nothing, and idempotent on re-import."""

from __future__ import annotations

import csv
from datetime import time
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import col, select

from bot.cli.importer import render_import
from bot.core.domain import MemberStatus, OrgKind, RoleKind
from bot.services.importer import (
    MAX_BRANCH_MEMBERS,
    ImportFileError,
    ImportReport,
    cell_text,
    import_members,
    read_table,
)
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import AuditEntry, Member, Organization, Role
from tests.conftest import DEFAULT_NOW
from tests.factories import World

HEADER = [
    "org_code",
    "org_name",
    "org_kind",
    "parent_code",
    "member_name",
    "roles",
    "status",
    "phone",
    "mobile",
]
VALID = [
    ["JH", "江海街道党工委", "党工委", "", "", "", "", "", ""],
    ["JH-01", "第一社区党支部", "branch", "JH", "张三", "书记", "正式", "138 0013 8000", ""],
    ["JH-01", "第一社区党支部", "branch", "JH", "李四", "副书记、联络员", "probationary", "", "是"],
    ["JH-01", "", "", "", "王五", "", "", "13900139000", "no"],
    ["JH-02", "第二社区党支部", "支部", "JH", "赵六", "member", "full", "", ""],
]


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8-sig"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def run(database: Database, path: Path, *, dry_run: bool = False) -> ImportReport:
    table = read_table(path)
    with database.session() as session:
        return import_members(session, table, now=DEFAULT_NOW, dry_run=dry_run, source=path.name)


def snapshot(database: Database) -> tuple[list[tuple[object, ...]], ...]:
    orgs: list[tuple[object, ...]]
    members: list[tuple[object, ...]]
    roles: list[tuple[object, ...]]
    with database.session() as session:
        orgs = [
            (o.id, o.code, o.name, o.kind, o.parent_id)
            for o in session.exec(select(Organization).order_by(col(Organization.id)))
        ]
        members = [
            (m.id, m.name, m.organization_id, m.status, m.phone, m.mobile)
            for m in session.exec(select(Member).order_by(col(Member.id)))
        ]
        roles = [
            (r.organization_id, r.member_id, r.role)
            for r in session.exec(select(Role).order_by(col(Role.id)))
        ]
    return orgs, members, roles


def test_a_valid_file_imports_and_reimporting_changes_nothing(
    database: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "members.csv", HEADER, VALID)
    report = run(database, path)
    assert report.ok, report.errors
    assert (report.orgs_created, report.members_created) == (3, 4)
    assert (
        report.roles_added == 1 + 1 + 3 + 1 + 1
    )  # 张三 sec+member, 李四 deputy+liaison+member, ...
    with database.session() as session:
        orgs = {o.code: o for o in session.exec(select(Organization)).all()}
        assert orgs["JH"].kind is OrgKind.COMMITTEE and orgs["JH"].parent_id is None
        assert orgs["JH-01"].parent_id == orgs["JH"].id
        assert orgs["JH-02"].kind is OrgKind.BRANCH
        li = session.exec(select(Member).where(Member.name == "李四")).one()
        assert li.status is MemberStatus.PROBATIONARY and li.mobile is True
        zhang = session.exec(select(Member).where(Member.name == "张三")).one()
        assert zhang.phone == "13800138000" and zhang.status is MemberStatus.FULL
        roles = set(session.exec(select(Role.role).where(Role.member_id == li.id)).all())
        assert roles == {RoleKind.DEPUTY, RoleKind.LIAISON, RoleKind.MEMBER}
        [audit] = session.exec(
            select(AuditEntry).where(AuditEntry.action == "members.import")
        ).all()
        assert audit.subject == "file:members.csv"
    before = snapshot(database)
    again = run(database, path)
    assert again.ok and again.changes == 0
    assert snapshot(database) == before
    with database.session() as session:
        audits = session.exec(select(AuditEntry).where(AuditEntry.action == "members.import")).all()
        assert len(audits) == 1


def test_a_file_of_bad_rows_imports_nothing_and_names_every_row(
    database: Database, world: World, tmp_path: Path
) -> None:
    rows = [
        ["", "无代码", "", "", "", "", "", "", ""],  # 2: org_code missing
        ["bad code!", "坏代码", "", "", "", "", "", "", ""],  # 3: org_code malformed
        ["N1", "新支部", "乡镇", "", "", "", "", "", ""],  # 4: org_kind unknown
        ["N2", "新支部二", "", "NOPE", "", "", "", "", ""],  # 5: parent unknown
        ["N3", "", "", "", "某人", "", "", "", ""],  # 6: new org without a name
        ["B1", "", "", "", "甲", "国王", "", "", ""],  # 7: role unknown
        ["B1", "", "", "", "乙", "", "退休", "", ""],  # 8: status unknown
        ["B1", "", "", "", "丙", "", "", "12ab", ""],  # 9: phone malformed
        ["B1", "", "", "", "丁", "", "", "", "maybe"],  # 10: mobile not yes/no
        ["B1", "", "", "", "", "书记", "", "", ""],  # 11: member columns without a name
        ["B1", "", "", "", "戊", "预备党员", "full", "", ""],  # 12: status contradicts roles
        ["B1", "", "", "", "己", "", "", "", ""],  # 13: fine
        ["B1", "", "", "", "己", "", "", "", ""],  # 14: duplicate of 13
        ["L1", "环一", "", "L2", "", "", "", "", ""],  # 15: loop L1 -> L2 -> L1
        ["L2", "环二", "", "L1", "", "", "", "", ""],  # 16: loop
        ["B2", "另一个名字", "", "", "", "", "", "", ""],  # 17: fine (renames B2)
        ["B2", "又一个名字", "", "", "", "", "", "", ""],  # 18: contradicts row 17
        ["S1", "自己", "", "S1", "", "", "", "", ""],  # 19: own parent
        ["B1", "", "", "", "名" * 101, "", "", "", ""],  # 20: name too long
    ]
    path = write_csv(tmp_path / "bad.csv", HEADER, rows)
    before = snapshot(database)
    for dry_run in (True, False):
        report = run(database, path, dry_run=dry_run)
        assert not report.ok
        assert report.changes == 0
        found = {(error.row, error.column) for error in report.errors}
        assert found == {
            (2, "org_code"),
            (3, "org_code"),
            (4, "org_kind"),
            (5, "parent_code"),
            (6, "org_name"),
            (7, "roles"),
            (8, "status"),
            (9, "phone"),
            (10, "mobile"),
            (11, "member_name"),
            (12, "status"),
            (14, "member_name"),
            (15, "parent_code"),
            (16, "parent_code"),
            (18, "org_name"),
            (19, "parent_code"),
            (20, "member_name"),
        }
        bad_rows = {error.row for error in report.errors}
        assert bad_rows == set(range(2, 21)) - {13, 17}
        duplicate = next(e for e in report.errors if e.row == 14)
        assert duplicate.values == {"row": 13}
        assert snapshot(database) == before


def test_dry_run_of_a_valid_file_counts_but_writes_nothing(
    database: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "ok.csv", HEADER, VALID)
    before = snapshot(database)
    report = run(database, path, dry_run=True)
    assert report.ok and report.dry_run
    assert (report.orgs_created, report.members_created) == (3, 4)
    assert snapshot(database) == before
    with database.session() as session:
        assert session.exec(select(AuditEntry)).all() == []


def test_chinese_headers_xlsx_numbers_and_updates(
    database: Database, world: World, tmp_path: Path
) -> None:
    header = [
        "序号",
        "组织代码",
        "组织名称",
        "类型",
        "上级",
        "姓名",
        "职务/身份",
        "状态",
        "电话",
        "流动党员",
    ]
    rows: list[list[object]] = [
        [1, "b1", None, None, None, "m1", "联络员", "预备", 13700137000, True],
        [2, "B5", "第五支部", "联合党支部", "C", "新人", "预备党员", None, None, "否"],
        [None, None, None, None, None, None, None, None, None, None],
    ]
    path = write_xlsx(tmp_path / "成员.xlsx", header, rows)
    table = read_table(path)
    assert table.ignored_columns == ["序号"]
    assert [row.number for row in table.rows] == [2, 3]
    report = run(database, path)
    assert report.ok, report.errors
    assert (report.orgs_created, report.members_created, report.members_updated) == (1, 1, 1)
    with database.session() as session:
        m1 = session.get_one(Member, world.members["m1"])
        assert (m1.phone, m1.mobile, m1.status) == ("13700137000", True, MemberStatus.PROBATIONARY)
        assert RoleKind.LIAISON in set(
            session.exec(select(Role.role).where(Role.member_id == m1.id)).all()
        )
        new = session.exec(select(Member).where(Member.name == "新人")).one()
        assert new.status is MemberStatus.PROBATIONARY and new.mobile is False
        b5 = session.exec(select(Organization).where(Organization.code == "B5")).one()
        assert b5.kind is OrgKind.JOINT_BRANCH and b5.parent_id == world.orgs["C"]
    assert run(database, path).changes == 0


def test_namesakes_need_a_phone(database: Database, world: World, tmp_path: Path) -> None:
    with database.session() as session:
        for phone in ("13100000001", "13100000002"):
            session.add(
                Member(
                    name="同名",
                    organization_id=world.orgs["B2"],
                    status=MemberStatus.FULL,
                    phone=phone,
                    created_at=DEFAULT_NOW,
                )
            )
    ambiguous = write_csv(tmp_path / "a.csv", ["org_code", "姓名"], [["B2", "同名"]])
    report = run(database, ambiguous)
    assert [(e.row, e.column, e.values) for e in report.errors] == [
        (2, "member_name", {"count": 2})
    ]
    clear = write_csv(
        tmp_path / "b.csv",
        ["org_code", "姓名", "状态", "电话"],
        [["B2", "同名", "转出", "13100000002"]],
    )
    report = run(database, clear)
    assert report.ok and report.members_updated == 1
    with database.session() as session:
        departed = session.exec(select(Member).where(Member.phone == "13100000002")).one()
        assert departed.status is MemberStatus.DEPARTED
        assert departed.departed_at == DEFAULT_NOW


def test_gb18030_csv_is_read(database: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "gbk.csv",
        ["组织代码", "组织名称", "姓名"],
        [["G1", "国标支部", "钱七"]],
        encoding="gb18030",
    )
    report = run(database, path)
    assert report.ok and report.members_created == 1


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("members.txt", b"org_code\nX\n", "only .xlsx and .csv"),
        ("empty.csv", b"", "is empty"),
        ("nocode.csv", b"name,phone\nA,1\n", "no organization code column"),
        (
            "twice.csv",
            b"org_code,code,\xe7\xbb\x84\xe7\xbb\x87\xe4\xbb\xa3\xe7\xa0\x81\nA,B,C\n",
            "two columns",
        ),
        ("broken.xlsx", b"not a zip", "Cannot read"),
    ],
)
def test_unreadable_files_are_refused(
    tmp_path: Path, name: str, content: bytes, fragment: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as caught:
        read_table(path)
    assert fragment in str(caught.value)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="Cannot read"):
        read_table(tmp_path / "missing.csv")


# -- the branch size rule (004 篇四/五 §(二)) and branches as leaves ------------------------------

SIZE_HEADER = ["org_code", "org_name", "org_kind", "parent_code", "member_name", "status"]


def member_rows(code: str, count: int, *, start: int = 0) -> list[list[str]]:
    """Rows adding `count` members named 党员N to the organization `code`."""
    return [[code, "", "", "", f"党员{n}", ""] for n in range(start, start + count)]


def store_members(database: Database, org_id: int, count: int, status: MemberStatus) -> None:
    """Stores `count` members named 党员N (or 离开N when departed) in an organization."""
    prefix = "离开" if status is MemberStatus.DEPARTED else "党员"
    with database.session() as session:
        for n in range(count):
            session.add(
                Member(
                    name=f"{prefix}{n}",
                    organization_id=org_id,
                    status=status,
                    created_at=DEFAULT_NOW,
                )
            )


def size_errors(report: ImportReport) -> list[tuple[int, str, dict[str, object]]]:
    """The branch-size errors of a report, as (row, column, values)."""
    return [(e.row, e.column, e.values) for e in report.errors if "would have" in e.reason]


@pytest.mark.parametrize("kind", ["branch", "joint_branch"])
def test_a_branch_takes_50_members_and_refuses_the_51st(
    database: Database, tmp_path: Path, kind: str
) -> None:
    assert MAX_BRANCH_MEMBERS == 50
    head = [["JH", "江海党工委", "committee", "", "", ""], ["JH-01", "一支部", kind, "JH", "", ""]]
    before = snapshot(database)
    too_many = write_csv(tmp_path / "51.csv", SIZE_HEADER, head + member_rows("JH-01", 51))
    for dry_run in (True, False):
        report = run(database, too_many, dry_run=dry_run)
        # Rows 2-3 are the organizations, members are rows 4-54: row 54 is the 51st.
        assert size_errors(report) == [
            (54, "member_name", {"name": "一支部", "code": "JH-01", "count": 51, "limit": 50})
        ]
        assert len(report.errors) == 1 and report.changes == 0
        assert snapshot(database) == before
    exactly = write_csv(tmp_path / "50.csv", SIZE_HEADER, head + member_rows("JH-01", 50))
    report = run(database, exactly)
    assert report.ok, report.errors
    assert report.members_created == 50


def test_committees_and_general_branches_are_not_limited(
    database: Database, tmp_path: Path
) -> None:
    rows = [
        ["JH", "江海党工委", "committee", "", "", ""],
        ["JH-Z", "总支", "general_branch", "JH", "", ""],
        *member_rows("JH", 60),
        *member_rows("JH-Z", 60),
    ]
    report = run(database, write_csv(tmp_path / "big.csv", SIZE_HEADER, rows))
    assert report.ok, report.errors
    assert report.members_created == 120


def test_members_already_stored_count_and_departed_ones_do_not(
    database: Database, world: World, tmp_path: Path
) -> None:
    # B3 has no members in the world: 47 current and 10 departed ones are stored.
    store_members(database, world.orgs["B3"], 47, MemberStatus.FULL)
    store_members(database, world.orgs["B3"], 10, MemberStatus.DEPARTED)
    before = snapshot(database)
    four = write_csv(tmp_path / "four.csv", SIZE_HEADER, member_rows("B3", 4, start=100))
    report = run(database, four)
    assert size_errors(report) == [
        (5, "member_name", {"name": "第3支部", "code": "B3", "count": 51, "limit": 50})
    ]
    assert snapshot(database) == before
    # A departed member coming back counts as well.
    back = write_csv(
        tmp_path / "back.csv",
        SIZE_HEADER,
        [*member_rows("B3", 3, start=100), ["B3", "", "", "", "离开0", "full"]],
    )
    report = run(database, back)
    assert [(row, values["count"]) for row, _, values in size_errors(report)] == [(5, 51)]
    assert snapshot(database) == before
    # Re-importing stored members adds nobody.
    three = write_csv(
        tmp_path / "three.csv",
        SIZE_HEADER,
        [*member_rows("B3", 3, start=100), *member_rows("B3", 47)],
    )
    report = run(database, three)
    assert report.ok, report.errors
    assert report.members_created == 3


def test_moving_members_out_of_a_full_branch_makes_room(
    database: Database, world: World, tmp_path: Path
) -> None:
    store_members(database, world.orgs["B3"], 50, MemberStatus.FULL)
    newcomers = member_rows("B3", 3, start=100)
    moved_out = [["B3", "", "", "", f"党员{n}", "转出"] for n in range(2)]
    still_full = write_csv(tmp_path / "full.csv", SIZE_HEADER, newcomers + moved_out)
    before = snapshot(database)
    report = run(database, still_full)
    assert [values["count"] for _, _, values in size_errors(report)] == [51]
    assert snapshot(database) == before
    fits = write_csv(
        tmp_path / "fits.csv",
        SIZE_HEADER,
        [*newcomers, *moved_out, ["B3", "", "", "", "党员2", "已转出"]],
    )
    report = run(database, fits)
    assert report.ok, report.errors
    assert (report.members_created, report.members_updated) == (3, 3)
    with database.session() as session:
        current = session.exec(
            select(Member).where(
                Member.organization_id == world.orgs["B3"],
                Member.status != MemberStatus.DEPARTED,
            )
        ).all()
        assert len(current) == 50


def test_a_branch_already_too_big_may_shrink_but_not_grow_or_be_made_one(
    database: Database, world: World, tmp_path: Path
) -> None:
    store_members(database, world.orgs["B3"], 55, MemberStatus.FULL)
    rename = write_csv(
        tmp_path / "rename.csv",
        SIZE_HEADER,
        [["B3", "第三支部", "", "", "", ""], ["B3", "", "", "", "党员0", "转出"]],
    )
    assert run(database, rename).ok
    grow = write_csv(tmp_path / "grow.csv", SIZE_HEADER, member_rows("B3", 1, start=100))
    assert [values["count"] for _, _, values in size_errors(run(database, grow))] == [55]
    with database.session() as session:
        b4 = session.get_one(Organization, world.orgs["B4"])
        b4.kind = OrgKind.GENERAL_BRANCH
        session.add(b4)
    store_members(database, world.orgs["B4"], 51, MemberStatus.FULL)
    demote = write_csv(tmp_path / "demote.csv", SIZE_HEADER, [["B4", "", "党支部", "", "", ""]])
    assert size_errors(run(database, demote)) == [
        (2, "org_kind", {"name": "第4支部", "code": "B4", "count": 51, "limit": 50})
    ]


@pytest.mark.parametrize(
    ("locale", "fragments"),
    [
        ("en", ["Row 54, member_name", "一支部 (JH-01) would have 51 current members", "the 50 "]),
        ("zh_CN", ["第54行", "一支部（JH-01）", "51", "50"]),
    ],
)
def test_the_dry_run_reports_the_branch_size(
    database: Database, tmp_path: Path, locale: str, fragments: list[str]
) -> None:
    head = [
        ["JH", "江海党工委", "committee", "", "", ""],
        ["JH-01", "一支部", "branch", "JH", "", ""],
    ]
    path = write_csv(tmp_path / "51.csv", SIZE_HEADER, head + member_rows("JH-01", 51))
    report = run(database, path, dry_run=True)
    text = render_import(translator(locale), report, path.name)
    assert "nothing was imported" in text or "未导入" in text
    for fragment in fragments:
        assert fragment in text, text


def test_a_branch_cannot_be_a_parent(database: Database, world: World, tmp_path: Path) -> None:
    rows = [
        ["N1", "挂在支部下", "branch", "B1", "", ""],  # 2: B1 is a stored branch
        ["P1", "无类型的新组织", "", "C", "", ""],  # 3: fine, a new branch under C
        ["N2", "挂在新支部下", "", "P1", "", ""],  # 4: P1 has no kind, so it is a branch
        ["J1", "联合支部", "联合党支部", "C", "", ""],  # 5: fine
        ["N3", "挂在联合支部下", "", "J1", "", ""],  # 6: J1 is a joint branch
        ["Z1", "总支", "党总支", "C", "", ""],  # 7: fine
        ["N4", "总支下的支部", "branch", "Z1", "", ""],  # 8: fine
    ]
    path = write_csv(tmp_path / "tree.csv", SIZE_HEADER, rows)
    before = snapshot(database)
    report = run(database, path)
    assert [(e.row, e.column, e.values) for e in report.errors] == [
        (2, "parent_code", {"value": "B1"}),
        (4, "parent_code", {"value": "P1"}),
        (6, "parent_code", {"value": "J1"}),
    ]
    assert snapshot(database) == before
    fixed = [row for row in rows if row[0] not in ("N1", "N2", "N3")]
    report = run(database, write_csv(tmp_path / "fixed.csv", SIZE_HEADER, fixed))
    assert report.ok, report.errors
    assert report.orgs_created == 4


def test_an_organization_with_children_cannot_become_a_branch(
    database: Database, world: World, tmp_path: Path
) -> None:
    before = snapshot(database)
    report = run(
        database, write_csv(tmp_path / "c.csv", SIZE_HEADER, [["C", "", "党支部", "", "", ""]])
    )
    assert [(e.row, e.column, e.values) for e in report.errors] == [
        (2, "org_kind", {"value": "C", "children": "B1, B2, B3, B4"})
    ]
    assert "B1, B2, B3, B4" in translator("en")(report.errors[0].reason, **report.errors[0].values)
    assert snapshot(database) == before
    # Once the file moves the branches under another committee, C may become a branch.
    rows = [
        ["Z", "新党工委", "committee", "", "", ""],
        *[[code, "", "", "Z", "", ""] for code in ("B1", "B2", "B3", "B4")],
        ["C", "", "党支部", "", "", ""],
    ]
    report = run(database, write_csv(tmp_path / "moved.csv", SIZE_HEADER, rows))
    assert report.ok, report.errors
    with database.session() as session:
        c = session.exec(select(Organization).where(Organization.code == "C")).one()
    assert c.kind is OrgKind.BRANCH


def test_a_time_typed_as_a_time_reads_as_hours_and_minutes(tmp_path: Path) -> None:
    header = ["组织代码", "组织名称", "类型", "上级", "组织生活时间", "姓名"]
    rows: list[list[object]] = [["B6", "第六支部", "党支部", "C", time(14, 30), "甲"]]
    table = read_table(write_xlsx(tmp_path / "时间.xlsx", header, rows))
    assert table.rows[0].cells["orglife_time"] == "14:30"
    assert cell_text(time(8, 5, 30)) == "08:05:30"
