"""Runs every benchmark, prints one table with each figure next to its same-run baseline.

Run: python -m bench [--quick] [--postgres URL | --no-postgres] [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import answers, console, delivery, importing, inbound, memory, planning, wechat_ack
from bench.cityscale import CITY, QUICK_CITY, TINY_CITY, CitySize, city_database, describe
from bench.databases import postgres_base_url
from bench.report import Result, machine, machine_text, notes, table


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each benchmark does."""

    label: str
    city: CitySize
    checkins: int
    asks: int
    wechat_rounds: int
    wechat_concurrent: int
    pushes: int
    # Overview views and member-list views in the console benchmark.
    overview_views: int
    # Overview views each after a write (the overview computed anew).
    overview_writes: int
    member_lists: int
    imports: importing.Size
    # Callbacks at once in the second WeChat measurement (issue #18's 200).
    wechat_small: int = 200


FULL = Sizes(
    "full",
    CITY,
    checkins=3_000,
    asks=200,
    wechat_rounds=3,
    wechat_concurrent=500,
    pushes=600,
    overview_views=30,
    overview_writes=10,
    member_lists=200,
    imports=importing.CITY,
)
QUICK = Sizes(
    "quick",
    QUICK_CITY,
    checkins=500,
    asks=50,
    wechat_rounds=1,
    wechat_concurrent=500,
    pushes=90,
    overview_views=20,
    overview_writes=10,
    member_lists=100,
    imports=importing.QUICK,
)
# For the test suite: everything runs, nothing is meant to be representative.
TINY = Sizes(
    "tiny",
    TINY_CITY,
    checkins=40,
    asks=10,
    wechat_rounds=1,
    wechat_concurrent=20,
    pushes=40,
    overview_views=3,
    overview_writes=2,
    member_lists=10,
    imports=importing.TINY,
    wechat_small=10,
)


def guarded(name: str, run: Callable[[], list[Result]]) -> list[Result]:
    """Runs one benchmark; a crash becomes a `failed` row (and a traceback on stderr)."""
    try:
        return run()
    except Exception as error:
        traceback.print_exc()
        return [Result(name, f"failed: {type(error).__name__}", str(error)[:80], None, "", False)]


def run_backend(
    backend: str, sizes: Sizes, postgres_url: str | None, log: Callable[[str], None]
) -> list[Result]:
    """Builds a city on one backend and runs the benchmarks that use it."""
    results: list[Result] = []
    with city_database(backend, sizes.city, postgres_url) as (url, city):
        log(f"city built: {describe(city, url)}")
        if backend == "sqlite":
            # Before planning, so the probe's tick sees the day's pushes as new.
            results += guarded("memory", lambda: memory.measure(url))
            log("memory done")
        # Before planning, whose 96,000 new outbox rows the database is still digesting after.
        results += guarded("answers", lambda: answers.measure(url, city, asks=sizes.asks))
        log("answers done")
        results += guarded("planning", lambda: planning.measure(url))
        log("planning done")
        results += guarded(
            "inbound", lambda: [asyncio.run(inbound.measure(url, city, count=sizes.checkins))]
        )
        log("inbound done")
        # Each run signs in members of its own: the ones before it are skipped.
        used = 0

        def wechat_run(concurrent: int, processes: int = 1) -> list[Result]:
            """Runs one WeChat acknowledgement measurement on members not signed in yet."""
            nonlocal used
            skip = used
            used += wechat_ack.members_used(sizes.wechat_rounds, concurrent)
            return [
                wechat_ack.measure(
                    url,
                    city,
                    rounds=sizes.wechat_rounds,
                    concurrent=concurrent,
                    processes=processes,
                    skip=skip,
                )
            ]

        # Issue #13: a burst of 500; issue #18: 200 at once, with one process.
        results += guarded("wechat", lambda: wechat_run(sizes.wechat_concurrent))
        results += guarded("wechat", lambda: wechat_run(sizes.wechat_small))
        if backend == "postgresql":
            results += guarded("wechat", lambda: wechat_run(sizes.wechat_concurrent, 2))
        log("wechat done")
        # Last: it puts a city committee above the city's committees.
        results += guarded(
            "console",
            lambda: console.measure(
                url,
                city,
                views=sizes.overview_views,
                writes=sizes.overview_writes,
                lists=sizes.member_lists,
                asks=sizes.asks,
            ),
        )
        log("console done")
    return results


def run_all(
    sizes: Sizes, postgres_url: str | None, log: Callable[[str], None] = print
) -> list[Result]:
    """Runs every benchmark on SQLite and, when a URL is given, PostgreSQL."""
    results = run_backend("sqlite", sizes, None, log)
    if postgres_url:
        results += run_backend("postgresql", sizes, postgres_url, log)
    results += guarded("delivery", lambda: [delivery.measure(sizes.pushes)])
    log("delivery done")
    backends = ["sqlite", "postgresql"] if postgres_url else ["sqlite"]
    results += guarded(
        "import", lambda: importing.measure(backends, postgres_url, sizes.imports, log)
    )
    log("import done")
    return _ordered(results)


def _ordered(results: list[Result]) -> list[Result]:
    """Groups rows by benchmark, in the issue's order, backends side by side."""
    order = (
        "inbound",
        "reminder planning",
        "idle reminder tick",
        "delivery",
        "WeChat",
        "who hosts",
        "compliance",
        "/pending",
        "console",
        "memory",
        "import",
    )

    def rank(result: Result) -> int:
        """Returns the position of a row's benchmark."""
        return next(
            (i for i, prefix in enumerate(order) if result.name.startswith(prefix)), len(order)
        )

    return sorted(results, key=rank)


def render(results: list[Result], sizes: Sizes, postgres_url: str | None, seconds: float) -> str:
    """Renders the results document: command, machine, table and notes."""
    flag = ("" if sizes is FULL else f" --{sizes.label}") + (
        " --postgres URL" if postgres_url else ""
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"`python -m bench{flag}` ({sizes.label} size, {seconds / 60:.1f} minutes), {when}.",
            "",
            "## Machine",
            "",
            machine_text(machine(postgres_url)),
            "",
            "## Figures",
            "",
            table(results),
            "",
            "## Notes",
            "",
            notes(results),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Parses the command line, runs the benchmarks and prints (or writes) the results."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL to benchmark on (a private schema is made and dropped)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--write", metavar="FILE", type=Path, help="also write the results as Markdown"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    sizes = QUICK if args.quick else FULL
    postgres_url = None if args.no_postgres else postgres_base_url(args.postgres)
    started = time.perf_counter()

    def log(message: str) -> None:
        """Reports progress on stderr."""
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    if postgres_url is None:
        log("no PostgreSQL URL (--postgres or GONGJIAN_BENCH_POSTGRES_URL): SQLite only")
    results = run_all(sizes, postgres_url, log)
    document = render(results, sizes, postgres_url, time.perf_counter() - started)
    print(document)
    if args.write:
        args.write.write_text(document, encoding="utf-8")
    return 1 if any(result.figure.startswith("failed") for result in results) else 0
