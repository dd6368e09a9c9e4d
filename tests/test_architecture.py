"""The direction of the arrows: every import runs down the layer table, none up, none sideways."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = ("bot", "handlers", "storage", "scheduler")

# Lowest first. A module may import its own layer's modules and any layer below; modules of
# sibling packages that share a layer (the scheduler, the channels, the web routes) never import
# one another. The most specific prefix names a module's layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bot.core",),
    ("bot.config",),
    ("bot.calendar",),
    ("storage",),
    ("bot.services.obligations",),
    ("bot.texts",),
    ("bot.services",),
    ("handlers",),
    ("bot.engine",),
    ("scheduler", "bot.channels", "bot.web"),
    ("bot.demo",),
    ("bot.runner",),
    ("bot.cli",),
    ("bot.__main__",),
)
PLATFORMS = {"telegram", "wechatpy", "starlette", "uvicorn", "httpx"}
ORM = {"sqlmodel", "sqlalchemy"}
# Only these layers may speak SQL (every statement lives in storage or a service's queries).
SQL_LAYERS = ("storage", "bot.services.obligations", "bot.services", "bot.config")


def module_name(path: Path) -> str:
    """Returns the dotted module name of a source file."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    """Lists every module of the project's packages, migrations aside."""
    return sorted(
        path
        for root in SOURCE_ROOTS
        for path in (ROOT / root).rglob("*.py")
        if "migrations" not in path.parts and module_name(path) not in {"bot"}
    )


def imports_of(path: Path) -> Iterator[str]:
    """Yields every module a file imports, at any depth (inside functions too)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    yield from imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: list[str]) -> Iterator[str]:
    """Yields every module some source imports, resolving relative imports against `package`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def position(module: str) -> tuple[int, str] | None:
    """Returns (layer index, owning prefix) of a project module, or None for outside code."""
    best: tuple[int, str] | None = None
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > len(best[1])
            ):
                best = (index, prefix)
    return best


def violations(path: Path) -> list[str]:
    """Lists the imports of one file that run up the table or sideways."""
    return violations_of(module_name(path), set(imports_of(path)))


def violations_of(me: str, targets: set[str]) -> list[str]:
    """Lists which of a module's imports run up the table or sideways."""
    mine = position(me)
    assert mine is not None, f"{me} sits in no layer: add it to LAYERS"
    found = []
    for target in targets:
        theirs = position(target)
        if theirs is None:
            continue
        if theirs[0] > mine[0] or (theirs[0] == mine[0] and theirs[1] != mine[1]):
            found.append(f"{me} imports {target}")
    return sorted(found)


@pytest.mark.parametrize("path", source_files(), ids=module_name)
def test_imports_run_down_the_layers(path: Path) -> None:
    assert violations(path) == []


@pytest.mark.parametrize("path", source_files(), ids=module_name)
def test_only_storage_and_services_speak_sql(path: Path) -> None:
    me = module_name(path)
    if any(me == p or me.startswith(p + ".") for p in SQL_LAYERS):
        return
    tops = {name.split(".")[0] for name in imports_of(path)}
    assert tops & ORM == set()


def test_handlers_import_no_platform() -> None:
    for path in (ROOT / "handlers").glob("*.py"):
        tops = {name.split(".")[0] for name in imports_of(path)}
        assert tops & PLATFORMS == set(), path.name


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_imports_only_the_standard_library(path: Path) -> None:
    outside = {
        name.split(".")[0]
        for name in imports_of(path)
        if name.split(".")[0] not in sys.stdlib_module_names
    } - {"bot", "__future__"}
    assert outside == set()


def test_the_layer_check_sees_upward_and_sideways_imports() -> None:
    """The guard can fail: an upward import inside a function, and one between siblings."""
    upward = set(imports_in("def f() -> None:\n    from handlers import base\n", ["storage"]))
    assert violations_of("storage.probe", upward) == [
        "storage.probe imports handlers",
        "storage.probe imports handlers.base",
    ]
    sideways = set(imports_in("from ..channels import telegram\n", ["bot", "web"]))
    assert violations_of("bot.web.probe", sideways) == [
        "bot.web.probe imports bot.channels",
        "bot.web.probe imports bot.channels.telegram",
    ]
