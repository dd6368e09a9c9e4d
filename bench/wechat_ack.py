"""WeChat acknowledgement latency: 500 members' check-ins arriving at once, against the 5 s deadline.

The official account channel (safe mode: AES, signatures, replay and MsgId checks) and the
assistant run behind uvicorn in a child process on 127.0.0.1, like `gongjian run`; this process
plays WeChat's servers and posts 500 signed, encrypted check-in callbacks at once, in a few
rounds, timing each answer. WeChat gives up after 5 seconds. The baseline, in the same run and
server, is as many requests at once that are refused (a forged signature); a route that answers
`success` without doing anything is shown too. On PostgreSQL, the same
callbacks are also spread over two such processes (`processes=2`), as a deployment that scales
out runs several `gongjian run` behind one address; each member's callbacks go to one process.

Run: python -m bench.wechat_ack [--rounds 3] [--processes 1] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path

import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from bench.cityscale import QUICK_CITY, SHANGHAI, TODAY, City, CityAccount, city_database
from bench.databases import backend_of, postgres_base_url
from bench.report import Result, skipped
from bot.channels.http import build_http_app
from bot.channels.wechat import WeChatChannel
from bot.core.clock import FrozenClock
from bot.core.heap import settle_for_serving
from bot.core.inbound import Channel
from bot.engine.assembly import build_assistant
from storage.engine import Database
from tests.fakes.wechat_api import Callback, FakeWeChatAPI, WeChatServer, wechat_settings

CONCURRENT = 500
DEADLINE = 5.0
TARGET = 0.10
BURST_TARGET = 3.0
NOW = datetime.combine(TODAY, clock_time(9, 5), tzinfo=SHANGHAI)
NOOP_PATH = "/bench-noop"
ROOT = Path(__file__).resolve().parent.parent
SERVER_COMMAND = ["-m", "bench.wechat_ack", "--serve"]


def percentile(values: Sequence[float], share: float) -> float:
    """Returns the value below which `share` of the values fall (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return ordered[rank]


# -- the server (child process) -------------------------------------------------------------


async def serve(url: str) -> None:
    """Serves the WeChat callback and a no-op route on an ephemeral port until stdin closes."""
    logging.basicConfig(level=logging.ERROR)
    async with FakeWeChatAPI() as api:
        settings = wechat_settings(url, api.base_url, aes=True)
        database = Database.connect(url, migrate=False)
        clock = FrozenClock(NOW)
        assistant = build_assistant(settings, clock=clock, database=database)
        channel = WeChatChannel(settings, assistant, database=database, clock=clock)

        async def noop(request: Request) -> PlainTextResponse:
            """Reads the body and answers `success`, doing nothing else."""
            await request.body()
            return PlainTextResponse("success")

        app = build_http_app(assistant, [*channel.routes, Route(NOOP_PATH, noop, methods=["POST"])])
        # As `gongjian run` does once its services are up.
        settle_for_serving()
        try:
            async with listen(app) as port:
                print(f"PORT {port}", flush=True)
                await asyncio.to_thread(sys.stdin.read)
        finally:
            await channel.stop()
            assistant.close()
            database.dispose()


@contextlib.asynccontextmanager
async def listen(app: ASGIApp) -> AsyncIterator[int]:
    """Serves an app with uvicorn on an ephemeral port of 127.0.0.1; yields the port."""
    config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="off", backlog=1024)
    config.load()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    try:
        yield sock.getsockname()[1]
    finally:
        await server.shutdown(sockets=[sock])


# -- the platform (this process) --------------------------------------------------------------


async def post(port: int, path: str, callback: Callback) -> tuple[int, bytes]:
    """POSTs one callback on a new connection, the whole request in one write; returns the answer.

    A plain socket client, because httpx writes headers and body separately and, without
    TCP_NODELAY on both ends, a delayed ACK adds 40 ms to every request on loopback.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        connection = writer.get_extra_info("socket")
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = callback.body.encode()
        head = (
            f"POST {path}?{callback.url_query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, content = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), content


async def post_all(
    ports: Sequence[int], path: str, callbacks: Sequence[Callback], expected: int = 200
) -> tuple[list[float], int]:
    """Posts every callback at once; returns each one's seconds and how many got a passive reply.

    Callbacks are dealt to the servers' ports in turn, so a member always meets the same one.
    """

    async def one(number: int, callback: Callback) -> tuple[float, bool]:
        """Posts one callback and times the answer."""
        started = time.perf_counter()
        status, content = await post(ports[number % len(ports)], path, callback)
        spent = time.perf_counter() - started
        if status != expected:
            raise RuntimeError(f"callback answered {status}: {content[:200]!r}")
        return spent, content != b"success"

    answers = await asyncio.gather(*(one(number, cb) for number, cb in enumerate(callbacks)))
    return [spent for spent, _ in answers], sum(1 for _, replied in answers if replied)


def forged(callback: Callback) -> Callback:
    """The same callback under a forged signature: refused (403) before its body is read."""
    return Callback({**callback.query, "signature": "0" * 40}, callback.body)


@dataclass(frozen=True, slots=True)
class Rounds:
    """Each request's seconds (check-ins, no-op route, refusals), passive replies, server CPU."""

    ours: list[float]
    floor: list[float]
    refused: list[float]
    replied: int
    # The servers' CPU seconds per request of each kind (0 where /proc cannot tell).
    cpu: dict[str, float]


def server_cpu(pids: Sequence[int]) -> float:
    """Returns the CPU seconds the server processes used so far (Linux /proc; else 0)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        # utime and stime, the 14th and 15th fields (counted from the pid).
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def quiet(pids: Sequence[int], *, step: float = 0.1, most: float = 10.0) -> None:
    """Waits until the servers use almost no CPU (their background work done), up to `most` s."""
    waited = 0.0
    before = server_cpu(pids)
    while waited < most:
        await asyncio.sleep(step)
        waited += step
        now = server_cpu(pids)
        # Less than a tenth of a CPU over the step: idle, as /proc's ticks can tell.
        if now - before < step / 10:
            return
        before = now


async def run_rounds(
    ports: Sequence[int],
    accounts: Sequence[CityAccount],
    rounds: int,
    concurrent: int,
    skip: int = 0,
    *,
    pids: Sequence[int] = (),
) -> Rounds:
    """Runs the rounds against the callback, the no-op route and refusals; returns the timings."""
    platform = WeChatServer(now=lambda: int(NOW.timestamp()), safe=True)
    if skip:
        # Another run on this database used the first members, nonces and MsgIds: a replay
        # would be refused, and a second sign-in is not the work being measured.
        accounts = accounts[skip:]
        platform = WeChatServer(
            now=lambda: int(NOW.timestamp()),
            safe=True,
            _ids=itertools.count(8_000_000_000 + skip * 10),
            _nonces=itertools.count(10_000_000 + skip * 10),
        )
    ours: list[float] = []
    floor: list[float] = []
    refused: list[float] = []
    replied = 0
    warm = [platform.text(a.external_id, "帮助") for a in accounts[:concurrent]]
    await post_all(ports, "/wechat", warm)
    # Some members' help is too long for a passive reply and is pushed after the answer: those
    # pushes must not run during the first timed round.
    await quiet(pids)
    cpu = {"ours": 0.0, "floor": 0.0, "refused": 0.0}
    for number in range(rounds):
        batch = accounts[number * concurrent : (number + 1) * concurrent]
        callbacks = [platform.text(a.external_id, a.checkin_text) for a in batch]
        before = server_cpu(pids)
        spent, answered = await post_all(ports, "/wechat", callbacks)
        cpu["ours"] += server_cpu(pids) - before
        ours += spent
        replied += answered
        noise = [platform.text(a.external_id, "noop") for a in batch]
        before = server_cpu(pids)
        floor += (await post_all(ports, NOOP_PATH, noise))[0]
        cpu["floor"] += server_cpu(pids) - before
        refusals = [forged(platform.text(a.external_id, "noop")) for a in batch]
        before = server_cpu(pids)
        refused += (await post_all(ports, "/wechat", refusals, expected=403))[0]
        cpu["refused"] += server_cpu(pids) - before
    per = {name: spent / (rounds * concurrent) for name, spent in cpu.items()}
    return Rounds(ours, floor, refused, replied, per)


async def measure_async(
    url: str, city: City, *, rounds: int, concurrent: int, processes: int = 1, skip: int = 0
) -> Result:
    """Starts the server processes, runs the rounds and reports p50/p99 against the deadline."""
    name = f"WeChat ack, {concurrent} concurrent, {backend_of(url)}"
    if processes > 1:
        name += f", {processes} processes"
    accounts = city.checkers(Channel.WECHAT)
    rounds = min(rounds, (len(accounts) - skip) // concurrent)
    if rounds < 1:
        return skipped(name, f"fewer than {concurrent} WeChat members")
    children = [
        subprocess.Popen(  # noqa: ASYNC220 (started before the timed part)
            [sys.executable, *SERVER_COMMAND, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(processes)
    ]
    try:
        ports = []
        for child in children:
            assert child.stdout is not None
            line = await asyncio.to_thread(child.stdout.readline)
            if not line.startswith("PORT "):
                raise RuntimeError(f"the WeChat server did not start: {line!r}")
            ports.append(int(line.split()[1]))
        timed = await run_rounds(
            ports, accounts, rounds, concurrent, skip, pids=[child.pid for child in children]
        )
        ours, floor, refused, replied = timed.ours, timed.floor, timed.refused, timed.replied
    finally:
        for child in children:
            await _stop(child)
    p50, p99 = percentile(ours, 0.50), percentile(ours, 0.99)
    refused_p99, floor_p99 = percentile(refused, 0.99), percentile(floor, 0.99)
    # The bar: a burst's p99 within 3x that of requests refused at once in the same run (the
    # cost of 500 connections arriving together, whatever is done with them).
    ratio = p99 / refused_p99
    return Result(
        name=name,
        figure=f"p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms",
        baseline=(
            f"refused (forged signature) p99 {refused_p99 * 1000:,.0f} ms; "
            f"no-op route p50 {percentile(floor, 0.5) * 1000:,.0f} ms, "
            f"p99 {percentile(floor, 0.99) * 1000:,.0f} ms; deadline 5 s"
        ),
        ratio=ratio,
        target=f"p99 <= {BURST_TARGET:g}x refused p99, and < 10% of 5 s",
        met=ratio <= BURST_TARGET and p99 / DEADLINE < TARGET,
        notes=(
            f"{len(ours):,} check-ins in {rounds} rounds of {concurrent} at once (safe mode); "
            f"{replied:,} answered in the passive reply, {len(ours) - replied:,} left to a push",
            f"p99 against the no-op route's in the same run: {p99 / floor_p99:.2f}x; server CPU "
            f"per request: check-in {timed.cpu['ours'] * 1e6:,.0f} µs, no-op "
            f"{timed.cpu['floor'] * 1e6:,.0f} µs, refused {timed.cpu['refused'] * 1e6:,.0f} µs",
        ),
    )


async def _stop(child: subprocess.Popen[str]) -> None:
    """Ends a server process: closing its stdin asks it to stop, a kill makes sure."""
    if child.stdin is not None:
        child.stdin.close()
    try:
        await asyncio.to_thread(child.wait, 30)
    except subprocess.TimeoutExpired:
        child.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(child.wait, 10)


def measure(
    url: str,
    city: City,
    *,
    rounds: int = 3,
    concurrent: int = CONCURRENT,
    processes: int = 1,
    skip: int = 0,
) -> Result:
    """Runs the WeChat acknowledgement benchmark on a city database.

    `skip` leaves out the first members (and the nonces and MsgIds) an earlier run used.
    """
    return asyncio.run(
        measure_async(
            url, city, rounds=rounds, concurrent=concurrent, processes=processes, skip=skip
        )
    )


def members_used(rounds: int, concurrent: int) -> int:
    """Counts the members a run signs in (its warm-up asks the first of them for help)."""
    return rounds * concurrent


def main() -> None:
    """Serves (child process) or runs the benchmark and prints its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--concurrent", type=int, default=CONCURRENT)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    backends = ["sqlite"] + (["postgresql"] if postgres_base_url(args.postgres) else [])
    for backend in backends:
        with city_database(backend, QUICK_CITY, postgres_base_url(args.postgres)) as (url, city):
            result = measure(
                url,
                city,
                rounds=args.rounds,
                processes=args.processes,
                concurrent=args.concurrent,
            )
        print(f"{result.name}: {result.figure}; {result.baseline}; ratio {result.ratio}")
        for note in result.notes:
            print(f"  {note}")


if __name__ == "__main__":
    main()
