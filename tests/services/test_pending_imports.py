"""Checked district files in the database: bound to one owner and one digest, handed out once."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select, update

from bot.core.clock import FrozenClock
from bot.services.console_access import ConsoleAccess
from bot.services.pending_imports import Refusal, Upload, claim_upload, digest, keep_upload
from bot.services.privacy import erase_member, export_member
from storage.console import PendingImport
from storage.engine import Database
from tests.factories import World

ROSTER = "组织代码,姓名\nB1,王五\n".encode()


def account(database: Database, clock: FrozenClock) -> int:
    """Adds a console account of committee staff; returns its id."""
    with database.session() as session:
        return ConsoleAccess(session, clock.now(), idle=timedelta(minutes=30)).add_account(
            login="staff", name="组织委员", org_code="C", password="correct horse battery"
        )


def test_a_members_file_goes_to_that_member_once_and_to_nobody_else(
    database: Database, world: World, clock: FrozenClock
) -> None:
    sec, staff = world.members["sec"], account(database, clock)
    with database.session() as session:
        kept = keep_upload(
            session, member_id=sec, account_id=None, name="党员.csv", data=ROSTER, now=clock.now()
        )
    assert kept.sha256 == digest(ROSTER)
    with database.session() as session:
        foreign = claim_upload(
            session,
            token=kept.token,
            sha256=kept.sha256,
            member_id=None,
            account_id=staff,
            now=clock.now(),
        )
        assert foreign is Refusal.FOREIGN
        other_member = claim_upload(
            session,
            token=kept.token,
            sha256=kept.sha256,
            member_id=world.members["sec2"],
            account_id=None,
            now=clock.now(),
        )
        assert other_member is Refusal.FOREIGN
    with database.session() as session:
        mine = claim_upload(
            session,
            token=kept.token,
            sha256=kept.sha256,
            member_id=sec,
            account_id=None,
            now=clock.now(),
        )
    assert mine == Upload(name="党员.csv", data=ROSTER)
    with database.session() as session:
        again = claim_upload(
            session,
            token=kept.token,
            sha256=kept.sha256,
            member_id=sec,
            account_id=None,
            now=clock.now(),
        )
    assert again is Refusal.GONE


def test_stored_bytes_that_changed_are_refused_and_dropped(
    database: Database, world: World, clock: FrozenClock
) -> None:
    staff = account(database, clock)
    with database.session() as session:
        kept = keep_upload(
            session, member_id=None, account_id=staff, name="党员.csv", data=ROSTER, now=clock.now()
        )
    with database.session() as session:
        session.execute(update(PendingImport).values(data=ROSTER + b"B1,,,,,\n"))
    with database.session() as session:
        refused = claim_upload(
            session,
            token=kept.token,
            sha256=kept.sha256,
            member_id=None,
            account_id=staff,
            now=clock.now(),
        )
    assert refused is Refusal.TAMPERED
    with database.session() as session:
        assert session.exec(select(PendingImport)).first() is None


def test_a_members_export_names_the_waiting_file_without_its_rows_and_erasure_drops_it(
    database: Database, world: World, clock: FrozenClock
) -> None:
    sec = world.members["sec"]
    with database.session() as session:
        keep_upload(
            session, member_id=sec, account_id=None, name="党员.csv", data=ROSTER, now=clock.now()
        )
    with database.session() as session:
        data = export_member(session, sec, now=clock.now())
    tables = data["tables"]
    assert isinstance(tables, dict)
    [row] = tables["pending_import"]
    assert row["file_name"] == "党员.csv" and row["sha256"] == digest(ROSTER)
    text = json.dumps(data, ensure_ascii=False, default=str)
    assert "王五" not in text and "token_hash" not in text
    with database.session() as session:
        erasure = erase_member(session, sec, now=clock.now())
    assert erasure.deleted["pending_import"] == 1
    with database.session() as session:
        assert session.exec(select(PendingImport)).first() is None
