"""Every refusal a service can raise has a sentence for the member."""

from __future__ import annotations

import ast
from pathlib import Path

from handlers.errors import MESSAGES

ROOT = Path(__file__).resolve().parent.parent.parent


def raised_codes() -> set[str]:
    """Collects the codes of every `ServiceError("code", ...)` in the code."""
    codes: set[str] = set()
    for folder in ("bot", "handlers", "scheduler", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "ServiceError"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    codes.add(str(node.args[0].value))
    return codes


def test_every_refusal_has_a_message() -> None:
    codes = raised_codes()
    assert len(codes) > 20
    assert codes - set(MESSAGES) == set()
