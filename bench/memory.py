# ruff: noqa: PLC0415 (each probe imports only what it measures, inside its function)
"""Memory: resident size of the assistant idle and at city scale, each in a fresh process.

Probes run as child processes (`python -m bench.memory --probe KIND URL`) and print their
resident size (VmRSS) and peak (VmHWM) from /proc. `floor`: python-telegram-bot with one
Application built, the framework's own footprint. `idle`: the assistant with its Telegram and
WeChat channels and HTTP app built, nothing handled yet. `city`: the same process after a
reminder tick at 07:30 on the generated city (every member's facts in memory) and a few answers.

Run: python -m bench.memory [--full] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.report import Result

# Probes import only what they measure: this module keeps its own imports to the standard library.
NOW = datetime(2026, 11, 3, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAFakeTokenForBenchmarksOnly_abcdefg"
# The city-scale tick's peak, resident (MiB).
CITY_PEAK_TARGET = 200


def resident() -> dict[str, float]:
    """Returns this process's resident size and its peak, in MiB."""
    found: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


def probe_floor() -> None:
    """Builds one python-telegram-bot Application and nothing else."""
    from telegram.ext import Application

    Application.builder().token(TOKEN).updater(None).job_queue(None).build()


def probe_assistant(url: str, *, city: bool) -> None:
    """Builds the assistant with its channels; at city scale also plans a tick and answers."""
    from bot.channels.http import build_http_app
    from bot.channels.telegram import TelegramChannel
    from bot.channels.wechat import WeChatChannel
    from bot.config import load_settings
    from bot.core.clock import FrozenClock
    from bot.core.inbound import Channel, Inbound
    from bot.engine.assembly import build_assistant
    from scheduler.service import plan_tick
    from storage.engine import Database
    from tests.fakes.wechat_api import APP_ID, APP_SECRET
    from tests.fakes.wechat_api import TOKEN as WECHAT_TOKEN

    settings = load_settings(
        database_url=url,
        telegram_token=TOKEN,
        wechat_token=WECHAT_TOKEN,
        wechat_app_id=APP_ID,
        wechat_app_secret=APP_SECRET,
        _env_file=None,
    )
    database = Database.connect(url, migrate=False)
    clock = FrozenClock(NOW)
    assistant = build_assistant(settings, clock=clock, database=database)
    telegram = TelegramChannel(settings, assistant)
    wechat = WeChatChannel(settings, assistant, database=database, clock=clock)
    build_http_app(assistant, [*wechat.routes])
    assistant.handle(Inbound(Channel.CONSOLE, chat_id="probe", user_id="probe", text="帮助"))
    if city:
        plan_tick(database, now=NOW, holidays=assistant.holidays, settings=settings)
        for text in ("本季度谁主持", "达标", "待办", "签到"):
            assistant.handle(Inbound(Channel.CONSOLE, chat_id="probe", user_id="probe", text=text))
    _ = telegram


def run_probe(kind: str, url: str = "") -> dict[str, float]:
    """Runs a probe in a fresh Python process and returns its sizes."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--probe", kind, url],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    sizes: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return sizes


@contextmanager
def _scratch_copy(url: str) -> Iterator[str]:
    """Yields a copy of a SQLite database (so the probe's tick leaves the city as it was)."""
    if not url.startswith("sqlite:///"):
        yield url
        return
    source = Path(url.removeprefix("sqlite:///"))
    with tempfile.TemporaryDirectory(prefix="gongjian-bench-memory-") as folder:
        target = Path(folder) / source.name
        shutil.copyfile(source, target)
        yield f"sqlite:///{target}"


def measure(url: str) -> list[Result]:
    """Measures the floor, the idle assistant and the assistant at city scale on `url`.

    On SQLite the probes work on a copy; on PostgreSQL the city tick's pushes stay queued.
    """
    from bench.databases import backend_of

    floor = run_probe("floor")
    with _scratch_copy(url) as copy:
        idle = run_probe("idle", copy)
        city = run_probe("city", copy)
    base = f"PTB Application alone: {floor['VmRSS']:.0f} MiB"
    return [
        Result(
            name="memory, idle",
            figure=f"{idle['VmRSS']:.0f} MiB resident",
            baseline=base,
            ratio=idle["VmRSS"] / floor["VmRSS"],
            target="-",
            met=None,
            notes=(
                "assistant + Telegram and WeChat channels + HTTP app built, one message handled",
            ),
        ),
        Result(
            name=f"memory, city scale ({backend_of(url)})",
            figure=f"{city['VmHWM']:.0f} MiB peak, {city['VmRSS']:.0f} MiB after",
            baseline=base,
            ratio=city["VmHWM"] / floor["VmRSS"],
            target=f"< {CITY_PEAK_TARGET} MiB peak",
            met=city["VmHWM"] < CITY_PEAK_TARGET,
            notes=(
                "peak during a reminder tick over the whole city, then roster/compliance answers",
            ),
        ),
    ]


def main() -> None:
    """Runs one probe (child process) or the whole memory benchmark on each backend."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probe", nargs=2, metavar=("KIND", "URL"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--full",
        action="store_true",
        help="the full suite's city (100,000 members), not a quick one",
    )
    parser.add_argument("--postgres", default=None, help="also measure on this PostgreSQL server")
    args = parser.parse_args()
    if args.probe:
        kind, url = args.probe
        if kind == "floor":
            probe_floor()
        else:
            probe_assistant(url, city=kind == "city")
        print(json.dumps(resident()))
        return
    from bench.cityscale import CITY, QUICK_CITY, city_database
    from bench.databases import postgres_base_url

    postgres = postgres_base_url(args.postgres)
    for backend in ["sqlite"] + (["postgresql"] if postgres else []):
        with city_database(backend, CITY if args.full else QUICK_CITY, postgres) as (url, _):
            for result in measure(url):
                print(f"{result.name}: {result.figure}; {result.baseline}")


if __name__ == "__main__":
    main()
