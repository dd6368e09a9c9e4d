"""Check-in and chat behaviour at the edges: folded input, commands during flows, naming on
binding, phrasing, and Chinese that reads right (in Chinese and in English)."""

from __future__ import annotations

import re

from sqlmodel import select

from bot.channels.console import ConsoleChannel
from bot.engine.assistant import Assistant
from bot.texts.reminders import period_label
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import Attendance, CheckinFailure, Member
from tests.factories import World
from tests.helpers import Chat

# ASCII punctuation touching a Chinese character (or a full-width one).
CJK = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef“”]"
ASCII_NEXT_TO_CJK = re.compile(rf"{CJK}\s*[:;,()]|[:;,()]\s*{CJK}")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def open_code(chat: Chat, world: World) -> str:
    """Opens check-in as the secretary and returns the code."""
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    match = re.search(r"(\d{6})", sec.say("开启签到"))
    assert match
    return match.group(1)


def present(database: Database) -> list[int]:
    """Lists the members signed in."""
    with database.session() as session:
        return [row.member_id for row in session.exec(select(Attendance)).all()]


# -- 10: input folded before matching --------------------------------------------------------


def test_full_width_code_signs_in_and_is_no_wrong_guess(
    chat: Chat, world: World, database: Database
) -> None:
    code = open_code(chat, world)
    member = chat.bound(world.invites["m1"])
    reply = member.say(f"签到\u3000{code.translate(FULL_WIDTH)}")
    assert "不正确" not in reply
    assert present(database) == [world.members["m1"]]
    with database.session() as session:
        assert session.exec(select(CheckinFailure)).all() == []


def test_bare_code_and_code_word_sign_in(chat: Chat, world: World, database: Database) -> None:
    code = open_code(chat, world)
    m1 = chat.bound(world.invites["m1"])
    assert "您可以发送" not in m1.say(code)
    m2 = chat.as_("u-m2").bound(world.invites["m2"])
    assert "您可以发送" not in m2.say(f"签到码 {code}")
    assert sorted(present(database)) == sorted([world.members["m1"], world.members["m2"]])


def test_bare_number_without_open_checkin_gets_help(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    assert "您可以发送" in member.say("123456")


# -- 12: a command during a flow -------------------------------------------------------------


def test_checkin_during_report_runs_and_keeps_the_draft(
    chat: Chat, world: World, database: Database
) -> None:
    code = open_code(chat, world)
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    member.say("汇报")
    member.press("Joint study")
    reply = member.say(f"签到 {code}")
    assert "Signed in" in reply and "choose one of the kinds" not in reply
    assert "activity report is kept: send /report to go back to it" in reply
    assert present(database) == [world.members["m1"]]
    # The draft is where it was: 汇报 asks the day again, not the kind.
    assert "On which day" in member.say("汇报")


def test_language_with_argument_during_language_choice(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("语言")
    assert "Replies will now be in English." in member.say("语言 en")


def test_leave_during_report_keeps_the_report_and_returns_to_it(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    member.say("汇报")
    member.press("Joint study")
    reply = member.say("请假")
    assert "reason for your leave" in reply
    assert "activity report is kept: send /report to go back to it" in reply
    done = member.say("出差在外地，无法参加")
    assert "Leave recorded" in done
    assert "Back to your unfinished activity report" in done and "On which day" in done


def test_report_during_leave_swaps_back_to_the_report(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    member.say("汇报")
    member.press("Joint study")
    member.say("请假")
    reply = member.say("汇报")
    assert "leave request is kept" in reply and "On which day" in reply


# -- 16: naming on binding -------------------------------------------------------------------


def test_invite_without_a_name_asks_for_it(chat: Chat, world: World, database: Database) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    match = re.search(r"([A-Z0-9]{8})", sec.say("邀请 党员"))
    assert match
    newcomer = chat.as_("anon")
    welcome = newcomer.say(f"绑定 {match.group(1)}")
    assert "anon" not in welcome and "您的姓名" in welcome
    assert "谢谢，王小红" in newcomer.say("王小红")
    with database.session() as session:
        names = {member.name for member in session.exec(select(Member)).all()}
    assert "王小红" in names and "anon" not in names
    assert "anon" not in sec.say("积分 排名")


# -- 17: phrasing ----------------------------------------------------------------------------


def test_roster_phrasings(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    assert "2026年11月轮值安排" in sec.say("本月谁主持")
    assert "2026年11月轮值安排" in sec.say("这个月谁主持？")
    assert "2027年第一季度轮值安排" in sec.say("/roster next")
    sec.say("/lang en")
    assert "Roster for Q4 2026" in sec.say("who hosts")
    assert "Roster for Q1 2027" in sec.say("/roster next")


def test_roster_of_a_past_quarter_names_its_year(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    reply = sec.say("谁主持 2025Q1")
    assert "今年" not in reply and "2025年走亲串门" in reply
    assert "2025年第一季度" in reply and "第1季度" not in reply


def test_status_of_last_quarter_counts_days_from_its_end(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    reply = sec.say("达标 上季度")
    assert "截至2026年9月30日" in reply
    # From 30 September to the year's end is 93 days (counting that day); from today 59.
    assert "剩余93天" in reply and "剩余59天" not in reply


def test_overlong_summary_gets_the_real_limit_and_the_prompt(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    member.say("汇报")
    member.press("Joint study")
    member.press("Today")
    member.press("None")
    member.say("12")
    reply = member.say("很" * 5000)
    assert "5 to 2000 characters; yours has 5000" in reply
    assert "4000" not in reply and "Please write a short summary" in reply


def test_blank_messages_get_an_answer(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    assert "空的" in member.say("\u3000")
    member.say("汇报")
    reply = member.say(" ")
    assert "空的" in reply and "请选择要汇报的活动类型" in reply


def test_console_answers_a_line_of_blanks_but_skips_an_empty_one(assistant: Assistant) -> None:
    written: list[str] = []
    ConsoleChannel(assistant, user_id="c-1").run(["\n", "\u3000\n"], written.append, prompt=False)
    assert len(written) == 1 and "空的" in written[0]


# -- 18: wording -----------------------------------------------------------------------------


def chinese_problems(text: str) -> list[str]:
    """Returns the places where ASCII punctuation touches Chinese."""
    return [match.group(0) for match in ASCII_NEXT_TO_CJK.finditer(text)]


def test_chinese_replies_use_full_width_punctuation(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    replies = [sec.say("达标"), sec.say("达标 上季度"), sec.say("邀请 联络员 张三")]
    sec.say("汇报")
    sec.press("联合学习")
    replies.append(sec.press("今天"))
    replies.append(sec.press("第2支部"))
    replies.append(sec.press("第3支部"))
    for reply in replies:
        assert chinese_problems(reply) == [], reply
    assert "已选：第2支部和第3支部" in replies[-1]
    assert "第2支部（B2）" in replies[-1]
    assert "点击" not in replies[-1]


def test_help_shows_what_the_role_can_use(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    text = member.say("帮助")
    assert "待办" not in text and "书记" not in text
    liaison = chat.as_("u-liaison").bound(world.invites["liaison"])
    assert "待办" in liaison.say("帮助")
    deputy = chat.as_("u-deputy").bound(world.invites["deputy"])
    text = deputy.say("帮助")
    assert "书记、副书记可用：" in text and "待办" in text


def test_english_roster_hint_is_english(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    reply = sec.say("谁主持 abc")
    assert "Try /roster this quarter" in reply and "本季度" not in reply


def test_committee_members_are_called_zhiwei_weiyuan(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    assert "支委委员" in sec.say("邀请 支委委员 李四")
    assert "支委委员" in sec.say("邀请 主任")


def test_the_platform_menu_labels_who_may_use_a_command(assistant: Assistant) -> None:
    menu = dict(assistant.command_menu("zh_CN"))
    assert menu["opencheckin"] == "获取今日签到码（限书记、副书记）"
    assert menu["pending"].endswith("（限书记、副书记和联络员）")
    assert "限" not in menu["checkin"]


def test_move_notes_and_quarters_read_right_in_chinese() -> None:
    t = translator("zh_CN")
    moved = t("Moved by the secretary from {date}.", date="2026年12月1日")
    assert "本日" not in moved and "2026年12月1日" in moved
    assert period_label(t, "2026Q4") == "2026年第四季度"


def test_report_with_words_mid_report_keeps_the_draft(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    member.say("汇报")
    member.press("Joint study")
    assert "On which day" in member.say("汇报 again")


def test_a_member_who_has_not_given_a_name_is_not_blank_in_the_ranking(
    chat: Chat, world: World
) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    match = re.search(r"([A-Z0-9]{8})", sec.say("邀请 党员"))
    assert match
    chat.as_("anon").say(f"绑定 {match.group(1)}")
    ranking = sec.say("积分 排名")
    assert "（尚未填写姓名）" in ranking and "anon" not in ranking


def test_the_kept_note_comes_in_the_language_just_chosen(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("请假")
    reply = member.say("/lang en")
    assert "Replies will now be in English." in reply
    assert "leave request is kept: send /leave to go back to it" in reply and "已保留" not in reply
