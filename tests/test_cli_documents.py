"""`gongjian document`: the year-end summary as a Word file, written where -o says."""

from __future__ import annotations

from pathlib import Path

import docx

from tests.factories import World
from tests.test_cli_secretary import NOW, Cli, cli, records

__all__ = ["cli", "records"]


def test_summary_document(cli: Cli, records: World, tmp_path: Path) -> None:
    folder = tmp_path / "总结"
    folder.mkdir()
    output = cli.ok("document", "summary", "--org", "B1", "-o", str(folder), "--now", NOW[1])
    path = folder / "年度总结-第1支部-2026.docx"
    assert f"已写入{path}：2026年度工作总结。" in output
    book = docx.Document(str(path))
    titles = [p.text for p in book.paragraphs if p.style is not None and p.style.name == "Title"]
    assert titles == ["红湾联盟2026年度工作总结", "一支部-二支部结对2026年度工作总结"]
    assert "街道党工委第1支部（盖章）" in [p.text for p in book.paragraphs]

    named = tmp_path / "summary.docx"
    cli.ok("document", "summary", "--org", "B1", "--year", "2026", "-o", str(named), *NOW)
    assert docx.Document(str(named)).paragraphs[0].text == "红湾联盟: work summary for 2026"


def test_summary_document_refusals(cli: Cli, tmp_path: Path) -> None:
    assert "no joint summary" in cli.refused("document", "summary", "--org", "C", *NOW)
    assert "No organization" in cli.refused("document", "summary", "--org", "ZZ", *NOW)
    assert "between 2000 and 2026" in cli.refused(
        "document", "summary", "--org", "B1", "--year", "2027", *NOW
    )
    missing = tmp_path / "no" / "such" / "x.docx"
    assert "cannot write" in cli.refused(
        "document", "summary", "--org", "B1", "-o", str(missing), *NOW
    )
    assert not missing.parent.exists()
