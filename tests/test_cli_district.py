"""`gongjian import template` and `gongjian import district`: a district from one filled-in workbook."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.services.meetings import Meetings
from storage.engine import Database
from storage.models import Alliance, AuditEntry, Meeting, Member, Organization, Pairing
from tests.conftest import SHANGHAI
from tests.factories import World
from tests.services.test_compliance import HOLIDAYS
from tests.services.test_importer import write_csv
from tests.test_cli_members import Cli
from tests.test_cli_members import cli as members_cli

cli = members_cli

BRANCHES = [f"ZB0{i}" for i in range(1, 8)]
MEMBERS = [
    # code, name, kind, parent, member, roles
    ("DGW", "滨江街道党工委", "党工委", "", "", ""),
    *[
        (code, f"第{i}党支部", "党支部", "DGW", f"书记{i}", "书记" if i > 1 else "书记、联络员")
        for i, code in enumerate(BRANCHES, 1)
    ],
    ("ZB01", "", "", "", "王党员", "党员"),
    *[(code, "", "", "", f"联络员{i}", "联络员") for i, code in enumerate(BRANCHES[1:], 2)],
]
PAIRINGS = [
    ("JD-01", "政企联建", "一对多", "ZB01", "ZB06、ZB07", "2026-01-01", "2026-12-31", 3, "")
]
ALLIANCES = [
    (
        "JHHW",
        "江海红湾党建联盟",
        "ZB01、ZB02、ZB03、ZB04、ZB05",
        "ZB06、ZB07",
        "2026-01-01",
        12,
        "每月",
        "执行会长单位",
        "",
    ),
]


def fill_template(
    template: Path, target: Path, *, alliances: list[tuple[object, ...]] = ALLIANCES
) -> Path:
    """Replaces the template's example rows with a whole district and saves it as `target`."""
    book = load_workbook(template)
    sheets = {"组织与党员": MEMBERS, "结对": PAIRINGS, "联盟": alliances}
    for title, rows in sheets.items():
        sheet = book[title]
        sheet.delete_rows(2)
        for row in rows:
            sheet.append(list(row))
    # The member sheet's other columns: one branch's organization-life settings.
    member_sheet = book["组织与党员"]
    headers = [cell.value for cell in member_sheet[1]]
    member_sheet.cell(row=3, column=headers.index("组织生活时间") + 1, value="14:30")
    member_sheet.cell(row=3, column=headers.index("节假日处理") + 1, value="顺延")
    book.save(target)
    return target


@pytest.fixture
def template(cli: Cli, tmp_path: Path) -> Path:
    """The template as `gongjian import template` writes it."""
    path = tmp_path / "导入模板.xlsx"
    assert "Template written" in cli.ok("import", "template", "-o", str(path)).output
    return path


def test_template_has_chinese_headers_examples_drop_downs_and_notes(template: Path) -> None:
    book = load_workbook(template)
    assert book.sheetnames == ["组织与党员", "结对", "联盟", "说明"]
    members = book["组织与党员"]
    assert [cell.value for cell in members[1]][:6] == [
        "组织代码",
        "组织名称",
        "组织类型",
        "上级组织代码",
        "姓名",
        "职务/身份",
    ]
    for title in ("组织与党员", "结对", "联盟"):
        assert book[title].max_row == 2, title
    lists = {
        str(validation.sqref).split(":")[0]: validation.formula1
        for validation in members.data_validations.dataValidation
    }
    assert lists["C2"] == '"党委,党工委,党总支,党支部,联合党支部"'
    assert lists["F2"] == '"书记,副书记,委员,联络员,党员"'
    pairing_lists = [v.formula1 for v in book["结对"].data_validations.dataValidation]
    assert '"一对一,多对一,一对多"' in pairing_lists
    notes = [[cell.value for cell in row] for row in book["说明"].iter_rows(min_row=3)]
    assert ["联盟", "会长单位代码", "yes"] in [row[:3] for row in notes]


def test_district_import_dry_run_then_import_then_again(
    cli: Cli, template: Path, tmp_path: Path, database: Database
) -> None:
    filled = fill_template(template, tmp_path / "district.xlsx")
    dry = cli.ok("import", "district", str(filled), "--dry-run").output
    assert "Dry run" in dry and "alliances: 1 created" in dry
    with database.session() as session:
        assert session.exec(select(Organization)).all() == []
    done = cli.ok("import", "district", str(filled)).output
    assert "Pairings: 1 created, 0 changed; alliances: 1 created, 0 changed." in done
    with database.session() as session:
        assert len(session.exec(select(Organization)).all()) == 8
        assert len(session.exec(select(Member)).all()) == 14
        pairing = session.exec(select(Pairing)).one()
        assert (pairing.code, pairing.form.value) == ("JD-01", "one_to_many")
        assert session.exec(select(Alliance)).one().code == "JHHW"
        branch = session.exec(select(Organization).where(Organization.code == "ZB01")).one()
        assert (branch.orglife_time, branch.holiday_policy) == ("14:30", "next_workday")
        audits = set(session.exec(select(AuditEntry.action)).all())
    assert {"members.import", "pairing.add", "alliance.add"} <= audits
    again = cli.ok("import", "district", str(filled)).output
    assert "Pairings: 0 created, 0 changed; alliances: 0 created, 0 changed." in again


def test_a_bad_alliance_row_imports_nothing_from_any_sheet(
    cli: Cli, template: Path, tmp_path: Path, database: Database
) -> None:
    four = [("JHHW", "联盟", "ZB01、ZB02、ZB03、ZB04", "", "2026-01-01", 12, "每月", "", "")]
    filled = fill_template(template, tmp_path / "bad.xlsx", alliances=four)
    result = cli("import", "district", str(filled))
    assert result.exit_code == 1
    assert (
        "联盟 row 2, 会长单位代码: An alliance has 5 to 7 president units (会长单位); 4 were given."
        in result.output
    )
    with database.session() as session:
        assert session.exec(select(Organization)).all() == []
        assert session.exec(select(Pairing)).all() == []


@pytest.mark.parametrize("command", ["district", "members"])
def test_an_imported_org_life_time_moves_the_days_planned_at_the_old_one(
    cli: Cli, world: World, database: Database, tmp_path: Path, command: str
) -> None:
    # Far enough ahead to lie after the real clock the command line reads.
    with database.session() as session:
        meetings = Meetings(session, holidays=HOLIDAYS, tz=SHANGHAI)
        planned = meetings.ensure_org_life(session.get_one(Organization, world.orgs["B1"]), 2030, 1)
    path = write_csv(tmp_path / "time.csv", ["组织代码", "组织生活时间"], [["B1", "14:30"]])
    cli.ok("import", command, str(path))
    with database.session() as session:
        moved = session.get_one(Meeting, planned.id)
        [audit] = session.exec(
            select(AuditEntry).where(AuditEntry.action == "meeting.reschedule")
        ).all()
    assert moved.starts_at.astimezone(SHANGHAI).time() == time(14, 30)
    assert (audit.subject, audit.actor_id) == (f"meeting:{planned.id}", None)
