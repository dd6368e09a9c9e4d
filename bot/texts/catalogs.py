"""Keeps the message catalogs in step with the code: extract, merge, and report gaps."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.core.i18n import SUPPORTED_LOCALES
from bot.texts.translation import DOMAIN

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
KEYWORDS = {"t": None, "N_": None, "plural": (1, 2)}
SOURCES = ("bot", "handlers", "scheduler", "storage")
# Python modules, and the console's Jinja templates, which call `t(...)` like the code does.
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]


def extract() -> Catalog:
    """Collects every marked message from the source tree into a template catalog."""
    template = Catalog(project="gongjian", domain=DOMAIN)
    for folder in SOURCES:
        found = extract_from_dir(
            ROOT / folder, method_map=METHODS, keywords=KEYWORDS, comment_tags=()
        )
        for filename, lineno, message, comments, context in found:
            template.add(
                message,
                None,
                [(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def po_path(locale: str) -> Path:
    """Returns the path of a locale's catalog."""
    return LOCALES / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(locale: str) -> Catalog:
    """Reads a locale's catalog."""
    with po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def update() -> dict[str, list[str]]:
    """Rewrites the template and merges it into each catalog; returns untranslated ids per locale."""
    template = extract()
    with (LOCALES / f"{DOMAIN}.pot").open("wb") as handle:
        # No source locations: they change with every edit and make catalogs conflict in merges.
        write_po(handle, template, omit_header=False, sort_output=True, width=100, no_location=True)
    gaps: dict[str, list[str]] = {}
    for locale in SUPPORTED_LOCALES:
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read(locale) if path.exists() else Catalog(locale=locale, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        for message in catalog:
            if message.id and locale == "en" and not _translated(message.string):
                # English ids are English text: the English catalog may reuse them as they are.
                message.string = message.id
            message.flags.discard("fuzzy")
        catalog.obsolete.clear()
        with path.open("wb") as handle:
            write_po(handle, catalog, sort_output=True, width=100, no_location=True)
        gaps[locale] = [str(m.id) for m in catalog if m.id and not _translated(m.string)]
    return gaps


def missing() -> Iterator[tuple[str, str]]:
    """Yields (locale, message id) for every message in the code without a translation."""
    template = extract()
    for locale in SUPPORTED_LOCALES:
        catalog = read(locale)
        for message in template:
            if not message.id:
                continue
            found = catalog.get(message.id)
            if found is None or not _translated(found.string) or found.fuzzy:
                yield locale, str(message.id if isinstance(message.id, str) else message.id[0])


def _translated(string: object) -> bool:
    """Tells whether a catalog string (or every plural form) is filled in."""
    if isinstance(string, tuple | list):
        return all(bool(part) for part in string)
    return bool(string)


def main(argv: list[str] | None = None) -> int:
    """Updates the catalogs (or, with --check, only reports gaps); exits 1 when any remain."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.texts.catalogs",
        description="Extract messages from the code and merge them into locales/*.po.",
    )
    parser.add_argument("--check", action="store_true", help="report gaps without writing")
    args = parser.parse_args(argv)
    if args.check:
        gaps = sorted(missing())
        for locale, message_id in gaps:
            print(f"{locale}: {message_id}")  # noqa: T201
        return 1 if gaps else 0
    found = update()
    for locale, ids in found.items():
        print(f"{locale}: {len(ids)} untranslated")  # noqa: T201
        for message_id in ids:
            print(f"  {message_id}")  # noqa: T201
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
