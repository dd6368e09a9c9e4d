"""`gongjian import members`, `gongjian member export|delete|depart|purge`, `gongjian points`."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.cli.progress import import_progress
from bot.core.domain import MemberStatus
from bot.services.errors import ServiceError
from bot.services.importer import Phase
from bot.services.use_cases import Services
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import AuditEntry, Member, Organization
from tests.factories import World
from tests.services.test_importer import HEADER, VALID, write_csv
from tests.services.test_points import seed

NOW = "2026-11-03T09:30"


class Cli:
    """Invokes `gongjian` in-process with the database URL in its environment."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        """Runs one command in English and returns its result."""
        env = {"GONGJIAN_DATABASE_URL": self.database_url, "GONGJIAN_DEFAULT_LOCALE": "en"}
        return self.runner.invoke(app, list(args), input=input, env=env)

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Runs one command that must succeed."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def refused(self, *args: str, input: str | None = None, code: int = 2) -> str:
        """Runs one command that must fail with one line on stderr; returns that line."""
        result = self(*args, input=input)
        assert result.exit_code == code, (result.output, result.exception)
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        return lines[-1]


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The command line on the test database, from a directory without a .env."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("GONGJIAN_") and name != "GONGJIAN_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    yield Cli(database_url)


def count(database: Database, model: type[Member] | type[Organization]) -> int:
    with database.session() as session:
        return len(session.exec(select(model)).all())


def test_import_dry_run_real_and_again(cli: Cli, database: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "members.csv", HEADER, VALID)
    dry = cli.ok("import", "members", str(path), "--dry-run").stdout
    assert "Dry run of members.csv: all 5 rows are valid." in dry
    assert "3 organizations created" in dry and "4 members" in dry
    assert count(database, Organization) == 0
    real = cli.ok("import", "members", str(path)).stdout
    assert "Imported members.csv (5 rows)" in real
    assert (count(database, Organization), count(database, Member)) == (3, 4)
    again = cli.ok("import", "members", str(path)).stdout
    assert "already in the database; nothing changed" in again
    assert (count(database, Organization), count(database, Member)) == (3, 4)


def test_import_reports_every_bad_row(cli: Cli, database: Database, tmp_path: Path) -> None:
    rows = [
        ["", "x", "", "", "", "", "", "", ""],
        ["A1", "甲", "", "", "张三", "皇帝", "", "12ab", ""],
        ["A2", "乙", "", "ZZ", "", "", "", "", ""],
        ["A3", "丙", "", "", "李四", "", "", "", ""],
    ]
    path = write_csv(tmp_path / "bad.csv", HEADER, rows)
    for extra in (["--dry-run"], []):
        result = cli("import", "members", str(path), *extra)
        assert result.exit_code == 1
        out = result.stdout
        assert "bad.csv: 4 problems in 3 rows; nothing was imported." in out
        assert "Row 2, org_code (组织代码): a value is required" in out
        assert "Row 3, roles (职务/身份): unknown role 皇帝" in out
        assert "Row 3, phone (电话): not a phone number" in out
        assert "Row 4, parent_code (上级): no organization has the code ZZ" in out
        assert "Row 5" not in out
    assert count(database, Organization) == 0 and count(database, Member) == 0


def test_import_refuses_unreadable_files(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("org_code\nA\n", encoding="utf-8")
    assert "only .xlsx and .csv" in cli.refused("import", "members", str(tmp_path / "x.txt"))
    assert "Cannot read" in cli.refused("import", "members", str(tmp_path / "nope.csv"))


def test_import_draws_no_progress_bar_off_a_terminal(
    cli: Cli, database: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "members.csv", HEADER, VALID)
    result = cli.ok("import", "members", str(path))
    assert result.stderr == ""
    assert "Reading the file" not in result.output and "━" not in result.output


def test_import_explains_a_row_the_database_refused(
    cli: Cli, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise ServiceError("import_conflict", reason="duplicate key value")

    monkeypatch.setattr(Services, "import_members", refuse)
    path = write_csv(tmp_path / "members.csv", HEADER, VALID)
    line = cli.refused("import", "members", str(path), code=1)
    assert "duplicate key value" in line and "Nothing was imported" in line


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bars_draw_each_phase_on_a_terminal_only() -> None:
    t = translator("en")
    with import_progress(t, io.StringIO()) as listener:
        assert listener is None
    screen = Terminal()
    with import_progress(t, screen) as listener:
        assert listener is not None
        listener(Phase.READ, 500, None)
        listener(Phase.READ, 1_000, 1_000)
        listener(Phase.CHECK, 1_000, 1_000)
        listener(Phase.WRITE, 2_500, 2_500)
    drawn = screen.getvalue()
    for label in ("Reading the file", "Checking every row", "Writing to the database"):
        assert label in drawn
    assert "2500/2500" in drawn


def test_export_delete_and_export_again(
    cli: Cli, database: Database, world: World, tmp_path: Path
) -> None:
    m1 = world.members["m1"]
    with database.session() as session:
        member = session.get_one(Member, m1)
        member.phone = "13800138000"
        session.add(member)
    target = tmp_path / "m1.json"
    assert (
        "Wrote the data of member" in cli.ok("member", "export", str(m1), "-o", str(target)).stdout
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["tables"]["member"][0]["phone"] == "13800138000"
    printed = json.loads(cli.ok("member", "export", str(m1)).stdout)
    assert printed["member_id"] == m1

    assert "Nothing was deleted." in cli.refused("member", "delete", str(m1), input="n\n")
    assert "removed" in cli.ok("member", "delete", str(m1), input="y\n").stdout
    after = json.loads(cli.ok("member", "export", str(m1)).stdout)
    assert after["tables"]["member"][0]["name"] == f"已删除成员#{m1}"
    assert "13800138000" not in json.dumps(after)
    assert "removed" in cli.ok("member", "delete", str(m1), "--yes").stdout
    with database.session() as session:
        actions = session.exec(select(AuditEntry.action)).all()
    assert actions.count("member.export") == 3 and actions.count("member.delete") == 2


def test_unknown_member_ids(cli: Cli, world: World) -> None:
    assert "No member has the id 999" in cli.refused("member", "export", "999")
    assert "No member has the id 999" in cli.refused("member", "delete", "999", "--yes")
    assert "No member has the id 999" in cli.refused("member", "depart", "999")
    assert cli("member", "export", "0").exit_code == 2
    assert cli("member", "export", "abc").exit_code == 2


def test_depart_and_purge(cli: Cli, database: Database, world: World) -> None:
    m2 = world.members["m2"]
    assert "marked departed" in cli.ok("member", "depart", str(m2)).stdout
    assert "already departed" in cli.ok("member", "depart", str(m2)).stdout
    with database.session() as session:
        assert session.get_one(Member, m2).status is MemberStatus.DEPARTED
    assert "of 0 members" in cli.ok("member", "purge").stdout
    purged = cli.ok("member", "purge", "--now", "2100-01-01T00:00").stdout
    assert "of 1 members departed more than 1095 days ago" in purged
    with database.session() as session:
        assert session.get_one(Member, m2).name == f"已删除成员#{m2}"
    assert "--now" in cli.refused("member", "purge", "--now", "yesterday")


def test_points(cli: Cli, database: Database, world: World) -> None:
    seed(database, world)
    data = json.loads(cli.ok("points", "--org", "b1", "--json", "--now", NOW).stdout)
    assert data["org"] == "B1" and data["year"] == 2026
    assert data["weights"] == {"checkin": 2, "report": 3, "theme_day": 5}
    assert [(m["name"], m["rank"], m["total"]) for m in data["members"]][:3] == [
        ("sec", 1, 12),
        ("m1", 2, 7),
        ("m2", 3, 5),
    ]
    table = cli.ok("points", "--org", "B1", "--year", "2025", "--now", NOW).stdout
    assert table.splitlines()[0] == "Points of 第1支部 in 2025:"
    assert "m2" in table and "Rank" in table
    assert "No organization has the code NOPE" in cli.refused("points", "--org", "NOPE")
    assert "The year must be between" in cli.refused(
        "points", "--org", "B1", "--year", "2030", "--now", NOW
    )
