"""Shared wording: names of kinds, roles, holidays and flows, and how a meeting is described."""

from __future__ import annotations

from bot.calendar.orglife import HolidayPolicy
from bot.core.domain import ActivityKind, Duty, MeetingKind, OrgKind, RoleKind
from bot.core.i18n import N_, Translator
from bot.core.records import MeetingView

ACTIVITY_KINDS: dict[ActivityKind, str] = {
    ActivityKind.STUDY: N_("Joint study"),
    ActivityKind.THEME_DAY: N_("Theme party day"),
    ActivityKind.VISIT: N_("Visit (走亲串门)"),
    ActivityKind.LECTURE: N_("Party lecture"),
    ActivityKind.RED_CULTURE: N_("Red-culture visit"),
    ActivityKind.VOLUNTEER: N_("Volunteer service"),
    ActivityKind.JOINT_MEETING: N_("Joint meeting"),
    ActivityKind.OPINION: N_("Opinion solicitation"),
    ActivityKind.OTHER: N_("Other activity"),
}

MEETING_KINDS: dict[MeetingKind, str] = {
    MeetingKind.ORG_LIFE: N_("Organization-life day"),
    MeetingKind.THEME_DAY: N_("Theme party day"),
    MeetingKind.JOINT_MEETING: N_("Joint meeting"),
    MeetingKind.VISIT: N_("Visit (走亲串门)"),
    MeetingKind.BRANCH_ASSEMBLY: N_("Branch general meeting"),
    MeetingKind.COMMITTEE: N_("Branch committee meeting"),
    MeetingKind.GROUP: N_("Party group meeting"),
    MeetingKind.LECTURE: N_("Party lecture"),
}

# Meetings of an alliance or a pairing, hosted by one of its organizations.
GROUP_MEETINGS = frozenset({MeetingKind.THEME_DAY, MeetingKind.JOINT_MEETING, MeetingKind.VISIT})

ROLES: dict[RoleKind, str] = {
    RoleKind.SECRETARY: N_("Secretary"),
    RoleKind.DEPUTY: N_("Deputy secretary"),
    RoleKind.COMMITTEE: N_("Committee member"),
    RoleKind.LIAISON: N_("Liaison officer"),
    RoleKind.MEMBER: N_("Member"),
}

DUTIES: dict[Duty, str] = {
    Duty.THEME_DAY: N_("Theme party day on duty"),
    Duty.CONVENER: N_("Joint meeting convener"),
    Duty.EXECUTIVE: N_("Executive president unit"),
}

ORG_KINDS: dict[OrgKind, str] = {
    OrgKind.COMMITTEE: N_("Party committee"),
    OrgKind.GENERAL_BRANCH: N_("General branch"),
    OrgKind.BRANCH: N_("Branch"),
    OrgKind.JOINT_BRANCH: N_("Joint branch"),
}

# The org-life rule's "which weekday of the month", and what a holiday does to its day.
ORDINALS: dict[int, str] = {
    1: N_("first"),
    2: N_("second"),
    3: N_("third"),
    4: N_("fourth"),
    -1: N_("last"),
}
HOLIDAY_POLICIES: dict[HolidayPolicy, str] = {
    HolidayPolicy.KEEP: N_("keep the day"),
    HolidayPolicy.NEXT_WORKDAY: N_("move to the next working day"),
}

# The member import's columns as the operator reads them in error lists.
IMPORT_COLUMNS: dict[str, str] = {
    "org_code": N_("org_code (组织代码)"),
    "org_name": N_("org_name (组织名称)"),
    "org_kind": N_("org_kind (类型)"),
    "parent_code": N_("parent_code (上级)"),
    "member_name": N_("member_name (姓名)"),
    "roles": N_("roles (职务/身份)"),
    "status": N_("status (状态)"),
    "phone": N_("phone (电话)"),
    "mobile": N_("mobile (流动党员)"),
    "orglife_time": N_("orglife_time (组织生活时间)"),
    "orglife_venue": N_("orglife_venue (组织生活地点)"),
    "holiday_policy": N_("holiday_policy (节假日处理)"),
}

HOLIDAYS: dict[str, str] = {
    "new_years_day": N_("New Year's Day"),
    "spring_festival": N_("Spring Festival"),
    "tomb_sweeping_day": N_("Tomb-sweeping Day"),
    "labour_day": N_("Labour Day"),
    "dragon_boat_festival": N_("Dragon Boat Festival"),
    "mid_autumn_festival": N_("Mid-autumn Festival"),
    "national_day": N_("National Day"),
    "anti_fascist_70th_day": N_("Victory Day (70th anniversary)"),
    "other": N_("a public holiday"),
}

# Role words a secretary may type after /invite, in either language.
ROLE_WORDS: dict[str, RoleKind] = {
    "secretary": RoleKind.SECRETARY,
    "书记": RoleKind.SECRETARY,
    "deputy": RoleKind.DEPUTY,
    "副书记": RoleKind.DEPUTY,
    "committee": RoleKind.COMMITTEE,
    "支委委员": RoleKind.COMMITTEE,
    "委员": RoleKind.COMMITTEE,
    "支委": RoleKind.COMMITTEE,
    "liaison": RoleKind.LIAISON,
    "联络员": RoleKind.LIAISON,
    "member": RoleKind.MEMBER,
    "党员": RoleKind.MEMBER,
    "成员": RoleKind.MEMBER,
}


def move_note(t: Translator, meeting: MeetingView) -> str:
    """Explains why a meeting is not on its rule's date (or an empty string)."""
    holiday = t(HOLIDAYS.get(meeting.holiday or "other", HOLIDAYS["other"]))
    if meeting.move_reason == "moved_for_holiday" and meeting.moved_from:
        return t(
            "Moved from {date} because of {holiday}.",
            date=t.date(meeting.moved_from, "medium"),
            holiday=holiday,
        )
    if meeting.move_reason == "kept_on_holiday":
        return t("Kept on this day although it falls in {holiday}.", holiday=holiday)
    if meeting.move_reason == "calendar_unknown":
        return t(
            "The official holiday calendar for {year} is not known yet.", year=meeting.held_on.year
        )
    if meeting.move_reason == "moved_by_secretary" and meeting.moved_from:
        return t("Moved by the secretary from {date}.", date=t.date(meeting.moved_from, "medium"))
    return ""


def describe_meeting(t: Translator, meeting: MeetingView) -> str:
    """Describes a meeting in one or two lines: kind, date, weekday, time, venue, and any move."""
    line = t(
        "{kind}: {date} ({weekday}) {time}",
        kind=t(MEETING_KINDS[meeting.kind]),
        date=t.date(meeting.held_on, "long"),
        weekday=t.weekday(meeting.held_on),
        time=t.time(meeting.starts_at),
    )
    if meeting.venue:
        line += t(", at {venue}", venue=meeting.venue)
    if meeting.kind in GROUP_MEETINGS:
        line += t(", hosted by {org}", org=meeting.org.name)
    note = move_note(t, meeting)
    return f"{line}\n  {note}" if note else line
