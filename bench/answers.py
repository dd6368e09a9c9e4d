"""Answer latency at city scale: "who hosts this quarter", the compliance check and /pending.

Secretaries of different branches of the generated city ask the assistant (`Assistant.handle`,
the core every channel calls, with its transaction) one after another; each question's p50 and
p99 are compared with the 10 ms target. The baseline, in the same run, is the help menu
through the same path: the engine's own cost of answering anything.

`QUESTIONS` is the hook for more answers: a (label, text) pair per question.

Run: python -m bench.answers [--asks 200] [--postgres URL]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import datetime
from datetime import time as clock_time

from bench.cityscale import QUICK_CITY, SHANGHAI, TODAY, City, CityAccount, city_database
from bench.databases import backend_of, postgres_base_url
from bench.report import Result, settle_heap, skipped
from bench.wechat_ack import percentile
from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.core.inbound import Inbound
from bot.engine.assembly import build_assistant
from bot.engine.assistant import Assistant
from storage.engine import Database

NOW = datetime.combine(TODAY, clock_time(9, 5), tzinfo=SHANGHAI)
TARGET_SECONDS = 0.010
# What secretaries ask: "who hosts this quarter", the compliance check (达标), what is owed (待办).
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("who hosts this quarter", "本季度谁主持"),
    ("compliance", "达标"),
    ("/pending", "待办"),
)
BASELINE = ("help menu", "帮助")


def ask_all(assistant: Assistant, askers: Sequence[CityAccount], text: str) -> list[float]:
    """Has each asker send `text` once; returns the seconds of each answer."""
    spent = []
    for account in askers:
        inbound = Inbound(
            account.channel, chat_id=account.external_id, user_id=account.external_id, text=text
        )
        started = time.perf_counter()
        replies = assistant.handle(inbound)
        spent.append(time.perf_counter() - started)
        if not replies:
            raise RuntimeError(f"no answer to {text!r}")
    return spent


def _ms(seconds: float) -> str:
    """Formats seconds as milliseconds."""
    return f"{seconds * 1000:,.1f} ms"


def measure(url: str, city: City, *, asks: int) -> list[Result]:
    """Times each question for up to `asks` secretaries; one result per question."""
    backend = backend_of(url)
    askers = city.secretaries()[:asks]
    if len(askers) < 10:
        return [skipped(f"{label}, {backend}", "too few secretaries") for label, _ in QUESTIONS]
    settle_heap()
    database = Database.connect(url, migrate=False)
    assistant = build_assistant(
        load_settings(database_url=url, _env_file=None), clock=FrozenClock(NOW), database=database
    )
    try:
        # Warm-up: every statement compiled and cached once, as in a running process.
        for _, text in (*QUESTIONS, BASELINE):
            ask_all(assistant, askers[:5], text)
        base = ask_all(assistant, askers, BASELINE[1])
        timings = [(label, ask_all(assistant, askers, text)) for label, text in QUESTIONS]
    finally:
        database.dispose()
    base_line = (
        f"{BASELINE[0]}: p50 {_ms(percentile(base, 0.5))}, p99 {_ms(percentile(base, 0.99))}"
    )
    results = []
    for label, spent in timings:
        p99 = percentile(spent, 0.99)
        results.append(
            Result(
                name=f"{label}, city scale, {backend}",
                figure=f"p50 {_ms(percentile(spent, 0.5))}, p99 {_ms(p99)}",
                baseline=base_line,
                ratio=p99 / TARGET_SECONDS,
                target="p99 < 10 ms",
                met=p99 < TARGET_SECONDS,
                notes=(f"{len(spent)} secretaries of different branches, one question each",),
            )
        )
    return results


def main() -> None:
    """Builds a city (quick size) on each backend and times the answers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--asks", type=int, default=200)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if postgres_base_url(args.postgres) else [])
    for backend in backends:
        with city_database(backend, QUICK_CITY, postgres_base_url(args.postgres)) as (url, city):
            for result in measure(url, city, asks=args.asks):
                print(f"{result.name}: {result.figure}; {result.baseline}")


if __name__ == "__main__":
    main()
