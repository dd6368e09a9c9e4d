"""Survival tests' shared helpers: heavy-run switch, PostgreSQL gate, database snapshots, fan-outs."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import col

from bot.core.domain import MemberStatus, OrgKind
from bot.core.inbound import Channel
from storage.engine import Database, make_engine
from storage.models import ChatAccount, Member, Organization

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
POSTGRES_ENV = "GONGJIAN_TEST_POSTGRES_URL"
# Set to 1 for the heavy run: more kills, more pushes, many more fuzz examples.
LONG_ENV = "GONGJIAN_SURVIVAL_LONG"
# Tables whose rows a request may add without changing anything a person sees or owns:
# the record of processed deliveries (platform retries), the audit log and the counts of failed
# binds (a wrong invite code is counted, so that guessing costs something).
BOOKKEEPING = frozenset({"processed_inbound", "audit_log", "alembic_version", "bind_failure"})
# Telegram chat ids of the fan-out's members start here (member i has FIRST_CHAT + i).
FIRST_CHAT = 500_000_000


def long_run() -> bool:
    """Tells whether the heavy variant of the survival suite was asked for."""
    return os.environ.get(LONG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def scaled(normal: int, heavy: int) -> int:
    """Returns the normal or the heavy size of a survival run."""
    return heavy if long_run() else normal


postgres_only = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV), reason=f"set {POSTGRES_ENV} to run on PostgreSQL"
)


def subprocess_env(**variables: str) -> dict[str, str]:
    """Returns an environment for a child process: no GONGJIAN_* from outside, `variables` set."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GONGJIAN_")}
    env.update(variables)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- snapshots -------------------------------------------------------------------------------


Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(database: Database, *, skip: frozenset[str] = BOOKKEEPING) -> Snapshot:
    """Reads every row of every table in the database (except `skip`), in a stable order."""
    found: Snapshot = {}
    with database.engine.connect() as connection:
        for name in sorted(inspect(connection).get_table_names()):
            if name in skip:
                continue
            rows = connection.execute(text(f'SELECT * FROM "{name}"')).all()
            found[name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def differences(before: Snapshot, after: Snapshot) -> dict[str, tuple[int, int]]:
    """Names the tables whose rows changed, with their row counts before and after."""
    return {
        name: (len(before.get(name, [])), len(after.get(name, [])))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


# -- a large fan-out -------------------------------------------------------------------------


def build_fanout(database: Database, *, branches: int, per_branch: int, now: datetime) -> int:
    """Creates `branches` branches of `per_branch` plain members, each with a Telegram account.

    Member number i (from 0) has the Telegram chat id FIRST_CHAT + i. Returns the member count.
    """
    created = now - timedelta(days=365)
    with database.session() as session:
        committee = Organization(
            code="FANC", name="扇出党委", kind=OrgKind.COMMITTEE, created_at=created
        )
        session.add(committee)
        session.flush()
        org_rows = [
            {
                "code": f"F{index:04d}",
                "name": f"扇出第{index}支部",
                "kind": OrgKind.BRANCH,
                "parent_id": committee.id,
                "orglife_ordinal": 1,
                "orglife_weekday": 1,
                "orglife_time": "09:00",
                "orglife_venue": "",
                "holiday_policy": "keep",
                "checkin_code_required": True,
                "created_at": created,
            }
            for index in range(branches)
        ]
        org_ids = list(
            session.execute(
                insert(Organization).returning(col(Organization.id)), org_rows
            ).scalars()
        )
        member_rows = [
            {
                "name": f"党员{org_index:04d}-{seat:02d}",
                "organization_id": org_id,
                "status": MemberStatus.FULL,
                "mobile": False,
                "muted": False,
                "created_at": created,
            }
            for org_index, org_id in enumerate(org_ids)
            for seat in range(per_branch)
        ]
        member_ids = list(
            session.execute(insert(Member).returning(col(Member.id)), member_rows).scalars()
        )
        session.execute(
            insert(ChatAccount),
            [
                {
                    "channel": Channel.TELEGRAM,
                    "external_id": str(FIRST_CHAT + index),
                    "member_id": member_id,
                    "created_at": created,
                }
                for index, member_id in enumerate(member_ids)
            ],
        )
    return len(member_ids)


# -- PostgreSQL administration -----------------------------------------------------------------


def tagged_url(database_url: str, application_name: str) -> str:
    """Returns the URL with an application_name, so the connections it opens can be found."""
    url = make_url(database_url).update_query_dict({"application_name": application_name})
    return url.render_as_string(hide_password=False)


def admin_engine(database_url: str) -> Engine:
    """Opens an unpooled engine to the server of `database_url`, outside any test's name."""
    url = make_url(database_url).difference_update_query(["options", "application_name"])
    return make_engine(url.render_as_string(hide_password=False), pool=False)


def terminate(admin: Engine, *, pids: list[int] | None = None, application_name: str = "") -> int:
    """Ends server processes (given, or named `application_name`) and waits until they are gone.

    To a client this is what a PostgreSQL restart looks like; other sessions on the shared
    server live on. Returns how many were ended.
    """
    if pids is None:
        with admin.connect() as connection:
            pids = [
                int(pid)
                for pid in connection.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity"
                        " WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": application_name},
                ).scalars()
            ]
    ended = 0
    with admin.connect() as connection:
        for pid in pids:
            # The timeout makes the call wait until the process has really exited.
            ended += bool(
                connection.execute(
                    text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
                ).scalar_one()
            )
    return ended
