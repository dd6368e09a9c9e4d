"""The suite's own output: without PostgreSQL, one line says its half did not run and how to run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import POSTGRES_ENV

ROOT = Path(__file__).resolve().parent.parent


def test_without_postgresql_one_line_replaces_the_skips(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in (POSTGRES_ENV, "CI")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/services/test_structure.py",
            "-k",
            "bad_pairings",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "SKIPPED" not in result.stdout
    notes = [line for line in lines if "PostgreSQL half not run" in line]
    assert notes == [
        f"PostgreSQL half not run (7 tests): set {POSTGRES_ENV}="
        "postgresql+psycopg://postgres@127.0.0.1:5432/test to run it (.ci/run does)."
    ]
