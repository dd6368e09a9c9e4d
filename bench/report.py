"""Benchmark results: one row per figure, with its same-run baseline, ratio and target; the machine."""

from __future__ import annotations

import gc
import os
import platform
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Result:
    """One measured figure against a baseline taken in the same run."""

    name: str
    figure: str
    baseline: str
    ratio: float | None
    target: str
    met: bool | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> str:
        """Says whether the target was met."""
        if self.met is None:
            return "-"
        return "yes" if self.met else "NO"


def settle_heap() -> None:
    """Collects garbage and freezes what is alive, before a timed part.

    The benchmark's own bookkeeping (a city's 100,000 accounts) would otherwise lengthen every
    full collection in the measured process; a server freezes its start-up heap the same way.
    """
    gc.collect()
    gc.freeze()


def skipped(name: str, why: str) -> Result:
    """A row for a benchmark that could not run here."""
    return Result(name, "skipped", why, None, "", None)


def format_ratio(ratio: float | None) -> str:
    """Shows a ratio compactly: percentages below 10%, else a plain number."""
    if ratio is None:
        return "-"
    if ratio < 0.1:
        return f"{ratio:.2%}"
    return f"{ratio:.2f}"


def table(results: list[Result]) -> str:
    """Renders results as a Markdown table (readable in a terminal too)."""
    header = ("benchmark", "figure", "baseline (same run)", "ratio", "target", "met")
    rows = [
        header,
        *[
            (r.name, r.figure, r.baseline, format_ratio(r.ratio), r.target, r.verdict)
            for r in results
        ],
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def notes(results: list[Result]) -> str:
    """Lists every result's notes under its name."""
    lines = []
    for result in results:
        for note in result.notes:
            lines.append(f"- {result.name}: {note}")
    return "\n".join(lines)


def _cpu_model() -> str:
    """Reads the CPU model from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    """Reads the machine's RAM from /proc/meminfo."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def postgres_version(url: str | None) -> str:
    """Asks the server for its version."""
    if not url:
        return "not used"
    # Imported here: the memory floor probe imports this module and must stay bare.
    from sqlalchemy import text  # noqa: PLC0415

    from storage.engine import make_engine  # noqa: PLC0415

    engine = make_engine(url, pool=False)
    try:
        with engine.connect() as connection:
            version = str(connection.execute(text("SHOW server_version")).scalar_one())
    except Exception as error:  # the machine line must not fail the run
        return f"unavailable ({type(error).__name__})"
    finally:
        engine.dispose()
    return version


def machine(postgres_url: str | None) -> list[tuple[str, str]]:
    """Describes the machine the figures were taken on."""
    try:
        kernel = subprocess.run(
            ["uname", "-sr"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        kernel = platform.platform()
    return [
        ("CPU", f"{_cpu_model()}, {os.cpu_count()} cores (nproc)"),
        ("RAM", _memory()),
        ("OS", kernel),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL", postgres_version(postgres_url)),
    ]


def machine_text(rows: list[tuple[str, str]]) -> str:
    """Renders the machine description as a Markdown list."""
    return "\n".join(f"- {name}: {value}" for name, value in rows)
