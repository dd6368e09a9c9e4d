"""City-scale import: one .xlsx of 5,000 organizations and 100,000 members, validated and committed.

The file is generated once (deterministically, cached in the temporary folder) the way a district
fills the import template: committees, general branches under them, branches of 3 to 50 members
with their secretary, deputy and committee members, phones, statuses, mobile members and
organization-life settings. Each import runs in a fresh child process on a fresh database, so its
peak resident size (VmHWM) is the import's own: `gongjian import members` reads the file, checks
every row and writes everything in one transaction. Baselines, in the same run and each in its own
child process: openpyxl's read-only load of the same file (every cell read, nothing else), and a
bare executemany insert of the same members and roles (no reading, no checks).

Run: python -m bench.importing [--orgs 5000] [--members 100000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.memory import resident
from bench.report import Result

# Probes import only what they measure: this module keeps its own imports to the standard library
# and bench.report (the city's sizes and names are read where the file is generated).
ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
# The targets: seconds for the whole import, and resident memory while it runs (MiB).
SECONDS_TARGET = 60.0
MEMORY_TARGET = 500
# Bump when the generated file changes, so a cached copy of the old one is not reused.
FILE_VERSION = 3
HEADERS = (
    "组织代码",
    "组织名称",
    "组织类型",
    "上级组织代码",
    "姓名",
    "职务/身份",
    "党员状态",
    "手机号",
    "流动党员",
    "组织生活时间",
    "组织生活地点",
    "节假日处理",
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文斌辉鹏飞宇浩然晨阳雪梅海波云"
LEADERS = ("书记", "副书记", "组织委员", "宣传委员", "纪检委员")


@dataclass(frozen=True, slots=True)
class Size:
    """How big a file to import."""

    orgs: int
    members: int


CITY = Size(orgs=5_000, members=100_000)
QUICK = Size(orgs=300, members=6_000)
TINY = Size(orgs=24, members=300)


@dataclass(frozen=True, slots=True)
class Counts:
    """What a generated file holds."""

    orgs: int
    members: int
    rows: int
    roles: int


def city_rows(size: Size) -> Iterator[tuple[str, ...]]:
    """Yields the file's rows: committees, general branches, then each branch's members."""
    from bench.cityscale import SEED, SURNAMES  # noqa: PLC0415 (probes stay bare)

    rng = random.Random(SEED)
    committees = max(1, round(size.orgs / 100))
    generals = 2 * committees if size.orgs >= 5 * committees else 0
    branch_count = size.orgs - committees - generals
    for c in range(committees):
        yield (f"C{c + 1:03d}", f"第{c + 1}街道党工委", "党工委", "", *[""] * 8)
    parents: dict[int, list[str]] = {c: [f"C{c + 1:03d}"] for c in range(committees)}
    for g in range(generals):
        c = g % committees
        code = f"C{c + 1:03d}-G{g // committees + 1}"
        parents[c].append(code)
        yield (code, f"第{c + 1}街道第{g // committees + 1}党总支", "党总支", f"C{c + 1:03d}")
    sizes = _sizes(rng, size.members, branch_count)
    phone = 13_800_000_000
    for b, members in enumerate(sizes):
        c = b % committees
        joint = rng.random() < 0.1
        code = f"B{b + 1:05d}"
        name = f"第{c + 1}街道第{b // committees + 1}{'联合' if joint else ''}党支部"
        kind = "联合党支部" if joint else "党支部"
        parent = rng.choice(parents[c])
        settings = (
            rng.choice(("09:00", "14:30", "08:30")),
            f"{b + 1}号党员活动室",
            rng.choice(("顺延", "照常")),
        )
        for index in range(members):
            phone += rng.randint(1, 50)
            status = "预备党员" if rng.random() < 0.04 else "正式党员"
            role = LEADERS[index] if index < len(LEADERS) and index < members // 3 + 1 else "党员"
            if index == 1 and rng.random() < 0.5:
                role += "、联络员"
            yield (
                code,
                name,
                kind,
                parent,
                rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2))),
                role,
                status,
                str(phone),
                "是" if rng.random() < 0.01 else "",
                *(settings if index == 0 else ("", "", "")),
            )


def _sizes(rng: random.Random, members: int, count: int) -> list[int]:
    """Splits the members over `count` branches: 3 to 50 each, adding up exactly."""
    if not 3 * count <= members <= 50 * count:
        raise ValueError(f"{members} members do not fit {count} branches of 3 to 50")
    raw = [rng.randint(5, 40) for _ in range(count)]
    scale = members / sum(raw)
    sizes = [min(50, max(3, round(value * scale))) for value in raw]
    step = 1 if sum(sizes) < members else -1
    while sum(sizes) != members:
        index = rng.randrange(count)
        if 3 <= sizes[index] + step <= 50:
            sizes[index] += step
    return sizes


def write_file(size: Size, path: Path) -> Counts:
    """Writes the city's import file as Excel and WPS save one: shared strings, declared size."""
    from openpyxl import Workbook  # noqa: PLC0415 (the probes import only what they measure)

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "组织与党员"
    sheet.append(HEADERS)
    rows = members = roles = 0
    for row in city_rows(size):
        sheet.append(list(row))
        rows += 1
        if len(row) > 4 and row[4]:
            members += 1
            roles += 1 + sum(1 for word in row[5].split("、") if word != "党员")
    written = path.with_suffix(".openpyxl")
    workbook.save(written)
    partial = path.with_suffix(".partial")
    _share_strings(written, partial)
    written.unlink()
    partial.replace(path)
    return Counts(size.orgs, members, rows, roles)


INLINE_CELL = re.compile(r'<c([^>]*?) t="inlineStr"><is><t>(.*?)</t></is></c>')
SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
SHARED_STRINGS_REL = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
)


def _share_strings(source: Path, target: Path) -> None:
    """Rewrites openpyxl's inline strings as a shared-string table, as Excel and WPS store text.

    openpyxl reads shared strings about twice as fast as inline ones: a file a district exports
    from Excel is the fair test, not openpyxl's own output.
    """
    strings: dict[str, int] = {}

    def share(match: re.Match[str]) -> str:
        """Replaces one inline-string cell by its index in the table."""
        index = strings.setdefault(match[2], len(strings))
        return f'<c{match[1]} t="s"><v>{index}</v></c>'

    sheet_name = "xl/worksheets/sheet1.xml"
    with (
        zipfile.ZipFile(source) as found,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for item in found.infolist():
            data = found.read(item.filename).decode()
            if item.filename == sheet_name:
                data = INLINE_CELL.sub(share, data)
            elif item.filename == "[Content_Types].xml":
                part = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHARED_STRINGS_TYPE}"/>'
                data = data.replace("</Types>", part + "</Types>")
            elif item.filename == "xl/_rels/workbook.xml.rels":
                rel = f'<Relationship Id="rIdStrings" Type="{SHARED_STRINGS_REL}" Target="sharedStrings.xml"/>'
                data = data.replace("</Relationships>", rel + "</Relationships>")
            out.writestr(item.filename, data)
        table = "".join(f"<si><t>{text}</t></si>" for text in strings)
        out.writestr(
            "xl/sharedStrings.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
            f' count="{len(strings)}" uniqueCount="{len(strings)}">{table}</sst>',
        )


def city_file(size: Size, folder: Path | None = None) -> tuple[Path, Counts]:
    """Returns the cached import file for `size`, generating it the first time."""
    where = folder or Path(tempfile.gettempdir()) / "gongjian-bench-import"
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"city-{size.orgs}-{size.members}-v{FILE_VERSION}.xlsx"
    counts_path = path.with_suffix(".json")
    if path.exists() and counts_path.exists():
        return path, Counts(**json.loads(counts_path.read_text()))
    counts = write_file(size, path)
    partial = counts_path.with_suffix(".json.partial")
    partial.write_text(json.dumps(asdict(counts)))
    partial.replace(counts_path)
    return path, counts


# -- probes (each in its own child process) ---------------------------------------------------


def probe_read(path: Path) -> dict[str, Any]:
    """Baseline: openpyxl's read-only load of the file, every cell's value read, nothing else."""
    from openpyxl import load_workbook  # noqa: PLC0415

    started = time.perf_counter()
    workbook = load_workbook(path, read_only=True, data_only=True)
    cells = 0
    for row in workbook.worksheets[0].iter_rows(values_only=True):
        cells += len(row)
    workbook.close()
    return {"seconds": time.perf_counter() - started, "cells": cells}


def probe_import(url: str, path: Path) -> dict[str, Any]:
    """The import as `gongjian import members` runs it: read, check, write, commit."""
    from bot.services.importer import Phase, import_members, read_table  # noqa: PLC0415
    from storage.engine import Database  # noqa: PLC0415

    database = Database.connect(url, migrate=False)
    marks: dict[str, float] = {}
    calls: list[tuple[str, int, int | None]] = []

    def progress(phase: Phase, done: int, total: int | None) -> None:
        """Notes when each phase last reported."""
        marks[phase.value] = time.perf_counter()
        calls.append((phase.value, done, total))

    started = time.perf_counter()
    table = read_table(path, progress=progress)
    with database.session() as session:
        report = import_members(
            session, table, now=NOW, dry_run=False, source=path.name, progress=progress
        )
        written = time.perf_counter()
    finished = time.perf_counter()
    database.dispose()
    read, check = marks["read"], marks["check"]
    return {
        "seconds": finished - started,
        "phases": {
            "read": read - started,
            "check": check - read,
            "write": written - check,
            "commit": finished - written,
        },
        "ok": report.ok,
        "errors": len(report.errors),
        "created": [report.orgs_created, report.members_created, report.roles_added],
        "changes": report.changes,
        "progress_calls": len(calls),
    }


def probe_insert(url: str, size: Size) -> dict[str, Any]:
    """Baseline: the same organizations, members and roles by DBAPI executemany, ids given."""
    from sqlalchemy import text  # noqa: PLC0415

    from bot.core.domain import RoleKind  # noqa: PLC0415
    from bot.services.importer import ORG_KIND_WORDS, ROLE_WORDS, STATUS_WORDS  # noqa: PLC0415
    from storage.engine import make_engine  # noqa: PLC0415

    engine = make_engine(url, pool=False)
    sqlite = engine.dialect.name == "sqlite"
    stamp: object = NOW.replace(tzinfo=None).isoformat(" ") if sqlite else NOW
    orgs: dict[str, tuple[Any, ...]] = {}
    members: list[tuple[Any, ...]] = []
    roles: list[tuple[Any, ...]] = []
    for row in city_rows(size):
        code = row[0]
        if code not in orgs:
            parent = orgs[row[3]][0] if row[3] else None
            kind = ORG_KIND_WORDS[row[2]].value
            orgs[code] = (
                len(orgs) + 1,
                code,
                row[1],
                kind,
                parent,
                1,
                1,
                "09:00",
                "",
                "keep",
                True,
                stamp,
            )
        if len(row) > 4 and row[4]:
            member_id = len(members) + 1
            status = STATUS_WORDS.get(row[6])
            members.append(
                (
                    member_id,
                    row[4],
                    orgs[code][0],
                    status.value if status else "full",
                    bool(row[8]),
                    None,
                    row[7],
                    False,
                    stamp,
                    None,
                )
            )
            kinds = {ROLE_WORDS.get(word, RoleKind.MEMBER) for word in row[5].split("、")}
            for role in kinds | {RoleKind.MEMBER}:
                roles.append((orgs[code][0], member_id, role.value))
    mark = "?" if sqlite else "%s"

    def sql(table: str, columns: str) -> str:
        """Spells a one-row insert in the driver's own placeholders."""
        count = len(columns.split(","))
        return f"INSERT INTO {table} ({columns}) VALUES ({', '.join([mark] * count)})"

    started = time.perf_counter()
    with engine.begin() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(
            sql(
                "organization",
                "id, code, name, kind, parent_id, orglife_ordinal, orglife_weekday,"
                " orglife_time, orglife_venue, holiday_policy, checkin_code_required, created_at",
            ),
            list(orgs.values()),
        )
        cursor.executemany(
            sql(
                "member",
                "id, name, organization_id, status, mobile, locale, phone, muted, created_at,"
                " departed_at",
            ),
            members,
        )
        cursor.executemany(sql("role", "organization_id, member_id, role"), roles)
    seconds = time.perf_counter() - started
    if not sqlite:
        # Ids were given: move the sequences past them, as a real insert would have.
        with engine.begin() as connection:
            for table in ("organization", "member"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
    engine.dispose()
    return {"seconds": seconds, "rows": len(orgs) + len(members) + len(roles)}


def run_probe(*args: str) -> dict[str, Any]:
    """Runs a probe in a fresh Python process; returns its figures with its peak resident size."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.importing", "--probe", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe {args[0]} failed: {done.stderr.strip()[-500:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


# -- the benchmark ---------------------------------------------------------------------------------


def measure(
    backends: list[str], postgres_url: str | None, size: Size, log: Callable[[str], None] = print
) -> list[Result]:
    """Imports the city's file into a fresh database on each backend, beside the baselines."""
    from bench.databases import database  # noqa: PLC0415

    path, counts = city_file(size)
    log(f"file: {path} ({path.stat().st_size / 2**20:.1f} MiB, {counts.rows:,} rows)")
    read = run_probe("read", str(path))
    log(f"openpyxl read-only load: {read['seconds']:.1f} s, {read['VmHWM']:.0f} MiB")
    results: list[Result] = []
    for backend in backends:
        with database(backend, postgres_url) as url:
            bare = run_probe("insert", url, f"{size.orgs}:{size.members}")
        log(f"{backend}: bare executemany {bare['seconds']:.1f} s")
        with database(backend, postgres_url) as url:
            first = run_probe("import", url, str(path))
            log(f"{backend}: import {first['seconds']:.1f} s, {first['VmHWM']:.0f} MiB")
            again = run_probe("import", url, str(path))
            log(f"{backend}: re-import {again['seconds']:.1f} s, {again['VmHWM']:.0f} MiB")
        results.append(_result(backend, counts, first, read, bare, again=False))
        results.append(_result(backend, counts, again, read, bare, again=True))
    return results


def _result(
    backend: str,
    counts: Counts,
    run: dict[str, Any],
    read: dict[str, Any],
    bare: dict[str, Any],
    *,
    again: bool,
) -> Result:
    """Turns one import probe into a row of the table."""
    seconds, peak = run["seconds"], run["VmHWM"]
    phases = ", ".join(f"{name} {value:.1f} s" for name, value in run["phases"].items())
    what = (
        "the same file again (nothing changes)"
        if again
        else f"{counts.members:,} members, {counts.orgs:,} organizations"
    )
    created = run["created"]
    notes = [
        f"{counts.rows:,} rows, one .xlsx; {phases}; {run['progress_calls']} progress reports",
        f"bare DBAPI executemany of the same {bare['rows']:,} organization, member and role rows"
        f" (ids given, no checks, one transaction): {bare['seconds']:.1f} s"
        f" (the import's write phase is {run['phases']['write'] / bare['seconds']:.2f}x it)",
    ]
    if again:
        notes.append(f"{run['changes']} changes (every row already stored)")
    else:
        notes.append(
            f"{created[0]:,} organizations, {created[1]:,} members, {created[2]:,} roles created"
        )
    met = bool(run["ok"]) and seconds < SECONDS_TARGET and peak < MEMORY_TARGET
    return Result(
        name=f"import {what}, {backend}",
        figure=f"{seconds:.1f} s, peak {peak:.0f} MiB",
        baseline=f"openpyxl read-only load of the file: {read['seconds']:.1f} s, {read['VmHWM']:.0f} MiB",
        ratio=seconds / read["seconds"],
        target=f"< {SECONDS_TARGET:.0f} s, < {MEMORY_TARGET} MiB",
        met=met,
        notes=tuple(notes),
    )


def main() -> None:
    """Runs one probe (child process) or the whole import benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probe", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--orgs", type=int, default=CITY.orgs)
    parser.add_argument("--members", type=int, default=CITY.members)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="",
        default=None,
        metavar="URL",
        help="also PostgreSQL (the URL, else GONGJIAN_BENCH_POSTGRES_URL or GONGJIAN_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args()
    if args.probe:
        kind, *rest = args.probe
        if kind == "read":
            found = probe_read(Path(rest[0]))
        elif kind == "import":
            found = probe_import(rest[0], Path(rest[1]))
        else:
            orgs, members = rest[1].split(":")
            found = probe_insert(rest[0], Size(int(orgs), int(members)))
        print(json.dumps({**found, **resident()}))
        return
    from bench.databases import postgres_base_url  # noqa: PLC0415
    from bench.report import format_ratio, table  # noqa: PLC0415

    postgres = postgres_base_url(args.postgres) if args.postgres is not None else None
    backends = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    results = measure(backends, postgres, Size(args.orgs, args.members))
    print(table(results))
    for result in results:
        print(f"{result.name}: ratio {format_ratio(result.ratio)}")
        for note in result.notes:
            print(f"  {note}")


if __name__ == "__main__":
    main()
