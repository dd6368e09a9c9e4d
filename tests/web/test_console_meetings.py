"""The meetings in the console: the calendar, new and moved meetings, the roll call, minutes."""

from __future__ import annotations

import html
import json
import re

import httpx
from sqlmodel import col, select

from bot.core.clock import FrozenClock
from bot.core.domain import AttendanceStatus
from bot.engine.assistant import Assistant
from bot.texts.translation import translator
from handlers.errors import MESSAGES
from storage.engine import Database
from storage.models import Attendance, AuditEntry, Meeting, Member
from tests.factories import World
from tests.helpers import Chat
from tests.web.conftest import sign_in
from tests.web.test_console_matrix import signed_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
MEETING_LINK = re.compile(r'href="/console/meetings/(\d+)"')
ZH = translator("zh_CN")


def said(code: str) -> str:
    """Returns a refusal's Chinese sentence as the page escapes it."""
    return html.escape(ZH(MESSAGES[code]))


async def csrf_of(client: httpx.AsyncClient, path: str = "/console/meetings") -> str:
    """Returns the session's form token from a page."""
    found = CSRF.search((await client.get(path)).text)
    assert found
    return found.group(1)


async def todays_meeting(client: httpx.AsyncClient) -> int:
    """Returns the id of the first meeting the calendar links to: B1's org-life day today."""
    found = MEETING_LINK.search((await client.get("/console/meetings")).text)
    assert found
    return int(found.group(1))


async def schedule(
    client: httpx.AsyncClient, csrf: str, *, day: str = "2026-12-10", **extra: str
) -> httpx.Response:
    """Posts the new-meeting form for a party lecture."""
    data = {"csrf": csrf, "kind": "lecture", "date": day, "time": "14:30", "venue": "会议室"}
    return await client.post("/console/meetings/new", data={**data, **extra})


def audit(database: Database, action: str) -> list[dict[str, object]]:
    """Returns the details of the audit entries of one action."""
    with database.session() as session:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
        ).all()
        return [json.loads(row.detail) for row in rows]


async def test_the_calendar_shows_the_org_life_days_and_the_rule(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    page = await client.get("/console/meetings")
    assert page.status_code == 200
    assert "组织生活日" in page.text and "2026年11月3日" in page.text
    assert "规则：每月第一个星期二 09:00" in page.text
    assert 'href="/console/meetings/new"' in page.text
    nav = await client.get("/console/")
    assert 'href="/console/meetings"' in nav.text
    english = await client.get("/console/meetings?lang=en&year=2027")
    assert "Organization-life day" in english.text and "Set the day" in english.text


async def test_a_secretary_schedules_a_meeting_that_members_see_in_chat(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    form = await client.get("/console/meetings/new")
    assert form.status_code == 200 and '<label for="date">' in form.text
    done = await schedule(client, await csrf_of(client), title="学习党章")
    assert done.status_code == 303
    location = done.headers["location"]
    assert re.fullmatch(r"/console/meetings/\d+\?done=scheduled", location)
    page = await client.get(location)
    assert page.status_code == 200 and 'role="status"' in page.text and "学习党章" in page.text
    assert "党课" in (await client.get("/console/meetings")).text
    reply = Chat(assistant, user_id="u-m1").bound(world.invites["m1"]).say("日程")
    assert "党课" in reply and "会议室" in reply
    assert [detail["kind"] for detail in audit(database, "meeting.schedule")] == ["lecture"]


async def test_a_bad_date_is_explained_and_the_form_keeps_what_was_typed(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    refused = await schedule(client, await csrf_of(client), day="2026-13-45")
    assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert html.escape(ZH(MESSAGES["bad_date"], value="2026-13-45")) in refused.text
    assert 'value="会议室"' in refused.text and 'value="2026-13-45"' in refused.text
    bad_time = await schedule(client, await csrf_of(client), time="25:99")
    assert bad_time.status_code == 400
    assert html.escape(ZH(MESSAGES["bad_time"], value="25:99")) in bad_time.text
    bad_kind = await schedule(client, await csrf_of(client), kind="party")
    assert bad_kind.status_code == 400 and 'role="alert"' in bad_kind.text
    with database.session() as session:
        assert session.exec(select(Meeting).where(Meeting.kind == "lecture")).all() == []


async def test_a_past_date_is_refused_in_the_use_cases_words(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    refused = await schedule(client, await csrf_of(client), day="2026-11-02")
    assert refused.status_code == 400 and said("date_in_past") in refused.text
    assert audit(database, "meeting.schedule") == []


async def test_a_meeting_is_moved_and_its_members_are_told(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    location = (await schedule(client, csrf)).headers["location"]
    meeting_id = int(location.split("/")[-1].split("?")[0])
    form = await client.get(f"/console/meetings/{meeting_id}/move")
    assert form.status_code == 200 and 'value="2026-12-10"' in form.text
    moved = await client.post(
        f"/console/meetings/{meeting_id}/move",
        data={"csrf": csrf, "date": "2026-12-11", "time": "15:00", "venue": "党群服务中心"},
    )
    assert moved.headers["location"] == f"/console/meetings/{meeting_id}?done=moved"
    reply = Chat(assistant, user_id="u-m1").bound(world.invites["m1"]).say("日程")
    assert "12月11日" in reply and "党群服务中心" in reply
    assert [d["day"] for d in audit(database, "meeting.reschedule")] == ["2026-12-11"]
    past = await client.post(
        f"/console/meetings/{meeting_id}/move",
        data={"csrf": csrf, "date": "2026-11-01", "time": "15:00", "venue": ""},
    )
    assert past.status_code == 400 and said("date_in_past") in past.text


async def test_a_move_onto_a_taken_slot_is_refused_in_words(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    await schedule(client, csrf, day="2026-12-11")
    location = (await schedule(client, csrf)).headers["location"]
    meeting_id = int(location.split("/")[-1].split("?")[0])
    refused = await client.post(
        f"/console/meetings/{meeting_id}/move",
        data={"csrf": csrf, "date": "2026-12-11", "time": "14:30", "venue": ""},
    )
    assert refused.status_code == 400 and said("meeting_exists") in refused.text
    assert 'value="2026-12-11"' in refused.text
    assert audit(database, "meeting.reschedule") == []


async def test_a_meeting_that_has_begun_cannot_be_moved(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    meeting_id = await todays_meeting(client)
    refused = await client.post(
        f"/console/meetings/{meeting_id}/move",
        data={"csrf": await csrf_of(client), "date": "2026-11-10", "time": "09:00", "venue": ""},
    )
    assert refused.status_code == 400 and said("meeting_begun") in refused.text


async def test_the_roll_call_shows_each_answer_and_a_correction_is_audited(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    Chat(assistant, user_id="u-m1").bound(world.invites["m1"])
    await sign_in(client, assistant, world, "sec")
    meeting_id = await todays_meeting(client)
    with database.session() as session:
        session.get_one(Member, world.members["m2"]).name = "<script>alert(1)</script>"
    page = await client.get(f"/console/meetings/{meeting_id}")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    corrected = await client.post(
        f"/console/meetings/{meeting_id}/attendance",
        data={
            "csrf": await csrf_of(client),
            "member": str(world.members["m2"]),
            "answer": "late",
            "reason": "手机没电，现场签到表为证",
        },
    )
    assert corrected.headers["location"] == f"/console/meetings/{meeting_id}?done=corrected"
    page = await client.get(corrected.headers["location"])
    assert 'class="answer-late"' in page.text and "手机没电" not in page.text
    [detail] = audit(database, "attendance.correct")
    assert (detail["after"], detail["late"], detail["reason"]) == (
        "present",
        True,
        "手机没电，现场签到表为证",
    )
    reply = Chat(assistant, user_id="u-sec").bound(world.invites["sec"]).say("出勤")
    assert "迟到" in reply


async def test_a_correction_without_a_reason_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    meeting_id = await todays_meeting(client)
    csrf = await csrf_of(client)
    refused = await client.post(
        f"/console/meetings/{meeting_id}/attendance",
        data={"csrf": csrf, "member": str(world.members["m1"]), "answer": "absent", "reason": " "},
    )
    assert refused.status_code == 400 and said("reason_needed") in refused.text
    assert f'<option value="{world.members["m1"]}" selected>' in refused.text
    stranger = await client.post(
        f"/console/meetings/{meeting_id}/attendance",
        data={"csrf": csrf, "member": str(world.members["m3"]), "answer": "absent", "reason": "x"},
    )
    assert stranger.status_code == 400 and said("not_expected") in stranger.text
    odd = await client.post(
        f"/console/meetings/{meeting_id}/attendance",
        data={"csrf": csrf, "member": "abc", "answer": "asleep", "reason": "x"},
    )
    assert odd.status_code == 400 and 'role="alert"' in odd.text
    with database.session() as session:
        assert session.exec(select(Attendance)).all() == []
    assert audit(database, "attendance.correct") == []


async def test_leave_is_recorded_ahead_of_a_meeting_but_presence_is_not(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    location = (await schedule(client, csrf)).headers["location"]
    path = location.split("?")[0]
    early = await client.post(
        f"{path}/attendance",
        data={"csrf": csrf, "member": str(world.members["m1"]), "answer": "present", "reason": "x"},
    )
    assert early.status_code == 400 and said("attendance_ahead") in early.text
    leave = await client.post(
        f"{path}/attendance",
        data={
            "csrf": csrf,
            "member": str(world.members["m1"]),
            "answer": "leave",
            "reason": "住院",
        },
    )
    assert leave.status_code == 303
    with database.session() as session:
        [row] = session.exec(select(Attendance)).all()
    assert (row.status, row.reason) == (AttendanceStatus.LEAVE, "住院")


async def test_minutes_are_written_shown_as_text_and_downloaded(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    meeting_id = await todays_meeting(client)
    empty = await client.get(f"/console/meetings/{meeting_id}/minutes")
    assert (
        empty.status_code == 200
        and f"/console/meetings/{meeting_id}/minutes.docx" not in empty.text
    )
    missing = await client.get(f"/console/meetings/{meeting_id}/minutes.docx")
    assert missing.status_code == 404
    csrf = await csrf_of(client)
    no_content = await client.post(
        f"/console/meetings/{meeting_id}/minutes",
        data={"csrf": csrf, "topic": "学习", "host": "sec", "recorder": "deputy", "content": ""},
    )
    assert no_content.status_code == 400 and said("minutes_empty") in no_content.text
    assert 'value="学习"' in no_content.text
    saved = await client.post(
        f"/console/meetings/{meeting_id}/minutes",
        data={
            "csrf": csrf,
            "topic": "学习",
            "host": "sec",
            "recorder": "deputy",
            "content": "<script>alert(1)</script>\n第二行",
            "resolutions": "",
        },
    )
    assert saved.headers["location"] == f"/console/meetings/{meeting_id}/minutes?done=1"
    page = await client.get(saved.headers["location"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    document = await client.get(f"/console/meetings/{meeting_id}/minutes.docx")
    assert document.status_code == 200 and document.content[:2] == b"PK"
    assert "attachment" in document.headers["content-disposition"]
    assert len(audit(database, "minutes.record")) == 1


async def test_a_meeting_ahead_has_no_minutes_yet(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    path = (await schedule(client, csrf)).headers["location"].split("?")[0]
    refused = await client.post(
        f"{path}/minutes", data={"csrf": csrf, "topic": "x", "content": "y"}
    )
    assert refused.status_code == 400 and said("meeting_ahead") in refused.text


async def test_an_unknown_meeting_is_not_found(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    for path in ("", "/move", "/minutes", "/minutes.docx"):
        assert (await client.get(f"/console/meetings/999999{path}")).status_code == 404
    moved = await client.post(
        "/console/meetings/999999/move",
        data={"csrf": csrf, "date": "2026-12-11", "time": "15:00", "venue": ""},
    )
    assert moved.status_code == 404
    assert (await client.get("/console/meetings?org=NOPE")).status_code == 404


async def test_another_branchs_meeting_is_not_found(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    meeting_id = await todays_meeting(client)
    client.cookies.clear()
    await sign_in(client, assistant, world, "sec2")
    csrf = await csrf_of(client)
    assert (await client.get(f"/console/meetings/{meeting_id}")).status_code == 404
    assert (await client.get(f"/console/meetings/{meeting_id}/minutes")).status_code == 404
    assert (await client.get("/console/meetings?org=B1")).status_code == 404
    refused = await client.post(
        f"/console/meetings/{meeting_id}/attendance",
        data={"csrf": csrf, "member": str(world.members["m1"]), "answer": "absent", "reason": "x"},
    )
    assert refused.status_code == 404
    with database.session() as session:
        assert session.exec(select(Attendance)).all() == []


async def test_a_post_without_the_form_token_is_refused(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    meeting_id = await todays_meeting(client)
    refused = await client.post(
        f"/console/meetings/{meeting_id}/attendance",
        data={"member": str(world.members["m1"]), "answer": "absent", "reason": "x"},
    )
    assert refused.status_code == 403
    forged = await schedule(client, "not-the-token")
    assert forged.status_code == 403
    with database.session() as session:
        assert session.exec(select(Attendance)).all() == []
    assert audit(database, "meeting.schedule") == []


async def test_a_member_is_refused_every_meeting_page(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    await signed_in("member", client, assistant, world, database, clock)
    assert (await client.get("/console/meetings")).status_code == 403
    assert (await client.get("/console/meetings/new")).status_code == 403


async def test_a_liaison_reads_but_cannot_change(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "liaison")
    meeting_id = await todays_meeting(client)
    page = await client.get(f"/console/meetings/{meeting_id}")
    assert page.status_code == 200 and "/attendance" not in page.text
    calendar = await client.get("/console/meetings")
    assert "/console/meetings/new" not in calendar.text and "/move" not in calendar.text
    assert (await client.get("/console/meetings/new")).status_code == 403
    assert (await client.get(f"/console/meetings/{meeting_id}/move")).status_code == 403
    refused = await client.post(
        f"/console/meetings/{meeting_id}/attendance",
        data={
            "csrf": await csrf_of(client),
            "member": str(world.members["m1"]),
            "answer": "absent",
            "reason": "x",
        },
    )
    assert refused.status_code == 403


async def test_committee_staff_choose_a_branch_and_only_read(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    await signed_in("staff", client, assistant, world, database, clock)
    home = await client.get("/console/meetings")
    assert home.status_code == 200 and '<select id="org" name="org">' in home.text
    branch = await client.get("/console/meetings?org=b1")
    assert branch.status_code == 200 and "第1支部" in branch.text
    found = MEETING_LINK.search(branch.text)
    assert found
    page = await client.get(f"/console/meetings/{found.group(1)}")
    assert page.status_code == 200 and "/attendance" not in page.text
    refused = await client.post(
        f"/console/meetings/{found.group(1)}/attendance",
        data={
            "csrf": await csrf_of(client),
            "member": str(world.members["m1"]),
            "answer": "absent",
            "reason": "x",
        },
    )
    assert refused.status_code == 403


async def test_unreadable_ids_and_forms_get_a_translated_page_and_change_nothing(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    meeting_id = await todays_meeting(client)
    for path in (
        "/console/meetings/99999999999999999999999",
        "/console/ledger/photos/1" + "9" * 30,
    ):
        page = await client.get(path)
        assert page.status_code == 404 and "未找到" in page.text
    csrf = await csrf_of(client)
    odd_digit = await client.post(
        f"/console/meetings/{meeting_id}/attendance",
        data={"csrf": csrf, "member": "²", "answer": "absent", "reason": "x"},
    )
    assert odd_digit.status_code in (400, 404)
    crowded = await client.post(
        f"/console/meetings/{meeting_id}/move", data={f"f{n}": "x" for n in range(50)}
    )
    assert crowded.status_code == 400 and "无法读取该请求" in crowded.text
    with database.session() as session:
        corrected = select(AuditEntry).where(AuditEntry.action == "attendance.correct")
        assert session.exec(corrected).all() == []
