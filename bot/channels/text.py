"""Cutting long text into the pieces a platform accepts, measured in the platform's own unit."""

from __future__ import annotations

from collections.abc import Callable

# How much of a platform's limit one character takes.
CharSize = Callable[[str], int]
# Where a cut is preferred, best first: a paragraph, a line, a word.
BREAKS = ("\n\n", "\n", " ")


def utf8_size(char: str) -> int:
    """Counts a character's UTF-8 bytes (WeChat and WeCom measure text so)."""
    return len(char.encode())


def utf16_size(char: str) -> int:
    """Counts a character's UTF-16 code units (Telegram measures text so)."""
    return 2 if ord(char) > 0xFFFF else 1


def text_size(text: str, size: CharSize) -> int:
    """Measures text in a platform's unit."""
    return sum(size(char) for char in text)


def split_text(
    text: str, *, limit: int, size: CharSize, breaks: tuple[str, ...] = BREAKS
) -> list[str]:
    """Cuts text into pieces of at most `limit` units, at paragraph, line or word breaks if possible."""
    pieces: list[str] = []
    rest = text
    while text_size(rest, size) > limit:
        fit = _fitting_prefix(rest, limit, size)
        window = rest[:fit]
        end, resume = fit, fit
        for separator in breaks:
            at = window.rfind(separator)
            if at >= fit // 2:
                end, resume = at, at + len(separator)
                break
        pieces.append(rest[:end])
        rest = rest[resume:].lstrip("\n")
    pieces.append(rest)
    return [piece for piece in (piece.rstrip() for piece in pieces) if piece.strip()]


def _fitting_prefix(text: str, limit: int, size: CharSize) -> int:
    """Returns how many characters of `text` fit into `limit` units."""
    used = 0
    for index, char in enumerate(text):
        used += size(char)
        if used > limit:
            return index
    return len(text)
