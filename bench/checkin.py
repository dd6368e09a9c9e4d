"""Check-ins per second through the whole core, against raw sqlite3 commits in the same run.

Run: python -m bench.checkin [--members 2000] [--url sqlite:///...|postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import build_assistant
from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.core.domain import MemberStatus, OrgKind, RoleKind
from bot.core.inbound import Channel, Inbound
from storage.engine import Database
from storage.models import ChatAccount, Member, Organization, Role

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 3, 9, 30, tzinfo=SHANGHAI)


def seed(database: Database, members: int) -> None:
    """Creates one branch whose members are all bound to console accounts; no code needed."""
    with database.session() as session:
        org = Organization(
            code="BENCH",
            name="bench",
            kind=OrgKind.BRANCH,
            created_at=NOW,
            checkin_code_required=False,
        )
        session.add(org)
        session.flush()
        assert org.id is not None
        rows = [
            Member(name=f"m{i}", organization_id=org.id, status=MemberStatus.FULL, created_at=NOW)
            for i in range(members)
        ]
        session.add_all(rows)
        session.flush()
        for i, member in enumerate(rows):
            assert member.id is not None
            session.add(Role(organization_id=org.id, member_id=member.id, role=RoleKind.MEMBER))
            session.add(
                ChatAccount(
                    channel=Channel.CONSOLE,
                    external_id=f"u{i}",
                    member_id=member.id,
                    created_at=NOW,
                    last_seen_at=NOW,
                )
            )


def core_rate(url: str, members: int) -> float:
    """Returns check-ins per second through Assistant.handle (first check-in of every member)."""
    database = Database.connect(url)
    seed(database, members)
    clock = FrozenClock(NOW)
    assistant = build_assistant(
        load_settings(database_url=url, _env_file=None), clock=clock, database=database
    )
    inbounds = [
        Inbound(Channel.CONSOLE, chat_id=f"u{i}", user_id=f"u{i}", text="签到")
        for i in range(members)
    ]
    assistant.handle(inbounds[0])  # creates the meeting: not part of the hot path
    start = time.perf_counter()
    for inbound in inbounds[1:]:
        assistant.handle(inbound)
    elapsed = time.perf_counter() - start
    database.dispose()
    return (members - 1) / elapsed


def raw_sqlite_rate(path: Path, operations: int) -> float:
    """Returns transactions per second of raw sqlite3: one lookup, one insert, one commit."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, external TEXT UNIQUE)")
    connection.execute(
        "CREATE TABLE attendance (meeting INTEGER, member INTEGER, at TEXT, UNIQUE(meeting, member))"
    )
    connection.executemany(
        "INSERT INTO account (external) VALUES (?)", [(f"u{i}",) for i in range(operations)]
    )
    connection.commit()
    start = time.perf_counter()
    for i in range(operations):
        (member,) = connection.execute(
            "SELECT id FROM account WHERE external = ?", (f"u{i}",)
        ).fetchone()
        connection.execute(
            "INSERT INTO attendance VALUES (1, ?, ?) ON CONFLICT DO NOTHING", (member, "now")
        )
        connection.commit()
    elapsed = time.perf_counter() - start
    connection.close()
    return operations / elapsed


def main() -> None:
    """Runs the benchmark and prints the figure, the baseline and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{folder}/bench.db"
        ours = core_rate(url, args.members)
        baseline = raw_sqlite_rate(Path(folder) / "raw.db", args.members)
    backend = url.split(":", 1)[0]
    print(f"check-in through the core ({backend}): {ours:,.0f}/s")
    print(f"baseline raw sqlite3 lookup+insert+commit: {baseline:,.0f}/s")
    print(f"ratio: {ours / baseline:.3f}")


if __name__ == "__main__":
    _ = timedelta
    main()
