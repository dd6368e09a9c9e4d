"""What an organization owes, built for it alone, is what the rules owe it among everyone's."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.services.obligations.facts import Part, load_facts
from bot.services.obligations.rules import obligations, pending_for
from storage.engine import Database
from tests.factories import World
from tests.scheduler.test_facts import MOMENTS, _widen
from tests.scheduler.test_rules import HOLIDAYS


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.strftime("%m-%d"))
def test_pending_for_one_owner_is_the_filtered_whole(
    database: Database, world: World, moment: datetime
) -> None:
    _widen(database, world)
    with database.session() as session:
        facts = load_facts(session, now=moment, holidays=HOLIDAYS, parts=Part.ALL)
    everyone = list(obligations(facts))
    assert any(o.listed for o in everyone)
    for org_id in facts.orgs:
        expected = [o for o in everyone if o.listed and org_id in o.owners]
        assert pending_for(facts, org_id) == expected, org_id
