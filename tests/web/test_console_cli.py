"""`gongjian console user add` and `gongjian console link`: the operator's doors to the console."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app
from bot.engine.assistant import Assistant
from storage.console import ConsoleAccount
from storage.engine import Database
from tests.factories import World
from tests.helpers import Chat


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Runs `gongjian` in process against the test database, from an empty directory."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("GONGJIAN_") and name != "GONGJIAN_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)

    def invoke(*args: str, stdin: str = "") -> Result:
        return CliRunner().invoke(
            app, list(args), input=stdin, env={"GONGJIAN_DATABASE_URL": database_url}
        )

    yield invoke


def test_user_add_stores_an_argon2_hash_and_never_the_password(
    cli: object, world: World, database: Database
) -> None:
    result = cli(
        "console",
        "user",
        "add",
        "Staff",
        "--name",
        "组织委员",
        "--org",
        "C",  # type: ignore[operator]
        stdin="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    assert "/console/login" in result.stdout and "correct horse" not in result.output
    with database.session() as session:
        account = session.exec(select(ConsoleAccount)).one()
    assert account.login == "staff" and account.password_hash.startswith("$argon2")


def test_user_add_refuses_a_weak_password_and_an_unknown_org(cli: object, world: World) -> None:
    weak = cli("console", "user", "add", "a", "--name", "A", "--org", "C", stdin="short\n")  # type: ignore[operator]
    assert weak.exit_code == 2 and "12" in weak.stderr
    unknown = cli(
        "console",
        "user",
        "add",
        "a",
        "--name",
        "A",
        "--org",
        "ZZ",  # type: ignore[operator]
        stdin="long enough password\n",
    )
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output


def test_link_for_a_bound_secretary(cli: object, assistant: Assistant, world: World) -> None:
    Chat(assistant, user_id="demo").bound(world.invites["sec"])
    result = cli("console", "link", "--as", "demo")  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert re.search(r"^http://127\.0\.0\.1:8080/console/enter/\S+$", result.stdout.strip())
    nobody = cli("console", "link", "--as", "nobody")  # type: ignore[operator]
    assert nobody.exit_code == 2
