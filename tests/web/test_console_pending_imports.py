"""A checked district file waits in the database: any process confirms it, once, for its owner."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
from sqlmodel import func, select

from bot.core.clock import FrozenClock
from bot.web.console.desk import SESSION_COOKIE
from storage.console import PendingImport
from storage.engine import Database
from storage.models import Organization
from tests.factories import World
from tests.web.test_console_import import GOOD, confirmation, csv_file, upload
from tests.web.test_console_structure import district, staff

__all__ = ["district"]

ROOT = Path(__file__).resolve().parents[2]
# Another process serving the console on the same database: it confirms, and says what it answered.
ELSEWHERE = """
import asyncio, json, sys
from datetime import datetime

import httpx
from starlette.applications import Starlette

from bot.calendar.holidays import HolidayCalendar
from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.web.console.routes import console_routes
from storage.engine import Database

url, now, cookie, fields = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
settings = load_settings(database_url=url, _env_file=None)
database = Database.connect(url, migrate=False)
clock = FrozenClock(datetime.fromisoformat(now))
app = Starlette(
    routes=console_routes(database, settings, clock, HolidayCalendar.load(settings.holidays_file))
)


async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies={"gj_console": cookie}
    ) as client:
        done = await client.post("/console/import/confirm", data=fields)
    print(json.dumps({"status": done.status_code, "imported": "已导入" in done.text}))


asyncio.run(main())
database.dispose()
"""


def pending_count(database: Database) -> int:
    """Counts the checked files waiting in the database."""
    with database.session() as session:
        return int(session.exec(select(func.count()).select_from(PendingImport)).one())


async def test_another_process_confirms_a_file_this_one_checked(
    client: httpx.AsyncClient,
    district: World,
    database: Database,
    database_url: str,
    clock: FrozenClock,
) -> None:
    csrf = await staff(client)
    good = await upload(client, csrf, csv_file(GOOD))
    fields = {"csrf": csrf, **confirmation(good.text)}
    assert pending_count(database) == 1
    ran = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            ELSEWHERE,
            database_url,
            clock.now().isoformat(),
            client.cookies[SESSION_COOKIE],
            json.dumps(fields),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]) == {"status": 200, "imported": True}
    with database.session() as session:
        assert session.exec(select(Organization).where(Organization.code == "B9")).one()
    assert pending_count(database) == 0
    again = await client.post("/console/import/confirm", data=fields)
    assert again.status_code == 410


async def test_a_changed_confirmation_is_refused_and_the_file_still_waits_for_its_owner(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    ticket = confirmation((await upload(client, csrf, csv_file(GOOD))).text)
    other_digest = "0" * 64
    changed = await client.post(
        "/console/import/confirm", data={"csrf": csrf, **ticket, "sha256": other_digest}
    )
    assert changed.status_code == 400 and "与检查过的文件不一致" in changed.text
    mangled = await client.post(
        "/console/import/confirm", data={"csrf": csrf, **ticket, "token": "../../etc/passwd"}
    )
    assert mangled.status_code == 400
    client.cookies.set("gj_lang", "en")
    guessed = await client.post(
        "/console/import/confirm", data={"csrf": csrf, **ticket, "token": "A" * 43}
    )
    assert guessed.status_code == 410 and "no longer here" in guessed.text
    with database.session() as session:
        assert session.exec(select(Organization).where(Organization.code == "B9")).first() is None
    done = await client.post("/console/import/confirm", data={"csrf": csrf, **ticket})
    assert done.status_code == 200


async def test_a_checked_file_waits_30_minutes_and_stale_ones_go_when_another_is_kept(
    client: httpx.AsyncClient, district: World, database: Database, clock: FrozenClock
) -> None:
    csrf = await staff(client)
    first = await upload(client, csrf, csv_file(GOOD))
    assert "保留30分钟" in first.text
    ticket = confirmation(first.text)
    clock.advance(timedelta(minutes=20))
    # The session stays alive; only the checked file runs out.
    assert (await client.get("/console/import")).status_code == 200
    clock.advance(timedelta(minutes=10, seconds=1))
    late = await client.post("/console/import/confirm", data={"csrf": csrf, **ticket})
    assert late.status_code == 410
    assert pending_count(database) == 1
    second = confirmation((await upload(client, csrf, csv_file(GOOD))).text)
    assert pending_count(database) == 1
    done = await client.post("/console/import/confirm", data={"csrf": csrf, **second})
    assert done.status_code == 200 and pending_count(database) == 0


async def test_one_person_keeps_at_most_five_checked_files(
    client: httpx.AsyncClient, district: World, database: Database, clock: FrozenClock
) -> None:
    csrf = await staff(client)
    tickets = []
    for _ in range(6):
        tickets.append(confirmation((await upload(client, csrf, csv_file(GOOD))).text))
        clock.advance(timedelta(seconds=1))
    assert pending_count(database) == 5
    oldest = await client.post("/console/import/confirm", data={"csrf": csrf, **tickets[0]})
    assert oldest.status_code == 410
    newest = await client.post("/console/import/confirm", data={"csrf": csrf, **tickets[-1]})
    assert newest.status_code == 200
