"""Builds the demo world from the seeds through the services: structure, a year of history, invites."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
from bot.demo.seeds import (
    ALLIANCE,
    ALLIANCE_NAME,
    CHANNELS,
    COMMITTEE,
    DECEMBER_HOST,
    DECEMBER_REASON,
    GIVEN_NAMES,
    HISTORY_MONTHS,
    JOINT_MEETING_SUMMARY,
    JOINT_MEETING_TITLE,
    LEAVE_REASONS,
    MOBILE,
    MOBILE_LEAVE_REASON,
    ORG_LIFE_THEMES,
    ORGS,
    OWN_ACTIVITIES,
    PAIRINGS,
    PROBATIONARY,
    ROLE_RANK,
    SEED,
    SURNAMES,
    THEME_DAY_SUMMARY,
    THEME_DAY_TITLE,
    VISIT_SUMMARY,
    VISIT_TITLE,
    DemoPairing,
    OrgSpec,
)
from bot.services.errors import ServiceError
from bot.services.ledger import Ledger
from bot.services.meetings import Meetings, new_checkin_code
from bot.services.members import Members
from bot.services.organizations import Organizations
from bot.services.rota import Rota, month_period
from bot.services.seeding import (
    NewMember,
    active_members,
    add_attendance,
    add_members,
    hold_meetings,
    keep_live_invites,
    row_counts,
    unused_invite,
    wipe,
)
from bot.services.structure import AllianceSpec, PairingSpec, save_alliance, save_pairing
from storage.engine import UnitOfWork
from storage.models import Alliance, Meeting, Member, Organization, Pairing
from storage.queries import insert_ignore


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

    session: UnitOfWork
    now: datetime
    tz: ZoneInfo
    holidays: HolidayCalendar
    today: date
    start: date
    orgs: dict[str, Organization] = field(default_factory=dict)

    @property
    def organizations(self) -> Organizations:
        """The organizations service of this run's unit of work."""
        return Organizations(self.session)


def build_demo(
    session: UnitOfWork,
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
    if alliance_new:
        _add_override(build, alliance)
    _org_life_history(build)
    _alliance_history(build, alliance)
    for pairing, spec in pairings:
        _visit_history(build, pairing, spec)
    invites = _reissue_invites(build, invite_ttl)
    return DemoResult(created=created, counts=demo_counts(session), invites=invites)


def demo_invite(session: UnitOfWork, role: RoleKind, now: datetime) -> str | None:
    """Returns an unused, unexpired invite code of a demo member with `role`, if one is left."""
    # Branches first: a branch's secretary or member has check-in and the roster to try.
    return unused_invite(session, org_codes=[spec.code for spec in ORGS], role=role, now=now)


def wipe_demo(session: UnitOfWork) -> None:
    """Deletes the demo organizations, alliance and pairings and every row that refers to them."""
    wipe(
        session,
        org_codes=[spec.code for spec in ORGS],
        alliance_codes=[ALLIANCE],
        pairing_codes=[spec.code for spec in PAIRINGS],
    )


def demo_counts(session: UnitOfWork) -> dict[str, int]:
    """Counts the rows of the tables the demo fills."""
    return row_counts(session)


# -- structure ---------------------------------------------------------------------------


def _ensure_orgs(build: _Build) -> bool:
    """Inserts the organizations that are missing, with their members; True if the tree was new."""
    people = _names(sum(spec.size for spec in ORGS))
    created_at = datetime.combine(build.start, time(9, 0), tzinfo=build.tz)
    parent_id: int | None = None
    fresh = False
    for spec in ORGS:
        new_id = insert_ignore(
            build.session,
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
        org = _org_row(build, spec.code)
        build.orgs[spec.code] = org
        if spec.code == COMMITTEE:
            parent_id = org.id
            fresh = new_id is not None
        # Members arrive with their organization only, so a refresh never adds a second set.
        if new_id is not None:
            add_members(
                build.session,
                org_id=_id(org),
                members=[
                    NewMember(
                        name,
                        (
                            MemberStatus.PROBATIONARY
                            if (spec.code, index) in PROBATIONARY
                            else MemberStatus.FULL
                        ),
                        (spec.code, index) in MOBILE,
                        _roles_of(spec, index),
                    )
                    for index, name in enumerate(names)
                ],
                created_at=created_at,
            )
    return fresh


def _org_row(build: _Build, code: str) -> Organization:
    """Returns a stored organization's row by code."""
    found = build.organizations.by_code(code)
    assert found is not None
    return build.organizations.row(found.id)


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
    """Creates the alliance and its units if missing; returns it and whether it was new."""
    units = [spec for spec in ORGS if spec.unit is not None]
    spec = AllianceSpec(
        code=ALLIANCE,
        name=ALLIANCE_NAME,
        presidents=tuple(s.code for s in units if s.unit is UnitKind.PRESIDENT),
        members=tuple(s.code for s in units if s.unit is UnitKind.MEMBER),
        rota_start=date(build.start.year, 1, 1),
    )
    try:
        save_alliance(build.session, spec=spec, now=build.now, actor_id=None, replace=False)
        created = True
    except ServiceError as error:
        if error.code != "alliance_exists":
            raise
        created = False
    found = Rota(build.session, build.now).alliance_by_code(ALLIANCE)
    assert found is not None
    return found, created


def _ensure_pairings(build: _Build) -> list[tuple[Pairing, DemoPairing]]:
    """Creates the pairings that are missing through the set-up use case, as a district would."""
    rota = Rota(build.session, build.now)
    pairings: list[tuple[Pairing, DemoPairing]] = []
    for demo in PAIRINGS:
        spec = PairingSpec(
            code=demo.code,
            name=demo.name,
            form=demo.form,
            lead=demo.orgs[0],
            partners=demo.orgs[1:],
            agreement_start=date(build.start.year, 1, 1),
            agreement_end=date(build.start.year + 2, 12, 31),
            goals=demo.goals,
        )
        try:
            save_pairing(build.session, spec=spec, now=build.now, actor_id=None, replace=False)
        except ServiceError as error:
            if error.code != "pairing_exists":
                raise
        pairing = rota.pairing_by_code(demo.code)
        assert pairing is not None
        pairings.append((pairing, demo))
    return pairings


def _add_override(build: _Build, alliance: Alliance) -> None:
    """Hands December's theme-day duty to the community branch, as a secretary would."""
    december = month_period(date(build.today.year, 12, 1))
    Rota(build.session, build.now).override(
        alliance=alliance,
        duty=Duty.THEME_DAY,
        period=december,
        org_id=_id(build.orgs[DECEMBER_HOST]),
        reason=DECEMBER_REASON,
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
        members = active_members(session, org_id=_id(org))
        liaison = _holder(build, org, RoleKind.LIAISON) or (members[0].id if members else None)
        by_id = {
            meeting.id: meeting
            for meeting in (
                meetings.ensure_org_life(org, month.year, month.month)
                for month in _months(build.start, build.today)
            )
        }
        held = hold_meetings(
            session,
            meeting_ids=[key for key in by_id if key is not None],
            before=build.today,
            titles=ORG_LIFE_THEMES,
        )
        rows: list[dict[str, Any]] = []
        for meeting in sorted((by_id[i] for i in held), key=lambda m: m.held_on):
            rng = _rng(f"{SEED}:{spec.code}:{meeting.period}")
            rows.extend(_attendance(rng, meeting, members))
            if liaison is not None and rng.random() < 0.4:
                _own_activity(
                    build,
                    rng=rng,
                    org=org,
                    reporter_id=liaison,
                    around=meeting.held_on,
                    size=len(members),
                )
        add_attendance(session, rows=rows)


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
    reporter_id: int | None,
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
        reporter_id=reporter_id,
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
            host=build.organizations.row(slot.org.id),
            kind=MeetingKind.THEME_DAY,
            period=slot.period,
            day=day,
            title=THEME_DAY_TITLE.format(theme=theme),
            activity=ActivityKind.THEME_DAY,
            summary=THEME_DAY_SUMMARY.format(host=slot.org.name, theme=theme),
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
                host=build.organizations.row(slot.org.id),
                kind=MeetingKind.JOINT_MEETING,
                period=str(quarter),
                day=day,
                title=JOINT_MEETING_TITLE.format(year=quarter.year, number=quarter.number),
                activity=ActivityKind.JOINT_MEETING,
                summary=JOINT_MEETING_SUMMARY,
                partners=[u.id for u in rota.units(alliance, UnitKind.PRESIDENT)],
                participants=12,
            )
        quarter = quarter.next()


def _visit_history(build: _Build, pairing: Pairing, spec: DemoPairing) -> None:
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
            host=build.organizations.row(host.id),
            kind=MeetingKind.VISIT,
            period=day.isoformat(),
            day=day,
            title=VISIT_TITLE.format(host=host.name),
            activity=ActivityKind.VISIT,
            summary=VISIT_SUMMARY,
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
    Ledger(build.session, _evening(build, day)).record(
        org_id=_id(host),
        reporter_id=_holder(build, host, RoleKind.LIAISON),
        kind=activity,
        held_on=day,
        title=title,
        participants=participants,
        summary=summary,
        partner_ids=partners,
    )


# -- invites -----------------------------------------------------------------------------


def _reissue_invites(build: _Build, ttl: timedelta) -> list[DemoInvite]:
    """Gives every demo member one unused invite: the one printed before while it still works."""
    kept = keep_live_invites(
        build.session,
        org_ids=[_id(org) for org in build.orgs.values()],
        now=build.now,
        ttl=ttl,
    )
    members = Members(build.session, build.now)
    invites: list[DemoInvite] = []
    for spec in ORGS:
        org = build.orgs[spec.code]
        for member in sorted(members.of_org(_id(org)), key=lambda view: view.id):
            role = _main_role(member.roles)
            live = kept.get(member.id)
            invite = live or members.create_invite(
                org_id=_id(org), role=role, name=member.name, member_id=member.id, ttl=ttl
            )
            invites.append(
                DemoInvite(
                    invite.code,
                    org.code,
                    org.name,
                    invite.role,
                    member.name,
                    invite.expires_at.astimezone(build.tz),
                )
            )
    return invites


def _main_role(roles: Iterable[RoleKind]) -> RoleKind:
    """Returns the most senior of a member's roles."""
    held = set(roles)
    return next((role for role in ROLE_RANK if role in held), RoleKind.MEMBER)


# -- small helpers -----------------------------------------------------------------------


def _rng(key: str) -> random.Random:
    """Returns a generator seeded by `key`, so the same month gets the same data every run."""
    return random.Random(key)  # noqa: S311 (made-up demo data, not secrets)


def _holder(build: _Build, org: Organization, role: RoleKind) -> int | None:
    """Returns the id of the first member holding `role` in an organization."""
    holders = Members(build.session, build.now).holders(org_id=_id(org), roles=frozenset({role}))
    return holders[0].id if holders else None


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
