"""`gongjian attendance | status | export ledger | summary`: happy paths and bad input."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import Result
from openpyxl import load_workbook
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app
from storage.engine import Database
from storage.reminders import Filing, FilingMethod
from tests.factories import World
from tests.services.test_stats import add_activity, add_meeting, answer, joined

NOW = ("--now", "2026-11-03T12:00", "--lang", "en")
# The last days of the quarter, when an exported ledger counts as filed.
LATE = ("--now", "2026-12-28T12:00", "--lang", "en")


class Cli:
    """Invokes `gongjian` in-process with the database URL in its environment."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        """Runs one command and returns its result."""
        return self.runner.invoke(app, list(args), env={"GONGJIAN_DATABASE_URL": self.database_url})

    def ok(self, *args: str) -> str:
        """Runs one command that must succeed; returns its output."""
        result = self(*args)
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout

    def refused(self, *args: str) -> str:
        """Runs one command that must fail with one line on stderr; returns that line."""
        result = self(*args)
        assert result.exit_code == 2, (result.output, result.exception)
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        return lines[0]


@pytest.fixture
def cli(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records: World
) -> Iterator[Cli]:
    """Runs the command line against the test database, from a directory without a .env."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("GONGJIAN_") and name != "GONGJIAN_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    yield Cli(database_url)


@pytest.fixture
def records(database: Database, world: World) -> World:
    """第1支部's October organization-life day and a visit to 第2支部."""
    joined(database, date(2026, 1, 1))
    meeting = add_meeting(database, org=world.orgs["B1"], day=date(2026, 10, 6))
    answer(database, meeting, world, present=("sec", "deputy", "m1"), leave=("m2",))
    add_activity(
        database,
        org=world.orgs["B1"],
        day=date(2026, 10, 12),
        partners=(world.orgs["B2"],),
        pairing_id=world.pairing_id,
    )
    return world


def test_attendance_table(cli: Cli) -> None:
    output = cli.ok("attendance", "--org", "b1", "--quarter", "2026Q4", *NOW)
    assert output.startswith("Attendance of 第1支部, Q4 2026")
    assert "2026-10-06  Organization-life day  3        5         1         1       60%" in output
    assert "liaison  0        0         1       0%" in output
    assert "m2       0        1         0       0%" in output
    assert "In all: signed in 3 of 5 (60%), on leave 1, absent 1." in output
    # The quarter defaults to the current one.
    assert cli.ok("attendance", "--org", "B1", *NOW) == output


def test_attendance_json_and_one_member(cli: Cli, records: World) -> None:
    data = json.loads(cli.ok("attendance", "--org", "B1", "--json", *NOW))
    assert data["quarter"] == "2026Q4"
    [meeting] = data["meetings"]
    assert (meeting["date"], meeting["kind"], meeting["present"], meeting["rate"]) == (
        "2026-10-06",
        "org_life",
        3,
        0.6,
    )
    assert data["totals"] == {"present": 3, "leave": 1, "absent": 1, "expected": 5, "rate": 0.6}
    assert {m["name"] for m in data["members"]} == {"sec", "deputy", "liaison", "m1", "m2"}

    sec = str(records.members["sec"])
    one = json.loads(cli.ok("attendance", "--org", "B1", "--member", sec, "--json", *NOW))
    assert one["member"]["name"] == "sec" and one["member"]["present"] == 1
    assert one["meetings"] == [
        {"id": meeting["id"], "date": "2026-10-06", "kind": "org_life", "status": "present"}
    ]
    text = cli.ok("attendance", "--org", "B1", "--member", sec, *NOW)
    assert text.startswith("Attendance of sec (第1支部), Q4 2026")
    assert "2026-10-06  Organization-life day  present" in text


def test_attendance_bad_input(cli: Cli, records: World) -> None:
    assert "No organization has the code NOPE" in cli.refused("attendance", "--org", "NOPE", *NOW)
    assert "not a quarter" in cli.refused("attendance", "--org", "B1", "--quarter", "Q9", *NOW)
    assert cli.refused("attendance", "--org", "B1", "--quarter", "2027Q1", *NOW) == (
        "Q1 2027 has not started yet."
    )
    assert cli.refused("attendance", "--org", "B1", "--member", "999", *NOW) == (
        "No member has the id 999."
    )
    other = str(records.members["sec2"])
    assert "has no attendance to count in 第1支部" in cli.refused(
        "attendance", "--org", "B1", "--member", other, *NOW
    )
    assert "--now" in cli.refused("attendance", "--org", "B1", "--now", "yesterday")
    assert "--lang" in cli.refused("attendance", "--org", "B1", "--lang", "fr")


def test_status_text_and_json(cli: Cli) -> None:
    text = cli.ok("status", "--org", "B1", *NOW)
    assert text.startswith("Compliance of 第1支部 for Q4 2026, as of November 3, 2026:")
    assert (
        "✓ Organization-life day on Oct 6, 2026: done; signed in 3 of 5 (60%), on leave 1" in text
    )
    data = json.loads(cli.ok("status", "--org", "B1", "--quarter", "2026Q3", "--json", *NOW))
    assert (data["quarter"], data["as_of"], data["today"]) == ("2026Q3", "2026-09-30", "2026-11-03")
    assert [s["subject"] for s in data["sections"]] == ["org", "alliance", "pairing"]
    org_lines = data["sections"][0]["lines"]
    assert [line["state"] for line in org_lines] == ["missed"] * 4
    assert org_lines[-1]["requirement"] == "ledger"
    assert "has not started" in cli.refused("status", "--org", "B1", "--quarter", "2027Q2", *NOW)


def test_status_and_summary_of_one_group(cli: Cli) -> None:
    text = cli.ok("status", "--org", "ally", *NOW)
    assert "Alliance: 红湾联盟" in text
    assert "Organization:" not in text and "Pairing:" not in text
    data = json.loads(cli.ok("status", "--org", "P1", "--json", *NOW))
    assert [s["code"] for s in data["sections"]] == ["P1"]
    drafts = cli.ok("summary", "--org", "P1", *NOW)
    assert drafts.startswith("一支部-二支部结对: year-end summary for 2026 (draft)")
    assert "红湾联盟" not in drafts
    assert "did not run in 2025" in cli.ok("summary", "--org", "ALLY", "--year", "2025", *NOW)
    assert cli.refused("status", "--org", "NOPE", *NOW) == (
        "No organization, alliance or pairing has the code NOPE."
    )


def test_export_ledger(cli: Cli, database: Database, tmp_path: Path) -> None:
    target = tmp_path / "out" / "台账.xlsx"
    target.parent.mkdir()
    early = cli.ok("export", "ledger", "--org", "B1", "-o", str(target), *NOW)
    assert "This is a preview: an export counts as filing from December 22, 2026 on" in early
    with database.session() as session:
        assert session.exec(select(Filing)).all() == []

    output = cli.ok(
        "export", "ledger", "--org", "B1", "--quarter", "2026Q4", "-o", str(target), *LATE
    )
    assert (
        f"Wrote {target}: the Q4 2026 ledger of 第1支部. Ledger entries: 1; meetings: 1." in output
    )
    assert "counts as filing" in output
    book = load_workbook(target)
    assert book.sheetnames == [
        "Activities",
        "Meetings",
        "Attendance",
        "Pairing visits",
        "Compliance",
    ]
    assert book.worksheets[1]["K6"].value == 3
    with database.session() as session:
        [filing] = session.exec(select(Filing)).all()
    assert (filing.period, filing.method, filing.filed_by) == (
        "2026Q4",
        FilingMethod.EXPORTED,
        None,
    )

    again = cli.ok("export", "ledger", "--org", "B1", *LATE)
    assert "counts as filing" not in again and "preview" not in again
    assert (tmp_path / "Ledger-第1支部-2026Q4.xlsx").is_file()


def test_export_ledger_into_a_folder(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "报送"
    folder.mkdir()
    output = cli.ok(
        "export",
        "ledger",
        "--org",
        "B1",
        "-o",
        str(folder),
        "--by",
        "张书记",
        "--now",
        "2026-11-03T12:00",
    )
    path = folder / "台账-第1支部-2026Q4.xlsx"
    assert str(path) in output
    book = load_workbook(path)
    assert book.sheetnames[0] == "活动"
    assert book.worksheets[0]["A3"].value.startswith("填报人：张书记")


def test_export_ledger_bad_input(cli: Cli, tmp_path: Path, database: Database) -> None:
    assert "No organization" in cli.refused("export", "ledger", "--org", "ZZ", *NOW)
    missing = tmp_path / "no" / "such" / "dir" / "x.xlsx"
    assert "cannot write" in cli.refused(
        "export", "ledger", "--org", "B1", "-o", str(missing), *LATE
    )
    with database.session() as session:
        # A failed write files nothing.
        assert session.exec(select(Filing)).all() == []


def test_summary(cli: Cli) -> None:
    output = cli.ok("summary", "--org", "B1", "--year", "2026", *NOW)
    assert "红湾联盟: year-end summary for 2026 (draft)" in output
    assert "一支部-二支部结对: year-end summary for 2026 (draft)" in output
    assert "was in no alliance or pairing in 2026" in cli.ok("summary", "--org", "C", *NOW)
    assert "between 2000 and 2026" in cli.refused("summary", "--org", "B1", "--year", "2027", *NOW)
    assert "between 2000 and 2026" in cli.refused("summary", "--org", "B1", "--year", "1999", *NOW)
