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
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.cityscale import CITY, SEED, SURNAMES, CitySize
from bench.databases import backend_of, database, postgres_base_url
from bench.report import Result, format_ratio

ROOT = Path(__file__).resolve().parent.parent
# The targets: seconds for the whole import, and resident memory while it runs (MiB).
SECONDS_TARGET = 60.0
MEMORY_TARGET = 500
# Bump when the generated file changes, so a cached copy of the old one is not reused.
FILE_VERSION = 2
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
class Counts:
    """What a generated file holds."""

    orgs: int
    members: int
    rows: int
    roles: int


def city_rows(size: CitySize) -> Iterator[tuple[str, ...]]:
    """Yields the file's rows: committees, general branches, then each branch's members."""
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


def write_file(size: CitySize, path: Path) -> Counts:
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
    partial = path.with_suffix(".partial")
    workbook.save(partial)
    partial.replace(path)
    return Counts(size.orgs, members, rows, roles)


def city_file(size: CitySize, folder: Path | None = None) -> tuple[Path, Counts]:
    """Returns the cached import file for `size`, generating it the first time."""
    where = folder or Path(tempfile.gettempdir()) / "gongjian-bench-import"
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"city-{size.orgs}-{size.members}-v{FILE_VERSION}.xlsx"
    counts_path = path.with_suffix(".json")
    if path.exists() and counts_path.exists():
        return path, Counts(**json.loads(counts_path.read_text()))
    counts = write_file(size, path)
    counts_path.write_text(json.dumps(_as_dict(counts)))
    return path, counts


def _as_dict(counts: Counts) -> dict[str, int]:
    """Returns the counts by field name."""
    return {"orgs": counts.orgs, "members": counts.members, "rows": counts.rows, "roles": counts.roles}
