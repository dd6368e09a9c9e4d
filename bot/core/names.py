"""Member-provided names and one-line texts: no invisible format characters, a length cap."""

from __future__ import annotations

import unicodedata

# First strong isolate and pop directional isolate: a name between them cannot reorder the text
# around it, whatever its own direction.
FSI = "\u2068"
PDI = "\u2069"
# Control characters (line breaks, tabs) become spaces; format characters (bidi embeddings,
# overrides and isolates, marks, zero-width spaces and joiners, the BOM, tag characters) go.
_SPACE_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Zs"})
_DROPPED_CATEGORIES = frozenset({"Cf", "Cs"})


def clean_line(value: str, *, limit: int) -> str:
    """Returns `value` as one visible line: format characters dropped, spaces collapsed, capped."""
    kept: list[str] = []
    for char in value:
        category = unicodedata.category(char)
        if category in _DROPPED_CATEGORIES:
            continue
        kept.append(" " if category in _SPACE_CATEGORIES else char)
    return " ".join("".join(kept).split())[:limit].rstrip()


def isolate(name: str) -> str:
    """Wraps a member-provided name for a list, so its direction cannot leak into its neighbours."""
    return f"{FSI}{clean_line(name, limit=200)}{PDI}"
