"""A district from an empty database with the filled-in template, no demo, run end to end.

The committee imports the workbook, invites a secretary and a member, and the branch then holds
its organization-life day, its theme party day on rotation, the alliance's joint meeting as
convener and a pairing visit, while `reminders preview` names what is owed and then stops.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.engine.assistant import Assistant
from tests.helpers import Chat
from tests.test_cli_district import fill_template
from tests.test_cli_members import Cli
from tests.test_cli_members import cli as members_cli

cli = members_cli

# The rotations start with the quarter: 第1党支部 (ZB01) is the executive president unit, so the
# joint-meeting convener, and, second in the theme-day order, on theme-day duty in November.
ALLIANCE = [
    (
        "JHHW",
        "江海红湾党建联盟",
        "ZB01、ZB02、ZB03、ZB04、ZB05",
        "ZB06、ZB07",
        "2026-10-01",
        12,
        "每月",
        "执行会长单位",
        "ZB07、ZB01、ZB02、ZB03、ZB04、ZB05、ZB06",
    )
]


def preview(cli: Cli, at: str) -> list[dict[str, object]]:
    """Lists the pushes `reminders preview` would send at a moment."""
    items: list[dict[str, object]] = json.loads(
        cli.ok("reminders", "preview", "--at", at, "--json").output
    )
    return items


def test_a_district_from_the_template_runs_end_to_end(
    cli: Cli, assistant: Assistant, tmp_path: Path
) -> None:
    template = tmp_path / "导入模板.xlsx"
    cli.ok("import", "template", "-o", str(template))
    filled = fill_template(template, tmp_path / "district.xlsx", alliances=ALLIANCE)
    cli.ok("import", "district", str(filled))

    members = {
        m["name"]: m for m in json.loads(cli.ok("member", "list", "--org", "ZB01", "--json").output)
    }
    secretary_code = json.loads(
        cli.ok("member", "invite", str(members["书记1"]["id"]), "--json").output
    )["code"]
    member_code = json.loads(
        cli.ok("member", "invite", str(members["王党员"]["id"]), "--json").output
    )["code"]
    sec = Chat(assistant, "u-sec").bound(secretary_code)
    sec.say("/lang en")
    member = Chat(assistant, "u-member").bound(member_code)
    member.say("/lang en")

    # The invites bound the imported members, not new ones.
    bound = json.loads(cli.ok("member", "list", "--org", "ZB01", "--json").output)
    assert sorted((m["name"], m["channels"]) for m in bound) == [
        ("书记1", ["console"]),
        ("王党员", ["console"]),
    ]

    # The eve of the organization-life day (first Tuesday, at the imported 14:30): both hear of it.
    eve = preview(cli, "2026-11-02T20:00")
    assert {(item["rule"], item["recipient"]) for item in eve} >= {
        ("orglife", "书记1"),
        ("orglife", "王党员"),
    }
    assert "starting at 14:30" in str(eve[0]["text"])
    # Weeks ahead of its November duty, the on-duty unit's secretary hears of the theme day.
    assert ("theme_duty", "书记1") in rules_at(cli, "2026-10-20T09:00")
    # Mid-quarter, the convener (the executive president unit) owes the joint meeting, and the
    # pairing its visits and this quarter's joint activity.
    owed = rules_at(cli, "2026-11-16T09:00")
    assert {
        ("joint_meeting", "书记1"),
        ("pairing_quiet", "书记1"),
        ("pairing_visits", "书记1"),
    } <= owed

    roster = sec.say("谁主持")
    assert "Joint meeting convener (Oct 1, 2026 – Dec 31, 2026): 第1党支部" in roster
    assert "Theme party day on duty (November 2026): 第1党支部" in roster

    # The organization-life day: the secretary opens check-in, the member signs in.
    opened = re.search(r"code: (\d{6})", sec.say("开启签到"))
    assert opened is not None
    code = opened.group(1)
    assert "signed in" in member.say(f"签到 {code}").lower()
    # Names in lists sit in bidi isolates (U+2068 … U+2069) so a name cannot reorder its line.
    assert "Signed in: \u2068王党员\u2069" in sec.say("出勤")

    report(
        sec, "Theme party day", ("ZB02",), "Theme party day on duty: the constitution, together."
    )
    report(sec, "Joint meeting", ("ZB02", "ZB03", "ZB04", "ZB05"), "Quarterly joint meeting.")
    report(sec, "Visit", ("ZB06",), "Visit to 第6党支部: shared party-building experience.")

    after = rules_at(cli, "2026-11-16T09:00")
    assert ("joint_meeting", "书记1") not in after
    assert ("pairing_quiet", "书记1") not in after
    # 一对多: the visits count per partner, so the partner not yet visited is named on its own.
    visits = sorted(
        str(i["text"]) for i in preview(cli, "2026-11-16T09:00") if i["rule"] == "pairing_visits"
    )
    assert len(visits) == 2
    assert "made 0 of its 3 visits (走亲串门) with 第7党支部" in visits[0]
    assert "made 1 of its 3 visits (走亲串门) with 第6党支部" in visits[1]
    status = sec.say("/status")
    assert "✓ Joint meeting in Q4 2026 (convener: 第1党支部): done" in status
    assert "✓ Theme party day of 11/2026 (on duty: 第1党支部): done" in status
    assert "✓ Joint activity in Q4 2026 (host: 第1党支部): done" in status
    assert "Visits with 第6党支部 in 2026, 1 of 3" in status
    assert "Visits with 第7党支部 in 2026, 0 of 3" in status


def rules_at(cli: Cli, at: str) -> set[tuple[object, object]]:
    """Lists (rule, recipient) of the pushes due at a moment."""
    return {(item["rule"], item["recipient"]) for item in preview(cli, at)}


def report(chat: Chat, kind: str, partners: tuple[str, ...], summary: str) -> None:
    """Reports an activity held today with its partners, and confirms it."""
    chat.say("汇报")
    chat.press(kind)
    chat.say("2026-11-03")
    for partner in partners:
        chat.say(partner)
    chat.press("Done")
    chat.say("20")
    chat.say(summary)
    assert "Stored as ledger entry" in chat.press("Confirm")
