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


def test_minutes_from_the_command_line(cli: Cli, records: World, tmp_path: Path) -> None:
    listed = cli.ok("minutes", "list", "--org", "B1", "--now", NOW[1])
    [line] = [row for row in listed.splitlines() if "2026-10-06" in row]
    number = line.split()[0]
    assert line.rstrip().endswith("—")
    assert "这次会议还没有会议记录" in cli.refused("document", "minutes", "--meeting", number)
    stored = cli.ok(
        "minutes",
        "record",
        "--meeting",
        number,
        "--topic",
        "十月学习",
        "--host",
        "sec",
        "--recorder",
        "李四",
        "--content",
        "学习党章第一章，交流学习体会。",
        "--resolutions",
        "每月集中学习一次。",
        "--now",
        NOW[1],
    )
    assert f"已保存第{number}号会议的记录：十月学习。" in stored
    assert "十月学习" in cli.ok("minutes", "list", "--org", "B1", "--now", NOW[1])
    cli.ok("document", "minutes", "--meeting", number, "-o", str(tmp_path), "--now", NOW[1])
    book = docx.Document(str(tmp_path / "会议记录-第1支部-2026-10-06.docx"))
    rows = {row.cells[0].text: row.cells[1].text for row in book.tables[0].rows}
    assert (rows["主持人"], rows["记录人"]) == ("sec", "李四")
    assert rows["考勤"].startswith("应到")
    assert "每月集中学习一次。" in [p.text for p in book.paragraphs]


def test_minutes_refusals_on_the_command_line(cli: Cli) -> None:
    assert "本支部没有这次会议" in cli.refused("document", "minutes", "--meeting", "999999")
    assert "本支部没有这次会议" in cli.refused(
        "minutes",
        "record",
        "--meeting",
        "999999",
        "--host",
        "a",
        "--recorder",
        "b",
        "--content",
        "学习党章",
    )
