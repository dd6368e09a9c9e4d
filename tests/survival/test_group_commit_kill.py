"""A server killed with SIGKILL in the middle of a group commit loses no acknowledged check-in.

A real WeChat callback server (`tests/survival/checkin_server.py`, safe mode, SQLite) takes a
burst of every member's check-in at once; its core answers them in groups, one transaction and
one commit a group, and says on stdout when a group has committed. As soon as one group of
several has committed, with most of the burst still queued, the server is killed. Every
callback that was answered with its sign-in must be in the database; the ones that were not
are sent again (as WeChat retries, to a restarted server) and each member ends up signed in
exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterable

from sqlalchemy import func
from sqlmodel import col, select

from bench.cityscale import TINY_CITY, TODAY, city_database
from bench.wechat_ack import NOW, post
from bot.core.domain import AttendanceStatus
from bot.core.inbound import Channel
from storage.engine import Database
from storage.models import Attendance, ChatAccount, Meeting
from tests.fakes.wechat_api import Callback, WeChatServer
from tests.survival.conftest import PYTHON, ROOT, subprocess_env

STEP_TIMEOUT = 60.0
# Answers to wait for before the kill.
ACKNOWLEDGED = 10


class Server:
    """The callback server process and the lines it printed."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.groups: list[int] = []
        self.committed_group = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, url: str) -> AsyncIterator[Server]:
        """Starts the server on the database; kills it at the end if it still runs."""
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "tests.survival.checkin_server",
            url,
            cwd=ROOT,
            env=subprocess_env(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), STEP_TIMEOUT)
        assert line.startswith(b"PORT "), line
        server = cls(process, int(line.split()[1]))
        try:
            yield server
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
            server._reader.cancel()

    async def _read(self) -> None:
        """Notes every committed group's size."""
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            if line.startswith(b"GROUP "):
                self.groups.append(int(line.split()[1]))
                if self.groups[-1] > 1:
                    self.committed_group.set()

    def kill(self) -> None:
        """Kills the server with SIGKILL: no shutdown, no commit of the group in hand."""
        self.process.send_signal(signal.SIGKILL)


async def answered(port: int, callback: Callback) -> bytes | None:
    """Posts a callback; returns the passive reply, None when the server died first."""
    try:
        status, content = await post(port, "/wechat", callback)
    except (ConnectionError, OSError, IndexError, ValueError):
        return None
    return content if status == 200 and content not in (b"", b"success") else None


async def some_answered(replies: Iterable[asyncio.Future[bytes | None]], count: int) -> None:
    """Returns once `count` of the replies came back with an answer."""
    pending = set(replies)
    got = 0
    while got < count and pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        got += sum(1 for reply in done if reply.result() is not None)


def signed_in(database: Database, accounts: list[str]) -> dict[str, int]:
    """Counts today's sign-ins of each WeChat account."""
    with database.session() as session:
        rows = session.exec(
            select(ChatAccount.external_id, func.count())
            .join(Attendance, col(Attendance.member_id) == col(ChatAccount.member_id))
            .join(Meeting, col(Meeting.id) == col(Attendance.meeting_id))
            .where(
                col(ChatAccount.channel) == Channel.WECHAT,
                col(ChatAccount.external_id).in_(accounts),
                col(Attendance.status) == AttendanceStatus.PRESENT,
                col(Meeting.held_on) == TODAY,
            )
            .group_by(col(ChatAccount.external_id))
        ).all()
    return {account: count for account, count in rows}


async def test_a_kill_mid_group_loses_no_acknowledged_check_in() -> None:
    with city_database("sqlite", TINY_CITY) as (url, city):
        members = city.checkers(Channel.WECHAT)
        accounts = [member.external_id for member in members]
        platform = WeChatServer(now=lambda: int(NOW.timestamp()), safe=True)
        sent = {m.external_id: (platform.next_id(), m.checkin_text) for m in members}
        callbacks = {
            account: platform.text(account, text, msg_id=msg_id)
            for account, (msg_id, text) in sent.items()
        }
        async with Server.running(url) as server:
            burst = {
                account: asyncio.ensure_future(answered(server.port, callback))
                for account, callback in callbacks.items()
            }
            await asyncio.wait_for(server.committed_group.wait(), STEP_TIMEOUT)
            # Some answers of that group reach the platform; the next group is under way.
            await asyncio.wait_for(some_answered(burst.values(), ACKNOWLEDGED), STEP_TIMEOUT)
            server.kill()
            replies = dict(zip(burst, await asyncio.gather(*burst.values()), strict=True))
        acknowledged = [account for account, reply in replies.items() if reply is not None]
        unanswered = [account for account, reply in replies.items() if reply is None]
        # The kill came mid-burst, after a group of several committed: some answers went out,
        # not all of the burst's.
        assert max(server.groups) > 1
        assert acknowledged
        assert unanswered
        database = Database.connect(url, migrate=False)
        try:
            recorded = signed_in(database, accounts)
            # Nothing acknowledged is lost.
            assert [account for account in acknowledged if recorded.get(account) != 1] == []
            # WeChat sends the unanswered messages again (same MsgId): each is answered once.
            async with Server.running(url) as server:
                again = [
                    platform.text(account, sent[account][1], msg_id=sent[account][0])
                    for account in unanswered
                ]
                retried = await asyncio.gather(*(answered(server.port, cb) for cb in again))
            assert all(reply is not None for reply in retried)
            assert signed_in(database, accounts) == dict.fromkeys(accounts, 1)
        finally:
            database.dispose()
