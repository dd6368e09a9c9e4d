"""The web console at city scale: the committee's overview, a branch's member list, the page weight.

Committee staff whose scope is the whole generated city (a city committee, added above the
city's committees for this benchmark) open the overview (总览, `/console/`) of every
organization four ways: with nothing written between views (the kept overview of
`bot.services.overview_cache` answers), each view after a member's check-in (the meetings'
answers of the organization answered are counted again, that branch checked again), each view after a
branch in an alliance and a pairing is renamed (the facts are read again, and the branches a
difference reaches, those sharing a group with it, checked again), and each view after a member
joins such a branch (the meetings counted again as well); and the member list
(`/console/org/{code}`) of a 50-member branch (the city's biggest, topped up to 50 current
members), one request after another, through the real app: the shared Starlette app with the
console mounted, spoken to in process over httpx's ASGI transport (session cookie, middleware,
gzip and all). Each page's p50 and p99 are set beside the help menu's, measured in the same run
through the assistant (`Assistant.handle`, as in bench/answers.py): the ratio is the page's p99
over the help menu's. The page weight is the overview's HTML with every script and stylesheet it
loads, in bytes as transferred (gzip, as the console serves them).

Run: python -m bench.console [--views 30] [--writes 10] [--lists 200] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
from sqlmodel import col, func, select, update

from bench.answers import BASELINE, NOW, ask_all
from bench.cityscale import CITY, City, CityAccount, city_database
from bench.databases import backend_of, postgres_base_url
from bench.report import Result, settle_heap, skipped
from bench.wechat_ack import percentile
from bot.channels.http import build_http_app
from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.core.domain import MemberStatus, OrgKind, RoleKind
from bot.core.inbound import Channel, Inbound
from bot.engine.assembly import build_assistant
from bot.engine.assistant import Assistant
from bot.services.console_access import ConsoleAccess
from bot.web.console.desk import SESSION_COOKIE
from bot.web.console.routes import console_routes
from storage.engine import Database
from storage.models import AllianceUnit, Attendance, Member, Organization, PairingOrg, Role

OVERVIEW_TARGET = 0.300
MEMBERS_TARGET = 0.050
WEIGHT_TARGET = 500 * 1024
BRANCH_SIZE = 50
CITY_CODE = "BENCH-CITY"
LOGIN, PASSWORD = "bench-city-staff", "bench-city-staff-password"
ASSETS = re.compile(r'(?:src|href)="(/console/static/[^"]+)"')


@dataclass(frozen=True, slots=True)
class Staff:
    """The committee staff's session, and the branch whose members they list."""

    token: str
    orgs: int
    branch_code: str
    branch_members: int


def prepare(database: Database) -> Staff:
    """Puts a city committee above the city's committees; signs its staff in; picks a branch."""
    with database.session() as session:
        city = Organization(
            code=CITY_CODE,
            name="全市党建工作委员会",
            kind=OrgKind.COMMITTEE,
            created_at=datetime(2024, 1, 1, tzinfo=UTC),
        )
        session.add(city)
        session.flush()
        session.execute(
            update(Organization)
            .where(col(Organization.parent_id).is_(None), col(Organization.id) != city.id)
            .values(parent_id=city.id)
        )
        access = ConsoleAccess(session, NOW, idle=timedelta(hours=12))
        access.add_account(login=LOGIN, name="全市督导", org_code=CITY_CODE, password=PASSWORD)
        signed = access.sign_in_by_password(LOGIN, PASSWORD, address="127.0.0.1")
        assert signed is not None
        orgs = session.exec(select(func.count()).select_from(Organization)).one()
        size = func.count(col(Member.id))
        branch_id, code, members = session.exec(
            select(Organization.id, Organization.code, size)
            .join(Member, col(Member.organization_id) == Organization.id)
            .where(col(Member.status) != MemberStatus.DEPARTED)
            .group_by(col(Organization.id), col(Organization.code))
            .order_by(size.desc(), col(Organization.code))
            .limit(1)
        ).one()
        assert branch_id is not None
        # The city's biggest branch has fewer: it gains members up to the size asked for.
        for number in range(members + 1, BRANCH_SIZE + 1):
            member = Member(
                name=f"新党员{number}",
                organization_id=branch_id,
                status=MemberStatus.FULL,
                created_at=datetime(2024, 1, 1, tzinfo=UTC),
            )
            session.add(member)
            session.flush()
            assert member.id is not None
            session.add(Role(organization_id=branch_id, member_id=member.id, role=RoleKind.MEMBER))
    return Staff(signed.token, orgs, code, max(members, BRANCH_SIZE))


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds per request: on the clock, and of this process's CPU (the database server's not)."""

    wall: list[float]
    cpu: list[float]


async def timed(client: httpx.AsyncClient, path: str, times: int) -> Timings:
    """Gets a page `times` times, one after another; times each."""
    wall, cpu = [], []
    for _ in range(times):
        started, used = time.perf_counter(), time.process_time()
        response = await client.get(path)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
    return Timings(wall, cpu)


async def timed_after_writes(
    client: httpx.AsyncClient, path: str, writes: Sequence[Callable[[], object]]
) -> Timings:
    """Gets a page once after each write (the write untimed); times each."""
    wall, cpu = [], []
    for write in writes:
        write()
        measured = await timed(client, path, 1)
        wall += measured.wall
        cpu += measured.cpu
    return Timings(wall, cpu)


def grouped_branches(database: Database, count: int) -> list[int]:
    """Lists `count` branches that are units of an alliance and in a pairing too."""
    with database.session() as session:
        return list(
            session.exec(
                select(Organization.id)
                .where(
                    col(Organization.id).in_(select(AllianceUnit.organization_id)),
                    col(Organization.id).in_(select(PairingOrg.organization_id)),
                )
                .order_by(col(Organization.id))
                .limit(count)
            ).all()
        )


def rename(database: Database, org_id: int) -> None:
    """Renames a branch (a write to a table the rules read, not an answer, nor the tallies')."""
    with database.session() as session:
        session.execute(
            update(Organization)
            .where(col(Organization.id) == org_id)
            .values(name=Organization.name + "（改）")
        )


def join(database: Database, org_id: int) -> None:
    """A member joins a branch (a write the meetings' tallies read too)."""
    with database.session() as session:
        session.add(
            Member(
                name="新入党员",
                organization_id=org_id,
                status=MemberStatus.PROBATIONARY,
                created_at=NOW.astimezone(UTC),
            )
        )


def check_in(assistant: Assistant, database: Database, account: CityAccount) -> None:
    """Has a member check in through the assistant, as a chat message would; a new sign-in."""
    inbound = Inbound(
        account.channel,
        chat_id=account.external_id,
        user_id=account.external_id,
        text=account.checkin_text,
    )
    before = _answers(database)
    if not assistant.handle(inbound):
        raise RuntimeError("no answer to a check-in")
    if _answers(database) != before + 1:
        raise RuntimeError("the check-in recorded no new sign-in: the view after it would be kept")


def _answers(database: Database) -> int:
    """Counts the stored answers to meetings."""
    with database.session() as session:
        return session.exec(select(func.count()).select_from(Attendance)).one()


async def page_weight(client: httpx.AsyncClient) -> tuple[int, int, list[tuple[str, int]]]:
    """Fetches the overview and its assets gzipped; returns bytes sent, bytes unpacked, parts."""
    overview = await client.get("/console/", headers={"Accept-Encoding": "gzip"})
    parts = [("HTML", overview.num_bytes_downloaded)]
    unpacked = len(overview.content)
    for path in dict.fromkeys(ASSETS.findall(overview.text)):
        asset = await client.get(path, headers={"Accept-Encoding": "gzip"})
        if asset.status_code != 200:
            raise RuntimeError(f"{path}: {asset.status_code}")
        parts.append((path.rsplit("/", 1)[-1], asset.num_bytes_downloaded))
        unpacked += len(asset.content)
    return sum(size for _, size in parts), unpacked, parts


@dataclass(frozen=True, slots=True)
class Browsed:
    """The timings of one run through the console, and the overview's weight."""

    kept: Timings
    checked_in: Timings
    written: Timings
    joined: Timings
    listed: Timings
    weight: tuple[int, int, list[tuple[str, int]]]


async def _browse(
    database: Database,
    url: str,
    staff: Staff,
    checkers: Sequence[CityAccount],
    *,
    views: int,
    lists: int,
) -> Browsed:
    """Times the overview (kept, after check-ins, after writes) and the member list; weighs it."""
    clock = FrozenClock(NOW)
    settings = load_settings(database_url=url, _env_file=None)
    assistant = build_assistant(settings, clock=clock, database=database)
    routes = console_routes(database, settings, clock, assistant.holidays)
    app = build_http_app(assistant, routes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", cookies={SESSION_COOKIE: staff.token}
    ) as client:
        members = f"/console/org/{staff.branch_code}"
        # Warm-up: templates compiled, statements cached, as in a running process.
        await timed(client, "/console/", 2)
        await timed(client, members, 5)
        kept = await timed(client, "/console/", views)
        checked_in = await timed_after_writes(
            client,
            "/console/",
            [partial(check_in, assistant, database, account) for account in checkers],
        )
        branches = grouped_branches(database, len(checkers))
        written = await timed_after_writes(
            client, "/console/", [partial(rename, database, org_id) for org_id in branches]
        )
        joined = await timed_after_writes(
            client, "/console/", [partial(join, database, org_id) for org_id in branches]
        )
        listed = await timed(client, members, lists)
        weight = await page_weight(client)
    assistant.close()
    return Browsed(kept, checked_in, written, joined, listed, weight)


def _ms(seconds: float) -> str:
    """Formats seconds as milliseconds."""
    return f"{seconds * 1000:,.1f} ms"


def _latency(spent: list[float]) -> str:
    """Formats p50 and p99."""
    return f"p50 {_ms(percentile(spent, 0.5))}, p99 {_ms(percentile(spent, 0.99))}"


def _page_result(
    name: str, timings: Timings, target: float, what: str, *, base: list[float]
) -> Result:
    """Sets a page's p50 and p99 beside the help menu's, against its p99 target."""
    p99, base_p99 = percentile(timings.wall, 0.99), percentile(base, 0.99)
    return Result(
        name=name,
        figure=_latency(timings.wall),
        baseline=f"help menu: {_latency(base)}",
        ratio=p99 / base_p99,
        target=f"p99 < {target * 1000:.0f} ms",
        met=p99 < target,
        notes=(
            f"{what}; p99 is {p99 / target:.2f} of the target",
            f"CPU of this process per view: {_latency(timings.cpu)}",
        ),
    )


def measure(
    url: str, city: City, *, views: int, lists: int, writes: int = 10, asks: int = 200
) -> list[Result]:
    """Times the overview and a member list beside the help menu; weighs the overview."""
    backend = backend_of(url)
    askers = city.secretaries()[:asks]
    if len(askers) < 5:
        return [skipped(f"console overview, {backend}", "too few secretaries")]
    settle_heap()
    database = Database.connect(url, migrate=False)
    try:
        staff = prepare(database)
        assistant = build_assistant(
            load_settings(database_url=url, _env_file=None),
            clock=FrozenClock(NOW),
            database=database,
        )
        ask_all(assistant, askers[:5], BASELINE[1])
        base = ask_all(assistant, askers, BASELINE[1])
        # From the far end of the list: the check-in benchmarks sign in its first members.
        checkers = city.checkers(Channel.TELEGRAM)[-writes:] if writes else []
        browsed = asyncio.run(_browse(database, url, staff, checkers, views=views, lists=lists))
        assistant.close()
    finally:
        database.dispose()
    page = partial(_page_result, base=base)
    orgs = f"{staff.orgs:,} organizations, {backend}"
    sent, unpacked, parts = browsed.weight
    return [
        page(
            f"console overview, {orgs}",
            browsed.kept,
            OVERVIEW_TARGET,
            f"committee staff over the whole city, {len(browsed.kept.wall)} views one after"
            " another through the app, nothing written between them (the kept overview)",
        ),
        page(
            f"console overview after a check-in, {orgs}",
            browsed.checked_in,
            OVERVIEW_TARGET,
            f"{len(browsed.checked_in.wall)} views, each after a member checked in through the"
            " assistant (the meetings of the organization with a new answer counted again, that"
            " branch checked again)",
        ),
        page(
            f"console overview after a write, {orgs}",
            browsed.written,
            OVERVIEW_TARGET,
            f"{len(browsed.written.wall)} views, each after a branch in an alliance and a pairing"
            " was renamed (the facts read again, the branches sharing a group with it checked"
            " again)",
        ),
        page(
            f"console overview after a member joins, {orgs}",
            browsed.joined,
            OVERVIEW_TARGET,
            f"{len(browsed.joined.wall)} views, each after a member joined such a branch (who"
            " names no liaison read again, that branch's meetings counted again)",
        ),
        page(
            f"console member list, {staff.branch_members}-member branch, {backend}",
            browsed.listed,
            MEMBERS_TARGET,
            f"/console/org/{staff.branch_code}, {len(browsed.listed.wall)} views",
        ),
        Result(
            name=f"console overview page weight, {backend}",
            figure=f"{sent:,} bytes gzipped",
            baseline=f"unpacked: {unpacked:,} bytes",
            ratio=sent / WEIGHT_TARGET,
            target="< 500 KB",
            met=sent < WEIGHT_TARGET,
            notes=(
                "as transferred (gzip): " + ", ".join(f"{name} {size:,}" for name, size in parts),
            ),
        ),
    ]


def main() -> None:
    """Builds a city on each backend and times the console's pages."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--writes", type=int, default=10)
    parser.add_argument("--lists", type=int, default=200)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if postgres_base_url(args.postgres) else [])
    for backend in backends:
        with city_database(backend, CITY, postgres_base_url(args.postgres)) as (url, city):
            found = measure(url, city, views=args.views, writes=args.writes, lists=args.lists)
            for result in found:
                print(
                    f"{result.name}: {result.figure}; {result.baseline}; ratio {result.ratio:.2f}"
                )
                for note in result.notes:
                    print(f"  {note}")


if __name__ == "__main__":
    main()
