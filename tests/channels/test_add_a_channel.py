"""The recipe "add a channel": one package and one registry line, nothing else.

The channel here is this module: `build_channel` and a small `ChatChannel` over HTTP. The test
adds its line to the registry and runs `gongjian run`'s own wiring: a secretary opens a check-in
and a member checks in through it, end to end, and the reminder pushes find its sender.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.channels import registry
from bot.channels.registry import ChannelContext, ChannelEntry, push_senders
from bot.config import Settings
from bot.core.channel import ChatChannel
from bot.core.inbound import Capabilities, Channel, Inbound
from bot.core.ports import Core, DeliveryStatus, SendResult
from bot.core.reply import Reply, numbered
from bot.engine.assistant import Assistant
from bot.runner import assistant_services, serve
from storage.models import Attendance
from tests.factories import World

LOOPBACK = Channel("loopback")


class LoopbackSender:
    """Keeps pushes in a list."""

    channel = LOOPBACK

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Records the push."""
        self.sent.append((recipient, reply))
        return SendResult(DeliveryStatus.SENT)


class LoopbackChannel:
    """A text-only chat over HTTP: POST {"user", "text"} to /loopback, get the texts back."""

    name = "loopback"
    channel = LOOPBACK
    capabilities = Capabilities(numbered_options=True)

    def __init__(self, core: Core) -> None:
        self._core = core
        self.sender = LoopbackSender()
        self.running = False

    @property
    def routes(self) -> Sequence[BaseRoute]:
        """The one route this channel serves."""
        return [Route("/loopback", self._message, methods=["POST"])]

    async def start(self, *, receive: bool = True) -> None:
        """Marks the channel running."""
        self.running = True

    async def stop(self) -> None:
        """Marks the channel stopped."""
        self.running = False

    async def _message(self, request: Request) -> JSONResponse:
        """Hands one message to the core and answers with the numbered texts."""
        body: dict[str, Any] = await request.json()
        inbound = Inbound(
            channel=self.channel,
            chat_id=body["user"],
            user_id=body["user"],
            text=body["text"],
            capabilities=self.capabilities,
            private_chat_id=body["user"],
        )
        answer = await asyncio.to_thread(self._core.answer, inbound, numbered=True)
        texts = [
            "\n".join([reply.text, *(f"{n}) {button.label}" for n, button in options)])
            for reply, options in zip(answer.replies, numbered(answer.replies), strict=True)
        ]
        return JSONResponse({"texts": texts})


def build_channel(context: ChannelContext) -> LoopbackChannel:
    """Builds the channel for the registry."""
    return LoopbackChannel(context.core)


@pytest.fixture
def with_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recipe's one registry line."""
    line = ChannelEntry("loopback", __name__, lambda settings: True)
    monkeypatch.setattr(registry, "CHANNELS", (*registry.CHANNELS, line))


async def test_a_new_channel_checks_a_member_in_through_the_registry(
    with_loopback: None, settings: Settings, assistant: Assistant, world: World
) -> None:
    settings = settings.model_copy(update={"http_port": 0})
    services = assistant_services(settings, assistant)
    assert [service.name for service in services] == ["loopback", "reminders", "files"]
    channel = services[0]
    assert isinstance(channel, LoopbackChannel)
    stop, up, port = asyncio.Event(), asyncio.Event(), [0]

    def ready(bound: int) -> None:
        port[0] = bound
        up.set()

    task = asyncio.create_task(serve(settings, assistant, services, stop=stop, ready=ready))
    await asyncio.wait_for(up.wait(), timeout=30)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port[0]}") as client:

            async def say(user: str, text: str) -> str:
                answer = await client.post("/loopback", json={"user": user, "text": text})
                assert answer.status_code == 200
                return "\n".join(answer.json()["texts"])

            for user, who in (("lb-sec", "sec"), ("lb-m1", "m1")):
                await say(user, f"绑定 {world.invites[who]}")
                await say(user, "/lang en")
            assert channel.running
            opened = await say("lb-sec", "/opencheckin")
            code = re.search(r"code: (\d{6})", opened)
            assert code, opened
            assert "Signed in" in await say("lb-m1", f"签到 {code.group(1)}")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert not channel.running
    with assistant.database.session() as session:
        [row] = session.exec(select(Attendance)).all()
    assert row.member_id == world.members["m1"] and row.channel == LOOPBACK


async def test_the_new_channel_pushes_for_the_scheduler(
    with_loopback: None, settings: Settings, assistant: Assistant
) -> None:
    async with push_senders(
        settings, assistant, database=assistant.database, clock=assistant.clock
    ) as senders:
        [sender] = senders
        assert sender.channel == LOOPBACK
        assert (await sender.send(recipient="lb-m1", reply=Reply("hi"))).status is (
            DeliveryStatus.SENT
        )


def test_the_loopback_channel_meets_the_interface(assistant: Assistant) -> None:
    channel: ChatChannel = LoopbackChannel(assistant)
    assert channel.sender.channel == channel.channel
