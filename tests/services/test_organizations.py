"""Organizations read by scope or by code: only the rows asked for, in code order."""

from __future__ import annotations

from bot.services.organizations import Organizations
from storage.engine import Database
from tests.factories import World


def test_a_scope_reads_its_organizations_alone_in_code_order(
    database: Database, world: World
) -> None:
    with database.session() as session:
        orgs = Organizations(session)
        picked = orgs.among(frozenset({world.orgs["B3"], world.orgs["B1"]}))
        assert [org.code for org in picked] == ["B1", "B3"]
        assert orgs.among(frozenset()) == []
        everyone = orgs.among(frozenset(world.orgs.values()))
        assert [org.code for org in everyone] == sorted(world.orgs)


def test_codes_read_their_organizations_and_skip_unknown_ones(
    database: Database, world: World
) -> None:
    with database.session() as session:
        orgs = Organizations(session)
        assert [org.code for org in orgs.with_codes({"B2", "C", "NOPE"})] == ["B2", "C"]
        assert orgs.with_codes(set()) == []
