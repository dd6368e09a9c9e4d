"""Shared fixtures: every backend, a fresh database per test, a frozen clock, a console chat."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.config import Settings, load_settings
from bot.core.clock import FrozenClock
from bot.engine.assembly import build_assistant
from bot.engine.assistant import Assistant
from storage.engine import Database, make_engine, upgrade
from tests.factories import World, build_world
from tests.helpers import Chat

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The first Tuesday of November 2026: an organization-life day, mid-morning.
DEFAULT_NOW = datetime(2026, 11, 3, 9, 30, tzinfo=SHANGHAI)
POSTGRES_ENV = "GONGJIAN_TEST_POSTGRES_URL"


def _backends() -> list[object]:
    """Lists the backends to run on: SQLite always, PostgreSQL when its URL is given."""
    if os.environ.get("CI") and not os.environ.get(POSTGRES_ENV):
        raise pytest.UsageError(f"CI must run the PostgreSQL half: set {POSTGRES_ENV}")
    postgres = pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not os.environ.get(POSTGRES_ENV), reason=f"set {POSTGRES_ENV} to run on PostgreSQL"
        ),
    )
    return ["sqlite", postgres]


# How many tests the run left out for want of PostgreSQL (said in one line at the end).
POSTGRES_LEFT_OUT = pytest.StashKey[int]()


def needs_postgres(item: pytest.Item) -> bool:
    """Tells whether a test is skipped because no PostgreSQL URL is set."""
    for mark in item.iter_markers("skipif"):
        reason = str(mark.kwargs.get("reason", ""))
        if POSTGRES_ENV in reason and mark.args and bool(mark.args[0]):
            return True
    return False


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without PostgreSQL, leaves its half out quietly instead of listing every skip."""
    if os.environ.get(POSTGRES_ENV):
        return
    left_out = [item for item in items if needs_postgres(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not needs_postgres(item)]
    config.stash[POSTGRES_LEFT_OUT] = len(left_out)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Says in one line that the PostgreSQL half did not run, and how to run it."""
    count = config.stash.get(POSTGRES_LEFT_OUT, 0)
    if count:
        terminalreporter.write_line(
            f"PostgreSQL half not run ({count} tests): set {POSTGRES_ENV}="
            "postgresql+psycopg://postgres@127.0.0.1:5432/test to run it (.ci/run does)."
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrates one SQLite file per session; each test copies it."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Creates a private schema for this test session on PostgreSQL, migrated once."""
    base = os.environ[POSTGRES_ENV]
    schema = f"gj_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base, pool=False)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered, pool=False)
    upgrade(engine)
    engine.dispose()
    yield rendered
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """Yields the URL of an empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "gongjian.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    engine = make_engine(url, pool=False)
    with engine.begin() as connection:
        tables = [
            row[0]
            for row in connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            if row[0] != "alembic_version"
        ]
        if tables:
            names = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """Opens the test database (already migrated)."""
    db = Database.connect(database_url, migrate=False)
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen on an organization-life day morning in Shanghai."""
    return FrozenClock(DEFAULT_NOW)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Default settings pointed at the test database, keeping photos under the test's folder."""
    return load_settings(database_url=database_url, photos_dir=tmp_path / "photos", _env_file=None)


@pytest.fixture
def assistant(settings: Settings, clock: FrozenClock, database: Database) -> Assistant:
    """The real assistant on the test database and the frozen clock."""
    return build_assistant(settings, clock=clock, database=database)


@pytest.fixture
def world(database: Database, clock: FrozenClock) -> World:
    """A small alliance with branches, a pairing, members with roles, and unused invites."""
    return build_world(database, clock.now())


@pytest.fixture
def chat(assistant: Assistant, world: World) -> Chat:
    """A console chat as a not-yet-bound user; `chat.as_(...)` switches identity."""
    return Chat(assistant, user_id="u-console")
