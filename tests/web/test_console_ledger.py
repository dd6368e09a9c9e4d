"""The ledger desk in the console: entries with photos, the files, "submitted", in scope only."""

from __future__ import annotations

import io
import re
from datetime import date
from urllib.parse import quote

import docx
import httpx
import openpyxl
from sqlmodel import select

from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.inbound import InboundImage
from bot.engine.assistant import Assistant
from bot.services.ledger_book import XLSX_MIME
from bot.services.photos import PhotoStore, attach_photos, save_photos
from storage.engine import Database
from storage.models import AuditEntry
from storage.reminders import Filing, FilingMethod
from tests.factories import World
from tests.services.test_photos import JPEG, png
from tests.services.test_stats import add_activity, at
from tests.web.conftest import sign_in
from tests.web.test_console_matrix import signed_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def add_photo(
    database: Database, settings: Settings, world: World, *, activity: int, content: bytes
) -> int:
    """Stores a photo as m1 sent it and attaches it to a ledger entry; returns its id."""
    with database.session() as session:
        [saved] = save_photos(
            session,
            PhotoStore(settings.photo_root, settings.photo_max_bytes),
            member_id=world.members["m1"],
            images=[InboundImage(content)],
            now=at(2026, 10, 12),
        )
        attach_photos(
            session, member_id=world.members["m1"], photo_ids=[saved.id], activity_id=activity
        )
    return saved.id


async def csrf_of(client: httpx.AsyncClient) -> str:
    """Reads the session's form token from the overview."""
    found = CSRF.search((await client.get("/console/")).text)
    assert found
    return found.group(1)


def ledger_cell(overview: str, org_name: str) -> str:
    """Returns the overview's Ledger (台账) cell of an organization's row."""
    head = re.search(r"<thead>(.*?)</thead>", overview, re.S)
    assert head
    columns = re.findall(r"<th[^>]*>(.*?)</th>", head.group(1), re.S)
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", overview, re.S) if org_name in r)
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    return re.sub(r"<[^>]+>", "", cells[columns.index("台账")]).strip()


async def test_a_secretary_sees_the_quarters_entries_with_their_photos(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    settings: Settings,
) -> None:
    entry = add_activity(
        database, org=world.orgs["B1"], day=date(2026, 10, 12), title="重温入党誓词"
    )
    photo = add_photo(database, settings, world, activity=entry, content=png(7))
    add_activity(database, org=world.orgs["B1"], day=date(2026, 9, 30), title="上季度的活动")
    await sign_in(client, assistant, world, "sec")
    page = await client.get("/console/ledger")
    assert page.status_code == 200
    assert "第1支部" in page.text and "重温入党誓词" in page.text
    assert "上季度的活动" not in page.text
    assert f'src="/console/ledger/photos/{photo}"' in page.text
    assert "/console/ledger/submitted" in page.text
    image = await client.get(f"/console/ledger/photos/{photo}")
    assert image.status_code == 200 and image.content == png(7)
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in image.headers["cache-control"]
    assert "private" in image.headers["cache-control"]
    earlier = await client.get("/console/ledger?org=B1&quarter=2026Q3")
    assert earlier.status_code == 200 and "上季度的活动" in earlier.text


async def test_the_workbook_downloads_and_opens_with_openpyxl(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    add_activity(database, org=world.orgs["B1"], day=date(2026, 10, 12), title="重温入党誓词")
    await sign_in(client, assistant, world, "sec")
    response = await client.get("/console/ledger/workbook?org=B1&quarter=2026Q4")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX_MIME
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('台账-第1支部-2026Q4.xlsx')}" in disposition
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    texts = [
        str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
    ]
    assert any("第1支部" in text for text in texts)
    assert any("重温入党誓词" in text for text in texts)
    with database.session() as session:
        actions = session.exec(select(AuditEntry.action)).all()
        # Reading the ledger is no submission: the nudges go on until it is marked.
        assert session.exec(select(Filing)).all() == []
    assert "ledger.download" in actions


async def test_the_year_summary_downloads_and_opens_with_python_docx(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    response = await client.get("/console/ledger/summary?org=B1&year=2026")
    assert response.status_code == 200
    assert response.headers["content-type"] == DOCX_MIME
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    assert quote("第1支部") in response.headers["content-disposition"]
    document = docx.Document(io.BytesIO(response.content))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert "第1支部" in text
    ahead = await client.get("/console/ledger/summary?org=B1&year=2027")
    assert ahead.status_code == 400 and 'role="alert"' in ahead.text
    bad = await client.get("/console/ledger/summary?org=B1&year=twenty")
    assert bad.status_code == 400 and "twenty" in bad.text
    with database.session() as session:
        actions = session.exec(select(AuditEntry.action)).all()
    assert actions.count("summary.export") == 1


async def test_marking_submitted_is_stored_audited_and_shows_in_the_overview(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    assert ledger_cell((await client.get("/console/")).text, "第1支部") == "待完成"
    done = await client.post(
        "/console/ledger/submitted",
        data={"csrf": await csrf_of(client), "org": "B1", "quarter": "2026Q4"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/console/ledger?org=B1&quarter=2026Q4&done=1"
    with database.session() as session:
        filing = session.exec(select(Filing)).one()
        assert (filing.scope, filing.period) == (f"org:{world.orgs['B1']}", "2026Q4")
        assert filing.method is FilingMethod.SUBMITTED
        assert filing.filed_by == world.members["sec"]
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "filing.submit")).one()
        assert audit.actor_id == world.members["sec"]
    assert ledger_cell((await client.get("/console/")).text, "第1支部") == "已完成"
    page = await client.get(done.headers["location"])
    assert 'role="status"' in page.text and "/console/ledger/submitted" not in page.text


async def test_a_bad_or_future_quarter_is_explained_and_changes_nothing(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    for text in ("2026Q5", "<b>x</b>", "2027Q1"):
        page = await client.get("/console/ledger", params={"quarter": text})
        assert page.status_code == 400 and 'role="alert"' in page.text, text
        assert "<b>x</b>" not in page.text
        workbook = await client.get("/console/ledger/workbook", params={"quarter": text})
        assert workbook.status_code == 400
    assert "2026Q5" in (await client.get("/console/ledger?quarter=2026Q5")).text
    csrf = await csrf_of(client)
    refused = await client.post(
        "/console/ledger/submitted", data={"csrf": csrf, "org": "B1", "quarter": "2027Q1"}
    )
    assert refused.status_code == 400
    with database.session() as session:
        assert session.exec(select(Filing)).all() == []


async def test_another_organizations_ledger_is_not_found(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    settings: Settings,
) -> None:
    other = add_activity(database, org=world.orgs["B2"], day=date(2026, 10, 12))
    photo = add_photo(database, settings, world, activity=other, content=JPEG)
    await sign_in(client, assistant, world, "sec")
    for path in (
        "/console/ledger?org=B2",
        "/console/ledger?org=NOPE",
        "/console/ledger/workbook?org=B2&quarter=2026Q4",
        "/console/ledger/summary?org=B2&year=2026",
        f"/console/ledger/photos/{photo}",
    ):
        assert (await client.get(path)).status_code == 404, path
    refused = await client.post(
        "/console/ledger/submitted",
        data={"csrf": await csrf_of(client), "org": "B2", "quarter": "2026Q4"},
    )
    assert refused.status_code == 404
    with database.session() as session:
        assert session.exec(select(Filing)).all() == []


async def test_a_photo_is_seen_by_the_partners_of_its_entry_only(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    joint = add_activity(
        database, org=world.orgs["B2"], day=date(2026, 10, 12), partners=(world.orgs["B1"],)
    )
    shared = add_photo(database, settings, world, activity=joint, content=JPEG)
    with database.session() as session:
        [loose] = save_photos(
            session,
            PhotoStore(settings.photo_root, settings.photo_max_bytes),
            member_id=world.members["m1"],
            images=[InboundImage(png(3))],
            now=at(2026, 10, 12),
        )
    assert (await client.get(f"/console/ledger/photos/{shared}")).status_code == 303
    await sign_in(client, assistant, world, "sec")
    seen = await client.get(f"/console/ledger/photos/{shared}")
    assert seen.status_code == 200 and seen.headers["content-type"] == "image/jpeg"
    assert f"/console/ledger/photos/{shared}" in (await client.get("/console/ledger")).text
    # A photo not attached to any entry is nobody's evidence yet.
    assert (await client.get(f"/console/ledger/photos/{loose.id}")).status_code == 404
    assert (await client.get("/console/ledger/photos/999999")).status_code == 404
    client.cookies.clear()
    await signed_in("member", client, assistant, world, database, clock)
    assert (await client.get(f"/console/ledger/photos/{shared}")).status_code == 403


async def test_a_member_is_refused_and_a_liaison_only_reads(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    await signed_in("member", client, assistant, world, database, clock)
    for path in ("/console/ledger", "/console/ledger/workbook", "/console/ledger/summary"):
        assert (await client.get(path)).status_code == 403, path
    client.cookies.clear()
    await sign_in(client, assistant, world, "liaison")
    page = await client.get("/console/ledger")
    assert page.status_code == 200 and "/console/ledger/submitted" not in page.text
    assert (await client.get("/console/ledger/workbook?org=B1")).status_code == 200
    refused = await client.post(
        "/console/ledger/submitted",
        data={"csrf": await csrf_of(client), "org": "B1", "quarter": "2026Q4"},
    )
    assert refused.status_code == 403


async def test_a_post_without_the_form_token_is_refused(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    for data in ({"org": "B1", "quarter": "2026Q4"}, {"csrf": "forged", "org": "B1"}):
        assert (await client.post("/console/ledger/submitted", data=data)).status_code == 403
    with database.session() as session:
        assert session.exec(select(Filing)).all() == []


async def test_committee_staff_pick_any_organization_under_them(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    add_activity(database, org=world.orgs["B2"], day=date(2026, 10, 12), title="二支部学习")
    await signed_in("staff", client, assistant, world, database, clock)
    page = await client.get("/console/ledger?org=B2")
    assert page.status_code == 200 and "二支部学习" in page.text
    for code in ("B1", "B2", "B3", "B4"):
        assert f'<option value="{code}"' in page.text
    done = await client.post(
        "/console/ledger/submitted",
        data={"csrf": await csrf_of(client), "org": "B2", "quarter": "2026Q4"},
    )
    assert done.status_code == 303
    with database.session() as session:
        filing = session.exec(select(Filing)).one()
    assert filing.scope == f"org:{world.orgs['B2']}" and filing.filed_by is None
