"""The meetings pages in a real browser, at desktop and phone width, driven from the keyboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine.assistant import Assistant
from tests.factories import World
from tests.web.conftest import link_token
from tests.web.test_console_browser import (  # noqa: F401 (fixtures)
    PHONE,
    artifacts,
    browser,
    live_url,
    pytestmark,
)


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_secretary_schedules_a_meeting_and_records_leave_on_its_roll_call(
    browser: object,  # noqa: F811
    live_url: str,  # noqa: F811
    assistant: Assistant,
    world: World,
    artifacts: Path,  # noqa: F811
    viewport: dict[str, int] | None,
) -> None:
    token = link_token(assistant, world, "sec")
    context = browser.new_context(viewport=viewport, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_url}/console/enter/{token}")
    page.get_by_role("link", name="会议", exact=True).click()
    assert page.url == f"{live_url}/console/meetings"
    if viewport is not None:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("link", name="新建会议").click()
    page.get_by_label("类型").select_option("lecture")
    page.get_by_label("日期").fill("2026-12-10")
    page.get_by_label("时间", exact=True).fill("14:30")
    page.get_by_label("地点").fill("党群服务中心")
    page.get_by_label("会议主题（选填）").press("Enter")
    page.wait_for_url("**/console/meetings/*?done=scheduled")
    assert "党课" in page.locator("h1").inner_text()
    page.get_by_label("党员").select_option(label="m1")
    page.get_by_label("记为").select_option("leave")
    reason = page.get_by_label("原因")
    reason.fill("住院，电话请假")
    reason.press("Enter")
    page.wait_for_url("**/console/meetings/*?done=corrected")
    assert "考勤已更正" in page.get_by_role("status").inner_text()
    row = page.locator("table.roll tbody tr", has_text="m1")
    assert "请假" in row.inner_text() and "住院，电话请假" in row.inner_text()
    if viewport is not None:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    name = "meetings-phone.png" if viewport else "meetings-desktop.png"
    page.screenshot(path=str(artifacts / name), full_page=True)
    assert errors == []
    context.close()
