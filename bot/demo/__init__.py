"""Demo data: the "江海红湾" alliance, its pairings, members and a year of history, from the seeds."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Table, case, delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import nth_weekday
from bot.calendar.quarters import Quarter
from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    Duty,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    OrgKind,
    RoleKind,
    UnitKind,
)
from bot.core.inbound import Channel
from bot.services.alliances import create_alliance
from bot.services.errors import ServiceError
from bot.services.ledger import Ledger
from bot.services.meetings import Meetings, new_checkin_code
from bot.services.members import Members, grant_role
from bot.services.rota import Rota, month_period
from storage.models import (
    Activity,
    Alliance,
    AllianceUnit,
    Attendance,
    ChatAccount,
    Conversation,
    Invite,
    Meeting,
    Member,
    Organization,
    Pairing,
    PairingOrg,
    Role,
    RotaOverride,
)
from storage.queries import insert_ignore

SEED = "gongjian-demo-江海红湾"
HISTORY_MONTHS = 12
COMMITTEE = "HW-DGW"
ALLIANCE = "HW-LM"


@dataclass(frozen=True, slots=True)
class OrgSpec:
    """One demo organization: code, name, kind, place in the alliance and its org-life habits."""

    code: str
    name: str
    kind: OrgKind
    unit: UnitKind | None
    size: int
    policy: str = "keep"
    at: str = "09:00"
    venue: str = "党员活动室"


ORGS: tuple[OrgSpec, ...] = (
    OrgSpec(COMMITTEE, "江海区镇党工委", OrgKind.COMMITTEE, None, 3, venue="区镇党群服务中心"),
    # X: the president units (会长单位), in rotation order.
    OrgSpec(
        "HW-JG1",
        "区镇机关第一党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        6,
        policy="next_workday",
        venue="区镇党群服务中心三楼会议室",
    ),
    OrgSpec(
        "HW-HGZB",
        "江海重工装备有限公司党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        5,
        at="14:30",
        venue="公司党建活动室",
    ),
    OrgSpec(
        "HW-HWCB",
        "红湾船舶制造有限公司党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        6,
        venue="船坞党员先锋站",
    ),
    OrgSpec(
        "HW-JHGW",
        "江海港务集团党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        5,
        at="15:00",
        venue="港务大楼二楼会议室",
    ),
    OrgSpec(
        "HW-YJGD", "沿江供电所党支部", OrgKind.BRANCH, UnitKind.PRESIDENT, 5, venue="供电所红色驿站"
    ),
    OrgSpec(
        "HW-SCJG",
        "区镇市场监管分局党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        5,
        policy="next_workday",
        venue="分局会议室",
    ),
    # Y: the member units (会员单位).
    OrgSpec(
        "HW-HGPT",
        "海工配套产业园党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        venue="产业园党群服务站",
    ),
    OrgSpec(
        "HW-YJWL",
        "沿江物流有限公司党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        at="16:00",
        venue="调度中心会议室",
    ),
    OrgSpec(
        "HW-XCKJ",
        "江海新材料科技有限公司党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        4,
        venue="研发楼党员之家",
    ),
    OrgSpec(
        "HW-XWLH",
        "江海小微企业联合党支部",
        OrgKind.JOINT_BRANCH,
        UnitKind.MEMBER,
        3,
        venue="产业园党群服务站",
    ),
    OrgSpec(
        "HW-HWSQ",
        "红湾社区党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        4,
        policy="next_workday",
        at="19:00",
        venue="社区党群服务中心",
    ),
    OrgSpec(
        "HW-NSYH",
        "农商银行江海支行党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        at="17:30",
        venue="支行三楼会议室",
    ),
    OrgSpec(
        "HW-ZYXX",
        "江海职业技术学校党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        at="15:30",
        venue="学校图书馆报告厅",
    ),
    OrgSpec(
        "HW-AQJD",
        "区镇安全生产监督站党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        venue="监督站会议室",
    ),
)


@dataclass(frozen=True, slots=True)
class PairingSpec:
    """One demo pairing: lead first, then the partners, and the months of the year it visits."""

    code: str
    name: str
    orgs: tuple[str, ...]
    goals: str
    visit_months: tuple[int, ...]


PAIRINGS: tuple[PairingSpec, ...] = (
    PairingSpec(
        "HW-JD1",
        "机关第一党支部—江海重工“政企联建”（一对一）",
        ("HW-JG1", "HW-HGZB"),
        "共过组织生活；惠企政策上门解读；安全生产互查互学。",
        (2, 5, 8, 10),
    ),
    PairingSpec(
        "HW-JD2",
        "农商银行—园区企业“银企共建”（一对多）",
        ("HW-NSYH", "HW-XCKJ", "HW-HGPT", "HW-XWLH"),
        "搭建小微企业融资服务平台；送“贷”上门；党员结对帮扶。",
        (4, 9),
    ),
    PairingSpec(
        "HW-JD3",
        "港务、物流、供电—红湾社区共建（多对一）",
        ("HW-JHGW", "HW-YJWL", "HW-YJGD", "HW-HWSQ"),
        "“百企联百村”助力社区治理；志愿服务进社区；共建红色步道。",
        (7, 12),
    ),
)

# (organization code, index in its member list): a few probationary and mobile members.
PROBATIONARY = frozenset({("HW-HGZB", 4), ("HW-HWCB", 5), ("HW-XCKJ", 3), ("HW-HWSQ", 3)})
MOBILE = frozenset({("HW-YJWL", 2), ("HW-HWCB", 4)})

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏"
    "吕丁沈姚卢姜崔钟谭陆汪范金石贾夏顾毛邵钱严戴孔汤"
)
# Given names, dealt out so that few people share one.
_GIVEN = (
    "建国 志强 海燕 丽华 晓明 伟 芳 静 敏 磊 洋 勇 军 杰 娟 涛 超 "
    "秀英 霞 刚 文斌 辉 鹏 红霞 玉兰 婷 宇航 浩然 欣怡 俊杰 雪梅 "
    "春生 国栋 海涛 晓燕 立新 卫东 红梅 振华 德明 美玲 佳琪 思远 志刚 "
    "建华 桂芳 金龙 亚楠 子涵 一鸣 晨曦 锦程 江涛 海波 凤英 永刚 小红 "
    "文静 明轩 雨萱"
)
GIVEN_NAMES = tuple(_GIVEN.split())

ORG_LIFE_THEMES = {
    1: "谋划全年工作 制定年度学习计划",
    2: "新春走访慰问老党员、困难党员",
    3: "学雷锋志愿服务月",
    4: "清明祭英烈 传承红色基因",
    5: "劳动创造幸福——致敬一线工匠",
    6: "安全生产月：党员身边无事故",
    7: "庆祝建党节 重温入党誓词",
    8: "走访慰问退役军人党员",
    9: "铭记历史 缅怀先烈",
    10: "我和我的祖国——国庆主题学习",
    11: "党员冬训动员 学习新思想",
    12: "召开组织生活会 开展民主评议党员",
}

OWN_ACTIVITIES: tuple[tuple[ActivityKind, str, str], ...] = (
    (
        ActivityKind.STUDY,
        "“三会一课”集中学习",
        "集中学习《中国共产党章程》相关章节，党员逐一交流学习体会。",
    ),
    (
        ActivityKind.LECTURE,
        "书记讲党课：安全生产与党员先锋作用",
        "支部书记结合岗位实际讲授专题党课，围绕安全生产“党员身边无事故”展开讨论。",
    ),
    (
        ActivityKind.VOLUNTEER,
        "沿江“红色步道”环境整治志愿服务",
        "组织党员志愿者清理沿江步道垃圾、修缮党建标识牌。",
    ),
    (
        ActivityKind.RED_CULTURE,
        "赴苏中七战七捷纪念馆开展红色教育",
        "参观纪念馆，重温入党誓词，开展现场教学。",
    ),
    (
        ActivityKind.OPINION,
        "党群意见征询会",
        "走访职工群众、召开意见征询会，收集意见建议并逐条建立整改台账。",
    ),
    (ActivityKind.VOLUNTEER, "“百企联百村”助农志愿服务", "党员志愿者帮助结对村采收、销售农产品。"),
    (
        ActivityKind.STUDY,
        "党员技能大赛暨“党员先锋岗”评比",
        "开展岗位技能比武，评选季度“党员先锋岗”。",
    ),
)

LEAVE_REASONS = ("出差", "病假", "外出培训", "值班", "家中有事", "陪护家人")
MOBILE_LEAVE_REASON = "在外务工（流动党员），已线上参加学习"
CHANNELS = (Channel.WECOM, Channel.WECOM, Channel.WECHAT, Channel.TELEGRAM)
ROLE_RANK = (
    RoleKind.SECRETARY,
    RoleKind.DEPUTY,
    RoleKind.COMMITTEE,
    RoleKind.LIAISON,
    RoleKind.MEMBER,
)


@dataclass(frozen=True, slots=True)
class DemoInvite:
    """An unused invite the demo left for one of its members."""

    code: str
    org_code: str
    org_name: str
    role: RoleKind
    name: str
    expires_at: datetime


@dataclass(slots=True)
class DemoResult:
    """What a demo run left behind: whether it built from scratch, row counts and invites."""

    created: bool
    counts: dict[str, int] = field(default_factory=dict)
    invites: list[DemoInvite] = field(default_factory=list)


@dataclass(slots=True)
class _Build:
    """The settings of one demo run, passed to each step."""

    session: Session
    now: datetime
    tz: ZoneInfo
    holidays: HolidayCalendar
    today: date
    start: date
    orgs: dict[str, Organization] = field(default_factory=dict)


def build_demo(
    session: Session,
    *,
    now: datetime,
    tz: ZoneInfo,
    holidays: HolidayCalendar,
    invite_ttl: timedelta,
    reset: bool = False,
) -> DemoResult:
    """Creates the demo world, or brings it up to `now`, and reissues its members' invites."""
    if reset:
        wipe_demo(session)
    today = now.astimezone(tz).date()
    start = _months_before(today.replace(day=1), HISTORY_MONTHS - 1)
    build = _Build(session, now, tz, holidays, today, start)
    created = _ensure_orgs(build)
    alliance, alliance_new = _ensure_alliance(build)
    pairings = _ensure_pairings(build)
    session.flush()
    if alliance_new:
        _add_override(build, alliance)
    _org_life_history(build)
    _alliance_history(build, alliance)
    for pairing, spec in pairings:
        _visit_history(build, pairing, spec)
    invites = _reissue_invites(build, invite_ttl)
    session.flush()
    return DemoResult(created=created, counts=demo_counts(session), invites=invites)


# -- structure ---------------------------------------------------------------------------


def _ensure_orgs(build: _Build) -> bool:
    """Inserts the organizations that are missing, with their members; True if the tree was new."""
    session = build.session
    people = _names(sum(spec.size for spec in ORGS))
    created_at = datetime.combine(build.start, time(9, 0), tzinfo=build.tz)
    parent_id: int | None = None
    fresh = False
    for spec in ORGS:
        new_id = insert_ignore(
            session,
            Organization,
            values={
                "code": spec.code,
                "name": spec.name,
                "kind": spec.kind.value,
                "parent_id": parent_id,
                "orglife_ordinal": 1,
                "orglife_weekday": 1,
                "orglife_time": spec.at,
                "orglife_venue": spec.venue,
                "holiday_policy": spec.policy,
                "checkin_code_required": True,
                "created_at": created_at,
            },
            conflict=("code",),
        )
        names, people = people[: spec.size], people[spec.size :]
        org = session.exec(select(Organization).where(Organization.code == spec.code)).one()
        build.orgs[spec.code] = org
        if spec.code == COMMITTEE:
            parent_id = org.id
            fresh = new_id is not None
        # Members arrive with their organization only, so a refresh never adds a second set.
        if new_id is not None:
            _add_members(build, spec, org, names, created_at)
    return fresh


def _add_members(
    build: _Build, spec: OrgSpec, org: Organization, names: list[str], created_at: datetime
) -> None:
    """Adds an organization's members and their roles."""
    assert org.id is not None
    session = build.session
    members = [
        Member(
            name=name,
            organization_id=org.id,
            status=(
                MemberStatus.PROBATIONARY
                if (spec.code, index) in PROBATIONARY
                else MemberStatus.FULL
            ),
            mobile=(spec.code, index) in MOBILE,
            created_at=created_at,
        )
        for index, name in enumerate(names)
    ]
    session.add_all(members)
    session.flush()
    for index, member in enumerate(members):
        assert member.id is not None
        for role in _roles_of(spec, index):
            grant_role(session, org_id=org.id, member_id=member.id, role=role, on=created_at.date())


def _roles_of(spec: OrgSpec, index: int) -> tuple[RoleKind, ...]:
    """Returns the roles of the `index`-th member of an organization."""
    if spec.kind is OrgKind.COMMITTEE:
        return (RoleKind.SECRETARY,) if index == 0 else (RoleKind.COMMITTEE,)
    layout: tuple[RoleKind, ...]
    if spec.unit is UnitKind.PRESIDENT:
        layout = (RoleKind.SECRETARY, RoleKind.DEPUTY, RoleKind.LIAISON, RoleKind.COMMITTEE)
    else:
        layout = (RoleKind.SECRETARY, RoleKind.LIAISON)
    if index < len(layout):
        return (layout[index], RoleKind.MEMBER)
    return (RoleKind.MEMBER,)


def _names(count: int) -> list[str]:
    """Returns `count` distinct, realistic Chinese names, the same ones every run."""
    rng = _rng(SEED)
    given: list[str] = []
    names: list[str] = []
    while len(names) < count:
        # Deal given names like cards, so few people share one.
        if not given:
            given = rng.sample(GIVEN_NAMES, len(GIVEN_NAMES))
        name = rng.choice(SURNAMES) + given.pop()
        if name not in names:
            names.append(name)
    return names


def _ensure_alliance(build: _Build) -> tuple[Alliance, bool]:
    """Inserts the alliance and its units if missing; returns it and whether it was new."""
    session = build.session
    units = [spec for spec in ORGS if spec.unit is not None]
    try:
        alliance = create_alliance(
            session,
            code=ALLIANCE,
            name="“江海红湾”海工党建联盟",
            rota_start=date(build.start.year, 1, 1),
            presidents=[_org_id(build, s) for s in units if s.unit is UnitKind.PRESIDENT],
            members=[_org_id(build, s) for s in units if s.unit is UnitKind.MEMBER],
            actor_id=None,
            now=build.now,
        )
    except ServiceError as error:
        if error.code != "alliance_exists":
            raise
        return session.exec(select(Alliance).where(Alliance.code == ALLIANCE)).one(), False
    return alliance, True


def _org_id(build: _Build, spec: OrgSpec) -> int:
    """Returns the id of a demo organization already stored."""
    org_id = build.orgs[spec.code].id
    assert org_id is not None
    return org_id


def _ensure_pairings(build: _Build) -> list[tuple[Pairing, PairingSpec]]:
    """Inserts the pairings and their organizations if missing."""
    session = build.session
    pairings: list[tuple[Pairing, PairingSpec]] = []
    for spec in PAIRINGS:
        insert_ignore(
            session,
            Pairing,
            values={
                "code": spec.code,
                "name": spec.name,
                "lead_org_id": build.orgs[spec.orgs[0]].id,
                "agreement_start": date(build.start.year, 1, 1),
                "agreement_end": date(build.start.year + 2, 12, 31),
                "goals": spec.goals,
                "visit_target": 3,
            },
            conflict=("code",),
        )
        pairing = session.exec(select(Pairing).where(Pairing.code == spec.code)).one()
        for code in spec.orgs:
            insert_ignore(
                session,
                PairingOrg,
                values={"pairing_id": pairing.id, "organization_id": build.orgs[code].id},
                conflict=("pairing_id", "organization_id"),
            )
        pairings.append((pairing, spec))
    return pairings


def _add_override(build: _Build, alliance: Alliance) -> None:
    """Hands December's theme-day duty to the community branch, as a secretary would."""
    december = month_period(date(build.today.year, 12, 1))
    Rota(build.session, build.now).override(
        alliance=alliance,
        duty=Duty.THEME_DAY,
        period=december,
        org_id=_id(build.orgs["HW-HWSQ"]),
        reason="年终走访慰问活动在红湾社区举办，由社区党支部轮值",
        actor_id=None,
    )


# -- history -----------------------------------------------------------------------------


def _org_life_history(build: _Build) -> None:
    """Makes every branch's org-life days of the last year; past ones are held, with attendance."""
    session = build.session
    meetings = Meetings(session, holidays=build.holidays, tz=build.tz)
    for spec in ORGS:
        if spec.kind is OrgKind.COMMITTEE:
            continue
        org = build.orgs[spec.code]
        members = session.exec(
            select(Member)
            .where(Member.organization_id == org.id, Member.status != MemberStatus.DEPARTED)
            .order_by(col(Member.id))
        ).all()
        liaison = _holder(session, org, RoleKind.LIAISON) or (members[0] if members else None)
        by_id = {
            meeting.id: meeting
            for meeting in (
                meetings.ensure_org_life(org, month.year, month.month)
                for month in _months(build.start, build.today)
            )
        }
        # Held once: the conditional UPDATE makes a refresh skip the months already written.
        held = session.execute(
            update(Meeting)
            .where(
                col(Meeting.id).in_(list(by_id)),
                col(Meeting.status) == MeetingStatus.PLANNED,
                col(Meeting.held_on) < build.today,
            )
            .values(
                status=MeetingStatus.HELD,
                title=case(
                    *(
                        (col(Meeting.period).endswith(f"-{month:02d}"), theme)
                        for month, theme in ORG_LIFE_THEMES.items()
                    ),
                    else_=col(Meeting.title),
                ),
            )
            .returning(col(Meeting.id))
            .execution_options(synchronize_session=False)
        ).scalars()
        rows: list[dict[str, Any]] = []
        for meeting in sorted((by_id[i] for i in held), key=lambda m: m.held_on):
            rng = _rng(f"{SEED}:{spec.code}:{meeting.period}")
            rows.extend(_attendance(rng, meeting, members))
            if liaison is not None and rng.random() < 0.4:
                _own_activity(
                    build,
                    rng=rng,
                    org=org,
                    reporter=liaison,
                    around=meeting.held_on,
                    size=len(members),
                )
        _insert_many(session, Attendance, rows, ("meeting_id", "member_id"))


def _attendance(
    rng: random.Random, meeting: Meeting, members: Iterable[Member]
) -> list[dict[str, Any]]:
    """Returns plausible attendance rows for a held meeting: mostly present, some leave, few absent."""
    rows: list[dict[str, Any]] = []
    for member in members:
        draw = rng.random()
        present, leave = (0.3, 0.9) if member.mobile else (0.86, 0.95)
        if draw < present:
            status, reason = AttendanceStatus.PRESENT, ""
            at = meeting.starts_at + timedelta(minutes=rng.randint(-15, 8))
            channel: Channel | None = rng.choice(CHANNELS)
        elif draw < leave:
            status = AttendanceStatus.LEAVE
            reason = MOBILE_LEAVE_REASON if member.mobile else rng.choice(LEAVE_REASONS)
            at = meeting.starts_at - timedelta(hours=rng.randint(3, 40))
            channel = None
        else:
            status, reason, at, channel = AttendanceStatus.ABSENT, "", meeting.starts_at, None
        rows.append(
            {
                "meeting_id": meeting.id,
                "member_id": member.id,
                "status": status.value,
                "at": at,
                "channel": channel.value if channel else None,
                "reason": reason,
            }
        )
    return rows


def _own_activity(
    build: _Build,
    *,
    rng: random.Random,
    org: Organization,
    reporter: Member,
    around: date,
    size: int,
) -> None:
    """Records one of the branch's own activities of the month in the ledger."""
    kind, title, summary = rng.choice(OWN_ACTIVITIES)
    day = around + timedelta(days=rng.randint(7, 17))
    if day >= build.today:
        return
    Ledger(build.session, _evening(build, day)).record(
        org_id=_id(org),
        reporter_id=reporter.id,
        kind=kind,
        held_on=day,
        title=title,
        participants=max(2, size - rng.randint(0, 2)),
        summary=summary,
        partner_ids=[],
    )


def _alliance_history(build: _Build, alliance: Alliance) -> None:
    """Records the past theme party days (by the unit on duty) and quarterly joint meetings."""
    rota = Rota(build.session, build.now)
    units = rota.units(alliance)
    for month in _months(build.start, build.today):
        day = _workday(build, nth_weekday(month.year, month.month, 3, 3))
        if day >= build.today:
            continue
        slot = rota.slot(alliance, Duty.THEME_DAY, day)
        rng = _rng(f"{SEED}:theme:{slot.period}")
        guests = rng.sample([u.id for u in units if u.id != slot.org.id], 3)
        theme = ORG_LIFE_THEMES[month.month]
        _joint_event(
            build,
            alliance_id=alliance.id,
            pairing_id=None,
            host=build.session.get_one(Organization, slot.org.id),
            kind=MeetingKind.THEME_DAY,
            period=slot.period,
            day=day,
            title=f"联盟主题党日：{theme}",
            activity=ActivityKind.THEME_DAY,
            summary=f"{slot.org.name}轮值牵头，联盟成员单位党员共同参加“{theme}”主题党日活动。",
            partners=guests,
            participants=rng.randint(24, 48),
        )
    quarter = Quarter.of(build.start)
    while quarter.first_day <= build.today:
        middle = quarter.first_day.month + 1
        day = _workday(build, nth_weekday(quarter.year, middle, 2, 2))
        if day < build.today:
            slot = rota.slot(alliance, Duty.CONVENER, day)
            _joint_event(
                build,
                alliance_id=alliance.id,
                pairing_id=None,
                host=build.session.get_one(Organization, slot.org.id),
                kind=MeetingKind.JOINT_MEETING,
                period=str(quarter),
                day=day,
                title=f"党建联盟{quarter.year}年第{quarter.number}季度联席会议",
                activity=ActivityKind.JOINT_MEETING,
                summary="各会长单位党组织负责人交流季度工作，协商联盟活动清单和重点项目推进。",
                partners=[u.id for u in rota.units(alliance, UnitKind.PRESIDENT)],
                participants=12,
            )
        quarter = quarter.next()


def _visit_history(build: _Build, pairing: Pairing, spec: PairingSpec) -> None:
    """Records the pairing's visits (走亲串门), hosted in turn."""
    rota = Rota(build.session, build.now)
    orgs = [org.id for org in rota.pairing_orgs(pairing)]
    for month in _months(build.start, build.today):
        if month.month not in spec.visit_months:
            continue
        day = _workday(build, nth_weekday(month.year, month.month, 4, 3))
        if day >= build.today:
            continue
        host = rota.pairing_host(pairing, Quarter.of(day))
        _joint_event(
            build,
            alliance_id=None,
            pairing_id=pairing.id,
            host=build.session.get_one(Organization, host.id),
            kind=MeetingKind.VISIT,
            period=day.isoformat(),
            day=day,
            title=f"走亲串门：{host.name}",
            activity=ActivityKind.VISIT,
            summary="结对双方党员互访交流，互学支部班子建设经验，协调解决共建事项。",
            partners=orgs,
            participants=12 + month.month % 5,
        )


def _joint_event(
    build: _Build,
    *,
    alliance_id: int | None,
    pairing_id: int | None,
    host: Organization,
    kind: MeetingKind,
    period: str,
    day: date,
    title: str,
    activity: ActivityKind,
    summary: str,
    partners: list[int],
    participants: int,
) -> None:
    """Stores a held joint meeting once, and its ledger entry with it."""
    new_id = insert_ignore(
        build.session,
        Meeting,
        values={
            "organization_id": host.id,
            "kind": kind.value,
            "period": period,
            "held_on": day,
            "starts_at": datetime.combine(day, time(14, 30), tzinfo=build.tz),
            "venue": host.orglife_venue,
            "title": title[:200],
            "alliance_id": alliance_id,
            "pairing_id": pairing_id,
            "checkin_code": new_checkin_code(),
            "checkin_open": False,
            "code_required": True,
            "status": MeetingStatus.HELD.value,
        },
        conflict=("organization_id", "kind", "period"),
    )
    if new_id is None:
        return
    reporter = _holder(build.session, host, RoleKind.LIAISON)
    Ledger(build.session, _evening(build, day)).record(
        org_id=_id(host),
        reporter_id=reporter.id if reporter else None,
        kind=activity,
        held_on=day,
        title=title,
        participants=participants,
        summary=summary,
        partner_ids=partners,
    )


# -- invites -----------------------------------------------------------------------------


def _reissue_invites(build: _Build, ttl: timedelta) -> list[DemoInvite]:
    """Replaces every demo member's unused invites with one fresh invite each."""
    session = build.session
    org_ids = [_id(org) for org in build.orgs.values()]
    member_ids = select(Member.id).where(col(Member.organization_id).in_(org_ids))
    session.execute(
        delete(Invite).where(col(Invite.member_id).in_(member_ids), col(Invite.used_at).is_(None))
    )
    members = Members(session, build.now)
    invites: list[DemoInvite] = []
    for spec in ORGS:
        org = build.orgs[spec.code]
        rows = session.exec(
            select(Member)
            .where(Member.organization_id == org.id, Member.status != MemberStatus.DEPARTED)
            .order_by(col(Member.id))
        ).all()
        roles = _roles_by_member(session, org)
        for member in rows:
            assert member.id is not None
            role = _main_role(roles.get(member.id, set()))
            invite = members.create_invite(
                org_id=_id(org), role=role, name=member.name, member_id=member.id, ttl=ttl
            )
            invites.append(
                DemoInvite(
                    invite.code,
                    org.code,
                    org.name,
                    role,
                    member.name,
                    invite.expires_at.astimezone(build.tz),
                )
            )
    return invites


def _roles_by_member(session: Session, org: Organization) -> dict[int, set[RoleKind]]:
    """Returns the roles each member holds in an organization."""
    roles: dict[int, set[RoleKind]] = {}
    for member_id, role in session.exec(
        select(Role.member_id, Role.role).where(Role.organization_id == org.id)
    ).all():
        roles.setdefault(member_id, set()).add(RoleKind(role))
    return roles


def _main_role(roles: set[RoleKind]) -> RoleKind:
    """Returns the most senior of a member's roles."""
    return next((role for role in ROLE_RANK if role in roles), RoleKind.MEMBER)


# -- reset and counts --------------------------------------------------------------------


def demo_invite(session: Session, role: RoleKind, now: datetime) -> str | None:
    """Returns an unused, unexpired invite code of a demo member with `role`, if one is left."""
    # Branches first: a branch's secretary or member has check-in and the roster to try.
    demo_orgs = select(Organization.id).where(
        col(Organization.code).in_([s.code for s in ORGS]), Organization.kind != OrgKind.COMMITTEE
    )
    return session.exec(
        select(Invite.code)
        .where(
            col(Invite.organization_id).in_(demo_orgs),
            Invite.role == role,
            col(Invite.used_at).is_(None),
            Invite.expires_at > now,
        )
        .order_by(col(Invite.organization_id), col(Invite.id))
    ).first()


def wipe_demo(session: Session) -> None:
    """Deletes the demo organizations, alliance and pairings and every row that refers to them."""
    tables = SQLModel.metadata.sorted_tables
    doomed: dict[str, set[Any]] = {
        "organization": set(
            session.exec(
                select(Organization.id).where(col(Organization.code).in_([s.code for s in ORGS]))
            )
        ),
        "alliance": set(session.exec(select(Alliance.id).where(Alliance.code == ALLIANCE))),
        "pairing": set(
            session.exec(
                select(Pairing.id).where(col(Pairing.code).in_([s.code for s in PAIRINGS]))
            )
        ),
    }
    # Follow every foreign key until nothing new refers to a doomed row; tables other engineers
    # add later are covered as long as they are on the metadata.
    fresh = set(doomed)
    while fresh:
        found_in: set[str] = set()
        for table in tables:
            key = _single_key(table)
            targets = {fk.column.table.name for fk in table.foreign_keys}
            if key is None or not targets & fresh:
                continue
            refers = [
                fk.parent.in_(doomed[fk.column.table.name])
                for fk in table.foreign_keys
                if doomed.get(fk.column.table.name)
            ]
            found = set(session.execute(select(key).where(or_(*refers))).scalars())
            new = found - doomed.setdefault(table.name, set())
            if new:
                doomed[table.name] |= new
                found_in.add(table.name)
        fresh = found_in
    accounts = doomed.get(ChatAccount.__tablename__, set())  # type: ignore[arg-type]
    for channel, external_id in session.exec(
        select(ChatAccount.channel, ChatAccount.external_id).where(
            col(ChatAccount.id).in_(accounts)
        )
    ).all():
        session.execute(
            delete(Conversation).where(
                col(Conversation.channel) == channel, col(Conversation.user_id) == external_id
            )
        )
    for table in reversed(tables):
        key = _single_key(table)
        ids = doomed.get(table.name)
        if key is not None and ids:
            session.execute(delete(table).where(key.in_(ids)))
    session.expunge_all()


def _single_key(table: Table) -> Column[Any] | None:
    """Returns a table's primary-key column when it has exactly one."""
    columns = list(table.primary_key.columns)
    return columns[0] if len(columns) == 1 else None


def demo_counts(session: Session) -> dict[str, int]:
    """Counts the rows of the tables the demo fills."""
    models: dict[str, type[SQLModel]] = {
        "organizations": Organization,
        "members": Member,
        "roles": Role,
        "alliances": Alliance,
        "alliance_units": AllianceUnit,
        "pairings": Pairing,
        "meetings": Meeting,
        "attendance": Attendance,
        "activities": Activity,
        "rota_overrides": RotaOverride,
        "invites": Invite,
    }
    return {
        name: int(session.exec(select(func.count()).select_from(model)).one())
        for name, model in models.items()
    }


# -- small helpers -----------------------------------------------------------------------


def _insert_many(
    session: Session, model: type[SQLModel], rows: list[dict[str, Any]], conflict: tuple[str, ...]
) -> None:
    """Inserts many rows in one statement, skipping those that clash with `conflict`."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(table).on_conflict_do_nothing(index_elements=list(conflict)), rows)


def _rng(key: str) -> random.Random:
    """Returns a generator seeded by `key`, so the same month gets the same data every run."""
    return random.Random(key)  # noqa: S311 (made-up demo data, not secrets)


def _holder(session: Session, org: Organization, role: RoleKind) -> Member | None:
    """Returns the first member holding `role` in an organization."""
    return session.exec(
        select(Member)
        .join(Role, col(Role.member_id) == Member.id)
        .where(Role.organization_id == org.id, Role.role == role)
        .order_by(col(Member.id))
    ).first()


def _months(first: date, last: date) -> list[date]:
    """Lists the first days of the months from `first`'s month to `last`'s month."""
    months: list[date] = []
    cursor = first.replace(day=1)
    while cursor <= last:
        months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


def _months_before(first_of_month: date, count: int) -> date:
    """Returns the first day of the month `count` months before."""
    index = first_of_month.year * 12 + first_of_month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def _workday(build: _Build, day: date) -> date:
    """Returns `day`, or the next working day when it is a day off."""
    return day if build.holidays.is_workday(day) else build.holidays.next_workday(day)


def _evening(build: _Build, day: date) -> datetime:
    """Returns when an activity of `day` was reported: that evening, or now if sooner."""
    return min(datetime.combine(day, time(20, 0), tzinfo=build.tz), build.now)


def _id(org: Organization) -> int:
    """Returns a stored organization's id."""
    assert org.id is not None
    return org.id
