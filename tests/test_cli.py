"""The `gongjian` command line: every command's happy path, bad input, and the console over a pipe."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from click.testing import Result
from sqlmodel import col, select
from typer.testing import CliRunner

import bot.channels.telegram as telegram_channel
from bot.cli import app
from bot.cli.support import display_width, render_table
from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.core.domain import AttendanceStatus, Duty, RoleKind
from bot.core.inbound import Channel
from bot.demo import demo_counts
from bot.engine.assembly import build_assistant
from storage.engine import Database, alembic_config
from storage.models import Attendance, AuditEntry, ChatAccount, Invite, Member, RotaOverride
from tests.conftest import DEFAULT_NOW
from tests.helpers import Chat

NOW = "2026-11-03T09:30"  # the first Tuesday of November: an organization-life day


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """Runs the command line against the test database, from a directory without a .env."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("GONGJIAN_") and name != "GONGJIAN_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    yield Cli(database_url)


class Cli:
    """Invokes `gongjian` in-process with the database URL in its environment."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        """Runs one command and returns its result."""
        environment = {"GONGJIAN_DATABASE_URL": self.database_url, **env}
        return self.runner.invoke(app, list(args), input=input, env=environment)

    def ok(self, *args: str, input: str | None = None, **env: str) -> Result:
        """Runs one command that must succeed."""
        result = self(*args, input=input, **env)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def refused(self, *args: str, input: str | None = None, **env: str) -> str:
        """Runs one command that must fail with one clear line on stderr; returns that line."""
        result = self(*args, input=input, **env)
        assert result.exit_code == 2, (result.output, result.exception)
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        return lines[0]

    def demo(self, *extra: str) -> list[dict[str, str]]:
        """Runs `gongjian demo --json` at the test's moment and returns the invites."""
        invites: list[dict[str, str]] = json.loads(
            self.ok("demo", "--json", "--now", NOW, *extra).stdout
        )
        return invites


def invite_of(invites: list[dict[str, str]], org: str, role: str) -> str:
    """Returns the first invite code for a role in an organization."""
    return next(i["code"] for i in invites if i["org"] == org and i["role"] == role)


def counts(url: str) -> dict[str, int]:
    """Counts the demo tables' rows."""
    database = Database.connect(url, migrate=False)
    try:
        with database.session() as session:
            return demo_counts(session)
    finally:
        database.dispose()


# -- db and configuration ----------------------------------------------------------------


def test_db_upgrade_prints_the_head_revision(cli: Cli, database: Database) -> None:
    head = ScriptDirectory.from_config(alembic_config(database.engine)).get_current_head()
    assert head is not None
    assert head in cli.ok("db", "upgrade").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["db", "upgrade"],
        ["demo"],
        ["chat", "--as", "u1"],
        ["org", "list"],
        ["calendar", "--org", "HW-JG1", "--year", "2026"],
        ["roster", "--org", "HW-JG1"],
        ["invite", "create", "--org", "HW-JG1", "--role", "member"],
        ["run"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_malformed_time_zone_is_one_line_naming_the_variable(cli: Cli, args: list[str]) -> None:
    line = cli.refused(*args, input="", GONGJIAN_TIMEZONE="Mars/Olympus_Mons")
    assert line.startswith("GONGJIAN_TIMEZONE:")
    assert "Mars/Olympus_Mons" in line


def test_bad_settings_and_options_are_one_line(cli: Cli, tmp_path: Path) -> None:
    assert "GONGJIAN_LOG_LEVEL" in cli.refused("org", "list", GONGJIAN_LOG_LEVEL="LOUD")
    assert "GONGJIAN_DATABASE_URL" in cli.refused(
        "org", "list", GONGJIAN_DATABASE_URL="mysql://x/y"
    )
    broken = tmp_path / "holidays.toml"
    broken.write_text("[[holiday]]\ndate = 'soon'\n", encoding="utf-8")
    line = cli.refused(
        "calendar", "--org", "X", "--year", "2026", GONGJIAN_HOLIDAYS_FILE=str(broken)
    )
    assert "holidays.toml" in line
    assert "--lang" in cli.refused("org", "list", "--lang", "fr")
    assert "--now" in cli.refused("demo", "--now", "yesterday")


def test_an_unreachable_database_is_one_line(cli: Cli) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
    line = cli.refused("org", "list", GONGJIAN_DATABASE_URL=url)
    assert line.startswith("GONGJIAN_DATABASE_URL:")


def test_no_arguments_shows_the_commands(cli: Cli) -> None:
    result = cli()
    for command in (
        "demo",
        "chat",
        "invite",
        "org",
        "calendar",
        "roster",
        "run",
        "db",
        "reminders",
    ):
        assert command in result.output


# -- demo --------------------------------------------------------------------------------


def test_demo_prints_a_table_of_invites(cli: Cli) -> None:
    output = cli.ok("demo", "--now", NOW, "--lang", "en").stdout
    assert "Demo data created." in output
    assert "江海重工装备有限公司党支部" in output and "Secretary" in output
    codes = re.findall(r"\b[A-HJ-NP-Z2-9]{8}\b", output)
    assert len(codes) == counts(cli.database_url)["members"]


def test_demo_twice_duplicates_nothing_and_its_invites_work(cli: Cli, database: Database) -> None:
    first = cli.demo()
    before = counts(cli.database_url)
    second = cli.demo()
    assert counts(cli.database_url) == before
    assert len(second) == len(first) == before["members"]
    assert {tuple(sorted(i)) for i in second} == {("code", "name", "org", "org_name", "role")}
    # The second run keeps the codes the first one printed.
    assert [i["code"] for i in second] == [i["code"] for i in first]
    with database.session() as session:
        unused = {
            invite.code
            for invite in session.exec(select(Invite).where(col(Invite.used_at).is_(None))).all()
        }
    assert {i["code"] for i in second} == unused
    # The codes the first run printed bind, and the bound people can run a check-in.
    settings = load_settings(database_url=cli.database_url, _env_file=None)
    assistant = build_assistant(settings, clock=FrozenClock(DEFAULT_NOW), database=database)
    secretary = Chat(assistant, "sec").bound(invite_of(first, "HW-HGZB", "secretary"))
    member = Chat(assistant, "mem").bound(invite_of(first, "HW-HGZB", "member"))
    code = re.search(r"签到 (\d{6})", secretary.say("开启签到"))
    assert code is not None
    member.say(f"签到 {code.group(1)}")
    with database.session() as session:
        accounts = session.exec(select(ChatAccount)).all()
        present = session.exec(
            select(Attendance).where(
                Attendance.status == AttendanceStatus.PRESENT, Attendance.at == DEFAULT_NOW
            )
        ).all()
    assert {a.external_id for a in accounts} == {"sec", "mem"}
    member_account = next(a for a in accounts if a.external_id == "mem")
    assert [row.member_id for row in present] == [member_account.member_id]


def test_demo_reset_rebuilds_from_scratch(cli: Cli, database: Database) -> None:
    invites = cli.demo()
    fresh = counts(cli.database_url)
    cli.ok("chat", "--as", "u1", "--now", NOW, input=f"绑定 {invites[0]['code']}\n")
    with database.session() as session:
        assert len(session.exec(select(ChatAccount)).all()) == 1
    output = cli.ok("demo", "--reset", "--now", NOW, "--lang", "en").stdout
    assert "Demo data created." in output
    assert counts(cli.database_url) == fresh
    with database.session() as session:
        assert session.exec(select(ChatAccount)).all() == []


# -- chat --------------------------------------------------------------------------------


def test_chat_over_a_pipe_binds_a_secretary_who_gets_the_check_in_code(
    cli: Cli, database: Database
) -> None:
    invites = cli.demo()
    secretary = invite_of(invites, "HW-JG1", "secretary")
    name = next(i["name"] for i in invites if i["code"] == secretary)
    result = cli.ok("chat", "--as", "u1", "--now", NOW, input=f"绑定 {secretary}\n\n开启签到\n")
    assert "> " not in result.stdout  # no prompt on a pipe
    # Each line read is echoed before its replies, so the transcript can be followed.
    lines = result.stdout.splitlines()
    assert lines[0] == f"» 绑定 {secretary}"
    assert lines.index("» 开启签到") > 1
    assert "» " + "\n" not in result.stdout  # the blank line is not echoed
    assert name in result.stdout
    code = re.search(r"签到 (\d{6})", result.stdout)
    assert code is not None
    with database.session() as session:
        account = session.exec(select(ChatAccount)).one()
        member = session.get_one(Member, account.member_id)
    assert (account.channel, account.external_id, member.name) == (Channel.CONSOLE, "u1", name)
    # The binding persists: a second session as u1 is already that secretary.
    again = cli.ok("chat", "--as", "u1", "--now", NOW, input="开启签到\n").stdout
    assert code.group(1) in again


def test_chat_defaults_to_the_os_user_and_ends_cleanly(
    cli: Cli, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.cli.chat.getpass.getuser", lambda: "osuser")
    invites = cli.demo()
    cli.ok("chat", "--now", NOW, input=f"绑定 {invites[5]['code']}")  # no final newline
    assert cli.ok("chat", input="").stdout == ""
    with database.session() as session:
        assert session.exec(select(ChatAccount.external_id)).all() == ["osuser"]


@pytest.mark.parametrize("ending", [EOFError, KeyboardInterrupt])
def test_chat_at_a_terminal_prompts_and_ends_cleanly(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, ending: type[BaseException]
) -> None:
    typed = iter(["/lang en", "", "帮助"])
    prompts: list[str] = []

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        try:
            return next(typed)
        except StopIteration:
            raise ending from None

    monkeypatch.setattr("bot.cli.chat.reads_terminal", lambda: True)
    monkeypatch.setattr("builtins.input", fake_input)
    result = cli.ok("chat", "--as", "tty")
    assert prompts == ["> "] * 4
    assert "tty" in result.stdout.splitlines()[0]  # the greeting names the console user
    assert len(result.stdout.strip().splitlines()) >= 3


def test_chat_rejects_an_empty_user(cli: Cli) -> None:
    assert "--as" in cli.refused("chat", "--as", " ", input="")


def test_chat_as_a_real_process_over_a_pipe(cli: Cli, tmp_path: Path) -> None:
    invites = cli.demo()
    code = invite_of(invites, "HW-HWCB", "secretary")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GONGJIAN_")}
    environment["GONGJIAN_DATABASE_URL"] = cli.database_url
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--as", "u9", "--now", NOW],
        input=f"绑定 {code}\n开启签到\n".encode(),
        capture_output=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert re.search(r"签到 \d{6}", stdout), stdout
    assert len(stdout.strip().splitlines()) >= 3


# -- invite ------------------------------------------------------------------------------


def test_invite_create_prints_a_code_that_binds(cli: Cli, database: Database) -> None:
    cli.demo()
    output = cli.ok(
        "invite", "create", "--org", "hw-jg1", "--role", "liaison", "--name", "张三", "--lang", "en"
    ).stdout
    code = re.search(r"Invite code: (\w+)", output)
    assert code is not None
    assert "区镇机关第一党支部 (HW-JG1)" in output and "Liaison officer" in output
    data = json.loads(
        cli.ok("invite", "create", "--org", "HW-JG1", "--role", "member", "--json").stdout
    )
    assert (data["org"], data["role"], data["name"]) == ("HW-JG1", "member", "")
    assert "telegram_link" not in data
    assert data["expires_at"] > DEFAULT_NOW.isoformat()
    result = cli.ok("chat", "--as", "new", input=f"/lang en\n绑定 {code.group(1)}\n").stdout
    assert "张三" in result
    with database.session() as session:
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "invite.create")).all()
    assert len(audit) == 2 and all(entry.actor_id is None for entry in audit)


def test_invite_create_refuses_unknown_org_and_role(cli: Cli) -> None:
    cli.demo()
    line = cli.refused("invite", "create", "--org", "NOPE", "--role", "member", "--lang", "en")
    assert "NOPE" in line
    line = cli.refused("invite", "create", "--org", "HW-JG1", "--role", "boss", "--lang", "en")
    assert "boss" in line and "secretary" in line


def test_invite_create_adds_the_telegram_link_when_the_channel_offers_one(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.demo()
    seen: list[Any] = []

    async def deep_link(settings: Any, code: str) -> str:
        seen.append(settings.telegram_enabled)
        return f"https://t.me/gongjian_bot?start={code}"

    monkeypatch.setattr(telegram_channel, "deep_link", deep_link)
    token = {"GONGJIAN_TELEGRAM_TOKEN": "123:abc"}
    data = json.loads(
        cli.ok("invite", "create", "--org", "HW-JG1", "--role", "member", "--json", **token).stdout
    )
    assert data["telegram_link"] == f"https://t.me/gongjian_bot?start={data['code']}"
    assert seen == [True]
    assert "telegram_link" not in json.loads(
        cli.ok("invite", "create", "--org", "HW-JG1", "--role", "member", "--json").stdout
    )
    assert seen == [True]  # without a token the channel is not asked

    def broken(settings: Any, code: str) -> str:
        raise ConnectionError("offline")

    monkeypatch.setattr(telegram_channel, "deep_link", broken)
    output = cli.ok(
        "invite", "create", "--org", "HW-JG1", "--role", "member", "--lang", "en", **token
    ).stdout
    assert "Invite code:" in output and "t.me" not in output


# -- org list ----------------------------------------------------------------------------


def test_org_list_shows_codes_kinds_and_parents(cli: Cli) -> None:
    assert cli.ok("org", "list", "--json").stdout.strip() == "[]"
    cli.demo()
    rows = json.loads(cli.ok("org", "list", "--json").stdout)
    by_code = {row["code"]: row for row in rows}
    assert by_code["HW-DGW"] == {
        "code": "HW-DGW",
        "name": "江海区镇党工委",
        "kind": "committee",
        "parent": None,
    }
    assert by_code["HW-XWLH"]["kind"] == "joint_branch" and by_code["HW-XWLH"]["parent"] == "HW-DGW"
    output = cli.ok("org", "list", "--lang", "en").stdout
    assert "HW-JG1" in output and "Joint branch" in output and "Party committee" in output


# -- calendar ----------------------------------------------------------------------------


def test_calendar_moves_days_for_a_branch_that_avoids_holidays(cli: Cli) -> None:
    cli.demo()
    days = json.loads(cli.ok("calendar", "--org", "HW-JG1", "--year", "2026", "--json").stdout)
    assert [d["month"] for d in days] == list(range(1, 13))
    october = days[9]
    assert october == {
        "month": 10,
        "date": "2026-10-08",
        "original": "2026-10-06",
        "reason": "moved_for_holiday",
        "holiday": "national_day",
    }
    assert days[10]["date"] == "2026-11-03" and days[10]["reason"] is None
    output = cli.ok("calendar", "--org", "HW-JG1", "--year", "2026", "--lang", "en").stdout
    assert "October 8, 2026" in output and "Thursday" in output
    assert "moved from Oct 6, 2026 (National Day)" in output


def test_calendar_keeps_days_and_flags_unknown_years(cli: Cli) -> None:
    cli.demo()
    days = json.loads(cli.ok("calendar", "--org", "HW-HGZB", "--year", "2026", "--json").stdout)
    assert days[9]["date"] == "2026-10-06" and days[9]["reason"] == "kept_on_holiday"
    future = json.loads(cli.ok("calendar", "--org", "HW-HGZB", "--year", "2099", "--json").stdout)
    assert {d["reason"] for d in future} == {"calendar_unknown"}
    assert "2099" in cli.ok("calendar", "--org", "HW-HGZB", "--year", "2099", "--lang", "en").stdout


def test_calendar_refuses_unknown_org_and_bad_year(cli: Cli) -> None:
    cli.demo()
    assert "NOPE" in cli.refused("calendar", "--org", "NOPE", "--year", "2026")
    assert "1900" in cli.refused("calendar", "--org", "HW-JG1", "--year", "0", "--lang", "en")
    result = cli("calendar", "--org", "HW-JG1", "--year", "soon")
    assert result.exit_code == 2 and "--year" in result.output


# -- roster ------------------------------------------------------------------------------


def test_roster_lists_duties_with_overrides_and_pairing_hosts(cli: Cli) -> None:
    cli.demo()
    data = json.loads(cli.ok("roster", "--org", "HW-NSYH", "--year", "2026", "--json").stdout)
    (alliance,) = data["alliances"]
    duties = [slot["duty"] for slot in alliance["slots"]]
    assert (duties.count("theme_day"), duties.count("convener"), duties.count("executive")) == (
        12,
        4,
        1,
    )
    december = next(
        s for s in alliance["slots"] if s["duty"] == "theme_day" and s["period"] == "2026-12"
    )
    assert december["overridden"] and december["org"] == "HW-HWSQ" and december["reason"]
    assert december["scheduled_org"] != "HW-HWSQ"
    (pairing,) = data["pairings"]
    assert [h["quarter"] for h in pairing["hosts"]] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert pairing["hosts"][0]["org"] == "HW-NSYH" and pairing["visit_target"] == 3
    output = cli.ok("roster", "--org", "HW-NSYH", "--year", "2026", "--lang", "en").stdout
    assert "Joint meeting convener" in output and "2026Q3" in output
    assert "instead of" in output and december["reason"] in output


def test_roster_of_an_organization_without_partners(cli: Cli) -> None:
    cli.demo()
    output = cli.ok("roster", "--org", "HW-DGW", "--lang", "en").stdout
    assert "no alliance and no pairing" in output
    assert "NOPE" in cli.refused("roster", "--org", "NOPE")
    assert "--org" in cli.refused("roster", "--year", "2026")
    assert "1900" in cli.refused("roster", "--org", "HW-JG1", "--year", "20266", "--lang", "en")


def test_roster_override_and_swap_are_applied_and_audited(cli: Cli, database: Database) -> None:
    cli.demo()
    base = ["roster", "override", "--alliance", "hw-lm", "--lang", "en"]
    output = cli.ok(
        *base,
        "--duty",
        "theme_day",
        "--period",
        "2027-02",
        "--org",
        "HW-ZYXX",
        "--reason",
        "春节后由学校承办",
    ).stdout
    assert "江海职业技术学校党支部" in output
    cli.ok(
        *base, "--duty", "executive", "--period", "2027-06", "--org", "HW-SCJG", "--reason", "换届"
    )
    cli.ok(
        *base,
        "--duty",
        "convener",
        "--period",
        "2027Q1",
        "--swap-with",
        "2027Q3",
        "--reason",
        "错峰安排",
    )
    data = json.loads(cli.ok("roster", "--org", "HW-JG1", "--year", "2027", "--json").stdout)
    slots = {(s["duty"], s["period"]): s for s in data["alliances"][0]["slots"]}
    assert slots["theme_day", "2027-02"]["org"] == "HW-ZYXX"
    assert slots["convener", "2027Q1"]["org"] == slots["convener", "2027Q3"]["scheduled_org"]
    assert slots["convener", "2027Q3"]["org"] == slots["convener", "2027Q1"]["scheduled_org"]
    # An executive term is the whole year: naming June changes the term that contains it.
    assert slots["executive", "2027-01"]["org"] == "HW-SCJG"
    # The executive president unit convenes the joint meetings (001).
    assert slots["convener", "2027Q2"]["org"] == "HW-SCJG"
    with database.session() as session:
        overrides = session.exec(
            select(RotaOverride).where(RotaOverride.period.startswith("2027"))
        ).all()  # type: ignore[attr-defined]
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "rota.override")).all()
    assert {(o.duty, o.period) for o in overrides} == {
        (Duty.THEME_DAY, "2027-02"),
        (Duty.CONVENER, "2027Q1"),
        (Duty.CONVENER, "2027Q3"),
        (Duty.EXECUTIVE, "2027-01"),
    }
    assert len(audit) >= 4 and all(entry.actor_id is None for entry in audit)


BAD_OVERRIDES = [
    (["--alliance", "NOPE", "--duty", "convener", "--period", "2027Q1", "--org", "HW-JG1"], "NOPE"),
    (
        ["--alliance", "HW-LM", "--duty", "cooking", "--period", "2027Q1", "--org", "HW-JG1"],
        "cooking",
    ),
    (
        ["--alliance", "HW-LM", "--duty", "convener", "--period", "2027Q9", "--org", "HW-JG1"],
        "2027Q1",
    ),
    (
        ["--alliance", "HW-LM", "--duty", "theme_day", "--period", "2027Q1", "--org", "HW-JG1"],
        "2026-12",
    ),
    (["--alliance", "HW-LM", "--duty", "convener", "--period", "2027Q1"], "--swap-with"),
    (
        [
            "--alliance",
            "HW-LM",
            "--duty",
            "convener",
            "--period",
            "2027Q1",
            "--org",
            "HW-JG1",
            "--swap-with",
            "2027Q2",
        ],
        "--swap-with",
    ),
    (
        ["--alliance", "HW-LM", "--duty", "convener", "--period", "2027Q1", "--org", "HW-YJWL"],
        "president",
    ),
    (
        ["--alliance", "HW-LM", "--duty", "theme_day", "--period", "2027-01", "--org", "NOPE"],
        "NOPE",
    ),
]


def test_roster_override_refuses_bad_input(cli: Cli, database: Database) -> None:
    cli.demo()
    for args, expected in BAD_OVERRIDES:
        line = cli.refused("roster", "override", *args, "--reason", "测试", "--lang", "en")
        assert expected in line, (args, line)
    with database.session() as session:
        assert len(session.exec(select(RotaOverride)).all()) == 1  # only the demo's own


def test_roster_override_needs_a_reason(cli: Cli) -> None:
    cli.demo()
    args = ["roster", "override", "--alliance", "HW-LM", "--duty", "convener", "--period", "2027Q1"]
    assert "reason" in cli.refused(*args, "--org", "HW-JG1", "--reason", "  ", "--lang", "en")


# -- run ---------------------------------------------------------------------------------


def test_run_without_a_channel_still_serves_the_console_and_the_scheduler(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []

    async def serve(settings: Any, core: Any, services: Any, **kwargs: Any) -> None:
        started.extend(services)

    monkeypatch.setattr("bot.runner.serve", serve)
    cli.ok("run")
    names = {service.name for service in started}
    paths = {route.path for service in started for route in service.routes}
    assert "reminders" in names and "/console" in paths


def test_run_serves_the_assistant(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []

    async def serve(settings: Any, core: Any, *args: Any, **kwargs: Any) -> None:
        calls.append((settings, core))

    monkeypatch.setattr("bot.runner.serve", serve)
    cli.ok("run", GONGJIAN_TELEGRAM_TOKEN="123:abc")
    ((settings, core),) = calls
    assert settings.telegram_enabled and settings.database_url == cli.database_url
    assert core.healthy()


# -- helpers -----------------------------------------------------------------------------


def test_tables_align_wide_characters() -> None:
    assert display_width("江海a") == 5
    table = render_table(["Name", "X"], [["江海", "1"], ["ab", "2"]]).splitlines()
    columns = [
        display_width(line[: line.index(x)]) for line, x in zip(table[2:], "12", strict=True)
    ]
    assert columns == [6, 6]


def test_roles_printed_by_the_demo_are_role_kinds(cli: Cli) -> None:
    roles = {invite["role"] for invite in cli.demo()}
    assert roles == {role.value for role in RoleKind}


def test_calendar_command_warns_past_the_holiday_data(cli: Cli, database: Database) -> None:
    cli.demo()
    result = cli.ok("calendar", "--org", "HW-JG1", "--year", "2026", "--now", "2026-11-03T09:00")
    assert "2027年的国家法定节假日安排尚未导入" in result.stderr
    quiet = cli.ok("calendar", "--org", "HW-JG1", "--year", "2026", "--now", "2026-08-03T09:00")
    assert "节假日安排尚未导入" not in quiet.stderr
