"""The console in a real browser: Chromium driven by Playwright, at desktop and phone width."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from bot.channels.http import build_http_app
from bot.cli import app as cli_app
from bot.core.domain import ActivityKind
from bot.engine.assistant import Assistant
from bot.web.console.routes import BODY_LIMITS
from storage.engine import Database
from storage.models import Member
from tests.factories import World
from tests.services.test_stats import add_activity
from tests.web.conftest import link_token

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Chromium is not installed (apt-get install chromium fonts-noto-cjk)",
)
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def live_url(assistant: Assistant, app_routes: list[object]) -> Iterator[str]:
    """Serves the shared HTTP app with the console on a loopback port, in a thread."""
    app = build_http_app(assistant, app_routes, larger_bodies=BODY_LIMITS)  # type: ignore[arg-type]
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the console server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's Chromium, headless."""
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: GONGJIAN_TEST_ARTIFACTS when set (CI keeps it), else a tmp dir."""
    folder = Path(os.environ.get("GONGJIAN_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def status_counts(database_url: str, org: str) -> dict[str, int]:
    """Runs `gongjian status --json` and counts its lines by state."""
    result = CliRunner().invoke(
        cli_app,
        ["status", "--org", org, "--json", "--now", "2026-11-03T09:30"],
        env={"GONGJIAN_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    counts = {"done": 0, "owed": 0, "missed": 0}
    for section in report["sections"]:
        for line in section["lines"]:
            counts[line["state"]] += 1
    return counts


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_secretary_opens_the_overview_from_a_chat_link(
    browser: object,
    live_url: str,
    assistant: Assistant,
    world: World,
    database: Database,
    database_url: str,
    artifacts: Path,
    viewport: dict[str, int] | None,
) -> None:
    add_activity(database, org=world.orgs["B1"], day=date(2026, 10, 12))
    add_activity(database, org=world.orgs["B1"], day=date(2026, 10, 20), kind=ActivityKind.VISIT)
    token = link_token(assistant, world, "sec")
    context = browser.new_context(viewport=viewport, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_url}/console/enter/{token}")
    assert page.url == f"{live_url}/console/"
    row = page.locator("table.grid tbody tr", has_text="第1支部")
    counts = status_counts(database_url, "B1")
    assert row.locator("td.num.missed").inner_text() == str(counts["missed"])
    assert row.locator("td.num.owed").inner_text() == str(counts["owed"])
    assert row.locator("td.num.done").inner_text() == str(counts["done"])
    page.wait_for_selector("#chart-attendance canvas")
    page.wait_for_selector("#chart-activities canvas")
    if viewport is not None:
        # Nothing but the table's own scroller may be wider than the phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    name = "overview-phone.png" if viewport else "overview-desktop.png"
    page.screenshot(path=str(artifacts / name), full_page=True)
    assert errors == []
    context.close()


def test_member_names_render_as_text(
    browser: object, live_url: str, assistant: Assistant, world: World, database: Database
) -> None:
    with database.session() as session:
        session.get_one(Member, world.members["m1"]).name = "<script>alert(1)</script>"
    token = link_token(assistant, world, "sec")
    page = browser.new_page()  # type: ignore[attr-defined]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_url}/console/enter/{token}")
    page.goto(f"{live_url}/console/org/B1")
    assert page.get_by_text("<script>alert(1)</script>").count() == 1
    assert dialogs == []
    page.close()


def test_the_table_sorts_by_a_column_from_the_keyboard(
    browser: object, live_url: str, assistant: Assistant, world: World
) -> None:
    token = link_token(assistant, world, "sec")
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{live_url}/console/enter/{token}")
    head = page.locator("table.grid thead th").first
    head.focus()
    page.keyboard.press("Enter")
    assert head.get_attribute("aria-sort") == "descending"
    page.close()
