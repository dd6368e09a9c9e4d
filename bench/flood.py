"""Forged-callback flood: a valid WeChat and WeCom callback's latency while 64 KiB forgeries pour in.

A child process serves the official account (safe mode) and the WeCom app behind uvicorn, like
`gongjian run`. This process times valid, signed callbacks sent one after another, first alone
(the baseline, in the same run), then while 16 connections keep posting 64 KiB bodies (runs of
`<` and deeply nested elements) under forged signatures. The target: a valid callback's p99
under the flood within 2x its p99 without it.

Run: python -m bench.flood [--callbacks 200] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime

import uvicorn
from pydantic import SecretStr

from bench.databases import backend_of, database, postgres_base_url
from bench.report import Result
from bench.wechat_ack import ROOT, percentile, post
from bot.channels.http import build_http_app
from bot.channels.wechat import WeChatChannel
from bot.channels.wecom import WeComChannel
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.engine.assembly import build_assistant
from storage.engine import Database
from tests.fakes.wechat_api import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    CORP_SECRET,
    TOKEN,
    Callback,
    FakeWeChatAPI,
    WeChatServer,
    WeComServer,
    wechat_settings,
)

NOW = datetime.fromisoformat("2026-11-03T09:05:00+08:00")
FLOODERS = 16
# Each connection's pace: 16 x 2.5 = 40 forged 64 KiB bodies a second, over twice the 9-18 a
# second that stalled the server when bodies were scanned and parsed before the signature.
# (Far beyond that, the cost is uvicorn's and the kernel's per connection, not this code's.)
PER_FLOODER = 2.5
BODY_BYTES = 64 * 1024 - 256
TARGET = 2.0
FORGED = "0" * 40


def settings_for(url: str, api_base: str) -> Settings:
    """Settings with both callback channels configured against the fake API."""
    wechat = wechat_settings(url, api_base, aes=True)
    return wechat.model_copy(
        update={
            "wecom_corp_id": CORP_ID,
            "wecom_agent_id": AGENT_ID,
            "wecom_secret": SecretStr(CORP_SECRET),
            "wecom_token": SecretStr(TOKEN),
            "wecom_aes_key": SecretStr(AES_KEY),
            "wecom_api_base": api_base,
        }
    )


async def serve(url: str) -> None:
    """Serves /wechat and /wecom on an ephemeral port until stdin closes."""
    logging.basicConfig(level=logging.ERROR)
    async with FakeWeChatAPI() as api:
        settings = settings_for(url, api.base_url)
        db = Database.connect(url, migrate=True)
        clock = FrozenClock(NOW)
        assistant = build_assistant(settings, clock=clock, database=db)
        wechat = WeChatChannel(settings, assistant, database=db, clock=clock)
        wecom = WeComChannel(settings, assistant, database=db, clock=clock)
        app = build_http_app(assistant, [*wechat.routes, *wecom.routes])
        config = uvicorn.Config(
            app, log_level="critical", access_log=False, lifespan="off", backlog=1024
        )
        config.load()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        print(f"PORT {sock.getsockname()[1]}", flush=True)
        try:
            await asyncio.to_thread(sys.stdin.read)
        finally:
            await server.shutdown(sockets=[sock])
            await wechat.stop()
            await wecom.stop()
            db.dispose()


def forgeries(path: str, good: Callback) -> list[Callback]:
    """Builds 64 KiB bodies under a forged signature: a run of `<`, and nested elements."""
    angles = "<" * BODY_BYTES
    depth = BODY_BYTES // 8
    nested = ("<a>" * depth + "</a>" * depth)[:BODY_BYTES]
    wrapped = "<xml><Encrypt>" + "A" * (BODY_BYTES - 40) + "</Encrypt></xml>"
    name = "signature" if path == "/wechat" else "msg_signature"
    query = {**good.query, name: FORGED}
    return [Callback(query, body) for body in (angles, nested, wrapped)]


async def time_valid(
    port: int, path: str, make: Callable[[int], Callback], count: int, first: int
) -> list[float]:
    """Sends `count` valid callbacks one after another; returns each one's seconds."""
    spent: list[float] = []
    for number in range(first, first + count):
        callback = make(number)
        started = time.perf_counter()
        status, content = await post(port, path, callback)
        spent.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"valid callback answered {status}: {content[:200]!r}")
        await asyncio.sleep(0.01)
    return spent


async def flood(port: int, path: str, bodies: list[Callback], stop: asyncio.Event) -> int:
    """Posts forged bodies, one connection after another, at up to PER_FLOODER a second."""
    sent = 0
    started = time.perf_counter()
    for callback in itertools.cycle(bodies):
        if stop.is_set():
            return sent
        with contextlib.suppress(OSError):
            await post(port, path, callback)
        sent += 1
        ahead = started + sent / PER_FLOODER - time.perf_counter()
        if ahead > 0:
            await asyncio.sleep(ahead)
    return sent


async def measure_path(port: int, path: str, count: int) -> tuple[list[float], list[float], int]:
    """Times valid callbacks on `path` without, then with, the flood."""
    now = lambda: int(NOW.timestamp())  # noqa: E731
    if path == "/wechat":
        wx = WeChatServer(now=now, safe=True)

        def make(number: int) -> Callback:
            return wx.text(f"o-flood-{number % 20}", "帮助")
    else:
        wc = WeComServer(now=now)

        def make(number: int) -> Callback:
            return wc.text(f"u-flood-{number % 20}", "帮助")

    await time_valid(port, path, make, 20, 0)
    quiet = await time_valid(port, path, make, count, 100)
    stop = asyncio.Event()
    bodies = forgeries(path, make(0))
    flooders = [asyncio.create_task(flood(port, path, bodies, stop)) for _ in range(FLOODERS)]
    await asyncio.sleep(0.5)
    loud = await time_valid(port, path, make, count, 100 + count)
    stop.set()
    forged = sum(await asyncio.gather(*flooders))
    return quiet, loud, forged


async def measure_async(url: str, count: int) -> list[Result]:
    """Starts the server and measures both callback URLs."""
    child = subprocess.Popen(  # noqa: ASYNC220 (started before the timed part)
        [sys.executable, "-m", "bench.flood", "--serve", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    results = []
    try:
        assert child.stdout is not None
        line = await asyncio.to_thread(child.stdout.readline)
        if not line.startswith("PORT "):
            raise RuntimeError(f"the server did not start: {line!r}")
        port = int(line.split()[1])
        for path in ("/wechat", "/wecom"):
            quiet, loud, forged = await measure_path(port, path, count)
            quiet99, loud99 = percentile(quiet, 0.99), percentile(loud, 0.99)
            ratio = loud99 / quiet99
            results.append(
                Result(
                    name=f"Valid {path} callback under a forged-body flood, {backend_of(url)}",
                    figure=f"p99 {loud99 * 1000:,.1f} ms (p50 {percentile(loud, 0.5) * 1000:,.1f})",
                    baseline=f"without the flood p99 {quiet99 * 1000:,.1f} ms",
                    ratio=ratio,
                    target=f"p99 <= {TARGET:g}x without the flood",
                    met=ratio <= TARGET,
                    notes=(
                        f"{count} valid callbacks each way; {forged:,} forged 64 KiB bodies from "
                        f"{FLOODERS} connections meanwhile",
                    ),
                )
            )
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.to_thread(child.wait, 30)
        except subprocess.TimeoutExpired:
            child.kill()
    return results


def measure(url: str, count: int = 200) -> list[Result]:
    """Runs the flood benchmark against a database at `url`."""
    return asyncio.run(measure_async(url, count))


def main() -> None:
    """Serves (child process) or runs the benchmark and prints its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--callbacks", type=int, default=200)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    with database("sqlite", postgres_base_url(args.postgres)) as url:
        for result in measure(url, args.callbacks):
            print(
                f"{result.name}: {result.figure}; {result.baseline}; ratio {result.ratio:.2f}"
                f" ({'met' if result.met else 'NOT met'})"
            )
            for note in result.notes:
                print(f"  {note}")


if __name__ == "__main__":
    main()
