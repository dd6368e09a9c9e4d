"""Photos on the console: `照片 PATH …` reads picture files from disk, as a chat app sends them."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from bot.core.i18n import N_, Translator
from bot.core.inbound import InboundImage

# The word alone, or followed by blanks or a colon and the paths.
PHOTO_LINE = re.compile(r"(?:照片|/photo)(?:[\s:：]+(?P<paths>.*))?", re.IGNORECASE | re.DOTALL)
# Files up to the largest photo any configuration accepts (GONGJIAN_PHOTO_MAX_MB is at most 50)
# are read; a larger one is only measured. The core applies the configured limit to both.
LARGEST = 50 * 1024 * 1024

USAGE = N_(
    "Send 照片 followed by the path of a JPEG, PNG or WebP file, for example:"
    " 照片 /home/me/activity.jpg"
)
NOT_FOUND = N_("There is no file {path}.")
UNREADABLE = N_("The file {path} cannot be read.")


class PhotoLineError(Exception):
    """A photo line names no file, or one that cannot be read; says so in the user's language."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def explain(self, t: Translator) -> str:
        """Returns the translated sentence."""
        return t(self.message, path=self.path) if self.path else t(self.message)


def photo_paths(line: str) -> list[str] | None:
    """Returns the paths a photo line names ([] for the word alone); None for any other line."""
    match = PHOTO_LINE.fullmatch(line.strip())
    if match is None:
        return None
    rest = (match["paths"] or "").strip()
    if not rest:
        return []
    if Path(rest).expanduser().is_file():
        # One path with blanks in it, typed without quotes.
        return [rest]
    try:
        return shlex.split(rest)
    except ValueError:
        return [rest]


def read_photos(paths: Sequence[str], limit: int = LARGEST) -> tuple[InboundImage, ...]:
    """Reads the files; one over `limit` is only measured, so that the core refuses it."""
    if not paths:
        raise PhotoLineError(USAGE)
    return tuple(_read(raw, limit) for raw in paths)


def _read(raw: str, limit: int) -> InboundImage:
    """Reads one file, or only its size when it is over the limit."""
    path = Path(raw).expanduser()
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > limit:
                return InboundImage(b"", filename=path.name, size=size)
            # Read one byte past the limit: a file that grew since it was measured is still caught.
            content = stream.read(limit + 1)
    except FileNotFoundError:
        raise PhotoLineError(NOT_FOUND, raw) from None
    except OSError:
        raise PhotoLineError(UNREADABLE, raw) from None
    if len(content) > limit:
        return InboundImage(b"", filename=path.name, size=len(content), truncated=True)
    return InboundImage(content, filename=path.name)
