"""A city's worth of party organizations and a year of their records, generated deterministically.

`build_city(url, CITY)` fills a migrated database with 5,000 organizations (committees, general
branches, branches), 100,000 members with roles and chat accounts, alliances and pairings, and
the year before 2026-11-03 (an organization-life day): org-life meetings with attendance, theme
days, joint meetings, visits, ledger entries, filings, mobile members and last month's pushes.
Rows are written in bulk (executemany on SQLite, COPY on PostgreSQL) with ids fixed in advance,
so the same size always gives the same database.

Run: python -m bench.cityscale [--orgs 5000] [--members 100000] [--url URL]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

from bench.databases import backend_of, database, sqlite_database
from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import HolidayPolicy, OrgLifeDay, nth_weekday, org_life_day
from bot.calendar.quarters import Quarter, month_key
from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    Duty,
    DutyPeriod,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    OrgKind,
    RoleKind,
    UnitKind,
)
from bot.core.inbound import Channel
from bot.services.obligations.facts import AllianceFact, UnitFact
from storage.engine import make_engine
from storage.models import (
    Activity,
    ActivityPartner,
    Alliance,
    AllianceUnit,
    Attendance,
    ChatAccount,
    Meeting,
    Member,
    Organization,
    Pairing,
    PairingOrg,
    Role,
    RotaOverride,
)
from storage.reminders import (
    Filing,
    FilingKind,
    FilingMethod,
    MobileMovement,
    MovementDirection,
    OutboxMessage,
    OutboxStatus,
    alliance_scope,
    org_scope,
    pairing_scope,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The city's "today": the first Tuesday of November 2026, an organization-life day.
TODAY = date(2026, 11, 3)
FIRST_MONTH = date(2025, 11, 1)
CREATED = datetime(2024, 1, 1, tzinfo=UTC)
ALLIANCE_SIZE = 20
PRESIDENTS = 6
SEED = 20261103

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文斌辉鹏飞宇浩然晨阳雪梅海波云"
THEMES = ("理论学习", "志愿服务", "红色教育", "主题党日", "党课学习", "政策宣讲")
CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class CitySize:
    """How big a city to build."""

    orgs: int
    members: int


CITY = CitySize(orgs=5_000, members=100_000)
QUICK_CITY = CitySize(orgs=300, members=6_000)
TINY_CITY = CitySize(orgs=24, members=300)


@dataclass(frozen=True, slots=True)
class CityAccount:
    """A chat account of a current member, with what the benchmarks need to act as them."""

    member_id: int
    org_id: int
    channel: Channel
    external_id: str
    roles: tuple[RoleKind, ...]
    checkin_text: str
    on_leave: bool


@dataclass
class City:
    """What was generated: row counts and the accounts benchmarks speak through."""

    size: CitySize
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    accounts: list[CityAccount] = field(default_factory=list)
    branches: list[int] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        """Counts every generated row."""
        return sum(self.rows.values())

    def secretaries(self) -> list[CityAccount]:
        """Lists one account of each branch secretary."""
        seen: set[int] = set()
        found = []
        for account in self.accounts:
            if RoleKind.SECRETARY in account.roles and account.member_id not in seen:
                seen.add(account.member_id)
                found.append(account)
        return found

    def checkers(self, channel: Channel) -> list[CityAccount]:
        """Lists the accounts on `channel` of members who may check in today, in a fixed shuffle."""
        found = [a for a in self.accounts if a.channel is channel and not a.on_leave]
        random.Random(SEED).shuffle(found)
        return found


class _Rows:
    """Rows of one table, with ids handed out in order."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.rows: list[tuple[Any, ...]] = []

    def add(self, *values: Any) -> int:
        """Appends a row (without its id) and returns the id it gets."""
        row_id = len(self.rows) + 1
        self.rows.append((row_id, *values))
        return row_id


def _table(model: Any) -> Table:
    """Returns a model's table."""
    table: Table = model.__table__
    return table


def _rows(model: Any, *columns: str) -> _Rows:
    """Starts collecting rows of a model, `id` first."""
    return _Rows(_table(model), ("id", *columns))


class _Generator:
    """Builds every table's rows in memory, deterministically from the seed."""

    def __init__(self, size: CitySize, holidays: HolidayCalendar) -> None:
        self.size = size
        self.holidays = holidays
        self.rng = random.Random(SEED)
        self.city = City(size)
        self.orgs = _rows(
            Organization,
            "code",
            "name",
            "kind",
            "parent_id",
            "orglife_ordinal",
            "orglife_weekday",
            "orglife_time",
            "orglife_venue",
            "holiday_policy",
            "checkin_code_required",
            "created_at",
        )
        self.members = _rows(
            Member,
            "name",
            "organization_id",
            "status",
            "mobile",
            "locale",
            "phone",
            "muted",
            "created_at",
            "departed_at",
        )
        self.roles = _rows(Role, "organization_id", "member_id", "role")
        self.accounts = _rows(
            ChatAccount, "channel", "external_id", "member_id", "created_at", "last_seen_at"
        )
        self.alliances = _rows(
            Alliance, "code", "name", "rota_start", "duty_period", "executive_term_months"
        )
        self.units = _rows(AllianceUnit, "alliance_id", "organization_id", "kind", "rotation_order")
        self.overrides = _rows(
            RotaOverride,
            "alliance_id",
            "duty",
            "period",
            "organization_id",
            "reason",
            "created_by",
            "created_at",
        )
        self.pairings = _rows(
            Pairing,
            "code",
            "name",
            "lead_org_id",
            "agreement_start",
            "agreement_end",
            "goals",
            "visit_target",
        )
        self.pairing_orgs = _rows(PairingOrg, "pairing_id", "organization_id")
        self.meetings = _rows(
            Meeting,
            "organization_id",
            "kind",
            "period",
            "held_on",
            "starts_at",
            "venue",
            "title",
            "moved_from",
            "move_reason",
            "holiday",
            "alliance_id",
            "pairing_id",
            "checkin_code",
            "checkin_open",
            "code_required",
            "status",
        )
        self.attendance = _rows(
            Attendance, "meeting_id", "member_id", "status", "at", "channel", "reason"
        )
        self.activities = _rows(
            Activity,
            "organization_id",
            "kind",
            "held_on",
            "title",
            "participants",
            "summary",
            "reporter_id",
            "pairing_id",
            "alliance_id",
            "created_at",
        )
        self.partners = _rows(ActivityPartner, "activity_id", "organization_id")
        self.filings = _rows(Filing, "kind", "scope", "period", "method", "filed_by", "filed_at")
        self.movements = _rows(
            MobileMovement,
            "member_id",
            "direction",
            "place",
            "marked_by",
            "marked_at",
            "whereabouts_at",
            "arrival_at",
            "workplace_at",
        )
        self.outbox = _rows(
            OutboxMessage,
            "key",
            "rule",
            "subject",
            "period",
            "member_id",
            "urgent",
            "text",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "claimed_at",
            "claimed_by",
            "channel",
            "created_at",
            "sent_at",
        )
        # Per branch: its members (secretary first), the time of its org-life meeting, policy.
        self.branch_members: dict[int, list[int]] = {}
        self.branch_time: dict[int, clock_time] = {}
        self.branch_policy: dict[int, HolidayPolicy] = {}
        self.branch_code_required: dict[int, bool] = {}
        self.member_channel: dict[int, Channel] = {}
        self.member_roles: dict[int, list[RoleKind]] = {}
        self._days: dict[tuple[int, int, HolidayPolicy], OrgLifeDay] = {}

    # -- structure -----------------------------------------------------------------------

    def build(self) -> City:
        """Generates every table."""
        branches = self._organizations()
        self._members(branches)
        in_alliance = self._alliances(branches)
        self._pairings(branches, in_alliance)
        self._org_life_history(branches)
        self._branch_activities(branches)
        self._mobile_members()
        self._last_month_pushes(branches)
        self.city.branches = branches
        return self.city

    def tables(self) -> list[_Rows]:
        """Returns the tables in an order that satisfies foreign keys."""
        return [
            self.orgs,
            self.members,
            self.roles,
            self.accounts,
            self.alliances,
            self.units,
            self.overrides,
            self.pairings,
            self.pairing_orgs,
            self.meetings,
            self.attendance,
            self.activities,
            self.partners,
            self.filings,
            self.movements,
            self.outbox,
        ]

    def _organizations(self) -> list[int]:
        """Creates committees, general branches under them and branches; returns the branches."""
        rng = self.rng
        committees = max(1, round(self.size.orgs / 100))
        generals = 2 * committees if self.size.orgs >= 5 * committees else 0
        branch_count = self.size.orgs - committees - generals
        if branch_count < 2:
            raise ValueError("a city needs at least two branches")
        committee_ids = []
        for c in range(committees):
            committee_ids.append(
                self.orgs.add(
                    f"C{c + 1:03d}",
                    f"第{c + 1}街道党工委",
                    OrgKind.COMMITTEE.value,
                    None,
                    1,
                    1,
                    "09:00",
                    "",
                    HolidayPolicy.KEEP.value,
                    True,
                    CREATED,
                )
            )
        general_ids: dict[int, list[int]] = {c: [] for c in range(committees)}
        for g in range(generals):
            c = g % committees
            general_ids[c].append(
                self.orgs.add(
                    f"C{c + 1:03d}-G{g // committees + 1}",
                    f"第{c + 1}街道第{g // committees + 1}党总支",
                    OrgKind.GENERAL_BRANCH.value,
                    committee_ids[c],
                    1,
                    1,
                    "09:00",
                    "",
                    HolidayPolicy.KEEP.value,
                    True,
                    CREATED,
                )
            )
        branches = []
        for b in range(branch_count):
            c = b % committees
            parent = committee_ids[c]
            if general_ids[c] and rng.random() < 0.3:
                parent = rng.choice(general_ids[c])
            kind = OrgKind.JOINT_BRANCH if rng.random() < 0.1 else OrgKind.BRANCH
            starts = rng.choices(
                (clock_time(9, 0), clock_time(14, 30), clock_time(8, 30)), (6, 3, 1)
            )[0]
            policy = HolidayPolicy.NEXT_WORKDAY if rng.random() < 0.3 else HolidayPolicy.KEEP
            code_required = rng.random() < 0.8
            org_id = self.orgs.add(
                f"B{b + 1:05d}",
                f"第{c + 1}街道第{b // committees + 1}{'联合' if kind is OrgKind.JOINT_BRANCH else ''}党支部",
                kind.value,
                parent,
                1,
                1,
                starts.strftime("%H:%M"),
                f"{b + 1}号党员活动室",
                policy.value,
                code_required,
                CREATED,
            )
            self.branch_time[org_id] = starts
            self.branch_policy[org_id] = policy
            self.branch_code_required[org_id] = code_required
            branches.append(org_id)
        return branches

    def _sizes(self, count: int) -> list[int]:
        """Splits the members over `count` branches: 3 to 50 each, adding up exactly."""
        rng = self.rng
        if not 3 * count <= self.size.members <= 50 * count:
            raise ValueError(f"{self.size.members} members do not fit {count} branches of 3 to 50")
        raw = [rng.randint(5, 40) for _ in range(count)]
        scale = self.size.members / sum(raw)
        sizes = [min(50, max(3, round(value * scale))) for value in raw]
        step = 1 if sum(sizes) < self.size.members else -1
        while sum(sizes) != self.size.members:
            index = rng.randrange(count)
            if 3 <= sizes[index] + step <= 50:
                sizes[index] += step
        return sizes

    def _members(self, branches: list[int]) -> None:
        """Creates members with roles and one or two chat accounts each."""
        rng = self.rng
        channels = (Channel.WECHAT, Channel.TELEGRAM, Channel.WECOM)
        for org_id, size in zip(branches, self._sizes(len(branches)), strict=True):
            ids = []
            for index in range(size):
                departed = index > 3 and rng.random() < 0.003
                status = (
                    MemberStatus.DEPARTED
                    if departed
                    else MemberStatus.PROBATIONARY
                    if rng.random() < 0.04
                    else MemberStatus.FULL
                )
                member_id = self.members.add(
                    rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2))),
                    org_id,
                    status.value,
                    rng.random() < 0.01,
                    "en" if rng.random() < 0.08 else None,
                    None,
                    index > 3 and rng.random() < 0.03,
                    CREATED,
                    datetime(2026, 6, 1, tzinfo=UTC) if departed else None,
                )
                roles = [RoleKind.MEMBER]
                if index == 0:
                    roles.insert(0, RoleKind.SECRETARY)
                elif index == 1 and size >= 7:
                    roles.insert(0, RoleKind.DEPUTY)
                elif index == 2:
                    roles.insert(0, RoleKind.LIAISON)
                elif index == 3 and size >= 7:
                    roles.insert(0, RoleKind.COMMITTEE)
                for role in roles:
                    self.roles.add(org_id, member_id, role.value)
                if departed:
                    continue
                ids.append(member_id)
                self.member_roles[member_id] = roles
                primary = rng.choices(channels, (45, 35, 20))[0]
                self.member_channel[member_id] = primary
                owned = [primary]
                if rng.random() < 0.1:
                    owned.append(rng.choice([c for c in channels if c is not primary]))
                for channel in owned:
                    seen = datetime.combine(TODAY, clock_time(7, 0), tzinfo=SHANGHAI) - timedelta(
                        minutes=rng.randint(60, 20 * 24 * 60)
                    )
                    self.accounts.add(
                        channel.value, _external_id(channel, member_id), member_id, CREATED, seen
                    )
            self.branch_members[org_id] = ids

    def _alliances(self, branches: list[int]) -> set[int]:
        """Groups 60% of the branches into alliances of 20 (6 president units); returns them."""
        rng = self.rng
        pool = rng.sample(branches, int(len(branches) * 0.6))
        groups = [pool[i : i + ALLIANCE_SIZE] for i in range(0, len(pool), ALLIANCE_SIZE)]
        if len(groups) > 1 and len(groups[-1]) < PRESIDENTS + 1:
            groups[-2].extend(groups.pop())
        members: set[int] = set()
        for number, group in enumerate(groups, 1):
            if len(group) < 2:
                continue
            period = DutyPeriod.MONTH if rng.random() < 0.7 else DutyPeriod.QUARTER
            alliance_id = self.alliances.add(
                f"A{number:04d}", f"第{number}党建联盟", date(2025, 1, 1), period.value, 12
            )
            units = []
            for order, org_id in enumerate(group, 1):
                kind = UnitKind.PRESIDENT if order <= PRESIDENTS else UnitKind.MEMBER
                self.units.add(alliance_id, org_id, kind.value, order)
                units.append(UnitFact(org_id, kind, order))
                members.add(org_id)
            fact = AllianceFact(
                id=alliance_id,
                code=f"A{number:04d}",
                name="",
                rota_start=date(2025, 1, 1),
                duty_period=period,
                executive_term_months=12,
                units=tuple(units),
                overrides={},
            )
            if rng.random() < 0.1:
                slot = fact.duty(Duty.THEME_DAY, date(2026, 12, 1))
                assert slot is not None
                other = rng.choice([org for org in group if org != slot.org_id])
                self.overrides.add(
                    alliance_id,
                    Duty.THEME_DAY.value,
                    slot.period,
                    other,
                    "轮值单位年底任务重，调换",
                    None,
                    datetime(2026, 10, 20, tzinfo=UTC),
                )
            self._alliance_history(fact, group)
        return members

    def _alliance_history(self, alliance: AllianceFact, group: list[int]) -> None:
        """Records a year of theme days and quarterly joint meetings, with ledger entries."""
        rng = self.rng
        month = FIRST_MONTH
        done_periods: set[str] = set()
        while month <= TODAY:
            day = nth_weekday(month.year, month.month, 3, 2)
            slot = alliance.duty(Duty.THEME_DAY, day)
            if slot is not None and slot.period not in done_periods and day < TODAY:
                done_periods.add(slot.period)
                self._joint_event(
                    host=slot.org_id,
                    kind=MeetingKind.THEME_DAY,
                    period=slot.period,
                    day=day,
                    alliance_id=alliance.id,
                    pairing_id=None,
                    partners=rng.sample(group, min(3, len(group))),
                    activity=ActivityKind.THEME_DAY,
                )
            month = _next_month(month)
        quarter = Quarter.of(FIRST_MONTH)
        while quarter.first_day <= TODAY:
            day = nth_weekday(quarter.year, quarter.first_day.month + 1, 2, 1)
            current = quarter == Quarter.of(TODAY)
            if day < TODAY and (not current or rng.random() < 0.3):
                slot = alliance.duty(Duty.CONVENER, day)
                if slot is not None:
                    self._joint_event(
                        host=slot.org_id,
                        kind=MeetingKind.JOINT_MEETING,
                        period=str(quarter),
                        day=day,
                        alliance_id=alliance.id,
                        pairing_id=None,
                        partners=[u.org_id for u in alliance.units if u.kind is UnitKind.PRESIDENT],
                        activity=ActivityKind.JOINT_MEETING,
                    )
            quarter = quarter.next()
        executive = alliance.duty(Duty.EXECUTIVE, TODAY)
        if executive is not None and rng.random() < 0.85:
            self._filing(
                FilingKind.ANNUAL_PLAN, alliance_scope(alliance.id), "2026", executive.org_id
            )

    def _pairings(self, branches: list[int], in_alliance: set[int]) -> None:
        """Pairs branches two by two (some three by three), each branch in at most one pairing."""
        rng = self.rng
        pool = rng.sample(branches, int(len(branches) * 0.65))
        number = 0
        while len(pool) >= 2:
            take = 3 if len(pool) >= 3 and rng.random() < 0.1 else 2
            group, pool = pool[:take], pool[take:]
            number += 1
            start = date(2025, 3, 1) + timedelta(days=rng.randint(0, 200))
            pairing_id = self.pairings.add(
                f"P{number:05d}",
                f"第{number}结对共建",
                group[0],
                start,
                None if rng.random() < 0.7 else date(2027, 12, 31),
                "共建目标：组织共建、活动共办、资源共享",
                3,
            )
            for org_id in group:
                self.pairing_orgs.add(pairing_id, org_id)
            visits = rng.randint(1, 3)
            for index, visit_month in enumerate(sorted(rng.sample(range(1, 11), visits))):
                day = nth_weekday(2026, visit_month, 4, 2)
                if day < start:
                    continue
                self._joint_event(
                    host=group[index % len(group)],
                    kind=MeetingKind.VISIT,
                    period=day.isoformat(),
                    day=day,
                    alliance_id=None,
                    pairing_id=pairing_id,
                    partners=group,
                    activity=ActivityKind.VISIT,
                )
            if rng.random() < 0.85:
                self._filing(FilingKind.ANNUAL_PLAN, pairing_scope(pairing_id), "2026", group[0])
        for org_id in sorted(in_alliance):
            quarter = Quarter.of(FIRST_MONTH)
            while quarter.last_day < TODAY:
                if rng.random() < 0.9:
                    self._filing(FilingKind.LEDGER, org_scope(org_id), str(quarter), org_id)
                quarter = quarter.next()

    def _joint_event(
        self,
        *,
        host: int,
        kind: MeetingKind,
        period: str,
        day: date,
        alliance_id: int | None,
        pairing_id: int | None,
        partners: Sequence[int],
        activity: ActivityKind,
    ) -> None:
        """Stores a held joint meeting and its ledger entry with partners."""
        starts = datetime.combine(day, clock_time(14, 30), tzinfo=SHANGHAI)
        title = f"{THEMES[day.month % len(THEMES)]}（{period}）"
        self.meetings.add(
            host,
            kind.value,
            period,
            day,
            starts,
            "联盟活动中心",
            title,
            None,
            None,
            None,
            alliance_id,
            pairing_id,
            "000000",
            False,
            False,
            MeetingStatus.HELD.value,
        )
        reporter = self.branch_members.get(host, [None])[0]
        activity_id = self.activities.add(
            host,
            activity.value,
            day,
            title,
            self.rng.randint(8, 40),
            f"{title}：各单位党员共同参加，交流学习体会。",
            reporter,
            pairing_id,
            alliance_id,
            starts + timedelta(hours=3),
        )
        for org_id in dict.fromkeys(partners):
            if org_id != host:
                self.partners.add(activity_id, org_id)

    def _filing(self, kind: FilingKind, scope: str, period: str, org_id: int) -> None:
        """Records a filed report."""
        by = self.branch_members.get(org_id, [None])[0]
        self.filings.add(
            kind.value,
            scope,
            period,
            FilingMethod.SUBMITTED.value,
            by,
            datetime(2026, 1, 20, tzinfo=UTC) if period == "2026" else _filed_at(period),
        )

    # -- records ---------------------------------------------------------------------------

    def _day(self, year: int, month: int, policy: HolidayPolicy) -> OrgLifeDay:
        """Returns (and remembers) the org-life day of a month under a policy."""
        key = (year, month, policy)
        if key not in self._days:
            self._days[key] = org_life_day(year, month, holidays=self.holidays, policy=policy)
        return self._days[key]

    def _org_life_history(self, branches: list[int]) -> None:
        """Records each branch's org-life meetings for a year, with attendance, and today's."""
        rng = self.rng
        for org_id in branches:
            members = self.branch_members[org_id]
            month = FIRST_MONTH
            while month <= TODAY:
                day = self._day(month.year, month.month, self.branch_policy[org_id])
                today = day.date == TODAY
                if day.date > TODAY:
                    break
                starts = datetime.combine(day.date, self.branch_time[org_id], tzinfo=SHANGHAI)
                code_required = self.branch_code_required[org_id]
                code = f"{rng.randrange(1_000_000):06d}"
                meeting_id = self.meetings.add(
                    org_id,
                    MeetingKind.ORG_LIFE.value,
                    month_key(month),
                    day.date,
                    starts,
                    "党员活动室",
                    "",
                    day.original if day.moved else None,
                    day.reason.value if day.reason else None,
                    day.holiday.value if day.holiday else None,
                    None,
                    None,
                    code,
                    today,
                    code_required,
                    (MeetingStatus.PLANNED if today else MeetingStatus.HELD).value,
                )
                for member_id in members:
                    draw = rng.random()
                    channel = self.member_channel[member_id].value
                    if today:
                        if draw < 0.06:
                            self.attendance.add(
                                meeting_id,
                                member_id,
                                AttendanceStatus.LEAVE.value,
                                starts - timedelta(days=1, hours=rng.randint(1, 30)),
                                channel,
                                "出差",
                            )
                        else:
                            text = f"签到 {code}" if code_required else "签到"
                            self._checker(member_id, org_id, text)
                        continue
                    if draw < 0.85:
                        self.attendance.add(
                            meeting_id,
                            member_id,
                            AttendanceStatus.PRESENT.value,
                            starts + timedelta(minutes=rng.randint(-20, 10)),
                            channel,
                            "",
                        )
                    elif draw < 0.92:
                        self.attendance.add(
                            meeting_id,
                            member_id,
                            AttendanceStatus.LEAVE.value,
                            starts - timedelta(hours=rng.randint(2, 48)),
                            channel,
                            "出差",
                        )
                month = _next_month(month)

    def _checker(self, member_id: int, org_id: int, text: str) -> None:
        """Remembers how a member who is not on leave checks in today."""
        roles = tuple(self.member_roles[member_id])
        primary = self.member_channel[member_id]
        self.city.accounts.append(
            CityAccount(
                member_id, org_id, primary, _external_id(primary, member_id), roles, text, False
            )
        )

    def _branch_activities(self, branches: list[int]) -> None:
        """Records a year of each branch's own ledger entries: a study a month, most opinions."""
        rng = self.rng
        for org_id in branches:
            members = self.branch_members[org_id]
            reporter = members[0] if members else None
            month = FIRST_MONTH
            while month < TODAY.replace(day=1):
                day = month + timedelta(days=rng.randint(5, 25))
                self.activities.add(
                    org_id,
                    ActivityKind.STUDY.value,
                    day,
                    f"{month.month}月集中学习",
                    max(1, len(members) - rng.randint(0, 4)),
                    "学习党的创新理论，交流学习体会，结合工作谈打算。",
                    reporter,
                    None,
                    None,
                    datetime.combine(day, clock_time(18, 0), tzinfo=SHANGHAI),
                )
                if rng.random() < 0.8:
                    opinion_day = month.replace(day=rng.randint(10, 27))
                    self.activities.add(
                        org_id,
                        ActivityKind.OPINION.value,
                        opinion_day,
                        f"{month.month}月征求意见",
                        max(1, len(members) // 2),
                        "面向党员群众征求意见建议，逐条梳理反馈。",
                        reporter,
                        None,
                        None,
                        datetime.combine(opinion_day, clock_time(18, 0), tzinfo=SHANGHAI),
                    )
                month = _next_month(month)

    def _mobile_members(self) -> None:
        """Marks 0.8% of the members as leaving; half of them filed their whereabouts."""
        rng = self.rng
        members = sorted(self.member_channel)
        for member_id in rng.sample(members, max(1, len(members) * 8 // 1000)):
            marked = datetime.combine(
                TODAY - timedelta(days=rng.randint(1, 90)), clock_time(10, 0), tzinfo=SHANGHAI
            )
            self.movements.add(
                member_id,
                MovementDirection.LEAVING.value,
                "外出务工",
                None,
                marked,
                marked + timedelta(days=2) if rng.random() < 0.5 else None,
                None,
                None,
            )

    def _last_month_pushes(self, branches: list[int]) -> None:
        """Records last month's org-life pushes (evening before and morning), as sent."""
        day = self._day(2026, 10, HolidayPolicy.KEEP).date
        for org_id in branches:
            for member_id in self.branch_members[org_id]:
                channel = self.member_channel[member_id].value
                for tag, at in (("eve", clock_time(19, 0)), ("morning", clock_time(7, 30))):
                    sent = datetime.combine(
                        day - timedelta(days=1) if tag == "eve" else day, at, tzinfo=SHANGHAI
                    )
                    period = f"{day.isoformat()}-{tag}"
                    subject = org_scope(org_id)
                    self.outbox.add(
                        f"orglife:{subject}:{period}:m{member_id}",
                        "orglife",
                        subject,
                        period,
                        member_id,
                        tag == "morning",
                        "明天上午9:00在党员活动室召开组织生活会，请准时参加。",
                        OutboxStatus.SENT.value,
                        1,
                        sent,
                        "",
                        sent,
                        "bench",
                        channel,
                        sent,
                        sent + timedelta(seconds=2),
                    )


def _external_id(channel: Channel, member_id: int) -> str:
    """Returns a member's account id on a channel, shaped like the platform's."""
    if channel is Channel.TELEGRAM:
        return str(5_000_000_000 + member_id)
    if channel is Channel.WECHAT:
        return f"o{member_id:027d}"
    return f"wu{member_id:08d}"


def _next_month(day: date) -> date:
    """Returns the first day of the following month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _filed_at(period: str) -> datetime:
    """Returns when a quarter's ledger was filed: a few days before the quarter ended."""
    quarter = Quarter.parse(period)
    return datetime.combine(quarter.last_day - timedelta(days=3), clock_time(2, 0), tzinfo=UTC)


# -- writing ---------------------------------------------------------------------------------


def bulk_insert(connection: Connection, rows: _Rows) -> None:
    """Writes one table's rows: COPY on PostgreSQL, the driver's executemany on SQLite."""
    if not rows.rows:
        return
    if connection.dialect.name == "postgresql":
        _copy(connection, rows)
        return
    table = rows.table
    # SQLAlchemy's own bind processors, so values are stored exactly as the ORM stores them.
    processors = [
        table.c[name].type._cached_bind_processor(connection.dialect) for name in rows.columns
    ]
    names = ", ".join(f'"{name}"' for name in rows.columns)
    marks = ", ".join("?" for _ in rows.columns)
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
    driver: Any = connection.connection.driver_connection
    for start in range(0, len(rows.rows), CHUNK):
        chunk = rows.rows[start : start + CHUNK]
        driver.executemany(
            statement,
            [
                tuple(
                    value if process is None else process(value)
                    for process, value in zip(processors, row, strict=True)
                )
                for row in chunk
            ],
        )


def _copy(connection: Connection, rows: _Rows) -> None:
    """Streams rows into PostgreSQL with COPY, then moves the id sequence past them."""
    driver: Any = connection.connection.driver_connection
    names = ", ".join(f'"{name}"' for name in rows.columns)
    table = rows.table.name
    with driver.cursor() as cursor:
        _skip_foreign_key_triggers(cursor)
        with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows.rows:
                copy.write_row(row)
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), %s)",
            (len(rows.rows),),
        )


def _skip_foreign_key_triggers(cursor: Any) -> None:
    """Lets a superuser load rows without per-row foreign key triggers (the rows are consistent)."""
    cursor.execute("SAVEPOINT bench_replica")
    try:
        cursor.execute("SET LOCAL session_replication_role = replica")
    except Exception:  # not a superuser: load with the triggers, only slower
        cursor.execute("ROLLBACK TO SAVEPOINT bench_replica")
    else:
        cursor.execute("RELEASE SAVEPOINT bench_replica")


def write_city(url: str, generator: _Generator) -> None:
    """Writes the generated rows into the (migrated, empty) database at `url`."""
    engine = make_engine(url, pool=False)
    try:
        with engine.begin() as connection:
            for rows in generator.tables():
                bulk_insert(connection, rows)
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Autovacuum would vacuum and analyze the new rows within minutes, competing with
                # the benchmarks for the CPU: do its work now, as it would.
                auto = connection.execution_options(isolation_level="AUTOCOMMIT")
                auto.execute(text("VACUUM (ANALYZE)"))
            else:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def build_city(url: str, size: CitySize = CITY, *, holidays: HolidayCalendar | None = None) -> City:
    """Fills the migrated, empty database at `url` with a generated city; returns what it made."""
    started = time.perf_counter()
    generator = _Generator(size, holidays or HolidayCalendar.load())
    city = generator.build()
    write_city(url, generator)
    city.rows = {rows.table.name: len(rows.rows) for rows in generator.tables()}
    city.seconds = time.perf_counter() - started
    return city


def describe(city: City, url: str) -> str:
    """Summarizes a generated city in one line."""
    rows = city.rows
    return (
        f"{backend_of(url)}: {rows['organization']:,} organizations, {rows['member']:,} members, "
        f"{rows['meeting']:,} meetings, {rows['attendance']:,} attendance rows, "
        f"{rows['activity']:,} ledger entries, {rows['outbox']:,} past pushes; "
        f"{city.total_rows:,} rows in {city.seconds:.1f} s"
    )


def count_accounts(accounts: Iterable[CityAccount]) -> dict[Channel, int]:
    """Counts accounts per channel."""
    found: dict[Channel, int] = {}
    for account in accounts:
        found[account.channel] = found.get(account.channel, 0) + 1
    return found


def main() -> None:
    """Builds a city into a fresh database and prints what it holds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=CITY.orgs)
    parser.add_argument("--members", type=int, default=CITY.members)
    parser.add_argument(
        "--url", default=None, help="a migrated, empty database (default: temp SQLite)"
    )
    args = parser.parse_args()
    size = CitySize(args.orgs, args.members)
    if args.url:
        print(describe(build_city(args.url, size), args.url))
        return
    with sqlite_database() as url:
        print(describe(build_city(url, size), url))


@contextmanager
def city_database(
    backend: str, size: CitySize, postgres_url: str | None = None
) -> Iterator[tuple[str, City]]:
    """Yields a fresh database on `backend` holding a generated city, and the city."""
    with database(backend, postgres_url) as url:
        yield url, build_city(url, size)


if __name__ == "__main__":
    main()
