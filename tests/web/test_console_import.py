"""The district import in the console: upload, a dry run's row errors or summary, then confirm."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import time

import httpx
from openpyxl import Workbook
from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.engine.assistant import Assistant
from bot.services.meetings import Meetings
from bot.web.console.imports import ENVELOPE
from bot.web.console.pages import MAX_UPLOAD
from storage.engine import Database
from storage.models import Alliance, AuditEntry, Meeting, Member, Organization
from tests.conftest import SHANGHAI
from tests.factories import World
from tests.services.test_compliance import HOLIDAYS
from tests.web.conftest import sign_in
from tests.web.test_console_matrix import signed_in
from tests.web.test_console_structure import csrf_of, district, staff

__all__ = ["district"]  # the fixture, shared with the structure pages' tests

HEADER = "组织代码,组织名称,组织类型,上级组织代码,姓名,职务/身份,手机号\n"
GOOD = HEADER + "B9,第9支部,党支部,C,王五,书记,13800000009\nB9,,,,赵六,党员,\n"
BAD = HEADER + "B9,第9支部,党支部,C,王五,书记,not-a-phone\nB9,,,,赵六,党员,\n"
TOKEN = re.compile(r'name="token" value="([^"]+)"')
SHA256 = re.compile(r'name="sha256" value="([^"]+)"')


def csv_file(text: str, name: str = "党员.csv") -> dict[str, tuple[str, bytes, str]]:
    """An upload of a .csv file."""
    return {"file": (name, text.encode("utf-8"), "text/csv")}


def district_book(
    alliance_presidents: str, pairing: tuple[str, str, str] = ("JD-9", "B7", "B8")
) -> bytes:
    """A workbook with the three sheets: two new branches, a pairing and an alliance."""
    book = Workbook()
    members = book.active
    assert members is not None
    members.title = "组织与党员"
    members.append(["组织代码", "组织名称", "组织类型", "上级组织代码", "姓名", "职务/身份"])
    members.append(["B7", "第7支部", "党支部", "C", "钱七", "书记、联络员"])
    members.append(["B8", "第8支部", "党支部", "C", "孙八", "书记、联络员"])
    pairings = book.create_sheet("结对")
    pairings.append(["结对代码", "结对名称", "牵头单位代码", "共建单位代码", "协议开始日期"])
    pairings.append([pairing[0], "七八结对", pairing[1], pairing[2], "2026-01-01"])
    alliances = book.create_sheet("联盟")
    alliances.append(["联盟代码", "联盟名称", "会长单位代码", "会员单位代码", "轮值开始日期"])
    alliances.append(["XL", "新联盟", alliance_presidents, "B7", "2027-01-01"])
    stream = io.BytesIO()
    book.save(stream)
    return stream.getvalue()


async def upload(
    client: httpx.AsyncClient, csrf: str, files: dict[str, tuple[str, bytes, str]]
) -> httpx.Response:
    """Posts a file to the dry run."""
    return await client.post("/console/import", data={"csrf": csrf}, files=files)


def confirmation(page: str) -> dict[str, str]:
    """Returns the fields of a dry run's confirmation form: the token and the file's digest."""
    token, sha256 = TOKEN.search(page), SHA256.search(page)
    assert token and sha256, page
    return {"token": token.group(1), "sha256": sha256.group(1)}


def row_errors(page: str) -> list[list[str]]:
    """Returns the dry run's table of row errors, cell by cell."""
    table = re.search(r'<table class="grid" id="row-errors">(.*?)</table>', page, re.S)
    assert table, page
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
        if "<td" in row
    ]


async def test_a_bad_row_is_shown_then_a_good_file_is_confirmed(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    bad = await upload(client, csrf, csv_file(BAD))
    assert bad.status_code == 200
    assert row_errors(bad.text) == [["党员.csv", "2", "电话（phone）", "不是有效的电话号码"]]
    assert "/console/import/confirm" not in bad.text
    good = await upload(client, csrf, csv_file(GOOD))
    assert "所有行均有效" in good.text and 'id="row-errors"' not in good.text
    ticket = confirmation(good.text)
    with database.session() as session:
        assert session.exec(select(Organization).where(Organization.code == "B9")).first() is None
    done = await client.post("/console/import/confirm", data={"csrf": csrf, **ticket})
    assert done.status_code == 200 and "已导入" in done.text
    with database.session() as session:
        org = session.exec(select(Organization).where(Organization.code == "B9")).one()
        assert org.parent_id == district.orgs["C"]
        names = session.exec(select(Member.name).where(Member.organization_id == org.id)).all()
        assert sorted(names) == ["王五", "赵六"]
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "members.import"))
        assert audit.subject == "file:党员.csv"
    again = await client.post("/console/import/confirm", data={"csrf": csrf, **ticket})
    assert again.status_code == 410 and "已过期或已导入" in again.text


async def test_a_district_workbook_reports_each_sheets_rows(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    bad = await upload(client, csrf, {"file": ("区镇.xlsx", district_book("B1、B2、B3、B4"), xlsx)})
    assert ["联盟", "2", "会长单位代码", "党建联盟的会长单位应为5至7个，现为4个。"] in row_errors(
        bad.text
    )
    good = await upload(
        client, csrf, {"file": ("区镇.xlsx", district_book("B1、B2、B3、B4、B8"), xlsx)}
    )
    done = await client.post(
        "/console/import/confirm", data={"csrf": csrf, **confirmation(good.text)}
    )
    assert done.status_code == 200
    with database.session() as session:
        assert session.exec(select(Alliance).where(Alliance.code == "XL")).one().name == "新联盟"


async def test_another_committees_pairings_and_organizations_are_out_of_reach(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = district_book("B1、B2、B3、B4、B8", ("PX", "B7", "X1"))
    page = await upload(client, csrf, {"file": ("区镇.xlsx", book, xlsx)})
    assert row_errors(page.text) == [
        ["结对", "2", "结对代码", "代码PX已被不属于你管辖的结对或联盟使用，请换一个代码。"],
        ["结对", "2", "共建单位代码", "你管辖的组织中没有代码为X1的组织。"],
    ]
    with database.session() as session:
        assert session.exec(select(Organization).where(Organization.code == "B7")).first() is None


async def test_another_committees_organizations_are_row_errors(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    csrf = await staff(client)
    foreign = HEADER + "X1,改名,,,,,\nB10,第10支部,党支部,,,,\nB11,第11支部,党支部,X2,,,\n"
    page = await upload(client, csrf, csv_file(foreign))
    assert row_errors(page.text) == [
        ["党员.csv", "2", "组织代码（org_code）", "你管辖的组织中没有代码为X1的组织。"],
        ["党员.csv", "3", "上级（parent_code）", "B10是新组织，请填写你管辖范围内的上级组织代码"],
        ["党员.csv", "4", "上级（parent_code）", "你管辖的组织中没有代码为X2的组织。"],
    ]
    with database.session() as session:
        assert session.get_one(Organization, district.orgs["X1"]).name == "X1外支部"


async def test_bad_uploads_are_refused_with_a_reason(
    client: httpx.AsyncClient, district: World
) -> None:
    csrf = await staff(client)
    wrong = await upload(client, csrf, {"file": ("名单.txt", b"hello", "text/plain")})
    assert wrong.status_code == 400
    assert "名单.txt" in wrong.text and 'id="import-problem"' in wrong.text
    fake = await upload(client, csrf, {"file": ("名单.xlsx", b"not a zip", "application/zip")})
    assert fake.status_code == 400 and "名单.xlsx" in fake.text
    empty = await client.post("/console/import", data={"csrf": csrf})
    assert empty.status_code == 400
    big = await upload(
        client, csrf, {"file": ("大.csv", HEADER.encode() + b"x" * (MAX_UPLOAD + 1), "text/csv")}
    )
    assert big.status_code == 413 and "10 MB" in big.text
    bigger = await upload(
        client, csrf, {"file": ("大.csv", b"x" * (MAX_UPLOAD + ENVELOPE), "text/csv")}
    )
    assert bigger.status_code == 413 and "文件超过 10 MB" in bigger.text

    async def streamed() -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    endless = await client.post(
        "/console/import",
        content=streamed(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert endless.status_code == 413 and "文件超过 10 MB" in endless.text
    two = await client.post(
        "/console/import",
        data={"csrf": csrf},
        files=[
            ("file", ("a.csv", GOOD.encode(), "text/csv")),
            ("file", ("b.csv", GOOD.encode(), "text/csv")),
        ],
    )
    assert two.status_code == 400


async def test_uploads_and_confirmations_need_the_session_token(
    client: httpx.AsyncClient, district: World, database: Database, clock: FrozenClock
) -> None:
    csrf = await staff(client)
    assert (await upload(client, "forged", csv_file(GOOD))).status_code == 403
    good = await upload(client, csrf, csv_file(GOOD))
    ticket = confirmation(good.text)
    forged = await client.post("/console/import/confirm", data={"csrf": "forged", **ticket})
    assert forged.status_code == 403
    # Someone else, with the token in hand, cannot confirm a file they did not check.
    transport = client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        other_csrf = await staff(other, "staff2")
        stolen = await other.post("/console/import/confirm", data={"csrf": other_csrf, **ticket})
        assert stolen.status_code == 403 and "只能由其本人确认导入" in stolen.text
    with database.session() as session:
        assert session.exec(select(Organization).where(Organization.code == "B9")).first() is None
    done = await client.post("/console/import/confirm", data={"csrf": csrf, **ticket})
    assert done.status_code == 200


async def test_only_committee_staff_import(
    client: httpx.AsyncClient,
    assistant: Assistant,
    district: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    await sign_in(client, assistant, district, "sec")
    home = await client.get("/console/")
    csrf = csrf_of(home.text)
    assert "/console/import" not in home.text
    assert (await client.get("/console/import")).status_code == 403
    assert (await upload(client, csrf, csv_file(GOOD))).status_code == 403
    assert (
        await client.post("/console/import/confirm", data={"csrf": csrf, "token": "x" * 43})
    ).status_code == 403
    client.cookies.clear()
    await signed_in("member", client, assistant, district, database, clock)
    assert (await client.get("/console/import")).status_code == 403
    client.cookies.clear()
    assert (await client.get("/console/import")).status_code == 303


async def test_an_imported_org_life_time_moves_the_days_planned_at_the_old_one(
    client: httpx.AsyncClient, district: World, database: Database
) -> None:
    with database.session() as session:
        meetings = Meetings(session, holidays=HOLIDAYS, tz=SHANGHAI)
        branch = session.get_one(Organization, district.orgs["B1"])
        planned = meetings.ensure_org_life(branch, 2030, 1)
    csrf = await staff(client)
    checked = await upload(client, csrf, csv_file("组织代码,组织生活时间\nB1,14:30\n", "时间.csv"))
    with database.session() as session:
        # The dry run moves nothing.
        unmoved = session.get_one(Meeting, planned.id)
        assert unmoved.starts_at == planned.starts_at
    done = await client.post(
        "/console/import/confirm", data={"csrf": csrf, **confirmation(checked.text)}
    )
    assert done.status_code == 200, done.text
    with database.session() as session:
        moved = session.get_one(Meeting, planned.id)
        [audit] = session.exec(
            select(AuditEntry).where(AuditEntry.action == "meeting.reschedule")
        ).all()
    assert moved.starts_at.astimezone(SHANGHAI).time() == time(14, 30)
    assert audit.subject == f"meeting:{planned.id}"
