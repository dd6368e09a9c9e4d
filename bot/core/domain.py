"""The domain's vocabulary as enums, shared by storage, services and handlers."""

from __future__ import annotations

from enum import StrEnum


class OrgKind(StrEnum):
    """Where an organization sits in the tree."""

    COMMITTEE = "committee"
    GENERAL_BRANCH = "general_branch"
    BRANCH = "branch"
    JOINT_BRANCH = "joint_branch"


class MemberStatus(StrEnum):
    """A member's standing."""

    FULL = "full"
    PROBATIONARY = "probationary"
    DEPARTED = "departed"


class RoleKind(StrEnum):
    """A member's role inside one organization."""

    SECRETARY = "secretary"
    DEPUTY = "deputy"
    COMMITTEE = "committee"
    LIAISON = "liaison"
    MEMBER = "member"


LEADING_ROLES = frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY})


class MeetingKind(StrEnum):
    """The kinds of meeting the ledger records."""

    ORG_LIFE = "org_life"
    THEME_DAY = "theme_day"
    JOINT_MEETING = "joint_meeting"
    VISIT = "visit"
    BRANCH_ASSEMBLY = "branch_assembly"
    COMMITTEE = "committee"
    GROUP = "group"
    LECTURE = "lecture"


class MeetingStatus(StrEnum):
    """Where a meeting stands."""

    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"


class AttendanceStatus(StrEnum):
    """How a member answered a meeting."""

    PRESENT = "present"
    LEAVE = "leave"
    ABSENT = "absent"


class ActivityKind(StrEnum):
    """The kinds of activity a member may report for the ledger."""

    STUDY = "study"
    THEME_DAY = "theme_day"
    VISIT = "visit"
    LECTURE = "lecture"
    RED_CULTURE = "red_culture"
    VOLUNTEER = "volunteer"
    JOINT_MEETING = "joint_meeting"
    OPINION = "opinion"
    OTHER = "other"


class UnitKind(StrEnum):
    """A unit's place in an alliance: president unit (会长单位) or member unit (会员单位)."""

    PRESIDENT = "president"
    MEMBER = "member"


class Duty(StrEnum):
    """The rotating duties of an alliance."""

    THEME_DAY = "theme_day"
    CONVENER = "convener"
    EXECUTIVE = "executive"


class DutyPeriod(StrEnum):
    """How long one theme-day duty slot lasts."""

    MONTH = "month"
    QUARTER = "quarter"


class PairingForm(StrEnum):
    """How the organizations of a pairing face each other (000 §四 组织联动)."""

    ONE_TO_ONE = "one_to_one"
    MANY_TO_ONE = "many_to_one"
    ONE_TO_MANY = "one_to_many"


class ConvenerRule(StrEnum):
    """Who convenes an alliance's joint meeting: the executive unit (001's default) or a rotation."""

    EXECUTIVE = "executive"
    ROTATION = "rotation"
