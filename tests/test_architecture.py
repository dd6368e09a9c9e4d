"""The direction of the arrows: handlers and the core know no platform and no ORM."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = {
    "telegram",
    "wechatpy",
    "sqlmodel",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "httpx",
    "storage",
}


def imported_modules(path: Path) -> set[str]:
    """Returns the top-level names of every module a file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "handlers").glob("*.py")), ids=lambda p: p.name)
def test_handlers_import_no_platform_or_orm(path: Path) -> None:
    assert imported_modules(path) & PLATFORMS == set()


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_imports_only_the_standard_library(path: Path) -> None:
    outside = {
        name
        for name in imported_modules(path)
        if name not in sys.stdlib_module_names and name not in {"bot", "__future__"}
    }
    assert outside == set()
