"""The benchmarks keep working: every one runs at a tiny size (figures are not checked, only sense)."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from bench import flood, importing, suite, wechat_ack
from bench.cityscale import TINY_CITY, CitySize, build_city, city_database
from bench.databases import sqlite_database
from bench.delivery import sustained_rate
from bench.inbound import present_count
from bench.report import Result, format_ratio, table
from bench.wechat_ack import percentile
from bot.core.inbound import Channel
from storage.engine import Database
from storage.models import Attendance, ChatAccount, Member, Organization


@pytest.fixture(scope="module")
def tiny_run() -> Iterator[list[Result]]:
    """Runs the whole suite once at the tiny size, on SQLite only."""
    yield suite.run_all(suite.TINY, None, log=lambda _message: None)
    # The benchmarks freeze the heap before timing; give the test process its collector back.
    gc.unfreeze()


def by_name(results: list[Result], prefix: str) -> list[Result]:
    """Returns the rows whose benchmark name starts with `prefix`."""
    found = [result for result in results if result.name.startswith(prefix)]
    assert found, f"no {prefix!r} row in {[r.name for r in results]}"
    return found


def test_every_benchmark_ran(tiny_run: list[Result]) -> None:
    assert not [r for r in tiny_run if r.figure.startswith(("failed", "skipped"))], table(tiny_run)
    for prefix in (
        "inbound",
        "reminder planning",
        "idle reminder tick",
        "delivery",
        "WeChat",
        "who hosts",
        "compliance",
        "/pending",
        "console overview,",
        "console overview after a check-in",
        "console overview after a write",
        "console overview after a member joins",
        "console member list",
        "console overview page weight",
        "memory",
        "import",
    ):
        by_name(tiny_run, prefix)


def test_inbound_records_every_check_in_and_answers_it(tiny_run: list[Result]) -> None:
    (result,) = by_name(tiny_run, "inbound")
    assert result.ratio is not None and result.ratio > 0
    counts = re.search(r"([\d,]+) sign-ins recorded, ([\d,]+) replies sent", result.notes[0])
    assert counts is not None
    handled = re.search(r"([\d,]+) check-ins after (\d+) warm-up", result.notes[0])
    assert handled is not None
    total = int(handled[1].replace(",", "")) + int(handled[2])
    assert counts[1] == counts[2] == f"{total:,}"


def test_planning_queues_the_days_pushes_and_nothing_at_noon(tiny_run: list[Result]) -> None:
    (result,) = by_name(tiny_run, "reminder planning")
    pushes = re.search(r"for ([\d,]+) pushes", result.figure)
    assert pushes is not None and int(pushes[1].replace(",", "")) > 0
    assert "(12:00, 0 queued)" in result.notes[1]


def test_the_idle_tick_plans_nothing(tiny_run: list[Result]) -> None:
    (result,) = by_name(tiny_run, "idle reminder tick")
    assert "planned" not in result.figure
    assert result.ratio is not None and result.ratio < 1


def test_delivery_loses_nothing(tiny_run: list[Result]) -> None:
    (result,) = by_name(tiny_run, "delivery")
    assert result.figure.endswith(", 0 lost")
    assert f"{suite.TINY.pushes} pushes to {suite.TINY.pushes} chats" in result.notes[0]
    assert "0 duplicates" in result.notes[0]


def test_wechat_answers_every_callback_passively(tiny_run: list[Result]) -> None:
    burst, small = by_name(tiny_run, "WeChat")
    assert "20 answered in the passive reply, 0 left to a push" in burst.notes[0]
    assert "10 answered in the passive reply, 0 left to a push" in small.notes[0]
    for result in (burst, small):
        # The ratio is against requests refused at once in the same run; the p99 is within 5 s.
        assert result.ratio is not None and result.ratio > 0
        p99 = re.search(r"p99 ([\d,]+) ms", result.figure)
        assert p99 is not None and int(p99[1].replace(",", "")) < 5000
        assert "refused (forged signature) p99" in result.baseline
        assert "no-op route's in the same run" in result.notes[1]


def test_answers_and_memory_have_figures(tiny_run: list[Result]) -> None:
    for prefix in ("who hosts", "compliance", "/pending"):
        (result,) = by_name(tiny_run, prefix)
        assert re.fullmatch(r"p50 [\d.,]+ ms, p99 [\d.,]+ ms", result.figure)
    idle, city = by_name(tiny_run, "memory")
    assert idle.ratio is not None and idle.ratio > 1
    assert city.ratio is not None and city.ratio >= idle.ratio * 0.9


def test_console_pages_have_figures_and_a_weight(tiny_run: list[Result]) -> None:
    for prefix in (
        "console overview,",
        "console overview after a check-in",
        "console overview after a write",
        "console overview after a member joins",
        "console member list",
    ):
        (result,) = by_name(tiny_run, prefix)
        assert re.fullmatch(r"p50 [\d.,]+ ms, p99 [\d.,]+ ms", result.figure)
        assert result.baseline.startswith("help menu: ")
        assert result.ratio is not None and result.ratio > 0
    (overview,) = by_name(tiny_run, "console overview,")
    assert f"{suite.TINY.city.orgs + 1} organizations" in overview.name
    (weight,) = by_name(tiny_run, "console overview page weight")
    sent = re.fullmatch(r"([\d,]+) bytes gzipped", weight.figure)
    unpacked = re.fullmatch(r"unpacked: ([\d,]+) bytes", weight.baseline)
    assert sent is not None and unpacked is not None
    assert 0 < int(sent[1].replace(",", "")) < int(unpacked[1].replace(",", ""))
    assert "echarts" in weight.notes[0] and "HTML" in weight.notes[0]


def test_results_document_names_the_machine_and_every_row(tiny_run: list[Result]) -> None:
    document = suite.render(tiny_run, suite.TINY, None, 12.0)
    assert "--tiny" in document
    assert "- SQLite: " in document and "- Python: " in document
    assert document.count("\n| ") == len(tiny_run) + 1


def test_city_is_deterministic_and_within_branch_limits() -> None:
    counts = []
    for _ in range(2):
        with sqlite_database() as url:
            city = build_city(url, TINY_CITY)
            database = Database.connect(url, migrate=False)
            with database.session() as session:
                members = session.exec(select(func.count()).select_from(Member)).one()
                orgs = session.exec(select(func.count()).select_from(Organization)).one()
                accounts = session.exec(select(func.count()).select_from(ChatAccount)).one()
                present = session.exec(select(func.count()).select_from(Attendance)).one()
                biggest = session.exec(
                    select(func.count())
                    .select_from(Member)
                    .group_by(col(Member.organization_id))
                    .order_by(func.count().desc())
                ).first()
            database.dispose()
            counts.append(
                (members, orgs, accounts, present, city.rows, len(city.checkers(Channel.TELEGRAM)))
            )
            assert biggest is not None and biggest <= 50
    assert counts[0] == counts[1]
    assert counts[0][0] == TINY_CITY.members and counts[0][1] == TINY_CITY.orgs


def test_city_refuses_members_that_do_not_fit() -> None:
    with sqlite_database() as url, pytest.raises(ValueError, match="do not fit"):
        build_city(url, CitySize(orgs=10, members=5_000))


def test_sustained_rate_ignores_bursts_and_sees_pauses() -> None:
    perfect = [second + index / 1000 for second in range(10) for index in range(30)]
    assert sustained_rate(perfect) == pytest.approx(30, rel=0.01)
    paused = perfect[:150] + [at + 1.0 for at in perfect[150:]]
    assert sustained_rate(paused) < 28


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([3.0], 0.99) == 3


def test_ratio_formatting() -> None:
    assert format_ratio(None) == "-"
    assert format_ratio(0.0123) == "1.23%"
    assert format_ratio(2.5) == "2.50"


def test_command_line_writes_the_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        Result("inbound check-ins, Telegram, sqlite", "1 updates/s", "floor", 0.5, ">= 0.33", True)
    ]
    monkeypatch.setattr(suite, "run_all", lambda sizes, url, log: rows)
    target = tmp_path / "RESULTS.md"
    assert suite.main(["--quick", "--no-postgres", "--write", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert "`python -m bench --quick`" in text and "| inbound check-ins, Telegram, sqlite" in text


def test_wechat_spread_over_two_processes_signs_in_other_members() -> None:
    with city_database("sqlite", TINY_CITY) as (url, city):
        database = Database.connect(url, migrate=False)
        before = present_count(database)
        first = wechat_ack.measure(url, city, rounds=1, concurrent=10)
        used = wechat_ack.members_used(1, 10)
        second = wechat_ack.measure(url, city, rounds=1, concurrent=10, processes=2, skip=used)
        signed = present_count(database) - before
        database.dispose()
    assert "10 answered in the passive reply, 0 left to a push" in first.notes[0]
    assert second.name.endswith(", 2 processes")
    assert "10 answered in the passive reply, 0 left to a push" in second.notes[0]
    # Twenty different members signed in: the second run neither replayed nor repeated the first.
    assert signed == 20


def test_flood_bench_times_valid_callbacks_with_and_without_forgeries() -> None:
    with sqlite_database() as url:
        results = flood.measure(url, 5)
    assert [result.name.split()[1] for result in results] == ["/wechat", "/wecom"]
    for result in results:
        assert result.ratio is not None and result.ratio > 0
        assert "forged 64 KiB bodies" in result.notes[0]
        assert "without the flood p99" in result.baseline


def test_import_bench_imports_the_generated_file_beside_its_baselines(tmp_path: Path) -> None:
    results = importing.measure(["sqlite"], None, importing.TINY, log=lambda _message: None)
    assert [result.name.split(",")[-1].strip() for result in results] == ["sqlite", "sqlite"]
    first, again = results
    assert first.met and again.met, table(results)
    assert first.ratio is not None and first.ratio > 0
    assert "openpyxl read-only load" in first.baseline
    assert "bare DBAPI executemany" in first.notes[1]
    assert f"{importing.TINY.members:,} members" in first.name
    assert "0 changes" in again.notes[2]


def test_import_bench_file_is_cached_and_fits_the_branch_cap(tmp_path: Path) -> None:
    path, counts = importing.city_file(importing.TINY, tmp_path)
    assert importing.city_file(importing.TINY, tmp_path) == (path, counts)
    assert counts.members == importing.TINY.members and counts.orgs == importing.TINY.orgs
    sizes: dict[str, int] = {}
    for row in importing.city_rows(importing.TINY):
        if len(row) > 4 and row[4]:
            sizes[row[0]] = sizes.get(row[0], 0) + 1
    assert max(sizes.values()) <= 50 and min(sizes.values()) >= 3
