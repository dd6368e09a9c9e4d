"""`gongjian pairing|alliance|org set|member list`: the set-up doors of the command line."""

from __future__ import annotations

import json
from datetime import time

import pytest
import typer
from sqlmodel import select

from bot.cli import app
from bot.core.domain import OrgKind, PairingForm
from bot.services.meetings import Meetings
from storage.engine import Database
from storage.models import AuditEntry, Meeting, Organization, Pairing
from tests.conftest import SHANGHAI
from tests.factories import World, add_org
from tests.services.test_compliance import HOLIDAYS
from tests.services.test_structure import NOW
from tests.test_cli_members import Cli
from tests.test_cli_members import cli as members_cli

cli = members_cli


def test_pairing_add_edit_end_and_list(cli: Cli, world: World, database: Database) -> None:
    added = cli.ok(
        "pairing",
        "add",
        "jd-1",
        "--name",
        "政企联建",
        "--lead",
        "B1",
        "--partner",
        "B2",
        "--partner",
        "B3",
        "--start",
        "2026-05-01",
        "--term-months",
        "12",
    )
    assert "Pairing JD-1 added." in added.output
    with database.session() as session:
        pairing = session.exec(select(Pairing).where(Pairing.code == "JD-1")).one()
        # Several partners without --form: one-to-many.
        assert pairing.form is PairingForm.ONE_TO_MANY
        assert (
            pairing.agreement_end is not None and pairing.agreement_end.isoformat() == "2027-04-30"
        )
    assert "already exists" in cli.refused(
        "pairing",
        "add",
        "JD-1",
        "--name",
        "x",
        "--lead",
        "B1",
        "--partner",
        "B2",
        "--start",
        "2026-05-01",
        code=1,
    )
    assert "at least two partners, not 1" in cli.refused(
        "pairing", "edit", "JD-1", "--partner", "B4", code=1
    )
    cli.ok("pairing", "edit", "JD-1", "--visits", "4", "--partner", "B4", "--form", "1:1")
    cli.ok("pairing", "end", "JD-1", "--on", "2026-12-31")
    (listed,) = [
        p for p in json.loads(cli.ok("pairing", "list", "--json").output) if p["code"] == "JD-1"
    ]
    assert listed["orgs"] == ["B1", "B4"]
    assert listed["visit_target"] == 4
    assert listed["agreement_end"] == "2026-12-31"
    assert listed["missing_liaisons"] == ["B4"]
    table = cli.ok("pairing", "list").output
    assert "JD-1" in table and "one-to-one (一对一)" in table
    with database.session() as session:
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.subject == "pairing:JD-1")
        ).all()
    assert sorted(actions) == ["pairing.add", "pairing.edit", "pairing.end"]


def test_pairing_refusals_name_the_problem(cli: Cli, world: World) -> None:
    assert "exactly one partner" in cli.refused(
        "pairing",
        "add",
        "JD-2",
        "--name",
        "x",
        "--form",
        "一对一",
        "--lead",
        "B1",
        "--partner",
        "B2,B3",
        "--start",
        "2026-05-01",
        code=1,
    )
    assert "Missing options: --name, --start" in cli.refused(
        "pairing", "add", "JD-2", "--lead", "B1", "--partner", "B2"
    )
    assert "not a date" in cli.refused(
        "pairing",
        "add",
        "JD-2",
        "--name",
        "x",
        "--lead",
        "B1",
        "--partner",
        "B2",
        "--start",
        "May",
    )


def test_alliance_needs_five_to_seven_presidents(cli: Cli, database: Database) -> None:
    with database.session() as session:
        for code in ("P1", "P2", "P3", "P4", "P5", "M1"):
            add_org(session, code=code, name=code, kind=OrgKind.BRANCH, parent=None, now=NOW)
    refused = cli.refused(
        "alliance",
        "add",
        "HW",
        "--name",
        "江海红湾",
        "--president",
        "P1,P2,P3,P4",
        "--start",
        "2026-01-01",
        code=1,
    )
    assert refused == "An alliance has 5 to 7 president units (会长单位); 4 were given."
    cli.ok(
        "alliance",
        "add",
        "HW",
        "--name",
        "江海红湾",
        "--president",
        "P2,P1,P3,P4,P5",
        "--member",
        "M1",
        "--start",
        "2026-01-01",
        "--term-months",
        "6",
    )
    (listed,) = json.loads(cli.ok("alliance", "list", "--json").output)
    assert listed["executive"] == "P2"
    assert listed["members"] == ["M1"]
    assert listed["convener_rule"] == "executive"
    cli.ok("alliance", "edit", "HW", "--convener", "rotation", "--duty-period", "quarter")
    (listed,) = json.loads(cli.ok("alliance", "list", "--json").output)
    assert (listed["convener_rule"], listed["duty_period"]) == ("rotation", "quarter")
    assert listed["presidents"] == ["P2", "P1", "P3", "P4", "P5"]


@pytest.mark.parametrize("group", ["pairing", "alliance"])
def test_add_and_edit_take_the_same_options(group: str) -> None:
    commands = typer.main.get_group(app).commands[group]
    assert isinstance(commands, typer.core.TyperGroup)
    add, edit = (commands.commands[name] for name in ("add", "edit"))
    assert [param.opts for param in add.params] == [param.opts for param in edit.params]
    assert add.help != edit.help


def test_org_set_and_member_list(cli: Cli, world: World, database: Database) -> None:
    assert (
        "B1: orglife.time is now 14:30."
        in cli.ok("org", "set", "b1", "orglife.time", "14:30").output
    )
    cli.ok("org", "set", "B1", "venue", "党群服务中心")
    assert "not a time of day" in cli.refused("org", "set", "B1", "orglife.time", "2pm", code=1)
    with database.session() as session:
        org = session.get_one(Organization, world.orgs["B1"])
    assert (org.orglife_time, org.orglife_venue) == ("14:30", "党群服务中心")
    members = json.loads(cli.ok("member", "list", "--org", "B2", "--json").output)
    assert [(m["name"], m["roles"]) for m in members] == [
        ("m3", ["member"]),
        ("sec2", ["secretary", "member"]),
    ]
    cli.ok("org", "set", "B2", "liaison", str(members[0]["id"]))
    table = cli.ok("member", "list").output
    assert "sec" in table and "Liaison officer" in table
    assert "No organization has the code ZZ." in cli.refused(
        "member", "list", "--org", "zz", code=1
    )


def test_org_set_moves_the_org_life_days_planned_at_the_old_time(
    cli: Cli, world: World, database: Database
) -> None:
    # Far enough ahead to lie after the real clock the command line reads.
    with database.session() as session:
        meetings = Meetings(session, holidays=HOLIDAYS, tz=SHANGHAI)
        b1 = session.get_one(Organization, world.orgs["B1"])
        planned = meetings.ensure_org_life(b1, 2030, 1)
    cli.ok("org", "set", "B1", "orglife.time", "14:30")
    with database.session() as session:
        moved = session.get_one(Meeting, planned.id)
        [audit] = session.exec(
            select(AuditEntry).where(AuditEntry.action == "meeting.reschedule")
        ).all()
    assert moved.starts_at.astimezone(SHANGHAI).time() == time(14, 30)
    assert (audit.subject, audit.actor_id) == (f"meeting:{planned.id}", None)


def test_member_invite_binds_the_stored_member(cli: Cli, world: World) -> None:
    invite = json.loads(cli.ok("member", "invite", str(world.members["m3"]), "--json").output)
    assert (invite["name"], invite["org"], invite["member_id"]) == ("m3", "B2", world.members["m3"])
    assert "Invite for m3 (B2):" in cli.ok("member", "invite", str(world.members["m3"])).output
    assert "No current member has the id 999." in cli.refused("member", "invite", "999", code=1)
