"""Floods of refused requests and clients that hang up: counted, logged once per cause."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import pytest

from bot.channels.http import RefusalLog, build_http_app, refusals
from tests.channels.test_wechat import Harness


async def test_a_flood_of_forged_callbacks_logs_one_line_per_cause(
    wx: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    before = dict(refusals.totals)
    callback = wx.server.text("o-1", "帮助")
    with caplog.at_level(logging.INFO):
        for _ in range(200):
            assert (await wx.post(callback, signature="0" * 40)).status_code == 403
    lines = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(lines) <= 1
    counted = {cause: refusals.totals[cause] - before.get(cause, 0) for cause in refusals.totals}
    assert sum(counted.values()) == 200


def test_a_cause_is_logged_again_with_its_count_after_the_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = RefusalLog(interval=60, monotonic=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(70):
            log.note("bad signature")
            now[0] += 1
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "refused: bad signature",
        "refused: bad signature (60 times in the last 60 s)",
    ]
    assert log.totals == {"bad signature": 70}


async def test_a_client_hanging_up_mid_body_is_not_an_error(
    wx: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_http_app(wx.core, wx.channel.routes)
    callback = wx.server.text("o-1", "帮助")
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": callback.body.encode()[:20], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    query = "&".join(f"{key}={value}" for key, value in callback.query.items())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/wechat",
        "raw_path": b"/wechat",
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"gongjian.test"), (b"content-type", b"text/xml")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    with caplog.at_level(logging.DEBUG):
        await app(scope, receive, send)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not [record for record in caplog.records if record.exc_info]
