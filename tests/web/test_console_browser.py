"""The console in a real browser: Chromium driven by Playwright, at desktop and phone width."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import uvicorn
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import ActivityKind
from bot.engine.assistant import Assistant
from bot.runner import http_app
from bot.services.console_access import ConsoleAccess
from storage.engine import Database
from storage.models import Member, Organization
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
def live_url(assistant: Assistant, app_routes: list[object], settings: Settings) -> Iterator[str]:
    """Serves the shared HTTP app with the console on a loopback port, in a thread."""
    app = http_app(assistant, app_routes, settings)  # type: ignore[arg-type]
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


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_secretary_downloads_the_ledger_from_its_page(
    browser: object,
    live_url: str,
    assistant: Assistant,
    world: World,
    database: Database,
    tmp_path: Path,
    artifacts: Path,
    viewport: dict[str, int] | None,
) -> None:
    add_activity(database, org=world.orgs["B1"], day=date(2026, 10, 12), title="重温入党誓词")
    token = link_token(assistant, world, "sec")
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport=viewport, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_url}/console/enter/{token}")
    page.get_by_role("link", name="台账", exact=True).click()
    page.wait_for_url(f"{live_url}/console/ledger")
    assert page.get_by_text("重温入党誓词").count() == 1
    if viewport is not None:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    name = "ledger-phone.png" if viewport else "ledger-desktop.png"
    page.screenshot(path=str(artifacts / name), full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载台账（.xlsx）").click()
    download = download_info.value
    assert download.suggested_filename == "台账-第1支部-2026Q4.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    book = openpyxl.load_workbook(saved)
    texts = [
        str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
    ]
    assert any("第1支部" in text for text in texts)
    assert any("重温入党誓词" in text for text in texts)
    page.get_by_role("button", name="标记为已报送").click()
    page.wait_for_selector("p[role=status]")
    assert page.get_by_role("button", name="标记为已报送").count() == 0
    assert errors == []
    context.close()


def staff_page(
    browser: object, live_url: str, database: Database, clock: FrozenClock, viewport: object = None
) -> Any:
    """Opens a page signed in as committee staff of C (through the password form)."""
    with database.session() as session:
        ConsoleAccess(session, clock.now(), idle=timedelta(minutes=30)).add_account(
            login="staff", name="组织委员", org_code="C", password="correct horse battery"
        )
    context = browser.new_context(viewport=viewport, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{live_url}/console/login")
    page.fill("input[name=login]", "staff")
    page.fill("input[name=password]", "correct horse battery")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{live_url}/console/")
    return page


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_committee_staff_create_a_pairing(
    browser: object,
    live_url: str,
    world: World,
    database: Database,
    clock: FrozenClock,
    artifacts: Path,
    viewport: dict[str, int] | None,
) -> None:
    page = staff_page(browser, live_url, database, clock, viewport)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.get_by_role("link", name="结对与联盟").click()
    page.get_by_role("link", name="新建结对").click()
    page.fill("#f-code", "JD-2026-09")
    page.fill("#f-name", "三四支部结对")
    page.fill("#f-lead", "B3")
    page.fill("#f-partners", "B4、NOPE")
    page.fill("#f-start", "2026-05-01")
    page.get_by_role("button", name="保存").click()
    # Refused next to its field, with everything typed still there.
    assert page.locator("#f-partners-error").inner_text() == "你管辖的组织中没有代码为NOPE的组织。"
    assert page.input_value("#f-name") == "三四支部结对"
    if viewport is not None:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(
        path=str(artifacts / f"pairing-refused-{'phone' if viewport else 'desktop'}.png"),
        full_page=True,
    )
    page.fill("#f-partners", "B4")
    page.get_by_role("button", name="保存").click()
    assert page.get_by_role("status").inner_text() == "JD-2026-09 已保存，并记入审计日志。"
    row = page.locator("#pairings tbody tr", has_text="JD-2026-09")
    assert "三四支部结对" in row.inner_text() and "第4支部" in row.inner_text()
    page.screenshot(
        path=str(artifacts / f"structure-{'phone' if viewport else 'desktop'}.png"), full_page=True
    )
    assert errors == []
    page.context.close()


def test_committee_staff_import_a_file_with_a_bad_row_then_a_good_one(
    browser: object,
    live_url: str,
    world: World,
    database: Database,
    clock: FrozenClock,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    page = staff_page(browser, live_url, database, clock)
    header = "组织代码,组织名称,组织类型,上级组织代码,姓名,职务/身份,手机号\n"
    bad = tmp_path / "党员.csv"
    bad.write_text(header + "B9,第9支部,党支部,C,王五,书记,12ab\n", encoding="utf-8")
    page.get_by_role("link", name="导入").click()
    page.set_input_files("#import-file", str(bad))
    page.get_by_role("button", name="检查文件").click()
    cells = page.locator("#row-errors tbody tr").first.locator("td").all_inner_texts()
    assert cells == ["党员.csv", "2", "电话（phone）", "不是有效的电话号码"]
    assert page.locator("#confirm-import").count() == 0
    page.screenshot(path=str(artifacts / "import-row-errors.png"), full_page=True)
    good = tmp_path / "党员-改.csv"
    good.write_text(header + "B9,第9支部,党支部,C,王五,书记,13800000009\n", encoding="utf-8")
    page.set_input_files("#import-file", str(good))
    page.get_by_role("button", name="检查文件").click()
    assert "所有行均有效" in page.locator("#import-outcome").inner_text()
    with database.session() as session:
        assert session.exec(select(Organization).where(Organization.code == "B9")).first() is None
    page.locator("#confirm-import").click()
    assert page.locator("#import-outcome h2").inner_text() == "党员-改.csv 已导入。"
    with database.session() as session:
        assert session.exec(select(Organization).where(Organization.code == "B9")).one()
    page.context.close()
