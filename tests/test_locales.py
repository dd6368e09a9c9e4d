"""The catalogs: every message in the code is translated in Chinese and English, and compiles."""

from __future__ import annotations

import ast
import datetime as dt
import io
import re
import string
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.core.i18n import SUPPORTED_LOCALES
from bot.texts.catalogs import ROOT, SOURCES, extract, missing, po_path
from bot.texts.translation import translator


def test_every_message_is_translated() -> None:
    gaps = sorted(missing())
    assert gaps == [], (
        f"{len(gaps)} untranslated; run `python -m bot.texts.catalogs` and translate: {gaps[:10]}"
    )


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalog_compiles_and_placeholders_match(locale: str) -> None:
    with po_path(locale).open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    write_mo(io.BytesIO(), catalog)
    formatter = string.Formatter()
    for message in catalog:
        if not message.id or not message.string or isinstance(message.id, tuple):
            continue
        wanted = {name for _, name, _, _ in formatter.parse(message.id) if name}
        found = {name for _, name, _, _ in formatter.parse(str(message.string)) if name}
        assert wanted == found, f"{locale}: placeholders differ in {message.id!r}"


def test_dates_are_formatted_by_babel() -> None:
    day = date(2026, 11, 3)
    assert translator("zh_CN").date(day) == "2026年11月3日"
    assert translator("en").date(day) == "November 3, 2026"
    assert translator("zh_CN").weekday(day) == "星期二"


def test_times_are_the_values_own_hour_and_minute_as_babel_writes_them() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    for locale in ("zh_CN", "en"):
        t = translator(locale)
        for value in (
            dt.datetime(2026, 11, 3, 9, 5, 59, tzinfo=shanghai),
            dt.datetime(2026, 11, 3, 1, 5, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 3, 9, 5, 1, tzinfo=dt.UTC),
            dt.time(23, 0),
        ):
            # Twice: the second comes from what the translator kept.
            for _ in range(2):
                assert t.time(value) == format_time(value, format="HH:mm", locale=locale)
    assert translator("en").time(dt.datetime(2026, 11, 3, 1, 5, tzinfo=dt.UTC)) == "01:05"


def test_chinese_is_the_default() -> None:
    assert translator("fr").locale == "zh_CN"


def test_plural_messages_are_extracted_as_plurals() -> None:
    """Babel loses a plural when the translator is passed along inside the call: catch that."""
    wanted: set[tuple[str, str]] = set()
    for folder in SOURCES:
        for path in Path(ROOT, folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "plural"
                    and len(node.args) >= 2
                    and all(isinstance(arg, ast.Constant) for arg in node.args[:2])
                ):
                    wanted.add((node.args[0].value, node.args[1].value))  # type: ignore[union-attr]
    extracted = {message.id for message in extract() if isinstance(message.id, tuple)}
    assert wanted - extracted == set()


# ASCII `:;,()` touching a Chinese character, a full-width mark or a placeholder in Chinese text:
# "组织生活日: 已完成", "联络员 (张三)", "{name}: {code}" read wrong in Chinese.
CJK = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef“”‘’…]"
ASCII_IN_CHINESE = re.compile(rf"(?:{CJK}|\}})\s*[:;,()]|[:;,()]\s*(?:{CJK}|\{{)")


def test_chinese_catalog_uses_full_width_punctuation() -> None:
    with po_path("zh_CN").open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    offenders = []
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if message.id and text and re.search(CJK, text) and ASCII_IN_CHINESE.search(text):
                offenders.append(text)
    assert offenders == []


def test_the_punctuation_check_catches_the_known_cases() -> None:
    for text in (
        "组织生活日: 已完成",
        "已完成; 应到",
        "联络员 (张三)的邀请码",
        "已选：第2支部, 第4支部",
    ):
        assert ASCII_IN_CHINESE.search(text), text
    assert not ASCII_IN_CHINESE.search("组织生活日：已完成；应到（张三），14:30 开始")
