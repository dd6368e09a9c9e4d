"""Organization pickers: the principal's scope, read alone, however large the city around it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.core.clock import FrozenClock
from bot.core.domain import OrgKind
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Organization
from tests.factories import World, add_org
from tests.web.conftest import sign_in
from tests.web.test_console_structure import district, staff

__all__ = ["district"]

# Branches of another committee: the city around a committee's scope.
ELSEWHERE = 60
OPTION = re.compile(r'<option value="([A-Z0-9-]+)"')
CODE_ROW = re.compile(r"<tr><td>([A-Z0-9-]+)</td><td>")


@pytest.fixture
def city(district: World, database: Database, clock: FrozenClock) -> World:
    """The district, with many more branches under the other committee (C2)."""
    with database.session() as session:
        for index in range(ELSEWHERE):
            code = f"Y{index:02d}"
            district.orgs[code] = add_org(
                session,
                code=code,
                name=f"{code}支部",
                kind=OrgKind.BRANCH,
                parent=district.orgs["C2"],
                now=clock.now(),
            )
    return district


@contextmanager
def organizations_loaded() -> Iterator[list[str]]:
    """Collects the code of every organization row the database hands to the ORM meanwhile."""
    loaded: list[str] = []

    def note(_session: Session, instance: object) -> None:
        if isinstance(instance, Organization):
            loaded.append(instance.code)

    event.listen(Session, "loaded_as_persistent", note)
    try:
        yield loaded
    finally:
        event.remove(Session, "loaded_as_persistent", note)


# C's staff see C and its six branches; C2 and its branches are out of scope.
SCOPE = {"C", "B1", "B2", "B3", "B4", "B5", "B6"}


@pytest.mark.parametrize(
    ("path", "listed"),
    [
        ("/console/meetings", OPTION),
        ("/console/ledger", OPTION),
        ("/console/reminders", OPTION),
        ("/console/structure/pairings/new", CODE_ROW),
        ("/console/structure/alliances/ALLY", CODE_ROW),
    ],
)
async def test_a_committees_pickers_read_its_scope_and_not_the_city(
    path: str, listed: re.Pattern[str], client: httpx.AsyncClient, city: World
) -> None:
    await staff(client)
    with organizations_loaded() as loaded:
        page = await client.get(path)
    assert page.status_code == 200
    picked = set(listed.findall(page.text))
    assert picked >= SCOPE and picked & {"C2", "X1", "Y00"} == set()
    assert set(loaded) <= SCOPE, sorted(set(loaded) - SCOPE)


async def test_the_pairings_list_names_only_the_organizations_it_shows(
    client: httpx.AsyncClient, city: World
) -> None:
    await staff(client)
    with organizations_loaded() as loaded:
        page = await client.get("/console/structure")
    assert page.status_code == 200 and "第1支部" in page.text
    assert set(loaded) <= SCOPE, sorted(set(loaded) - SCOPE)


async def test_a_branch_secretary_reads_only_their_branch_and_its_committee(
    client: httpx.AsyncClient, assistant: Assistant, city: World
) -> None:
    await sign_in(client, assistant, city, "sec")
    for path in ("/console/meetings", "/console/ledger", "/console/reminders"):
        with organizations_loaded() as loaded:
            page = await client.get(path)
        assert page.status_code == 200
        # The ledger names the branch under its committee (C), as its documents do.
        assert set(loaded) <= {"B1", "C"}, (path, sorted(set(loaded)))
