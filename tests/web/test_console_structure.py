"""Pairings and alliances in the console: committee staff set them up, secretaries read them."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest
from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.core.domain import OrgKind, PairingForm, UnitKind
from bot.engine.assistant import Assistant
from bot.services.console_access import ConsoleAccess
from storage.engine import Database
from storage.models import Alliance, AllianceUnit, AuditEntry, Organization, Pairing, PairingOrg
from tests.factories import World, add_org
from tests.web.conftest import sign_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


@pytest.fixture
def district(database: Database, world: World, clock: FrozenClock) -> World:
    """The test world with two more branches under C, and another committee with its pairing."""
    with database.session() as session:
        for code in ("B5", "B6"):
            world.orgs[code] = add_org(
                session,
                code=code,
                name=f"{code}支部",
                kind=OrgKind.BRANCH,
                parent=world.orgs["C"],
                now=clock.now(),
            )
        world.orgs["C2"] = add_org(
            session,
            code="C2",
            name="别的党委",
            kind=OrgKind.COMMITTEE,
            parent=None,
            now=clock.now(),
        )
        for code in ("X1", "X2"):
            world.orgs[code] = add_org(
                session,
                code=code,
                name=f"{code}外支部",
                kind=OrgKind.BRANCH,
                parent=world.orgs["C2"],
                now=clock.now(),
            )
        pairing = Pairing(
            code="PX",
            name="别处结对",
            lead_org_id=world.orgs["X1"],
            agreement_start=date(2026, 1, 1),
        )
        session.add(pairing)
        session.flush()
        assert pairing.id is not None
        for code in ("X1", "X2"):
            session.add(PairingOrg(pairing_id=pairing.id, organization_id=world.orgs[code]))
        access = ConsoleAccess(session, clock.now(), idle=timedelta(minutes=30))
        access.add_account(login="staff", name="组织委员", org_code="C", password=PASSWORD)
        access.add_account(login="staff2", name="别处委员", org_code="C2", password=PASSWORD)
    return world


async def staff(client: httpx.AsyncClient, login: str = "staff") -> str:
    """Signs committee staff in with a password; returns the session's form token."""
    form = await client.get("/console/login")
    found = FORM_TOKEN.search(form.text)
    assert found
    signed = await client.post(
        "/console/login",
        data={"form_token": found.group(1), "login": login, "password": PASSWORD},
    )
    assert signed.status_code == 303
    return csrf_of((await client.get("/console/structure")).text)


def csrf_of(page: str) -> str:
    """Returns the form token a page carries."""
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


def pairing_form(csrf: str, **changes: str) -> dict[str, str]:
    """A filled-in pairing form."""
    return {
        "csrf": csrf,
        "code": "JD-2026-01",
        "name": "政企联建",
        "form": "",
        "lead": "B3",
        "partners": "B4、B5",
        "start": "2026-05-01",
        "end": "2027-04-30",
        "visits": "3",
        "goals": "共建共享",
    } | changes


def alliance_form(csrf: str, **changes: str) -> dict[str, str]:
    """A filled-in alliance form."""
    return {
        "csrf": csrf,
        "code": "NEWALLY",
        "name": "滨江联盟",
        "presidents": "B5, B4, B3, B2, B1",
        "members": "B6",
        "start": "2027-01-01",
        "term": "6",
        "period": "quarter",
        "convener": "rotation",
        "theme_order": "",
    } | changes


async def test_staff_create_a_pairing_and_edit_it_from_a_prefilled_form(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    made = await client.post("/console/structure/pairings/new", data=pairing_form(csrf))
    assert made.status_code == 303
    assert made.headers["location"] == "/console/structure?saved=JD-2026-01"
    listed = await client.get(made.headers["location"])
    assert "JD-2026-01" in listed.text and "政企联建" in listed.text
    with database.session() as session:
        pairing = session.exec(select(Pairing).where(Pairing.code == "JD-2026-01")).one()
        assert pairing.form is PairingForm.ONE_TO_MANY
        assert pairing.lead_org_id == district.orgs["B3"]
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "pairing.add")).all()
        assert audit.subject == "pairing:JD-2026-01"
    form = await client.get("/console/structure/pairings/JD-2026-01")
    assert form.status_code == 200
    assert 'value="B4, B5"' in form.text and 'value="2027-04-30"' in form.text
    edited = await client.post(
        "/console/structure/pairings/JD-2026-01",
        data=pairing_form(csrf, name="政企联建（续）", partners="B4", form="one_to_one", code="X"),
    )
    assert edited.status_code == 303
    with database.session() as session:
        pairing = session.exec(select(Pairing).where(Pairing.code == "JD-2026-01")).one()
        assert (pairing.name, pairing.form) == ("政企联建（续）", PairingForm.ONE_TO_ONE)
        assert session.exec(select(Pairing).where(Pairing.code == "X")).first() is None


async def test_an_alliance_outside_five_to_seven_presidents_comes_back_with_the_input(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    refused = await client.post(
        "/console/structure/alliances/new",
        data=alliance_form(csrf, presidents="B1, B2, B3, B4"),
    )
    assert refused.status_code == 400
    assert "党建联盟的会长单位应为5至7个，现为4个。" in refused.text
    assert 'value="B1, B2, B3, B4"' in refused.text and 'value="滨江联盟"' in refused.text
    assert 'id="f-presidents" name="presidents" value="B1, B2, B3, B4" type="text"' in refused.text
    assert 'aria-invalid="true" aria-describedby="f-presidents-error"' in refused.text
    english = await client.post(
        "/console/structure/alliances/new?lang=en",
        data=alliance_form(csrf, presidents="B1,B2,B3,B4,B5,B1", members="B6"),
    )
    assert english.status_code == 400
    assert "These units are listed twice: B1." in english.text
    with database.session() as session:
        assert session.exec(select(Alliance).where(Alliance.code == "NEWALLY")).first() is None


async def test_staff_create_an_alliance_with_its_executive_order_and_rules(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    made = await client.post("/console/structure/alliances/new", data=alliance_form(csrf))
    assert made.status_code == 303
    with database.session() as session:
        alliance = session.exec(select(Alliance).where(Alliance.code == "NEWALLY")).one()
        assert (alliance.executive_term_months, alliance.convener_rotation) == (6, True)
        units = session.exec(
            select(AllianceUnit)
            .where(AllianceUnit.alliance_id == alliance.id)
            .order_by(AllianceUnit.rotation_order)  # type: ignore[arg-type]
        ).all()
        assert [u.organization_id for u in units][:2] == [district.orgs["B5"], district.orgs["B4"]]
        assert [u.kind for u in units].count(UnitKind.PRESIDENT) == 5
    page = (await client.get("/console/structure")).text
    assert "滨江联盟" in page


async def test_editing_the_units_starts_the_theme_order_again(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    form = await client.get("/console/structure/alliances/ALLY")
    assert form.status_code == 200
    assert 'value="B1, B2, B3"' in form.text and 'value="B1, B2, B3, B4"' in form.text
    saved = await client.post(
        "/console/structure/alliances/ALLY",
        data=alliance_form(
            csrf,
            name="红湾联盟",
            presidents="B1, B2, B3, B5, B6",
            members="B4",
            theme_order="B1, B2, B3, B4",
        ),
    )
    assert saved.status_code == 303, saved.text
    with database.session() as session:
        units = session.exec(
            select(Organization.code)
            .join(AllianceUnit, AllianceUnit.organization_id == Organization.id)  # type: ignore[arg-type]
            .where(AllianceUnit.alliance_id == district.alliance_id)
            .order_by(AllianceUnit.rotation_order)  # type: ignore[arg-type]
        ).all()
        assert list(units) == ["B1", "B2", "B3", "B5", "B6", "B4"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"partners": "B4、NOPE"}, "partners", "你管辖的组织中没有代码为NOPE的组织。"),
        ({"partners": "B4、X1"}, "partners", "你管辖的组织中没有代码为X1的组织。"),
        ({"lead": "X2"}, "lead", "你管辖的组织中没有代码为X2的组织。"),
        ({"code": "P1"}, "code", "代码为P1的结对已存在"),
        ({"start": "2026-13-01"}, "start", "2026-13-01"),
        ({"name": ""}, "name", "不能为空"),
        ({"form": "one_to_one"}, "partners", "一对一"),
    ],
)
async def test_bad_pairings_are_explained_next_to_their_field(
    client: httpx.AsyncClient,
    district: World,
    database: Database,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    csrf = await staff(client)
    refused = await client.post(
        "/console/structure/pairings/new", data=pairing_form(csrf, **changes)
    )
    assert refused.status_code == 400
    error = re.search(
        rf'<p class="error field-error" id="f-{field}-error">([^<]+)</p>', refused.text
    )
    assert error, refused.text
    assert message in error.group(1)
    for value in pairing_form(csrf, **changes).values():
        if value and value != csrf:
            assert value in refused.text
    with database.session() as session:
        assert session.exec(select(Pairing).where(Pairing.code == "JD-2026-01")).first() is None


async def test_another_committees_pairings_are_not_found(
    client: httpx.AsyncClient, district: World
) -> None:
    csrf = await staff(client)
    assert "PX" not in (await client.get("/console/structure")).text
    assert (await client.get("/console/structure/pairings/PX")).status_code == 404
    assert (await client.get("/console/structure/pairings/NOPE")).status_code == 404
    edit = await client.post(
        "/console/structure/pairings/PX", data=pairing_form(csrf, lead="X1", partners="X2")
    )
    assert edit.status_code == 404
    end = await client.post(
        "/console/structure/pairings/PX/end", data={"csrf": csrf, "confirm": "1"}
    )
    assert end.status_code == 404


async def test_a_pairing_ends_on_a_day_after_a_confirmation(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    unsure = await client.post(
        "/console/structure/pairings/P1/end", data={"csrf": csrf, "on": "2026-12-31"}
    )
    assert unsure.status_code == 400 and 'id="end-problem"' in unsure.text
    early = await client.post(
        "/console/structure/pairings/P1/end",
        data={"csrf": csrf, "on": "2025-12-31", "confirm": "1"},
    )
    assert early.status_code == 400 and 'value="2025-12-31"' in early.text
    ended = await client.post(
        "/console/structure/pairings/P1/end",
        data={"csrf": csrf, "on": "2026-12-31", "confirm": "1"},
    )
    assert ended.headers["location"] == "/console/structure?ended=P1"
    with database.session() as session:
        assert session.get_one(Pairing, district.pairing_id).agreement_end == date(2026, 12, 31)


async def test_forms_without_the_session_token_are_refused(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    await staff(client)
    for path in (
        "/console/structure/pairings/new",
        "/console/structure/pairings/P1",
        "/console/structure/pairings/P1/end",
        "/console/structure/alliances/new",
    ):
        refused = await client.post(path, data=pairing_form("forged", confirm="1"))
        assert refused.status_code == 403, path
    with database.session() as session:
        assert session.get_one(Pairing, district.pairing_id).agreement_end is None


async def test_a_secretary_reads_her_own_pairings_and_alliances_and_changes_nothing(
    client: httpx.AsyncClient, assistant: Assistant, district: World
) -> None:
    await sign_in(client, assistant, district, "sec")
    page = await client.get("/console/structure")
    assert page.status_code == 200
    assert "一支部-二支部结对" in page.text and "红湾联盟" in page.text and "PX" not in page.text
    assert "/console/structure/pairings/new" not in page.text
    assert "/console/structure/pairings/P1" not in page.text
    csrf = csrf_of(page.text)
    assert (await client.get("/console/structure/pairings/new")).status_code == 403
    assert (await client.get("/console/structure/pairings/P1")).status_code == 403
    for path in ("/console/structure/pairings/new", "/console/structure/pairings/P1"):
        assert (await client.post(path, data=pairing_form(csrf))).status_code == 403
    end = await client.post(
        "/console/structure/pairings/P1/end", data={"csrf": csrf, "confirm": "1"}
    )
    assert end.status_code == 403


async def test_a_member_is_refused(
    client: httpx.AsyncClient,
    assistant: Assistant,
    district: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    from tests.web.test_console_matrix import signed_in  # noqa: PLC0415 (the matrix forges members)

    await signed_in("member", client, assistant, district, database, clock)
    assert (await client.get("/console/structure")).status_code == 403
    assert (await client.get("/console/structure/pairings/new")).status_code == 403
